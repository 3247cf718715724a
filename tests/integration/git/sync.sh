#!/bin/sh
# ferry sync, ferry validate --repo and ferry history against real Git
# servers: a file:// remote, git daemon, git-http-backend behind lighttpd
# (with basic auth) and, as root, sshd. Checks that a poll of an unmoved
# branch fetches nothing (server logs count it), that a move is fetched,
# that an invalid commit is not put in force, that credentials never show
# in output, status or history, and that known_hosts is enforced.
# usage: sync.sh FERRY
set -eu
FERRY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
. "$HERE/lib.sh"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ferry-git-sync.XXXXXX")
gitlab_init "$SCRATCH"
trap 'gitlab_cleanup; rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT TERM

fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
# run_ferry OUTFILE ARGS...: ferry's stdout+stderr to OUTFILE (and to the
# log that is grepped for secrets at the end); its exit status in $rc
run_ferry() {
	out=$1
	shift
	rc=0
	"$FERRY" "$@" >"$out" 2>&1 || rc=$?
	{ echo "\$ ferry $*"; cat "$out"; } >>"$SCRATCH/all-output.log"
}

srv_sha() { git --git-dir="$GL_DIR/srv/$1.git" rev-parse "$2"; }

# config NAME URL [extra ini lines...]: writes $SCRATCH/NAME.ini
config() {
	name=$1
	url=$2
	shift 2
	mkdir -p "$SCRATCH/data-$name" "$SCRATCH/secrets"
	{
		echo "[repository]"
		echo "url = $url"
		echo "branch = main"
		for l in "$@"; do echo "$l"; done
		echo "[daemon]"
		echo "data_dir = $SCRATCH/data-$name"
		echo "[secrets]"
		echo "dir = $SCRATCH/secrets"
	} >"$SCRATCH/$name.ini"
}

gitlab_bare plans "$SRC/examples/quickstart"
git --git-dir="$GL_DIR/srv/plans.git" config core.logAllRefUpdates always

# ---- file:// ------------------------------------------------------------
config file "file://$GL_DIR/srv/plans.git"
run_ferry "$SCRATCH/o1" sync -c "$SCRATCH/file.ini"
main1=$(srv_sha plans main)
check "file: first sync accepts main (rc=$rc)" [ "$rc" = 0 ]
check "file: first sync fetched" grep -q "fetched" "$SCRATCH/o1"
check "file: status branch created with inForce = main" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -qx 'inForce: $main1'"
check "file: status commit has trailers" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' log -1 --format=%B ferry/status | grep -qx 'Ferry-Source-Commit: $main1'"
check "file: status committer is ferry" \
	sh -c "[ \"\$(git --git-dir='$GL_DIR/srv/plans.git' log -1 --format='%cn <%ce>' ferry/status)\" = 'ferry <ferry@localhost>' ]"
run_ferry "$SCRATCH/o2" sync -c "$SCRATCH/file.ini"
check "file: unmoved branch is not fetched" grep -q "not moved, no fetch" "$SCRATCH/o2"
check "file: unmoved branch: unchanged (rc=$rc)" sh -c "[ $rc = 0 ] && grep -q unchanged '$SCRATCH/o2'"

gitlab_human_commit plans notes.yaml "# a comment only" "Add notes" >/dev/null
main2=$(srv_sha plans main)
run_ferry "$SCRATCH/o3" sync -c "$SCRATCH/file.ini"
check "file: moved branch is fetched and accepted" \
	sh -c "[ $rc = 0 ] && grep -q fetched '$SCRATCH/o3' && grep -q 'acting on $(echo "$main2" | cut -c1-12)' '$SCRATCH/o3'"
check "file: status names the new commit" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -qx 'inForce: $main2'"

