#!/bin/sh
# ff-only.sh BARE_REPO: every ref update the server's reflogs recorded
# (core.logAllRefUpdates=always) moved the ref forward: the old commit is
# an ancestor of the new one. A force push or a rewrite would break that.
set -eu
repo=$1
status=0
for log in $(find "$repo/logs/refs" -type f 2>/dev/null); do
	while read -r old new _rest; do
		case $old in 0000000000000000000000000000000000000000) continue ;; esac
		if ! git --git-dir="$repo" merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
			echo "${log#"$repo"/logs/}: $old -> $new is not a fast-forward" >&2
			status=1
		fi
	done <"$log"
done
exit $status
