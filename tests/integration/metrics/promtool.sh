#!/bin/sh
# What GET /metrics serves passes `promtool check metrics` (Prometheus's own
# parser and linter) without a single complaint: a registry with samples in
# every family, and one that has seen nothing.
# Usage: promtool.sh DUMP_METRICS
# Skips (77) when promtool is missing (Debian: the prometheus package).
set -u
dump=${1:?usage: promtool.sh DUMP_METRICS}

command -v promtool >/dev/null 2>&1 || { echo "SKIP: promtool not found"; exit 77; }

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

check() {
	"$dump" "$@" >"$out" || { echo "FAIL: $dump $* exited with $?"; exit 1; }
	# promtool exits 0 with lint findings on some versions: any output fails too
	problems=$(promtool check metrics <"$out" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$problems" ]; then
		echo "FAIL: promtool check metrics on '$dump $*' (exit $rc):"
		echo "$problems"
		echo "--- input:"
		cat "$out"
		exit 1
	fi
}

check --empty
check
grep -q '^ferry_vms{phase="odd \\"phase\\"\\\\\\nname"} 1$' "$out" ||
	{ echo "FAIL: the escaped label value is missing"; cat "$out"; exit 1; }
echo "ok: $(grep -c '^ferry_' "$out") samples pass promtool check metrics"
