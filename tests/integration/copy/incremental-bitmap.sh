#!/bin/sh
# Incremental copy from a qemu persistent dirty bitmap (qemu-nbd -B bm0):
# only what changed after the bitmap was enabled is copied.
#   before the bitmap: 0xaa at 0 len 4M, 0xdd at 200M len 1M
#   the destination:   a raw export of that state
#   after the bitmap:  0xbb at 100M len 1M, 0xcc at 512M len 64k,
#                      write -z at 200M len 1M (zeroes data older than bm0)
# ferry copy --incremental bitmap:bm0 must write exactly 1M + 64k, zero the
# 1M, and leave the destination equal to the final disk. An unknown bitmap
# is an error.
#   incremental-bitmap.sh FERRY
. "$(dirname "$0")/lib.sh"
need qemu-img qemu-io qemu-nbd jq

img=disk.qcow2
qemu-img create -q -f qcow2 $img 1G
qemu-io -f qcow2 -c 'write -q -P 0xaa 0 4M' -c 'write -q -P 0xdd 200M 1M' $img >/dev/null
qemu-img convert -f qcow2 -O raw $img dst.img
qemu-img bitmap --add --enable -f qcow2 $img bm0
qemu-io -f qcow2 -c 'write -q -P 0xbb 100M 1M' -c 'write -q -P 0xcc 512M 64k' \
	-c 'write -q -z 200M 1M' $img >/dev/null
qemu-img convert -f qcow2 -O raw $img final.img

bg_pidfile "$dir/qnbd.pid"
# -t: without it qemu-nbd exits after the first client disconnects.
qemu-nbd -t -e 4 -r -f qcow2 -B bm0 -k "$dir/nbd.sock" --fork --pid-file "$dir/qnbd.pid" $img
uri="nbd+unix:///?socket=$dir/nbd.sock"
same final.img dst.img 2>/dev/null && fail "the old state equals the final disk: nothing to test"

"$ferry" copy --incremental bitmap:bm0 -o json "$uri" dst.img >incr.json ||
	fail "incremental copy failed: $(cat incr.json)"
cat incr.json
w=$(json_num incr.json bytes_written) z=$(json_num incr.json bytes_zeroed)
r=$(json_num incr.json bytes_read)
[ "$w" -eq $((1048576 + 65536)) ] || fail "bytes_written $w, want $((1048576 + 65536))"
[ "$z" -eq 1048576 ] || fail "bytes_zeroed $z, want 1048576 (the write -z range)"
[ "$r" -ge "$w" ] && [ "$r" -le $((w + z)) ] || fail "bytes_read $r, want $w to $((w + z))"
[ "$(json_num incr.json size)" -eq 1073741824 ] || fail "size $(json_num incr.json size)"
[ "$(dd if=dst.img bs=1M skip=200 count=1 status=none | tr -d '\000' | wc -c)" -eq 0 ] ||
	fail "the write -z range is not zero in the destination"
same final.img dst.img || fail "the destination differs from the final disk"

# an unknown bitmap: exit 1 naming it, destination untouched
cp --sparse=always dst.img dst2.img
set +e
"$ferry" copy --incremental bitmap:nope "$uri" dst2.img 2>err.txt
rc=$?
set -e
[ $rc -eq 1 ] || fail "unknown bitmap: exit $rc, want 1"
grep -q 'qemu:dirty-bitmap:nope' err.txt || fail "unknown bitmap: message: $(cat err.txt)"
same dst.img dst2.img || fail "unknown bitmap: the destination changed"
echo ok
