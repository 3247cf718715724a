#!/bin/sh
# integration.kube.kubectl-golden: ferry's golden Kubernetes objects
# (VirtualMachine, DataVolume, PVC, Job) are applied by real `kubectl apply
# -f` through the fake, with every kubectl minor version at hand: Debian's
# (or Google's) kubectl dispatcher carries kubectl.1.NN binaries and picks
# one by the server's /version; each is run against a fake reporting its
# version. A second apply finds nothing to change, and the fake refused
# nothing kubectl sent. Objects named by metadata.generateName (ferry's
# volumes with pvcNameTemplateUseGenerateName) cannot be applied (kubectl
# refuses "generate name with apply"): they are made with `kubectl create
# -f`, as a user would, and get the prefix and 5 random characters, a new
# name each time.
#   kubectl-golden.sh [GOLDEN_DIR]   (default $FERRY_KUBE_GOLDEN)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require kubectl
golden=${1:-${FERRY_KUBE_GOLDEN:-}}
if [ -z "$golden" ] || ! ls "$golden"/*.json >/dev/null 2>&1; then
	echo "no golden objects in [$golden]: skipping"
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube.XXXXXX")
trap 'fakekube_stop; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
HOME=$dir
export HOME

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
expect() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}

# One line per golden file: KIND NAMESPACE FILE GENERATE_NAME (or "-").
"$FAKEKUBE_PYTHON" -c '
import json, sys
for f in sys.argv[1:]:
    o = json.load(open(f))
    m = o.get("metadata", {})
    gen = m.get("generateName") if not m.get("name") else None
    print(o.get("kind"), m.get("namespace") or "-", f, gen or "-")
' "$golden"/*.json >"$dir/golden.txt"
namespaces=$(awk '$2 != "-" { print $2 }' "$dir/golden.txt" | sort -u)
# A disk is a DataVolume or a PVC of the same name, never both: the PVCs
# are deleted before the DataVolumes are applied. files and count: the
# named objects (of kind K, but not of kind NOT); gen_*: the generateName ones.
files() { awk -v k="$1" -v not="${2:-}" '$4 == "-" && (k == "*" || $1 == k) && $1 != not { printf " -f %s", $3 }' "$dir/golden.txt"; }
count() { awk -v k="$1" -v not="${2:-}" '$4 == "-" && (k == "*" || $1 == k) && $1 != not' "$dir/golden.txt" | wc -l | tr -d ' '; }
gen_files() { awk '$4 != "-" { printf " -f %s", $3 }' "$dir/golden.txt"; }
gen_count() { awk '$4 != "-"' "$dir/golden.txt" | wc -l | tr -d ' '; }
# "created" lines of kubectl create whose names are a golden prefix and 5
# characters of the apiserver's alphabet
gen_created() {
	echo "$1" | grep -E "/($(awk '$4 != "-" { printf "%s%s", sep, $4; sep = "|" }' "$dir/golden.txt"))[bcdfghjklmnpqrstvwxz2456789]{5} created$" |
		sed 's/ created$//' | sort -u | wc -l | tr -d ' '
}

# The kubectl versions: the dispatcher's kubectl.1.NN, or kubectl itself.
kdir=$(dirname "$(readlink -f "$(command -v kubectl)")")
versions=
if kubectl version --client 2>/dev/null | grep -q dispatcher; then
	for b in "$kdir"/kubectl.1.*; do
		v=${b##*/kubectl.1.}
		case $v in '' | *[!0-9]*) ;; *) [ -x "$b" ] && versions="$versions $v" ;; esac
	done
fi
[ -n "$versions" ] || versions=default

for v in $versions; do
	if [ "$v" = default ]; then
		FAKEKUBE_KUBECTL=kubectl
		sv=$(kubectl version --client -o json 2>/dev/null |
			sed -n 's/.*"gitVersion": "\(v[0-9]*\.[0-9]*\)\..*/\1.0/p' | head -n 1)
		flags=${sv:+--server-version $sv}
	else
		FAKEKUBE_KUBECTL=$kdir/kubectl.1.$v
		flags="--server-version v1.$v.0"
	fi
	export FAKEKUBE_KUBECTL
	for ns in $namespaces; do flags="$flags --namespace $ns"; done
	# shellcheck disable=SC2086
	fakekube_start "$dir/fk-$v" $flags
	cv=$(fk_kubectl version --client 2>/dev/null | head -n 1)
	# shellcheck disable=SC2046
	out=$(fk_kubectl apply $(files '*' DataVolume) 2>&1) || fail "kubectl 1.$v: apply: $out"
	expect "kubectl 1.$v ($cv): golden objects created" "$(echo "$out" | grep -c ' created$')" \
		"$(count '*' DataVolume)"
	# shellcheck disable=SC2046
	out=$(fk_kubectl apply $(files '*' DataVolume) 2>&1) || fail "kubectl 1.$v: apply again: $out"
	expect "kubectl 1.$v: applied again, unchanged" "$(echo "$out" | grep -c ' unchanged$')" \
		"$(count '*' DataVolume)"
	if [ "$(count PersistentVolumeClaim)" -gt 0 ] && [ "$(count DataVolume)" -gt 0 ]; then
		# shellcheck disable=SC2046
		fk_kubectl delete --wait $(files PersistentVolumeClaim) >/dev/null
	fi
	if [ "$(count DataVolume)" -gt 0 ]; then
		# shellcheck disable=SC2046
		out=$(fk_kubectl apply $(files DataVolume) 2>&1) || fail "kubectl 1.$v: apply DVs: $out"
		expect "kubectl 1.$v: golden DataVolumes created" "$(echo "$out" | grep -c ' created$')" \
			"$(count DataVolume)"
	fi
	if [ "$(gen_count)" -gt 0 ]; then
		# shellcheck disable=SC2046
		out=$(fk_kubectl create $(gen_files) 2>&1) || fail "kubectl 1.$v: create: $out"
		# shellcheck disable=SC2046
		out="$out
$(fk_kubectl create $(gen_files) 2>&1)" || fail "kubectl 1.$v: create again: $out"
		expect "kubectl 1.$v: generateName objects created twice, under 2x$(gen_count) names" \
			"$(gen_created "$out")" "$((2 * $(gen_count)))"
	fi
	bad=$(fk_log_requests "r['status'] >= 400 and not (r['status'] == 404 and r['method'] == 'GET')")
	expect "kubectl 1.$v: nothing refused" "$bad" ""
	fakekube_stop
done
