#!/bin/sh
# --changed-areas FILE copies only the listed ranges (overlapping ranges
# merged, a range past the end clipped, zero-length ones ignored, unaligned
# ones exact) and nothing else. Source: nbdkit file plugin, 64M, random
# data in [0, 48M), a hole after. Destination: a file prefilled with 0x5a.
#   changed-areas.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need jq

M=1048576
truncate -s $((64 * M)) src.img
put_random src.img $M 0 48
put_byte dst.img $M 0 64 '\132'
cp dst.img want.img

cat >areas.json <<JSON
[
  {"start": $((1 * M)), "length": 65536},
  {"start": $((10 * M)), "length": $((2 * M))},
  {"start": $((11 * M)), "length": $((2 * M))},
  {"start": $((40 * M + 4096)), "length": 8192},
  {"start": 5000, "length": 100},
  {"start": $((5 * M)), "length": 0},
  {"start": $((47 * M)), "length": $((2 * M))},
  {"start": $((63 * M)), "length": $((4 * M))}
]
JSON
# the expected result, byte ranges copied with dd
cp_range() { # START LENGTH (bytes)
	dd if=src.img of=want.img iflag=skip_bytes,count_bytes oflag=seek_bytes \
		skip="$1" seek="$1" count="$2" bs=65536 conv=notrunc status=none
}
cp_range $((1 * M)) 65536
cp_range $((10 * M)) $((3 * M))
cp_range $((40 * M + 4096)) 8192
cp_range 5000 100
cp_range $((47 * M)) $((2 * M))
cp_range $((63 * M)) $((1 * M))

nbdkit -U - file src.img --run '"$FERRY" copy --changed-areas areas.json -o json "$uri" dst.img >ca.json' ||
	fail "copy failed: $(cat ca.json)"
cat ca.json
w=$(json_num ca.json bytes_written) z=$(json_num ca.json bytes_zeroed)
[ "$w" -eq $((65536 + 3 * M + 8192 + 100 + M)) ] ||
	fail "bytes_written $w, want $((65536 + 3 * M + 8192 + 100 + M))"
[ "$z" -eq $((2 * M)) ] || fail "bytes_zeroed $z, want $((2 * M)) (the source's hole in the ranges)"
[ "$(stat -c %s dst.img)" -eq $((64 * M)) ] || fail "dst.img size changed: $(stat -c %s dst.img)"
cmp want.img dst.img || fail "dst.img differs from the expected result"
echo ok
