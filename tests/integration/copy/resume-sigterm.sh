#!/bin/sh
# SIGTERM cancels a copy cleanly: exit 1 "copy cancelled", what was done is
# flushed and in the checkpoint; the same command again reads exactly the
# rest, ends identical to the source and removes the checkpoint. Source:
# nbdkit pattern, 64M behind the rate filter (8 MB/s after a 2 s burst, so
# about 6 s for the whole copy); cancelled at 1 s; cap lifted afterwards.
#   resume-sigterm.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin pattern
need_filter rate
need_filter checkwrite
need nbdcopy jq

size=67108864
serve_slow_pattern $size 64M
start_resumable_copy
sleep 1
kill -0 $fp 2>/dev/null || fail "ferry ended before SIGTERM: $(cat run1.json run1.err)"
kill -TERM $fp
rc=0
wait $fp || rc=$?
cat run1.err
[ $rc -eq 1 ] || fail "cancelled copy: exit $rc, want 1"
grep -q 'copy cancelled' run1.err || fail "cancelled copy: message: $(cat run1.err)"
jq -e '.status == "failed" and .error_code == "cancelled"' run1.json >/dev/null ||
	fail "cancelled copy: JSON report: $(cat run1.json)"
[ -e ck ] || fail "no checkpoint after a cancelled copy"
recorded=$(ckpt_bytes ck)
r1=$(json_num run1.json bytes_read)
echo "cancelled after reading $r1 bytes, $recorded recorded"
[ "$recorded" -gt 0 ] && [ "$recorded" -lt $size ] || fail "checkpoint records $recorded bytes"
# all data: nothing can be recorded that was not read
[ "$recorded" -le "$r1" ] || fail "read $r1 bytes but recorded $recorded"

echo 100G >rate.new && mv rate.new rate
$copy "$uri" out.img >run2.json 2>run2.err || fail "the resumed copy failed: $(cat run2.err run2.json)"
r2=$(json_num run2.json bytes_read)
[ "$r2" -eq $((size - recorded)) ] || fail "the resumed copy read $r2 bytes, want $((size - recorded))"
[ ! -e ck ] || fail "the checkpoint is still there after success"
[ "$(stat -c %s out.img)" -eq $size ] || fail "out.img has $(stat -c %s out.img) bytes"
nbdkit -U - --filter=checkwrite pattern size=$size --run 'nbdcopy out.img "$uri"' ||
	fail "out.img differs from the source"
echo ok
