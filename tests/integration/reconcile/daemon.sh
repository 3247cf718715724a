#!/bin/sh
# The daemon end to end: `ferry run` migrates the quickstart plan on its
# first pass and serves /healthz, /readyz and /metrics; with an hourly poll,
# only a webhook starts a pass: a forged one is refused (401, no pass), a
# signed one (GitHub's X-Hub-Signature-256) is accepted (202) and the pass
# it starts acts on the new commit, a re-run that skips the completed VMs;
# a SIGHUP with a broken ferry.ini keeps the configuration; SIGTERM stops
# it with status 0 and leaves nothing running.
#
#   daemon.sh FERRY MAKE_OVA
set -eu
ferry=$1
make_ova=$2
for tool in qemu-img qemu-nbd git curl openssl; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

t=$(mktemp -d /tmp/ferry-daemon.XXXXXX)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$t"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	echo "--- daemon stdout" >&2
	cat "$t/out.log" >&2 2>/dev/null || true
	echo "--- daemon stderr" >&2
	cat "$t/err.log" >&2 2>/dev/null || true
	exit 1
}
git_() { git -C "$t/src" -c user.name=T -c user.email=t@example.com "$@"; }
status_log() { git --git-dir="$t/repo.git" log --format=%B ferry/status 2>/dev/null || true; }
# wait_for TENTHS COMMAND...: until COMMAND succeeds, at most TENTHS/10 s
wait_for() {
	n=$1
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		kill -0 "$pid" 2>/dev/null || fail "the daemon exited"
		sleep 0.1
	done
}

# the quickstart's desired state, its OVA share, a bare repository
sh "$make_ova" "$t/ova" >/dev/null
mkdir -p "$t/src"
for f in providers maps plan; do
	sed "s|file:///var/tmp/ferry-quickstart/ova|file://$t/ova|" \
		"$(dirname "$make_ova")/$f.yaml" >"$t/src/$f.yaml"
done
grep -q "file://$t/ova" "$t/src/providers.yaml" || fail "the example's provider URL changed"
git init -q -b main "$t/src"
git_ add -A
git_ commit -qm "quickstart plan"
git init -q --bare -b main "$t/repo.git"
git_ push -q "$t/repo.git" main
c1=$(git_ rev-parse HEAD)

# the webhook's secret, and a free port (another binder may win it: rare)
install -d -m 0700 "$t/secrets" "$t/secrets/ferry"
token=$(openssl rand -hex 32)
(umask 077 && printf '[secret]\ntoken = %s\n' "$token" >"$t/secrets/ferry/webhook.ini")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) ||
	port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
url=http://127.0.0.1:$port
cat >"$t/ferry.ini" <<EOF
[repository]
url = repo.git
status_interval = 1s
[daemon]
data_dir = data
listen = 127.0.0.1:$port
poll_interval = 1h
webhook_secret = ferry/webhook
[target]
dir = target
[secrets]
dir = secrets
EOF

FERRY_LOG=info "$ferry" run -c "$t/ferry.ini" >"$t/out.log" 2>"$t/err.log" &
pid=$!

code() { curl -s -o "$t/body" -w '%{http_code}' "$@" || true; }
ready() { [ "$(code "$url/readyz")" = 200 ]; }
wait_for 150 ready || fail "/readyz is not 200 after 15 s"
grep -q "^ferry run: listening on 127.0.0.1:$port (port $port); polling $t/repo.git every 3600000 ms$" \
	"$t/out.log" || fail "no listening line"
[ "$(code "$url/healthz")" = 200 ] || fail "/healthz is not 200"
[ "$(cat "$t/body")" = ok ] || fail "/healthz says $(cat "$t/body")"
echo "ok: /readyz and /healthz are 200"