# an invalid commit: refused, the previous one stays in force
gitlab_human_commit plans plan.yaml "$(sed 's/name: ova-storage/name: missing-map/' "$SRC/examples/quickstart/plan.yaml")" "Point at a map that does not exist" >/dev/null
bad3=$(srv_sha plans main)
run_ferry "$SCRATCH/o4" sync -c "$SCRATCH/file.ini"
check "file: invalid commit refused with exit 1 (rc=$rc)" [ "$rc" = 1 ]
check "file: invalid commit: previous stays in force" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -qx 'inForce: $main2'"
check "file: invalid commit: status lists the finding with its place" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -q 'plan.yaml:[0-9]*:[0-9]*'"
run_ferry "$SCRATCH/o4b" sync -c "$SCRATCH/file.ini"
check "file: unmoved after a refusal: still exit 1, says why" \
	sh -c "[ $rc = 1 ] && grep -q 'unchanged since the last pass (Invalid)' '$SCRATCH/o4b'"
check "file: status commit subject says refused" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' log -1 --format=%s ferry/status | grep -q 'main@$(echo "$bad3" | cut -c1-12) refused'"
gitlab_human_commit plans plan.yaml "$(cat "$SRC/examples/quickstart/plan.yaml")" "Fix the plan" >/dev/null
main4=$(srv_sha plans main)
run_ferry "$SCRATCH/o5" sync -c "$SCRATCH/file.ini"
check "file: fixed commit accepted" [ "$rc" = 0 ]

# history: the audit trail names the desired-state commits and their authors
run_ferry "$SCRATCH/h1" history -c "$SCRATCH/file.ini"
check "history: lists the accepted and refused transitions" \
	sh -c "grep -c '^[0-9].*Z  ' '$SCRATCH/h1' | grep -qx 4"
check "history: names the human commit and its author" \
	grep -q "acted on $(echo "$bad3" | cut -c1-12) by Test Human <human@example.com>: Point at a map" "$SCRATCH/h1"
run_ferry "$SCRATCH/h2" history -c "$SCRATCH/file.ini" -o json -n 1
check "history -o json -n 1: one entry, the newest" \
	sh -c "jq -e 'length == 1 and .[0].sourceCommit == \"$main4\" and .[0].phase == \"Accepted\"' '$SCRATCH/h2' >/dev/null"

# ---- validate --repo of a pull-request branch -----------------------------
git -C "$GL_DIR/human/plans" checkout -q -b pr-7
sed 's/first-migration/First_Migration/' "$SRC/examples/quickstart/plan.yaml" >"$GL_DIR/human/plans/plan.yaml"
git -C "$GL_DIR/human/plans" commit -qam "PR: bad name"
git -C "$GL_DIR/human/plans" push -q origin pr-7
git -C "$GL_DIR/human/plans" checkout -q main
pr=$(srv_sha plans pr-7)

# ---- git daemon -----------------------------------------------------------
gitlab_daemon
config daemon "$GL_GIT_URL_BASE/plans.git"
run_ferry "$SCRATCH/d1" sync -c "$SCRATCH/daemon.ini"
check "git://: first sync accepted" [ "$rc" = 0 ]
n0=$(gitlab_count_fetches plans)
run_ferry "$SCRATCH/d2" sync -c "$SCRATCH/daemon.ini"
n1=$(gitlab_count_fetches plans)
check "git://: unmoved poll is one ls-refs connection, no fetch ($n0 -> $n1)" \
	sh -c "[ $((n1 - n0)) = 1 ] && grep -q 'not moved, no fetch' '$SCRATCH/d2'"
gitlab_human_commit plans notes.yaml "# daemon" "Touch notes" >/dev/null
run_ferry "$SCRATCH/d3" sync -c "$SCRATCH/daemon.ini"
n2=$(gitlab_count_fetches plans)
check "git://: moved branch: list + fetch ($n1 -> $n2)" \
	sh -c "[ $((n2 - n1)) = 2 ] && [ $rc = 0 ] && grep -q fetched '$SCRATCH/d3'"
