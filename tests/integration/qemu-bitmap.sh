#!/bin/sh
# A persistent dirty bitmap exported by qemu-nbd as qemu:dirty-bitmap:bm0;
# only the write made after the bitmap was enabled may show as dirty.
#   qemu-bitmap.sh TESTBIN
set -eu
testbin=$1

for t in qemu-img qemu-io qemu-nbd; do
	command -v $t >/dev/null 2>&1 || { echo "$t not installed"; exit 77; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-qbm.XXXXXX")
cleanup() {
	# qemu-nbd -t never exits on its own.
	if [ -s "$dir/qnbd.pid" ]; then
		kill "$(cat "$dir/qnbd.pid")" 2>/dev/null || :
	fi
	rm -f "$dir/nbd.sock"
	rm -rf "$dir"
}
trap cleanup EXIT

img=$dir/disk.qcow2
qemu-img create -q -f qcow2 "$img" 16M
qemu-io -f qcow2 -c 'write -q -P 0xaa 4M 64k' "$img" >/dev/null
qemu-img bitmap --add --enable -f qcow2 "$img" bm0
qemu-io -f qcow2 -c 'write -q -P 0xbb 1M 64k' "$img" >/dev/null
# -t: without it qemu-nbd exits after the first client disconnects.
qemu-nbd -t -e 4 -r -f qcow2 -B bm0 -k "$dir/nbd.sock" --fork \
	--pid-file "$dir/qnbd.pid" "$img"

"$testbin" dirty "nbd+unix:///?socket=$dir/nbd.sock"
