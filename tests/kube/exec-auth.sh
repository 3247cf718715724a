#!/bin/sh
# integration.kube.exec-auth: one kubeconfig whose user is a client-go exec
# credential plugin (exec-plugin.sh, copied next to the kubeconfig and
# named by a relative path), used by real kubectl and by ferry's client
# (through kvdrv's vm-exists) alike:
# - client.authentication.k8s.io/v1 (interactiveMode Never,
#   provideClusterInfo) with every kubectl 1.NN at hand, and v1beta1
#   without interactiveMode; v1 without it is refused by both;
# - both hand the plugin the same KUBERNETES_EXEC_INFO;
# - ferry runs the plugin once per process; a 401 runs it again and sends
#   the request once more; a second 401 is the error;
# - a plugin that fails (its standard error quoted), one that is not there
#   (its installHint), interactiveMode Always;
# - a client certificate from the plugin (the fake checks it: mTLS);
# - the token is in no message and no debug log of ferry's.
# usage: exec-auth.sh KVDRV
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require kubectl
kvdrv=${1:?usage: exec-auth.sh KVDRV}
[ -x "$kvdrv" ] || { echo "kvdrv not built: skipping"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube-exec.XXXXXX")
trap 'fakekube_stop; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
expect() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}
# expect_match WHAT TEXT PATTERN: TEXT matches the shell pattern
expect_match() {
	# shellcheck disable=SC2254  # PATTERN is a pattern
	case $2 in $3) echo "ok - $1" ;; *) fail "$1: got [$2], want [$3]" ;; esac
}

SECRET=exec-s3cr3t-$$-token
fakekube_client_cert "$dir/pki" ferry-exec || fail "making a client certificate"
fakekube_start "$dir/fk" --token "$SECRET" --client-ca "$dir/pki/client-ca.pem"

state=$dir/state
mkdir -p "$state" "$dir/kube/bin"
printf '%s\n' "$SECRET" >"$state/token"
cp "$here/exec-plugin.sh" "$dir/kube/bin/get-token"
chmod 755 "$dir/kube/bin/get-token"
ca=$(openssl base64 -A <"$FAKEKUBE_CACERT")
KC=$dir/kube/config
V1=client.authentication.k8s.io/v1
V1BETA1=client.authentication.k8s.io/v1beta1

# kubeconfig EXEC: the fake's cluster, a user whose exec mapping is EXEC
# (its lines indented by 6)
kubeconfig() {
	cat >"$KC" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $FAKEKUBE_URL
    certificate-authority-data: $ca
users:
- name: plugin
  user:
    exec:
$1
contexts:
- name: fake
  context: {cluster: fake, user: plugin, namespace: prod}
current-context: fake
EOC
}
# exec_yaml API_VERSION [MORE_LINES]: the plugin's exec mapping
exec_yaml() {
	printf '      apiVersion: %s\n      command: bin/get-token\n      args: [%s]\n' "$1" "$1"
	printf '      env: [{name: STATE, value: %s}]\n' "$state"
	[ -z "${2:-}" ] || printf '%s\n' "$2"
}
V1_EXEC=$(exec_yaml $V1 "      interactiveMode: Never
      provideClusterInfo: true")

kc() { "${KUBECTL:-kubectl}" --kubeconfig "$KC" --cache-dir "$dir/kube-cache" "$@"; }
kv() { "$kvdrv" --kubeconfig "$KC" --vm nothing vm-exists; }
runs() { cat "$state/runs" 2>/dev/null || echo 0; }
# the auth of the last requests for the VM, as the fake saw them
vm_requests() {
	"$FAKEKUBE_PYTHON" -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
rs = [r for r in rs if r.get("path", "").endswith("/virtualmachines/nothing")]
print(" ".join("%s:%s" % (r["status"], r["auth"]) for r in rs[-int(sys.argv[2]):]))
' "$FAKEKUBE_LOG" "$1"
}

# --- v1: kubectl (each minor at hand), then ferry
kubeconfig "$V1_EXEC"
kdir=$(dirname "$(readlink -f "$(command -v kubectl)")")
kubectls=
if kubectl version --client 2>/dev/null | grep -q dispatcher; then
	for b in "$kdir"/kubectl.1.*; do
		v=${b##*/kubectl.1.}
		case $v in '' | *[!0-9]*) ;; *) [ -x "$b" ] && kubectls="$kubectls $b" ;; esac
	done
fi
[ -n "$kubectls" ] || kubectls=kubectl
for KUBECTL in $kubectls; do
	rm -f "$state/runs"
	out=$(kc get namespaces -o name 2>&1) || fail "${KUBECTL##*/} get namespaces: $out"
	expect_match "${KUBECTL##*/} get namespaces through the plugin" "$out" "*namespace/default*"
	[ "$(runs)" -ge 1 ] || fail "${KUBECTL##*/} did not run the plugin"
done
KUBECTL=kubectl
cp "$state/info" "$dir/info.kubectl"
rm -f "$state/runs"
expect "ferry through the plugin" "$(kv)" absent
expect "ferry ran it once" "$(runs)" 1
expect "the fake took its token" "$(vm_requests 1)" "404:token"

