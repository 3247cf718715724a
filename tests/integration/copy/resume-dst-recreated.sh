#!/bin/sh
# A checkpoint must not be trusted for a destination ferry has just created:
# cancel a copy (SIGTERM) so that the checkpoint records ranges, delete the
# destination file, run the same command again. Ferry must refuse the
# checkpoint (exit 1) or copy everything; it must never exit 0 with the
# recorded ranges missing from the new file. (It once did: the recorded
# ranges read as zeroes. Ferry now ignores the checkpoint, with a warning.)
#   resume-dst-recreated.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin pattern
need_filter rate
need_filter checkwrite
need nbdcopy jq

size=67108864
serve_slow_pattern $size 64M
start_resumable_copy
sleep 1
kill -TERM $fp
wait $fp || :
[ "$(ckpt_bytes ck 2>/dev/null || echo 0)" -gt 0 ] || fail "setup: no checkpoint ranges: $(cat run1.err)"
echo "checkpoint records $(ckpt_bytes ck) bytes; deleting out.img"
rm -f out.img

echo 100G >rate.new && mv rate.new rate
rc=0
$copy "$uri" out.img >run2.json 2>run2.err || rc=$?
cat run2.err
if [ $rc -eq 0 ]; then
	echo "second run exit 0, bytes_read $(json_num run2.json bytes_read) of $size"
	nbdkit -U - --filter=checkwrite pattern size=$size --run 'nbdcopy out.img "$uri"' 2>/dev/null ||
		fail "exit 0, but the new out.img lacks the ranges the old checkpoint recorded"
fi
echo ok
