#!/bin/sh
# status_mode=path under fire: humans push 50 commits to the watched branch
# (5 pushers at once, each retrying when it loses a race) while ferry syncs
# in a loop and commits status/repository.yaml to the same branch. Checks
# that every human commit and every status commit ferry reported is on the
# server's main, that the server only ever moved forward (no force push),
# and that ferry ends up acting on the newest human commit.
# usage: race.sh FERRY [COMMITS]
set -eu
FERRY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
N=${2:-50}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
. "$HERE/lib.sh"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ferry-git-race.XXXXXX")
gitlab_init "$SCRATCH"
trap 'gitlab_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT TERM

gitlab_bare plans "$SRC/examples/quickstart"
git --git-dir="$GL_DIR/srv/plans.git" config core.logAllRefUpdates always
gitlab_daemon
printf '[repository]\nurl = %s\nstatus_mode = path\n[daemon]\ndata_dir = %s\n' \
	"$GL_GIT_URL_BASE/plans.git" "$SCRATCH/data" >"$SCRATCH/ferry.ini"

# push_as P I: pusher P's commit I from its own clone, retried (fetch,
# reset, commit again) when another pusher or ferry got there first
push_as() {
	w=$GL_DIR/human/p$1
	[ -d "$w" ] || git clone -q "$GL_DIR/srv/plans.git" "$w" || return 1
	for _try in $(seq 1 50); do
		git -C "$w" fetch -q origin && git -C "$w" reset -q --hard origin/main || return 1
		echo "# pusher $1 commit $2" >"$w/notes-$1.yaml"
		git -C "$w" add -A && git -C "$w" commit -q -m "Pusher $1 commit $2" || return 1
		if git -C "$w" push -q origin HEAD:main 2>/dev/null; then
			git -C "$w" rev-parse HEAD
			return 0
		fi
	done
	return 1
}

# 5 pushers at once, N commits in all, each pusher pausing a little between
# its commits so ferry's passes interleave with them
per=$((N / 5))
: >"$SCRATCH/human-shas"
pids=
for p in 1 2 3 4 5; do
	(
		for i in $(seq 1 "$per"); do
			push_as "$p" "$i" >>"$SCRATCH/human-shas" ||
				echo "pusher $p commit $i failed" >>"$SCRATCH/errors"
			sleep 0.5
		done
		touch "$SCRATCH/done-$p"
	) &
	pids="$pids $!"
done
syncs=0
sync_errors=0
while [ "$(ls "$SCRATCH" | grep -c '^done-')" -lt 5 ]; do
	rc=0
	"$FERRY" sync -c "$SCRATCH/ferry.ini" >"$SCRATCH/out" 2>&1 || rc=$?
	cat "$SCRATCH/out" >>"$SCRATCH/ferry.log"
	syncs=$((syncs + 1))
	if [ "$rc" != 0 ]; then
		sync_errors=$((sync_errors + 1))
		tail -n 3 "$SCRATCH/out" >>"$SCRATCH/sync-errors"
	fi
done
wait $pids
rc=0
"$FERRY" sync -c "$SCRATCH/ferry.ini" >>"$SCRATCH/ferry.log" 2>&1 || rc=$?
syncs=$((syncs + 1))
if [ "$rc" != 0 ]; then
	sync_errors=$((sync_errors + 1))
	tail -n 3 "$SCRATCH/ferry.log" >>"$SCRATCH/sync-errors"
fi

fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
repo=$GL_DIR/srv/plans.git
humans=$(wc -l <"$SCRATCH/human-shas")
if [ ! -s "$SCRATCH/errors" ] && [ "$humans" = $((per * 5)) ]; then
	ok "$humans human commits pushed"
else
	bad "human pushes: $humans of $((per * 5)); $(cat "$SCRATCH/errors" 2>/dev/null)"
fi
if [ "$sync_errors" = 0 ]; then
	ok "$syncs ferry syncs, none failed"
else
	bad "$sync_errors of $syncs syncs failed:"
	sed 's/^/#   /' "$SCRATCH/sync-errors" 2>/dev/null || true
fi
lost=0
while read -r sha; do
	git --git-dir="$repo" merge-base --is-ancestor "$sha" main || lost=$((lost + 1))
done <"$SCRATCH/human-shas"
if [ "$lost" = 0 ]; then ok "every human commit is on main"; else bad "$lost human commits lost"; fi
status_commits=0
slost=0
for short in $(sed -n 's/^status: committed \([0-9a-f]*\) .*/\1/p' "$SCRATCH/ferry.log"); do
	status_commits=$((status_commits + 1))
	if ! sha=$(git --git-dir="$repo" rev-parse --verify -q "$short^{commit}") ||
		! git --git-dir="$repo" merge-base --is-ancestor "$sha" main; then
		slost=$((slost + 1))
	fi
done
if [ "$status_commits" -gt 0 ] && [ "$slost" = 0 ]; then
	ok "all $status_commits status commits ferry reported are on main"
else
	bad "$slost of $status_commits status commits lost"
fi
if sh "$HERE/ff-only.sh" "$repo"; then ok "the server's main only moved forward"; else bad "a non-fast-forward update"; fi
newest_human=$(git --git-dir="$repo" log --format='%H %cn' main | awk '$2 != "ferry" { print $1; exit }')
inforce=$(git --git-dir="$repo" show main:status/repository.yaml | sed -n 's/^inForce: //p')
if [ "$inforce" = "$newest_human" ]; then
	ok "ferry acts on the newest human commit"
else
	bad "in force $inforce, newest human commit $newest_human"
fi
retries=$(grep -c "pushes, " "$SCRATCH/ferry.log" || true)
echo "# $syncs syncs, $status_commits status commits, $retries needed more than one push"
if [ "$fails" != 0 ]; then
	echo "$fails check(s) failed; ferry log: $SCRATCH/ferry.log"
	trap - EXIT
	gitlab_cleanup
	exit 1
fi
echo "all checks passed"