metric() { # NAME{LABELS}: its value, or nothing
	curl -s "$url/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
completed() { [ "$(metric 'ferry_vms{phase="Completed"}')" = 2 ]; }
# (the copies end between passes: their end must start the next pass, not
# the poll an hour later; ferry-run(1), "While VMs move")
wait_for 200 completed || fail "ferry_vms{phase=\"Completed\"} is not 2 after 20 s"
curl -s "$url/metrics" | grep -q '^ferry_reconciles_total{result="ok"} [1-9]' ||
	fail "no successful ferry_reconciles_total"
status_of() { status_log | grep -q "^Ferry-Source-Commit: $1$"; }
succeeded() { status_log | grep -q "^Ferry-Phase: Succeeded$"; }
wait_for 50 succeeded || fail "no Succeeded status commit"
status_of "$c1" || fail "the status commits do not name $c1"
echo "ok: the first pass migrated both VMs"

# idle: no timer pass within the hour
passes=$(metric 'ferry_reconciles_total{result="ok"}')
sleep 1.5
[ "$(metric 'ferry_reconciles_total{result="ok"}')" = "$passes" ] || fail "an idle daemon runs passes"

# a re-run: a second Migration for the plan, written last
cat >>"$t/src/plan.yaml" <<'EOF'
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Migration
metadata:
  name: first-migration-2
  namespace: quickstart
spec:
  plan: {name: first-migration, namespace: quickstart}
EOF
git_ commit -qam "re-run first-migration"
git_ push -q "$t/repo.git" main
c2=$(git_ rev-parse HEAD)
body='{"ref": "refs/heads/main", "after": "'$c2'"}'
sig=$(printf %s "$body" | openssl dgst -sha256 -hmac "$token" -r | cut -d' ' -f1)
bad=$(printf %s "$body" | openssl dgst -sha256 -hmac "not-$token" -r | cut -d' ' -f1)
hook() { # SIGNATURE
	code -H "X-Hub-Signature-256: sha256=$1" -H "X-GitHub-Event: push" \
		-H "Content-Type: application/json" --data-binary "$body" "$url/hooks/git"
}

# a forged signature: 401, and no pass
[ "$(hook "$bad")" = 401 ] || fail "a wrong signature is not refused with 401"
grep -q '"signature does not match"' "$t/body" || fail "401 body: $(cat "$t/body")"
sleep 1.5
[ "$(metric 'ferry_reconciles_total{result="ok"}')" = "$passes" ] || fail "a forged webhook ran a pass"
[ "$(metric 'ferry_webhook_requests_total{result="rejected"}')" = 1 ] ||
	fail "the forged webhook is not counted as rejected"
status_of "$c2" && fail "the status names $c2 without a webhook"
echo "ok: a forged webhook gets 401 and starts no pass"

# the signed webhook: 202, and a pass on the new commit within seconds
[ "$(hook "$sig")" = 202 ] || fail "a signed webhook is not accepted with 202"
grep -q '"accepted"' "$t/body" || fail "202 body: $(cat "$t/body")"
# the sync's status/repository.yaml commit names c2 first; the plan's own
# status commit follows it
rerun() {
	status_of "$c2" &&
		git --git-dir="$t/repo.git" show ferry/status:status/quickstart/first-migration.yaml \
			>"$t/status.yaml" 2>/dev/null &&
		grep -q 'migration: "first-migration-2"' "$t/status.yaml"
}
wait_for 50 rerun || fail "no status of the re-run (a commit naming $c2) within 5 s of the webhook"
[ "$(grep -c -- '-> Started' "$t/out.log")" = 2 ] || fail "the re-run started a completed VM again"
[ "$(metric 'ferry_webhook_requests_total{result="accepted"}')" = 1 ] ||
	fail "the webhook is not counted as accepted"
echo "ok: a signed webhook starts a pass on $c2; the re-run skips the completed VMs"

# SIGHUP with a broken ferry.ini: the daemon keeps its configuration
cp "$t/ferry.ini" "$t/ferry.ini.good"
printf '[daemon\nlisten = nowhere\n' >"$t/ferry.ini"
kill -HUP "$pid"
kept() { grep -q "SIGHUP: keeping the configuration in use" "$t/err.log"; }
wait_for 50 kept || fail "no 'keeping the configuration' after SIGHUP"
kill -0 "$pid" 2>/dev/null || fail "the daemon exited on SIGHUP"
[ "$(code "$url/healthz")" = 200 ] || fail "/healthz is not 200 after SIGHUP"
echo "ok: SIGHUP with a broken ferry.ini keeps the configuration"

# SIGTERM: status 0 within 10 s, "stopped", nothing left running
kill -TERM "$pid"
n=100
while kill -0 "$pid" 2>/dev/null; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || fail "still running 10 s after SIGTERM"
	sleep 0.1
done
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "^ferry run: stopped$" "$t/out.log" || fail "no 'ferry run: stopped'"
n=50
while pgrep -f "$t" >/dev/null; do
	n=$((n - 1))
	[ "$n" -gt 0 ] || { pgrep -af "$t" >&2; fail "processes left running"; }
	sleep 0.1
done
echo "PASS"
