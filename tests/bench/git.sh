#!/bin/sh
# Benchmark ferry's Git side against the git command line, over git daemon
# and lighttpd + git-http-backend on loopback.
#
# A benchmark, not a test: it never passes or fails on time.
#
#   tests/bench/git.sh                  1k and 100k commit histories, 9 runs
#   RUNS=5 SIZES="1000" tests/bench/git.sh
#
# Environment:
#   RUNS   runs of each timed step (default 9); the median is printed
#   SIZES  history lengths to build (default "1000 100000")
#   FERRY  the ferry binary (default build/ferry of this checkout)
#
# For each history length and transport:
#   clone    first `ferry sync` (fetch of the whole branch into an empty
#            cache, load, validate, status commit+push) vs `git clone --bare
#            --single-branch`
#   poll     `ferry sync` when nothing moved (one ls-refs, no fetch) vs
#            `git ls-remote URL refs/heads/main`
#   change   `ferry sync` after one new commit (ls, fetch one commit, load,
#            validate, status commit + push) vs `git fetch` of that commit
#            into a bare clone followed by `git push` of one commit
# Ratios are git / ferry: above 1 means ferry is faster. Times are wall-clock
# milliseconds from date +%s%N around the command alone.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
FERRY=${FERRY:-$TOP/build/ferry}
RUNS=${RUNS:-9}
SIZES=${SIZES:-1000 100000}
. "$TOP/tests/integration/git/lib.sh"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-git.XXXXXX")
gitlab_init "$SCRATCH"
trap 'gitlab_cleanup; rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# timed FILE CMD...: append the command's wall time in ms to FILE
timed() {
	f=$1
	shift
	t0=$(now_ms)
	"$@" >"$SCRATCH/last.out" 2>&1 || { echo "FAIL: $*" >&2; cat "$SCRATCH/last.out" >&2; return 1; }
	echo $(($(now_ms) - t0)) >>"$f"
}

# history N: a bare repo srv/hN.git whose main has N commits (the quickstart
# manifests in the first, then one small file changed per commit), built
# with git fast-import
history() {
	n=$1
	repo=$GL_DIR/srv/h$n.git
	git init -q --bare -b main "$repo"
	git --git-dir="$repo" config receive.denyNonFastForwards true
	git --git-dir="$repo" config http.receivepack true
	{
		i=1
		for f in "$TOP"/examples/quickstart/*.yaml; do
			size=$(wc -c <"$f")
			echo "blob"
			echo "mark :$i"
			echo "data $size"
			cat "$f"
			echo
			i=$((i + 1))
		done
		awk -v n="$n" -v nfiles="$((i - 1))" 'BEGIN {
			for (c = 1; c <= n; c++) {
				print "commit refs/heads/main"
				print "committer Bench <bench@example.com> " (1700000000 + c) " +0000"
				msg = "commit " c
				print "data " length(msg)
				print msg
				if (c == 1) {
					for (k = 1; k <= nfiles; k++)
						print "M 100644 :" k " manifest-" k ".yaml"
				}
				body = "# change " c "\n"
				print "M 100644 inline notes.yaml"
				print "data " length(body)
				printf "%s\n", body
			}
		}'
	} | git --git-dir="$repo" fast-import --quiet
}

config() { # config NAME URL
	printf '[repository]\nurl = %s\n[daemon]\ndata_dir = %s\n' "$2" "$SCRATCH/data-$1" \
		>"$SCRATCH/$1.ini"
}

add_commit() { # add_commit REPO: one new commit on main, made on the server
	ac_repo=$1
	ac_parent=$(git --git-dir="$ac_repo" rev-parse main)
	ac_tree=$(git --git-dir="$ac_repo" rev-parse "main^{tree}")
	ac_c=$(echo "bench $(date +%s%N)" | git --git-dir="$ac_repo" commit-tree "$ac_tree" -p "$ac_parent")
	git --git-dir="$ac_repo" update-ref refs/heads/main "$ac_c" "$ac_parent"
}

report() { # report LABEL FERRY_FILE GIT_FILE
	fm=$(median <"$2")
	gm=$(median <"$3")
	ratio=$(awk -v g="$gm" -v f="$fm" 'BEGIN { printf "%.2f", (f > 0 ? g / f : 0) }')
	printf '%-34s ferry %7s ms   git %7s ms   git/ferry %s\n' "$1" "$fm" "$gm" "$ratio"
}

gitlab_daemon
gitlab_http
echo "ferry $("$FERRY" version 2>/dev/null | head -1); $(git --version); $(nproc) cores; $RUNS runs, medians"
for n in $SIZES; do
	t0=$(now_ms)
	history "$n"
	echo "history of $n commits built in $(($(now_ms) - t0)) ms; pack $(du -sh "$GL_DIR/srv/h$n.git" | cut -f1)"
	for tr in git http; do
		if [ $tr = git ]; then url=$GL_GIT_URL_BASE/h$n.git; else url=$GL_HTTP_URL_BASE/h$n.git; fi
		d=$SCRATCH/t-$n-$tr
		mkdir -p "$d"
		# clone
		for r in $(seq 1 "$RUNS"); do
			rm -rf "$SCRATCH/data-c" "$SCRATCH/gc.git"
			config c "$url"
			timed "$d/clone.ferry" "$FERRY" sync -c "$SCRATCH/c.ini" || true
			timed "$d/clone.git" git clone -q --bare --single-branch -b main "$url" "$SCRATCH/gc.git"
			# the status branch ferry pushed: remove it for the next run
			git --git-dir="$GL_DIR/srv/h$n.git" update-ref -d refs/heads/ferry/status
		done
		report "$n commits, $tr: clone" "$d/clone.ferry" "$d/clone.git"
		# poll with nothing moved (the last clone left both caches warm)
		for r in $(seq 1 "$RUNS"); do
			timed "$d/poll.ferry" "$FERRY" sync -c "$SCRATCH/c.ini"
			timed "$d/poll.git" git ls-remote "$url" refs/heads/main
		done
		report "$n commits, $tr: no-change poll" "$d/poll.ferry" "$d/poll.git"
		# one new commit: fetch it, commit status, push
		for r in $(seq 1 "$RUNS"); do
			add_commit "$GL_DIR/srv/h$n.git"
			timed "$d/change.ferry" "$FERRY" sync -c "$SCRATCH/c.ini"
			add_commit "$GL_DIR/srv/h$n.git"
			git_change() {
				git --git-dir="$SCRATCH/gc.git" fetch -q -u origin main:main &&
					c=$(echo status | git --git-dir="$SCRATCH/gc.git" commit-tree "main^{tree}" -p main) &&
					git --git-dir="$SCRATCH/gc.git" push -q origin "$c:refs/heads/bench-status-$tr-$r"
			}
			timed "$d/change.git" git_change
		done
		report "$n commits, $tr: fetch 1 + status push" "$d/change.ferry" "$d/change.git"
	done
done
