#!/bin/sh
# A --request-size that is not a power of two from 4k to 64M is a usage
# error: exit 2, nothing copied, no destination created.
#   bad-request-size.sh FERRY VALUE...
# (ctest runs it for 0 and for sizes that are not powers of two, which
# ferry once took as the default and as a failed copy; see CMakeLists.txt.)
. "$(dirname "$0")/lib.sh"
shift
[ $# -gt 0 ] || fail "no values given"
truncate -s 1M src.img
put_random src.img 65536 0 1
bad=0
for v; do
	set +e
	"$ferry" copy --request-size "$v" src.img out.img >out.txt 2>err.txt
	rc=$?
	set -e
	echo "--request-size '$v' -> exit $rc: $(cat out.txt err.txt)"
	if [ $rc -ne 2 ] || [ -e out.img ]; then
		echo "FAIL: --request-size '$v': want exit 2 and no out.img" >&2
		bad=1
	fi
	rm -f out.img
done
exit $bad
