#!/bin/sh
# README command 2: install dependencies, build twice (normal, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), and run the whole test
# suite on both builds.
#
#   scripts/test.sh            everything
#   scripts/test.sh -LE slow   the fast set (any ctest arguments are passed on)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

scripts/install-deps

status=0
run_suite() {
	dir=$1
	shift
	echo "== $dir: configure and build"
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
	echo "== $dir: ctest"
	if ! ctest --test-dir "$dir" --output-on-failure -j"$jobs" $ctest_args; then
		status=1
	fi
}

ctest_args="$*"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON

if [ "$status" -ne 0 ]; then
	echo "test.sh: FAILED" >&2
else
	echo "test.sh: all tests passed (normal and ASan+UBSan builds)"
fi
exit "$status"