# a server hook that declines status pushes: a clear error at once, no retries
gitlab_bare hooked "$SRC/examples/quickstart"
printf '#!/bin/sh\necho "status pushes are not allowed here" >&2\nexit 1\n' \
	>"$GL_DIR/srv/hooked.git/hooks/pre-receive"
chmod +x "$GL_DIR/srv/hooked.git/hooks/pre-receive"
config hooked "$GL_GIT_URL_BASE/hooked.git"
run_ferry "$SCRATCH/d4" sync -c "$SCRATCH/hooked.ini"
pushes=$(grep -c "Request receive-pack for '/hooked.git'" "$GL_DIR/daemon.log" || true)
check "git://: a push declined by a hook fails at once with the remote's reason ($pushes push)" \
	sh -c "[ $rc = 2 ] && grep -q 'the remote refused: refs/heads/ferry/status: pre-receive hook declined' '$SCRATCH/d4' && [ $pushes = 1 ]"
run_ferry "$SCRATCH/v1" validate --repo "$GL_GIT_URL_BASE/plans.git" --rev pr-7
check "validate --repo git:// --rev pr-7: exit 1, names the commit" \
	sh -c "[ $rc = 1 ] && grep -q 'commit $pr' '$SCRATCH/v1' && grep -q 'plan.yaml:.*rfc1123' '$SCRATCH/v1'"
git -C "$GL_DIR/human/plans" tag -a -m "release 1" v1 "$pr"
git -C "$GL_DIR/human/plans" push -q origin v1
run_ferry "$SCRATCH/v1t" validate --repo "$GL_GIT_URL_BASE/plans.git" --rev refs/tags/v1
check "validate --repo --rev refs/tags/v1 (annotated): the tagged commit" \
	sh -c "[ $rc = 1 ] && grep -q 'commit $pr' '$SCRATCH/v1t'"
short=$(echo "$pr" | cut -c1-9)
run_ferry "$SCRATCH/v1s" validate --repo "$GL_GIT_URL_BASE/plans.git" --rev "$short"
check "validate --repo --rev ABBREVIATED-SHA" sh -c "[ $rc = 1 ] && grep -q 'commit $pr' '$SCRATCH/v1s'"
run_ferry "$SCRATCH/v2" validate --repo "$GL_GIT_URL_BASE/plans.git" --rev main
check "validate --repo git:// --rev main: exit 0" [ "$rc" = 0 ]
run_ferry "$SCRATCH/v3" validate -o json --repo "$GL_GIT_URL_BASE/plans.git" --rev "$pr"
check "validate --repo --rev SHA -o json: source.commit" \
	sh -c "jq -e '.source.commit == \"$pr\"' '$SCRATCH/v3' >/dev/null"

# ---- http with basic auth ---------------------------------------------------
gitlab_http auth
mkdir -p "$SCRATCH/secrets/ferry"
printf '[secret]\nusername = %s\npassword = %s\n' "$GL_HTTP_USER" "$GL_HTTP_PASSWORD" \
	>"$SCRATCH/secrets/ferry/git.ini"
chmod 600 "$SCRATCH/secrets/ferry/git.ini"
config http "$GL_HTTP_URL_BASE/plans.git" "credentials = ferry/git"
run_ferry "$SCRATCH/w1" sync -c "$SCRATCH/http.ini"
check "http+auth: first sync accepted (rc=$rc)" [ "$rc" = 0 ]
p0=$(gitlab_count_http_fetches plans)
run_ferry "$SCRATCH/w2" sync -c "$SCRATCH/http.ini"
p1=$(gitlab_count_http_fetches plans)
check "http: unmoved poll posts no upload-pack ($p0 -> $p1)" \
	sh -c "[ $p0 = $p1 ] && grep -q 'not moved, no fetch' '$SCRATCH/w2'"
