#!/bin/sh
# nbdkit sparse-random (2G, about 10% data) checks every write against the
# data it serves, so a wrong byte fails the copy:
#  - sparse-random -> the same sparse-random export;
#  - sparse-random -> a new local file, which must stay sparse (allocated
#    bytes close to the data bytes the JSON report says were written);
#  - that file -> sparse-random again with nbdcopy (checks its content).
#   sparse-random.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin sparse-random
need jq nbdcopy

sr="sparse-random size=2G seed=4242"
size=2147483648

# 1. onto itself: every write and zero request is checked by the plugin
nbdkit -U - $sr --run '"$FERRY" copy -o json "$uri" "$uri" >self.json' ||
	fail "sparse-random -> itself failed: $(cat self.json)"
[ "$(json_num self.json size)" -eq $size ] || fail "self copy: size $(json_num self.json size)"
[ "$(json_num self.json bytes_written)" -gt 0 ] || fail "self copy wrote nothing"

# 2. to a new local file
nbdkit -U - $sr --run '"$FERRY" copy -o json "$uri" out.img >file.json' ||
	fail "sparse-random -> file failed: $(cat file.json)"
written=$(json_num file.json bytes_written)
[ "$written" -eq "$(json_num self.json bytes_written)" ] ||
	fail "file copy wrote $written bytes, the self copy $(json_num self.json bytes_written)"
[ "$(stat -c %s out.img)" -eq $size ] || fail "out.img apparent size $(stat -c %s out.img)"
alloc=$(alloc_bytes out.img)
echo "data written $written, allocated $alloc of $size"
[ "$alloc" -lt $((size / 4)) ] || fail "out.img is not sparse: $alloc bytes allocated"
[ "$alloc" -ge "$written" ] || fail "out.img has $alloc bytes allocated, less than the $written written"
[ "$alloc" -le $((written + written / 50 + 4194304)) ] ||
	fail "out.img has $alloc bytes allocated, far more than the $written written"

# 3. the file's content, checked by the plugin
nbdkit -U - $sr --run 'nbdcopy out.img "$uri"' || fail "out.img differs from the source"
echo "ok"
