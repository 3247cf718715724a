#!/bin/sh
# The numbers of `ferry copy -o json` add up. Source: nbdkit file plugin
# over a 64M sparse file with 3 MiB + 64 KiB of random data (4k aligned).
#  - to a new file: size = 64M, bytes_read = bytes_written = the data,
#    written + zeroed + skipped = size, retries 0, status ok;
#  - to nbdkit memory (not known zero): the same with zero requests;
#  - with 1 MiB of written zeroes added: read - written = 1 MiB.
#   json-report.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need_plugin memory
need jq

size=67108864
data=$((3 * 1048576 + 65536))
truncate -s $size src.img
put_random src.img 1048576 10 2     # 2M at 10M
put_random src.img 65536 640 1      # 64k at 40M
put_random src.img 1048576 63 1     # the last 1M

check() { # REPORT DATA-READ DATA-WRITTEN
	jq -e '.status == "ok" and .verified == false' "$1" >/dev/null || fail "$1: $(cat "$1")"
	s=$(json_num "$1" size) r=$(json_num "$1" bytes_read) w=$(json_num "$1" bytes_written)
	z=$(json_num "$1" bytes_zeroed) k=$(json_num "$1" bytes_skipped)
	t=$(json_num "$1" retries)
	echo "$1: size $s read $r written $w zeroed $z skipped $k retries $t"
	[ "$s" -eq $size ] || fail "$1: size $s, want $size"
	[ "$r" -eq "$2" ] || fail "$1: bytes_read $r, want $2"
	[ "$w" -eq "$3" ] || fail "$1: bytes_written $w, want $3"
	[ $((w + z + k)) -eq $size ] || fail "$1: written+zeroed+skipped = $((w + z + k)), want $size"
	[ "$t" -eq 0 ] || fail "$1: retries $t, want 0"
}

export size
nbdkit -U - file src.img --run '
	"$FERRY" copy -o json "$uri" new.img >new.json &&
	nbdkit -U - memory size=$size --run "\"\$FERRY\" copy -o json \"$uri\" \"\$uri\" >mem.json"' ||
	fail "copy failed: $(cat new.json mem.json 2>/dev/null)"
check new.json $data $data
same src.img new.img || fail "new.img differs"
[ "$(json_num new.json bytes_skipped)" -gt 0 ] || fail "new.json: a new file should skip holes"
check mem.json $data $data
[ "$(json_num mem.json bytes_zeroed)" -gt 0 ] || fail "mem.json: memory is not known zero, holes must be zeroed"

# 1 MiB of written (allocated) zeroes: read but not written
put_byte src.img 1048576 50 1 '\000'
nbdkit -U - file src.img --run '"$FERRY" copy -o json "$uri" new2.img >new2.json' ||
	fail "copy failed: $(cat new2.json)"
check new2.json $((data + 1048576)) $data
same src.img new2.img || fail "new2.img differs"
echo ok