gitlab_human_commit plans notes.yaml "# http" "Touch notes again" >/dev/null
run_ferry "$SCRATCH/w3" sync -c "$SCRATCH/http.ini"
p2=$(gitlab_count_http_fetches plans)
check "http: moved branch is one upload-pack POST ($p1 -> $p2)" \
	sh -c "[ $((p2 - p1)) = 1 ] && [ $rc = 0 ]"
check "http: status commit pushed through the authenticated server" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' log -1 --format=%B ferry/status | grep -qx 'Ferry-Source-Commit: $(srv_sha plans main)'"
printf '[secret]\nusername = %s\npassword = wrong-Passw0rd-xyz\n' "$GL_HTTP_USER" \
	>"$SCRATCH/secrets/ferry/bad.ini"
chmod 600 "$SCRATCH/secrets/ferry/bad.ini"
config httpbad "$GL_HTTP_URL_BASE/plans.git" "credentials = ferry/bad"
run_ferry "$SCRATCH/w4" sync -c "$SCRATCH/httpbad.ini"
check "http: wrong password is exit 2 with a clear error" \
	sh -c "[ $rc = 2 ] && grep -qi 'credentials\|auth' '$SCRATCH/w4'"
config httpnone "$GL_HTTP_URL_BASE/plans.git"
run_ferry "$SCRATCH/w5" sync -c "$SCRATCH/httpnone.ini"
check "http: no credentials: says which setting is missing" \
	sh -c "[ $rc = 2 ] && grep -q 'credentials' '$SCRATCH/w5'"
chmod 644 "$SCRATCH/secrets/ferry/git.ini"
run_ferry "$SCRATCH/w6" sync -c "$SCRATCH/http.ini"
check "http: a world-readable secret is refused" sh -c "[ $rc = 2 ] && grep -q 'chmod 600' '$SCRATCH/w6'"
chmod 600 "$SCRATCH/secrets/ferry/git.ini"
# a password in the URL is redacted everywhere
config httpurl "http://$GL_HTTP_USER:$GL_HTTP_PASSWORD@127.0.0.1:$GL_HTTP_PORT/git/plans.git"
run_ferry "$SCRATCH/w7" sync -c "$SCRATCH/httpurl.ini"
check "http: password in the URL works and is shown as ***" \
	sh -c "[ $rc = 0 ] && grep -q ':\*\*\*@' '$SCRATCH/w7'"

# ---- https: the CA bundle of ca_file ---------------------------------------------
if gitlab_http tls 2>"$SCRATCH/tls.why"; then
	config https "$GL_HTTP_URL_BASE/plans.git" "ca_file = $GL_HTTP_CA"
	run_ferry "$SCRATCH/t1" sync -c "$SCRATCH/https.ini"
	check "https: server certificate checked against ca_file (rc=$rc)" [ "$rc" = 0 ]
	config httpsnoca "$GL_HTTP_URL_BASE/plans.git"
	run_ferry "$SCRATCH/t2" sync -c "$SCRATCH/httpsnoca.ini"
	check "https: a certificate from an unknown CA is refused, ca_file suggested" \
		sh -c "[ $rc = 2 ] && grep -q 'not trusted.*ca_file' '$SCRATCH/t2'"
	run_ferry "$SCRATCH/t3" validate --repo "$GL_HTTP_URL_BASE/plans.git"
	check "https: validate --repo refuses the unknown CA too" [ "$rc" = 2 ]
else
	echo "# skip https: $(cat "$SCRATCH/tls.why")"
fi

