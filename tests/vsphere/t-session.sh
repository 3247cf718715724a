#!/bin/sh
# The vSphere driver's session: Login with the secret's user and password
# (XML-escaped), InvalidLogin as a clear error, a transparent re-login when
# the session ends (TerminateSession, idle timeout), and Logout on close.
#   t-session.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
[ -x "$VSDRV" ] || { echo "vsdrv not built"; exit 77; }
mkdir -p "$dir/work"

# A password with every character XML escapes.
VS_USER=ferry VS_PASS="p&w<d>'\"x"
vcsim_start -username "$VS_USER" -password "$VS_PASS"
vcsim_login || vs_fail "login as $VS_USER"
FERRY_LOG=debug # every call logged: still no secret
export FERRY_LOG
drv() {
	vsdrv_start "$VSDRV" --url "$VCSIM_URL" --thumbprint "$VCSIM_THUMBPRINT" --work "$dir/work" "$@"
}

# --- A bad password: InvalidLogin, with vim25's fault type in the message.
drv --user "$VS_USER" --password wrong
out=$(vsdrv open) && vs_fail "open with a bad password succeeded"
vs_has "bad password: category" "$out" "error auth:"
vs_has "bad password: fault" "$out" "vsphere: Login: InvalidLogin: Login failure"
vs_has "bad password: the provider" "$out" "vsphere provider test/vcsim"
case $out in *wrong*) vs_fail "the password is in the message: $out" ;; esac
vsdrv_stop

# --- The right one logs in; the session is ferry's ("ferry" user agent).
drv --user "$VS_USER" --password "$VS_PASS"
vsdrv open >/dev/null || vs_fail "open: $(cat "$VS_DIR/drv.out")"
vs_expect "one ferry session" "$(vcsim_sessions ferry | wc -l)" 1
key=$(vcsim_sessions ferry)
out=$(vsdrv inventory) || vs_fail "inventory: $out"
vs_has "first inventory: one login, one walk" "$out" "logins=1 walks=1 updates=0"

# --- TerminateSession: the next calls log in again, by themselves.
vcsim_terminate_session "$key" || vs_fail "TerminateSession"
[ "$(vcsim_sessions ferry)" = "" ] || vs_fail "the session survived TerminateSession"
out=$(vsdrv power DC0_H0_VM0) || vs_fail "power state after TerminateSession: $out"
vs_expect "power state after TerminateSession" "$out" On
out=$(vsdrv stats)
vs_has "re-logged in once" "$out" "logins=2"
# The property filter died with the session: the inventory walks again.
out=$(vsdrv inventory) || vs_fail "inventory after TerminateSession: $out"
vs_has "inventory after a new session: a walk" "$out" "logins=2 walks=2 updates=0"
out=$(vsdrv inventory) || vs_fail "inventory: $out"
vs_has "then updates again" "$out" "logins=2 walks=2 updates=1"
# Ended while the filter waits for updates: WaitForUpdatesEx gets
# NotAuthenticated, logs in again, and the inventory walks again.
vcsim_terminate_session "$(vcsim_sessions ferry)" || vs_fail "TerminateSession (2)"
out=$(vsdrv inventory) || vs_fail "inventory after the second TerminateSession: $out"
vs_has "session ended under the filter: a new session and a walk" "$out" "logins=3 walks=3"

# --- Logout on close: no ferry session stays behind.
vsdrv_stop
vs_expect "no ferry session after close" "$(vcsim_sessions ferry | wc -l)" 0
grep -qF "$VS_PASS" "$VS_DIR/drv.err" && vs_fail "the password reached the log"
grep -qF "$key" "$VS_DIR/drv.err" && vs_fail "the session cookie reached the log"
grep -q 'vsphere: Logout: HTTP 200' "$VS_DIR/drv.err" || vs_fail "no Logout"
echo "ok - neither password nor cookie in the debug log; logged out"

# --- An idle timeout, as a long warm migration meets it.
vcsim_start -username "$VS_USER" -password "$VS_PASS" -session-idle-timeout 1s
vcsim_login || vs_fail "login"
drv --user "$VS_USER" --password "$VS_PASS"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >/dev/null || vs_fail "inventory"
sleep 3.5
vs_expect "the idle session is gone" "$(vcsim_sessions ferry | wc -l)" 0
out=$(vsdrv inventory) || vs_fail "inventory after the idle timeout: $out"
vs_has "idle timeout: logged in again" "$out" "logins=2"
vs_has "idle timeout: VMs listed" "$out" '"name":"DC0_H0_VM0"'
grep -q 'the session ended; logging in again' "$VS_DIR/drv.err" ||
	vs_fail "no log line about the re-login"
echo "ok - the re-login is logged"
vsdrv_stop
vsdrv_check
echo "all ok"
