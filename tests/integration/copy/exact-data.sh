#!/bin/sh
# ferry copy moves exactly the source's bytes: a sparse file with data at
# known (also unaligned) offsets and a size that is not a multiple of 4k,
#  - served by nbdkit's file plugin -> a new local file;
#  - local file -> nbdkit memory -> a new local file, and nbdcopy's export
#    of the memory disk hashes like the source;
#  - nbdkit file plugin -> an existing file full of 0xff: holes zeroed.
#   exact-data.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need_plugin memory
need nbdcopy sha256sum cmp

size=$((64 * 1048576 + 1536))
truncate -s $size src.img
put_random src.img 1048576 20 1           # 1M at 20M
put_random src.img 4096 1281 16           # 64k at 5M+4k
put_byte src.img 1048576 30 1 '\000'      # written zeroes: allocated, all zero
put_byte src.img 4096 16383 1 '\377'      # the last whole 4k block
printf 'ferry!\n' | dd of=src.img bs=1 seek=12345 conv=notrunc status=none
printf 'tail' | dd of=src.img bs=1 seek=$((size - 4)) conv=notrunc status=none
want=$(sha256sum <src.img | cut -d' ' -f1)

# 1. nbdkit file plugin -> new local file
nbdkit -U - file src.img --run '"$FERRY" copy "$uri" out1.img' ||
	fail "copy from nbdkit file failed"
[ "$(stat -c %s out1.img)" -eq $size ] || fail "out1.img has size $(stat -c %s out1.img), want $size"
same src.img out1.img || fail "out1.img differs from src.img"

# 2. local file -> nbdkit memory -> new local file
nbdkit -U - memory size=$size --run '
	"$FERRY" copy src.img "$uri" &&
	"$FERRY" copy "$uri" out2.img &&
	nbdcopy "$uri" - | sha256sum | cut -d" " -f1 >mem.sha' ||
	fail "copy through nbdkit memory failed"
[ "$(cat mem.sha)" = "$want" ] || fail "memory disk sha256 $(cat mem.sha), want $want"
[ "$(stat -c %s out2.img)" -eq $size ] || fail "out2.img has size $(stat -c %s out2.img), want $size"
same src.img out2.img || fail "out2.img differs from src.img"
# 3. onto an existing file full of 0xff: the source's holes must be zeroed
put_byte out3.img 1048576 0 65 '\377'
truncate -s $size out3.img
nbdkit -U - file src.img --run '"$FERRY" copy "$uri" out3.img' ||
	fail "copy onto an existing file failed"
same src.img out3.img || fail "out3.img differs from src.img"
echo "ok: exact data through file plugin and memory ($want)"