# ---- ssh ------------------------------------------------------------------------
if gitlab_sshd 2>"$SCRATCH/sshd.why"; then
	printf '[secret]\nidentity = %s\n' "$GL_SSH_KEY" >"$SCRATCH/secrets/ferry/ssh.ini"
	chmod 600 "$SCRATCH/secrets/ferry/ssh.ini"
	config ssh "$GL_SSH_URL_BASE/plans.git" "credentials = ferry/ssh" \
		"known_hosts = $GL_SSH_KNOWN_HOSTS"
	run_ferry "$SCRATCH/s1" sync -c "$SCRATCH/ssh.ini"
	check "ssh: sync with a key and known_hosts (rc=$rc)" [ "$rc" = 0 ]
	cp "$GL_SSH_KNOWN_HOSTS" "$SCRATCH/hashed_known_hosts"
	ssh-keygen -q -H -f "$SCRATCH/hashed_known_hosts" >/dev/null 2>&1
	rm -f "$SCRATCH/hashed_known_hosts.old"
	config sshhashed "$GL_SSH_URL_BASE/plans.git" "credentials = ferry/ssh" \
		"known_hosts = $SCRATCH/hashed_known_hosts"
	run_ferry "$SCRATCH/s1h" sync -c "$SCRATCH/sshhashed.ini"
	check "ssh: hashed known_hosts entry (ssh-keygen -H) accepted (rc=$rc)" \
		sh -c "[ $rc = 0 ] && grep -q '^|1|' '$SCRATCH/hashed_known_hosts'"
	# no identity in the secret: the key comes from ssh-agent
	eval "$(ssh-agent -s)" >/dev/null
	ssh-add -q "$GL_SSH_KEY" 2>/dev/null
	config sshagent "$GL_SSH_URL_BASE/plans.git" "known_hosts = $GL_SSH_KNOWN_HOSTS"
	run_ferry "$SCRATCH/s1a" sync -c "$SCRATCH/sshagent.ini"
	check "ssh: key from ssh-agent (rc=$rc)" [ "$rc" = 0 ]
	ssh-agent -k >/dev/null 2>&1
	: >"$SCRATCH/empty_known_hosts"
	config sshunknown "$GL_SSH_URL_BASE/plans.git" "credentials = ferry/ssh" \
		"known_hosts = $SCRATCH/empty_known_hosts"
	run_ferry "$SCRATCH/s2" sync -c "$SCRATCH/sshunknown.ini"
	check "ssh: unknown host key refused, fingerprint shown" \
		sh -c "[ $rc = 2 ] && grep -q 'SHA256:' '$SCRATCH/s2' && grep -q 'not in' '$SCRATCH/s2'"
	ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/otherhost" >/dev/null
	sed "s|ssh-ed25519 [^ ]*|$(cut -d' ' -f1,2 "$SCRATCH/otherhost.pub")|" "$GL_SSH_KNOWN_HOSTS" \
		>"$SCRATCH/wrong_known_hosts"
	config sshwrong "$GL_SSH_URL_BASE/plans.git" "credentials = ferry/ssh" \
		"known_hosts = $SCRATCH/wrong_known_hosts"
	run_ferry "$SCRATCH/s3" sync -c "$SCRATCH/sshwrong.ini"
	check "ssh: changed host key refused" sh -c "[ $rc = 2 ] && grep -q 'does not match' '$SCRATCH/s3'"
else
	echo "# skip ssh: $(cat "$SCRATCH/sshd.why")"
fi

# ---- no secret anywhere ------------------------------------------------------------
check "the password never appears in ferry's output" \
	sh -c "! grep -q '$GL_HTTP_PASSWORD\|wrong-Passw0rd-xyz' '$SCRATCH/all-output.log'"
check "the password never appears in any commit or status file" \
	sh -c "! git --git-dir='$GL_DIR/srv/plans.git' log --all -p | grep -q '$GL_HTTP_PASSWORD'"
check "the password is not stored in ferry's repository cache" \
	sh -c "! grep -rq '$GL_HTTP_PASSWORD' '$SCRATCH/data-http' '$SCRATCH/data-httpurl/repo.git/config'"

# ---- the server only ever moved forward -------------------------------------------
check "every update of the server's refs was a fast-forward" sh "$HERE/ff-only.sh" "$GL_DIR/srv/plans.git"

[ "$fails" = 0 ] || { echo "$fails check(s) failed; output in $SCRATCH/all-output.log"; trap - EXIT; gitlab_cleanup; exit 1; }
echo "all checks passed"
