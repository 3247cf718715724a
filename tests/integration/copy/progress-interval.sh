#!/bin/sh
# --progress-interval SECONDS sets how often --progress-fd writes a line
# (default 0.1 s). A copy throttled to about 2 s (2 MiB of random data in
# 4K requests at --rate-limit 1M):
#  - by default writes about 20 lines (the check: at least 10);
#  - with --progress-interval 0.5 writes at least 3 and at most one per
#    0.5 s it ran, plus the first, the last and one for slack (6 for 2 s),
#    and copies the same bytes;
#  - .5 and 3600 are taken; 0, 0.0, -1, 3601, 1e3, inf, nan, 1,5, '.', ''
#    and ' 1' are usage errors (exit 2, a message naming the option, no
#    destination created).
#   progress-interval.sh FERRY
. "$(dirname "$0")/lib.sh"
need cmp

truncate -s 2M src.img
put_random src.img 1048576 0 2

lines() { # INTERVAL-ARGS...: the lines a throttled copy writes to fd 3
	rm -f out.img
	"$ferry" copy -o json --request-size 4K --rate-limit 1M --progress-fd 3 "$@" \
		src.img out.img 3>progress.txt >report.json 2>err.txt ||
		fail "ferry copy $*: $(cat err.txt)"
	grep -c '^progress [0-9]* 2097152 [0-9]*$' progress.txt
}

n=$(lines)
echo "default interval: $n progress lines"
[ "$n" -ge 10 ] || fail "only $n lines with the default interval of 0.1 s"
n=$(lines --progress-interval 0.5)
secs=$(sed -n 's/^ *"seconds": \([0-9.]*\),$/\1/p' report.json)
max=$(awk "BEGIN { print int(${secs:?no seconds in $(cat report.json)} / 0.5) + 3 }")
echo "--progress-interval 0.5: $n progress lines in $secs s (at most $max)"
if [ "$n" -lt 3 ] || [ "$n" -gt "$max" ]; then
	fail "$n lines with --progress-interval 0.5 in $secs s, want 3 to $max"
fi
[ "$(tail -n 1 progress.txt)" = "progress 2097152 2097152 2097152" ] ||
	fail "last line: $(tail -n 1 progress.txt)"
cmp src.img out.img || fail "the copy with --progress-interval differs from its source"

for v in .5 3600; do
	rm -f out.img
	"$ferry" copy --progress-interval "$v" --progress-fd 3 src.img out.img 3>/dev/null \
		>out.txt 2>err.txt || fail "--progress-interval '$v' refused: $(cat err.txt)"
	echo "--progress-interval '$v' -> 0"
done

bad=0
for v in 0 0.0 -1 3601 1e3 inf nan 1,5 . '' ' 1'; do
	rm -f out.img
	set +e
	"$ferry" copy --progress-interval "$v" --progress-fd 3 src.img out.img 3>/dev/null \
		>out.txt 2>err.txt
	rc=$?
	set -e
	echo "--progress-interval '$v' -> exit $rc: $(cat out.txt err.txt)"
	if [ $rc -ne 2 ] || [ -e out.img ] || ! grep -q -- "--progress-interval" err.txt; then
		echo "FAIL: --progress-interval '$v': want exit 2, a message, no out.img" >&2
		bad=1
	fi
done
exit $bad
