#!/bin/sh
# kubectl reads the local target's golden VirtualMachine manifests
# (tests/unit/data/local/*.yaml, which unit.local_target checks the driver
# writes byte for byte) as the objects they mean: every file parses, and the
# object kubectl sees equals the one PyYAML (a YAML 1.1 parser) sees, so no
# scalar turned into a number or a boolean on the way.
#
# Offline: `kubectl label --local` parses without asking a server for the
# type's REST mapping (`create --dry-run=client` would need one for a CRD).
# Skips (77) when kubectl, jq or python3's yaml module is missing, or when
# this kubectl cannot parse a manifest offline.
set -u
dir=${1:?usage: manifest.sh GOLDEN-DIR}

for tool in kubectl jq python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3 yaml module not found"; exit 77; }

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

# Nothing may reach a cluster: no kubeconfig, an unroutable server.
export KUBECONFIG="$work/none"
kube() {
	timeout 60 kubectl --server=https://127.0.0.1:1 "$@"
}

cat >"$work/probe.yaml" <<'YAML'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: probe
YAML
if ! kube label --local -f "$work/probe.yaml" ferry.dev/check=ok -o json >"$work/probe.json" 2>"$work/probe.err"; then
	echo "SKIP: kubectl cannot parse a manifest offline:"
	cat "$work/probe.err"
	exit 77
fi

status=0
n=0
for f in "$dir"/*.yaml; do
	[ -e "$f" ] || { echo "FAIL: no manifests in $dir"; exit 1; }
	n=$((n + 1))
	name=$(basename "$f")
	if ! kube label --local -f "$f" ferry.dev/check=ok -o json >"$work/k.json" 2>"$work/k.err"; then
		echo "FAIL: kubectl does not parse $name:"
		cat "$work/k.err"
		status=1
		continue
	fi
	jq -S 'del(.metadata.labels["ferry.dev/check"])' "$work/k.json" >"$work/kubectl.json"
	python3 -c 'import json, sys, yaml
print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding="utf-8")), sort_keys=True))' \
		"$f" | jq -S . >"$work/pyyaml.json"
	if ! diff -u "$work/pyyaml.json" "$work/kubectl.json"; then
		echo "FAIL: kubectl and PyYAML read $name differently"
		status=1
	fi
	# What KubeVirt needs to find where it looks for it.
	if ! jq -e '.apiVersion == "kubevirt.io/v1" and .kind == "VirtualMachine"
		and (.metadata.name | type) == "string"
		and (.metadata.namespace | type) == "string"
		and ([.metadata.labels[], .spec.template.metadata.labels[]]
		     | all(type == "string"))
		and .metadata.labels == .spec.template.metadata.labels
		and (.spec.runStrategy == "Always" or .spec.runStrategy == "Halted")
		and ([.spec.template.spec.domain.cpu | .sockets, .cores, .threads]
		     | all(type == "number"))
		and (.spec.template.spec.domain.memory.guest | test("^[0-9]+Mi$"))
		and ([.spec.template.spec.domain.devices.interfaces[]?.macAddress // empty]
		     | all(type == "string"))
		and ([.spec.template.spec.domain.devices.disks[]?.name]
		     == [.spec.template.spec.volumes[]?.name])
		and ([.spec.template.spec.domain.devices.interfaces[]?.name]
		     == [.spec.template.spec.networks[]?.name])' \
		"$work/kubectl.json" >/dev/null; then
		echo "FAIL: $name lacks what a KubeVirt VirtualMachine needs"
		status=1
	fi
done
[ $status = 0 ] && echo "ok: kubectl parsed $n manifests as PyYAML does"
exit $status
