#!/bin/sh
# nbdkit's file plugin over a sparse file: the extents ferry sees through
# NBD (and opening the file directly) must equal the file's SEEK_DATA map.
#   nbdkit-file.sh TESTBIN
set -eu
testbin=$1

command -v nbdkit >/dev/null 2>&1 || { echo "nbdkit not installed"; exit 77; }
nbdkit file --dump-plugin >/dev/null 2>&1 || { echo "nbdkit file plugin missing"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-nbdfile.XXXXXX")
trap 'rm -rf "$dir"' EXIT
img=$dir/sparse.img
truncate -s 64M "$img"
dd if=/dev/urandom of="$img" bs=64k seek=80 count=1 conv=notrunc status=none
dd if=/dev/urandom of="$img" bs=1M seek=20 count=1 conv=notrunc status=none
dd if=/dev/urandom of="$img" bs=4k seek=16383 count=1 conv=notrunc status=none

export EP_TESTBIN="$testbin" EP_IMG="$img"
nbdkit -U - file "$img" --run '"$EP_TESTBIN" nbd-file "$uri" "$EP_IMG"'