# --- KUBERNETES_EXEC_INFO: the same from both
for f in .apiVersion .kind .spec.interactive .spec.cluster.server \
	'.spec.cluster["certificate-authority-data"]'; do
	expect "KUBERNETES_EXEC_INFO $f" "$(fk_json "$f" "$state/info")" \
		"$(fk_json "$f" "$dir/info.kubectl")"
done
expect "spec.cluster as the kubeconfig says" \
	"$(fk_json .apiVersion "$state/info") $(fk_json .spec.interactive "$state/info") $(fk_json .spec.cluster.server "$state/info")" \
	"$V1 false $FAKEKUBE_URL"
[ "$(fk_json '.spec.cluster["certificate-authority-data"]' "$state/info")" = "$ca" ] ||
	fail "spec.cluster's CA is not the kubeconfig's"

# --- 401: the plugin again, the request again; twice: the error
echo 1 >"$state/wrong"
rm -f "$state/runs"
expect "a refused token: asked again" "$(kv)" absent
expect "the plugin ran twice" "$(runs)" 2
expect "401, then the new token" "$(vm_requests 2)" "401:bad 404:token"
echo 5 >"$state/wrong"
rm -f "$state/runs"
expect "refused twice" "$(kv)" \
	"error auth: kube: get virtualmachines/prod/nothing: 401 Unauthorized: Unauthorized"
expect "the plugin ran twice, no more" "$(runs)" 2
rm -f "$state/wrong"

# --- the token is never shown
echo 1 >"$state/wrong"
out=$(FERRY_LOG=debug kv 2>"$dir/debug.log")
expect "with debug logs" "$out" absent
grep -q "running exec plugin" "$dir/debug.log" || fail "no debug log to look for the token in"
grep -q "401: asking the exec plugin again" "$dir/debug.log" || fail "the 401 is not in the debug log"
! grep -q "$SECRET" "$dir/debug.log" || fail "the token is in the debug log"
rm -f "$state/wrong"

# --- a plugin that fails
touch "$state/fail"
expect "a failing plugin" "$(kv)" \
	"error auth: kube: get virtualmachines/prod/nothing: exec plugin $dir/kube/bin/get-token: exit status 1; stderr: \"exec-plugin: no session: log in first\""
if out=$(kc get namespaces -o name 2>&1); then fail "kubectl succeeded with a failing plugin"; fi
expect_match "kubectl fails too" "$out" "*no session: log in first*"
rm -f "$state/fail"

# --- v1beta1 needs no interactiveMode; v1 does (kubectl's rule)
kubeconfig "$(exec_yaml $V1BETA1)"
out=$(kc get namespaces -o name 2>&1) || fail "kubectl, v1beta1: $out"
expect_match "kubectl, v1beta1" "$out" "*namespace/default*"
expect "ferry, v1beta1" "$(kv)" absent
expect "v1beta1 asked for" "$(fk_json .apiVersion "$state/info")" $V1BETA1
kubeconfig "$(exec_yaml $V1)"
if out=$(kc get namespaces -o name 2>&1); then fail "kubectl took v1 without interactiveMode"; fi
expect_match "kubectl: v1 without interactiveMode" "$out" "*interactiveMode must be specified*"
expect_match "ferry: v1 without interactiveMode" "$(kv)" \
	"error invalid: kubevirt target: users\[0\].user.exec: no interactiveMode ($V1 needs one: Never or IfAvailable)"
kubeconfig "$(exec_yaml $V1 "      interactiveMode: Always")"
expect_match "interactiveMode Always" "$(kv </dev/null)" \
	"error unsupported: kubevirt target: users\[0\].user.exec.interactiveMode: Always, but ferry never runs a plugin interactively*"

# --- a command that is not there: its installHint
kubeconfig "      apiVersion: $V1
      command: ferry-no-such-plugin
      interactiveMode: IfAvailable
      installHint: |
        ferry-no-such-plugin is missing:
        see https://example.com/install"
expect "a missing plugin (not a missing VM)" "$(kv)" \
	"error auth: kube: get virtualmachines/prod/nothing: exec plugin ferry-no-such-plugin: not found in \$PATH; install hint: ferry-no-such-plugin is missing: see https://example.com/install"
if out=$(kc get namespaces -o name 2>&1); then fail "kubectl found a missing plugin"; fi
expect_match "kubectl shows the hint too" "$out" "*see https://example.com/install*"

# --- a client certificate from the plugin
kubeconfig "$V1_EXEC"
cp "$dir/pki/client.pem" "$state/cert"
cp "$dir/pki/client-key.pem" "$state/key"
out=$(kc get namespaces -o name 2>&1) || fail "kubectl, client certificate: $out"
expect_match "kubectl with the plugin's client certificate" "$out" "*namespace/default*"
expect "ferry with the plugin's client certificate" "$(kv)" absent
expect "the fake saw the certificate" "$(vm_requests 1)" "404:cert:ferry-exec"
