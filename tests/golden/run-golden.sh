#!/bin/sh
# Run one golden case: `ferry validate -o json repo` inside CASE, compare its
# output with CASE/expected.json and its exit status with CASE/exit-code.
# FERRY_GOLDEN_UPDATE=1 rewrites both files from the actual run instead
# (review the diff before committing it).
set -u
ferry=$1
case_dir=$2

cd "$case_dir" || exit 2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
"$ferry" validate -o json repo >"$actual"
rc=$?

if [ "${FERRY_GOLDEN_UPDATE:-}" = 1 ]; then
	cp "$actual" expected.json
	echo "$rc" >exit-code
	echo "updated $case_dir"
	exit 0
fi

status=0
if ! diff -u expected.json "$actual"; then
	echo "golden: output differs from $case_dir/expected.json" >&2
	status=1
fi
want=$(cat exit-code)
if [ "$rc" != "$want" ]; then
	echo "golden: exit status $rc, expected $want" >&2
	status=1
fi
exit $status
