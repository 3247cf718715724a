#!/bin/sh
# Checks the Git server harness (lib.sh) with plain git only, no ferry:
# clone, push and fetch through git://, http:// (plain and with basic
# auth) and ssh:// (root only; otherwise that part is skipped), the
# refusal of force pushes, and the fetch counters.
#   harness-selftest.sh         exit 0 pass, 1 fail, 77 git missing
# KEEP=1 keeps the scratch dir.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
skip_part() { echo "SKIP: $*"; skipped="$skipped [$1]"; }
command -v git >/dev/null 2>&1 || { echo "SKIP: git not installed"; exit 77; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ferry-githarness.XXXXXX")
finish() {
	rc=$?
	set +e
	gitlab_cleanup
	if [ $rc -ne 0 ]; then
		for f in "$scratch"/daemon.log "$scratch"/http-access.log "$scratch"/http-*/error.log \
			"$scratch"/sshd.log; do
			[ -s "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }
		done
	fi
	if [ "${KEEP:-}" = 1 ]; then echo "kept $scratch"; else rm -rf "$scratch"; fi
	exit $rc
}
trap finish EXIT
trap 'exit 130' INT TERM
gitlab_init "$scratch"
skipped=
w=$scratch/work
mkdir -p "$w" "$scratch/seed/apps"
echo "replicas: 1" >"$scratch/seed/apps/web.yaml"
echo "# seeded" >"$scratch/seed/README"

# Wait (10 s at most) until the grep -q args "$@" match: lighttpd 1.4.69
# buffers its access log and writes it up to ~4 s late.
wait_grep() {
	_n=0
	until grep -q "$@"; do
		_n=$((_n + 1))
		[ $_n -le 100 ] || return 1
		sleep 0.1
	done
}
# $1 = $2, or fail with message $3.
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# The sha of main in bare repo $1.
srv_main() { git --git-dir="$scratch/srv/$1.git" rev-parse refs/heads/main; }
# A commit on top of clone $1's origin/main (as last fetched) changing
# file $2, pushed with git push (extra git options $3..., e.g. -c a=b).
push_change() {
	_c=$1 _f=$2
	shift 2
	git -C "$_c" merge -q --ff-only origin/main
	echo "$(date +%s%N) $_f" >>"$_c/$_f"
	git -C "$_c" add -A && git -C "$_c" commit -q -m "client changes $_f"
	git -C "$_c" "$@" push -q origin HEAD:main
}

# --- bare repos and the human
gitlab_bare seeded "$scratch/seed"
gitlab_bare empty
gitlab_bare race "$scratch/seed"
eq "$(git --git-dir="$scratch/srv/seeded.git" show main:apps/web.yaml)" "replicas: 1" "seed file"
eq "$(git --git-dir="$scratch/srv/seeded.git" symbolic-ref HEAD)" refs/heads/main "bare HEAD"
eq "$(git --git-dir="$scratch/srv/seeded.git" config receive.denyNonFastForwards)" true "denyNFF"
h1=$(gitlab_human_commit seeded apps/web.yaml "replicas: 2" "Scale web")
eq "$(srv_main seeded)" "$h1" "human commit on the server"
eq "$(git --git-dir="$scratch/srv/seeded.git" log -1 --format='%an <%ae> %s' main)" \
	"Test Human <human@example.com> Scale web" "human commit author"
he=$(gitlab_human_commit empty deep/dir/file.yaml "x: 1")
eq "$(srv_main empty)" "$he" "human commit into an empty repo"
he2=$(gitlab_human_commit empty deep/dir/file.yaml "x: 2")
eq "$(git --git-dir="$scratch/srv/empty.git" rev-parse main~1)" "$he" "second commit on the first"
[ "$(git --git-dir="$scratch/srv/empty.git" rev-list --count main)" = 2 ] || fail "empty: 2 commits"
echo "ok: bare repos, human commits"

# Racing humans: 4 of them push 5 commits each to one repo at once. Each
# needs its own clone, and gitlab_human_commit keeps one per NAME: so
# race-N.git are links to race.git.
pids=
for i in 1 2 3 4; do
	ln -s race.git "$scratch/srv/race-$i.git"
	(
		for j in 1 2 3 4 5; do
			gitlab_human_commit race-$i r$i.txt "racer $i step $j" >/dev/null || exit 1
		done
	) &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "a racing human gave up"; done
eq "$(git --git-dir="$scratch/srv/race.git" rev-list --count main)" 21 "racing humans: commits"
echo "ok: 4 racing humans, 20 commits, none lost"

# --- git daemon
gitlab_daemon
echo "git daemon at $GL_GIT_URL_BASE"
eq "$(gitlab_count_fetches)" 0 "fetches before any"
git clone -q "$GL_GIT_URL_BASE/seeded.git" "$w/g"
eq "$(cat "$w/g/apps/web.yaml")" "replicas: 2" "git:// clone content"
eq "$(gitlab_count_fetches seeded)" 1 "a clone counts one"
h2=$(gitlab_human_commit seeded apps/web.yaml "replicas: 3")
n0=$(gitlab_count_fetches seeded)
git -C "$w/g" fetch -q
eq "$(git -C "$w/g" rev-parse origin/main)" "$h2" "git:// fetch"
eq "$(gitlab_count_fetches seeded)" $((n0 + 1)) "a fetch (v2) counts one"
h3=$(gitlab_human_commit seeded apps/web.yaml "replicas: 4")
git -C "$w/g" -c protocol.version=0 fetch -q
eq "$(git -C "$w/g" rev-parse origin/main)" "$h3" "git:// fetch v0"
eq "$(gitlab_count_fetches seeded)" $((n0 + 2)) "a fetch (v0) counts one"
git -C "$w/g" fetch -q
eq "$(gitlab_count_fetches seeded)" $((n0 + 3)) "a fetch with nothing new (v2) counts one"
git -C "$w/g" -c protocol.version=0 fetch -q
eq "$(gitlab_count_fetches seeded)" $((n0 + 4)) "a fetch with nothing new (v0) counts one"
git ls-remote -q "$GL_GIT_URL_BASE/seeded.git" >/dev/null
eq "$(gitlab_count_fetches seeded)" $((n0 + 5)) "ls-remote (v2) counts one"
git -c protocol.version=0 ls-remote -q "$GL_GIT_URL_BASE/seeded.git" >/dev/null
eq "$(gitlab_count_fetches seeded)" $((n0 + 6)) "ls-remote (v0) counts one"
echo "ok: gitlab_count_fetches: +1 per clone, fetch, no-op fetch, ls-remote (v0 and v2)"
echo "    daemon.log line: $(grep -m1 -F 'Request upload-pack' "$scratch/daemon.log")"
n1=$(gitlab_count_fetches)
push_change "$w/g" apps/web.yaml
eq "$(srv_main seeded)" "$(git -C "$w/g" rev-parse HEAD)" "git:// push"
eq "$(gitlab_count_fetches)" "$n1" "a push counts none"
grep -qF "Request receive-pack for '/seeded.git'" "$scratch/daemon.log" || fail "no receive-pack line"
echo "ok: git:// clone, fetch, push"

# Force push of a rewritten commit: refused, server unchanged.
before=$(srv_main seeded)
git -C "$w/g" commit -q --amend -m "rewritten history"
if git -C "$w/g" push -q --force origin HEAD:main 2>"$w/force.err"; then
	fail "git:// force push was accepted"
fi
grep -q "non-fast-forward" "$w/force.err" || fail "force push refused for another reason: $(cat "$w/force.err")"
eq "$(srv_main seeded)" "$before" "server main after a refused force push"
if git -C "$w/g" push -q origin :main 2>/dev/null; then fail "branch deletion was accepted"; fi
eq "$(srv_main seeded)" "$before" "server main after a refused deletion"
git -C "$w/g" reset -q --hard origin/main
echo "ok: force push and deletion refused (git://)"
git clone -q "$GL_GIT_URL_BASE/empty.git" "$w/ge"
eq "$(cat "$w/ge/deep/dir/file.yaml")" "x: 2" "clone of the once-empty repo"

# --- HTTP, no auth
if command -v lighttpd >/dev/null 2>&1 || [ -x /usr/sbin/lighttpd ]; then
	gitlab_http
	echo "http at $GL_HTTP_URL_BASE"
	git clone -q "$GL_HTTP_URL_BASE/seeded.git" "$w/h"
	eq "$(git -C "$w/h" rev-parse HEAD)" "$(srv_main seeded)" "http:// clone"
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" "1 2" \
		"http clone (v2): GETs POSTs"
	# v0 (what libgit2 speaks): 1 GET + 1 POST per fetch that transfers
	h4=$(gitlab_human_commit seeded apps/web.yaml "replicas: 5")
	a0=$(gitlab_count_http_adverts seeded) f0=$(gitlab_count_http_fetches seeded)
	git -C "$w/h" -c protocol.version=0 fetch -q
	eq "$(git -C "$w/h" rev-parse origin/main)" "$h4" "http:// fetch"
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 1)) $((f0 + 1))" "http fetch (v0): GETs POSTs"
	git -C "$w/h" -c protocol.version=0 fetch -q
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 2)) $((f0 + 1))" "http no-op fetch (v0): GETs POSTs"
	git -c protocol.version=0 ls-remote -q "$GL_HTTP_URL_BASE/seeded.git" >/dev/null
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 3)) $((f0 + 1))" "http ls-remote (v0): GETs POSTs"
	h5=$(gitlab_human_commit seeded apps/web.yaml "replicas: 6")
	git -C "$w/h" fetch -q
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 4)) $((f0 + 3))" "http fetch (v2): GETs POSTs"
	git -C "$w/h" fetch -q
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 5)) $((f0 + 4))" "http no-op fetch (v2): GETs POSTs"
	git ls-remote -q "$GL_HTTP_URL_BASE/seeded.git" >/dev/null
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 6)) $((f0 + 5))" "http ls-remote (v2): GETs POSTs"
	echo "ok: http counts: v0 fetch 1 GET+1 POST, v0 no-op fetch/ls-remote 1 GET+0 POST;" \
		"v2 fetch 1 GET+2 POST, v2 no-op fetch/ls-remote 1 GET+1 POST"
	# Pushes: small (Content-Length) and chunked (as libgit2 always sends).
	push_change "$w/h" apps/web.yaml
	eq "$(srv_main seeded)" "$(git -C "$w/h" rev-parse HEAD)" "http:// push"
	head -c 300000 /dev/urandom | od -An -tx1 >"$w/h/big.txt"
	push_change "$w/h" big.txt -c http.postBuffer=4096
	eq "$(srv_main seeded)" "$(git -C "$w/h" rev-parse HEAD)" "http:// chunked push"
	before=$(srv_main seeded)
	git -C "$w/h" commit -q --amend -m "rewritten over http"
	if git -C "$w/h" push -q --force origin HEAD:main 2>"$w/force.err"; then
		fail "http:// force push was accepted"
	fi
	eq "$(srv_main seeded)" "$before" "server main after a refused http force push"
	echo "ok: http:// clone, fetch, push (plain and chunked), force push refused"

	# --- HTTP with basic auth
	plain_url=$GL_HTTP_URL_BASE
	gitlab_http auth
	echo "http+auth at $GL_HTTP_URL_BASE"
	[ "$GL_HTTP_URL_BASE" != "$plain_url" ] || fail "the auth server got the plain one's URL"
	authed=$(echo "$GL_HTTP_URL_BASE" | sed "s|://|://$GL_HTTP_USER:$GL_HTTP_PASSWORD@|")
	if git ls-remote "$GL_HTTP_URL_BASE/seeded.git" >/dev/null 2>"$w/noauth.err"; then
		fail "the auth server let git in without credentials"
	fi
	if command -v curl >/dev/null 2>&1; then
		eq "$(curl -s -o /dev/null -w '%{http_code}' \
			"$GL_HTTP_URL_BASE/seeded.git/info/refs?service=git-upload-pack")" 401 \
			"curl without credentials"
		eq "$(curl -s -o /dev/null -w '%{http_code}' -u "$GL_HTTP_USER:wrong" \
			"$GL_HTTP_URL_BASE/seeded.git/info/refs?service=git-upload-pack")" 401 \
			"curl with a wrong password"
	fi
	eq "$(gitlab_count_http_adverts)" 0 "401s do not count"
	bad=$(echo "$GL_HTTP_URL_BASE" | sed "s|://|://$GL_HTTP_USER:nope@|")
	if git ls-remote "$bad/seeded.git" >/dev/null 2>&1; then fail "a wrong password let git in"; fi
	git clone -q "$authed/seeded.git" "$w/a"
	eq "$(git -C "$w/a" rev-parse HEAD)" "$(srv_main seeded)" "http+auth clone"
	h6=$(gitlab_human_commit seeded apps/web.yaml "replicas: 7")
	a0=$(gitlab_count_http_adverts seeded) f0=$(gitlab_count_http_fetches seeded)
	git -C "$w/a" -c protocol.version=0 fetch -q
	eq "$(git -C "$w/a" rev-parse origin/main)" "$h6" "http+auth fetch"
	eq "$(gitlab_count_http_adverts seeded) $(gitlab_count_http_fetches seeded)" \
		"$((a0 + 1)) $((f0 + 1))" "http+auth fetch (v0): GETs POSTs"
	push_change "$w/a" apps/web.yaml -c http.postBuffer=4096
	eq "$(srv_main seeded)" "$(git -C "$w/a" rev-parse HEAD)" "http+auth push"
	grep -q "^$GL_HTTP_PORT POST /git/seeded.git/git-receive-pack $GL_HTTP_USER\$" \
		"$scratch/http-requests.log" || fail "REMOTE_USER is not $GL_HTTP_USER"
	echo "ok: http+auth: 401 without or with wrong credentials; clone, fetch, push as $GL_HTTP_USER"
	# The access log, checked last as it comes late (each lighttpd
	# buffers its own lines).
	wait_grep "^$GL_HTTP_PORT .*info/refs?service=git-upload-pack HTTP/1.1\" 401 " \
		"$scratch/http-access.log" || fail "no 401 in http-access.log"
	wait_grep '"POST /git/seeded.git/git-upload-pack HTTP/1.1" 200 ' "$scratch/http-access.log" ||
		fail "no upload-pack POST in http-access.log"
	wait_grep '"POST /git/seeded.git/git-receive-pack HTTP/1.1" 200 ' "$scratch/http-access.log" ||
		fail "no receive-pack POST in http-access.log"
	echo "ok: http-access.log, e.g.: $(grep -m1 -F 'POST /git/seeded.git/git-upload-pack' \
		"$scratch/http-access.log")"
