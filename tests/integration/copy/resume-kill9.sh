#!/bin/sh
# A copy killed with SIGKILL resumes from its checkpoint. Source: nbdkit
# pattern, 256M (all data), behind the rate filter (a server-wide cap of
# 16 MB/s: the whole copy would take about 14 s; ferry checkpoints every
# 5 s, once what is in flight has landed: --requests 1 keeps that small;
# the cap is lifted for the second run).
# Kill ferry -9 once the checkpoint records ranges, run the same command
# again: it must read exactly the bytes the checkpoint did not record, end
# with a destination equal to the source, and remove the checkpoint.
#   resume-kill9.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin pattern
need_filter rate
need_filter checkwrite
need nbdcopy jq

size=268435456

serve_slow_pattern $size 128M
start_resumable_copy
# Each connection records its own ranges: once the first has, give the
# others a moment.
n=0
until grep -Eq '^[0-9]+ [0-9]+$' ck 2>/dev/null; do
	kill -0 $fp 2>/dev/null || fail "ferry ended before it could be killed: $(cat run1.json run1.err)"
	n=$((n + 1))
	[ $n -le 400 ] || fail "no checkpoint ranges after 20 s"
	sleep 0.05
done
sleep 0.5
kill -0 $fp 2>/dev/null || fail "ferry ended before it could be killed: $(cat run1.json run1.err)"
kill -9 $fp
rc=0
wait $fp || rc=$?
[ $rc -eq 137 ] || fail "ferry was not killed (exit $rc): $(cat run1.json)"
recorded=$(ckpt_bytes ck)
echo "killed with $recorded of $size bytes recorded"
[ "$recorded" -gt 0 ] && [ "$recorded" -lt $size ] || fail "checkpoint records $recorded bytes"

echo 100G >rate.new && mv rate.new rate
$copy "$uri" out.img >run2.json 2>run2.err ||
	fail "the resumed copy failed: $(cat run2.err run2.json)"
cat run2.json
r=$(json_num run2.json bytes_read)
[ "$r" -eq $((size - recorded)) ] ||
	fail "the resumed copy read $r bytes, want $((size - recorded)) (size - recorded)"
[ ! -e ck ] || fail "the checkpoint is still there after success"
[ ! -e ck.tmp ] || fail "ck.tmp left behind"
# checkwrite fails every write that differs from the pattern
[ "$(stat -c %s out.img)" -eq $size ] || fail "out.img has $(stat -c %s out.img) bytes"
nbdkit -U - --filter=checkwrite pattern size=$size --run 'nbdcopy out.img "$uri"' ||
	fail "out.img differs from the source"
echo ok