else
	skip_part http "lighttpd not installed"
fi

# --- SSH
if gitlab_sshd 2>"$w/sshd.err"; then
	echo "sshd at $GL_SSH_URL_BASE"
	export GIT_SSH_COMMAND="ssh -F /dev/null -i $GL_SSH_KEY -o UserKnownHostsFile=$GL_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o BatchMode=yes"
	git clone -q "$GL_SSH_URL_BASE/seeded.git" "$w/s"
	eq "$(git -C "$w/s" rev-parse HEAD)" "$(srv_main seeded)" "ssh:// clone"
	h7=$(gitlab_human_commit seeded apps/web.yaml "replicas: 8")
	git -C "$w/s" fetch -q
	eq "$(git -C "$w/s" rev-parse origin/main)" "$h7" "ssh:// fetch"
	push_change "$w/s" apps/web.yaml
	eq "$(srv_main seeded)" "$(git -C "$w/s" rev-parse HEAD)" "ssh:// push"
	before=$(srv_main seeded)
	git -C "$w/s" commit -q --amend -m "rewritten over ssh"
	if git -C "$w/s" push -q --force origin HEAD:main 2>/dev/null; then
		fail "ssh:// force push was accepted"
	fi
	eq "$(srv_main seeded)" "$before" "server main after a refused ssh force push"
	# A host key that is not the server's is refused.
	sed 's/ssh-ed25519 .*/ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl/' \
		"$GL_SSH_KNOWN_HOSTS" >"$w/wrong_known_hosts"
	if GIT_SSH_COMMAND="ssh -F /dev/null -i $GL_SSH_KEY -o UserKnownHostsFile=$w/wrong_known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes" \
		git ls-remote "$GL_SSH_URL_BASE/seeded.git" >/dev/null 2>&1; then
		fail "ssh accepted a wrong host key"
	fi
	GIT_SSH_COMMAND=$GL_SSH_COMMAND git ls-remote "$GL_SSH_URL_BASE/seeded.git" >/dev/null ||
		fail "GL_SSH_COMMAND does not work"
	unset GIT_SSH_COMMAND
	echo "ok: ssh:// clone, fetch, push, force push refused, wrong host key refused"
else
	skip_part ssh "$(cat "$w/sshd.err")"
fi

# --- cleanup stops everything
pidfiles=$(cat "$scratch"/run/*.pid)
gitlab_cleanup
for p in $pidfiles; do
	if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
		fail "server $p still runs after gitlab_cleanup"
	fi
done
gitlab_cleanup
echo "ok: gitlab_cleanup stopped $(echo "$pidfiles" | wc -l) servers"
echo "PASS${skipped:+ (skipped:$skipped)}"
