#!/bin/sh
# integration.kube.kubectl: real kubectl drives the fake API server: create,
# apply (client- and server-side), get -o json, label selectors, merge and
# strategic patches, label, watch, wait, logs, delete; its answers are
# kubectl's usual output, and the request log shows what it sent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require kubectl

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube.XXXXXX")
trap 'fakekube_stop; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
HOME=$dir # kubectl's dispatcher and caches write under $HOME
export HOME

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
expect() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}
contains() {
	case $2 in *"$3"*) echo "ok - $1" ;; *) fail "$1: [$2] does not contain [$3]" ;; esac
}
k() { fk_kubectl -n ferry-test "$@"; }
m=$here/manifests

fakekube_start "$dir/fk"
echo "# fake at $FAKEKUBE_URL; $(kubectl version --client 2>/dev/null | head -n 1)"
contains "server version" "$(fk_kubectl version 2>&1)" "Server Version: v1.31.0"

# --- create, AlreadyExists
expect "create namespace" "$(fk_kubectl create namespace ferry-test)" "namespace/ferry-test created"
out=$(fk_kubectl create namespace ferry-test 2>&1) && fail "second create succeeded"
expect "create twice" "$out" 'Error from server (AlreadyExists): namespaces "ferry-test" already exists'
expect "namespace label" "$(fk_kubectl get ns ferry-test -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name} {.status.phase}')" \
	"ferry-test Active"

# --- apply: every manifest, through discovery, OpenAPI v3 and fieldValidation
expect "apply" "$(k apply -f "$m/storageclass.yaml" -f "$m/datavolume.yaml" -f "$m/pvc.yaml" \
	-f "$m/vm.yaml" -f "$m/job.yaml" | tr '\n' ' ')" \
	"storageclass.storage.k8s.io/fake-block created datavolume.cdi.kubevirt.io/vm1-disk-0 created persistentvolumeclaim/vm1-disk-1 created virtualmachine.kubevirt.io/vm1 created job.batch/vm1-disk-0-copy created "
out=$(k create -f "$m/pvc.yaml" 2>&1) && fail "create of an existing PVC succeeded"
contains "create -f twice" "$out" \
	'Error from server (AlreadyExists): error when creating "'"$m"'/pvc.yaml": persistentvolumeclaims "vm1-disk-1" already exists'
expect "apply again" "$(k apply -f "$m/pvc.yaml")" "persistentvolumeclaim/vm1-disk-1 unchanged"

# --- the simulated controllers, followed with kubectl wait (a watch)
contains "wait for the Job" "$(k wait --for=condition=complete job/vm1-disk-0-copy --timeout=10s)" \
	"job.batch/vm1-disk-0-copy condition met"
dv_done() { [ "$(k get dv vm1-disk-0 -o jsonpath='{.status.phase}')" = Succeeded ]; }
fk_wait 10 dv_done || fail "DataVolume not Succeeded"
echo "ok - DataVolume Succeeded"
k get pvc vm1-disk-0 -o json >"$dir/pvc.json"
expect "DV's PVC bound" "$(fk_json .status.phase "$dir/pvc.json")" Bound
expect "DV's PVC owner" "$(fk_json '.metadata.ownerReferences[0].kind' "$dir/pvc.json")" DataVolume
expect "DV's PVC mode" "$(fk_json .spec.volumeMode "$dir/pvc.json")" Block
path=$(fk_json '.metadata.annotations["fake.ferry.dev/path"]' "$dir/pvc.json")
expect "claim file size" "$(wc -c <"$path" | tr -d ' ')" 67108864
expect "Job wrote the claim" "$(dd if="$path" bs=512 skip=1 count=1 2>/dev/null | head -c 14)" \
	"ferry was here"
expect "kubectl logs job/" "$(k logs job/vm1-disk-0-copy)" copied

# --- get -o json: what the server filled in
k get vm vm1 -o json >"$dir/vm.json"
uid=$(fk_json .metadata.uid "$dir/vm.json")
[ ${#uid} -eq 36 ] || fail "uid [$uid]"
expect "VM generation" "$(fk_json .metadata.generation "$dir/vm.json")" 1
expect "VM status" "$(fk_json .status.printableStatus "$dir/vm.json")" Stopped
expect "VM machine type (webhook default)" \
	"$(fk_json .spec.template.spec.domain.machine.type "$dir/vm.json")" q35
k get job vm1-disk-0-copy -o json >"$dir/job.json"
expect "Job selector defaulted" \
	"$(fk_json '.spec.selector.matchLabels["batch.kubernetes.io/controller-uid"]' "$dir/job.json")" \
	"$(fk_json .metadata.uid "$dir/job.json")"
expect "Job succeeded" "$(fk_json .status.succeeded "$dir/job.json")" 1

# --- label selectors
expect "get -l equality+set" \
	"$(k get pvc -l 'ferry.dev/plan=wave-1,ferry.dev/vm-id in (vm-1,vm-2)' -o name | sort | tr '\n' ' ')" \
	"persistentvolumeclaim/vm1-disk-0 persistentvolumeclaim/vm1-disk-1 "
expect "get -l notin" "$(k get pvc -l 'ferry.dev/vm-id notin (vm-1)' -o name 2>&1)" ""
expect "get -l across kinds" \
	"$(k get vm,dv,job -l 'app.kubernetes.io/managed-by=ferry,!absent' -o name | sort | tr '\n' ' ')" \
	"datavolume.cdi.kubevirt.io/vm1-disk-0 job.batch/vm1-disk-0-copy virtualmachine.kubevirt.io/vm1 "

# --- patch and label
expect "patch --type merge" \
	"$(k patch vm vm1 --type merge -p '{"spec":{"runStrategy":"Always"}}')" \
	"virtualmachine.kubevirt.io/vm1 patched"
expect "patched field" "$(k get vm vm1 -o jsonpath='{.spec.runStrategy} {.metadata.generation}')" \
	"Always 2"
vmi_up() { [ "$(k get vmi vm1 -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]; }
fk_wait 10 vmi_up || fail "no running VMI after runStrategy Always"
echo "ok - VMI running"
out=$(k patch vm vm1 -p '{"metadata":{"labels":{"x":"y"}}}' 2>&1) && fail "strategic patch of a CR"
contains "strategic patch of a CR refused" "$out" \
	"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
expect "strategic patch (built-in)" \
	"$(k patch pvc vm1-disk-1 -p '{"spec":{"resources":{"requests":{"storage":"48Mi"}}}}')" \
	"persistentvolumeclaim/vm1-disk-1 patched"
grown() { [ "$(k get pvc vm1-disk-1 -o jsonpath='{.status.capacity.storage}')" = 48Mi ]; }
fk_wait 10 grown || fail "PVC not expanded"
expect "expanded claim file" "$(wc -c <"$FAKEKUBE_RUN_ROOT/ferry-test/_pvc/vm1-disk-1/disk.img" | tr -d ' ')" \
	50331648
out=$(k patch pvc vm1-disk-1 --type merge -p '{"spec":{"volumeMode":"Block"}}' 2>&1) &&
	fail "PVC spec change accepted"
contains "immutable PVC spec" "$out" 'The PersistentVolumeClaim "vm1-disk-1" is invalid: spec: Forbidden: spec is immutable after creation'
expect "label a CR" "$(k label vm vm1 ferry.dev/extra=yes)" "virtualmachine.kubevirt.io/vm1 labeled"
expect "label a PVC" "$(k label pvc vm1-disk-1 ferry.dev/extra=yes)" \
	"persistentvolumeclaim/vm1-disk-1 labeled"
expect "get -l the new label" "$(k get vm,pvc -l ferry.dev/extra=yes -o name | sort | tr '\n' ' ')" \
	"persistentvolumeclaim/vm1-disk-1 virtualmachine.kubevirt.io/vm1 "
expect "server-side apply" "$(k apply --server-side -f "$m/vm.yaml")" \
	"virtualmachine.kubevirt.io/vm1 serverside-applied"
expect "applied field" "$(k get vm vm1 -o jsonpath='{.spec.runStrategy}')" Halted

# --- a brief watch: events for a label change and a delete
k get pvc --watch --output-watch-events -o jsonpath='{.type} {.object.metadata.name}{"\n"}' \
	>"$dir/watch.out" 2>&1 &
wpid=$!
seen() { grep -q "^$1 $2\$" "$dir/watch.out"; }
fk_wait 10 seen ADDED vm1-disk-1 || fail "watch: no ADDED ($(cat "$dir/watch.out"))"
k label pvc vm1-disk-1 ferry.dev/watched=1 >/dev/null
fk_wait 10 seen MODIFIED vm1-disk-1 || fail "watch: no MODIFIED"
expect "delete a PVC" "$(k delete pvc vm1-disk-1)" 'persistentvolumeclaim "vm1-disk-1" deleted'
fk_wait 10 seen DELETED vm1-disk-1 || fail "watch: no DELETED"
kill "$wpid" 2>/dev/null || :
wait "$wpid" 2>/dev/null || :
echo "ok - watch saw ADDED, MODIFIED, DELETED"

# --- delete
expect "delete VM" "$(k delete vm vm1)" 'virtualmachine.kubevirt.io "vm1" deleted'
out=$(k get vm vm1 2>&1) && fail "VM still there"
expect "NotFound after delete" "$out" 'Error from server (NotFound): virtualmachines.kubevirt.io "vm1" not found'
vmi_gone() { ! k get vmi vm1 >/dev/null 2>&1; }
fk_wait 10 vmi_gone || fail "VMI not collected with its VM"
echo "ok - VMI garbage-collected"
expect "delete -f Job" "$(k delete -f "$m/job.yaml")" 'job.batch "vm1-disk-0-copy" deleted'
expect "Job's pods deleted" "$(k get pods -o name)" ""
expect "delete DV" "$(k delete dv vm1-disk-0)" 'datavolume.cdi.kubevirt.io "vm1-disk-0" deleted'
pvc_gone() { ! k get pvc vm1-disk-0 >/dev/null 2>&1; }
fk_wait 10 pvc_gone || fail "DV's PVC not collected"
[ ! -e "$path" ] || fail "claim file $path outlived its PVC"
echo "ok - DV's PVC and its data deleted"

# --- the request log: what kubectl sent, and nothing the fake refused
# unexpectedly (404 for GETs of objects not there yet or any more: apply's
# look-up, the polls after deletes; 409 for create-twice, 415 for the
# strategic patch of a CR, 422 for the immutable PVC spec).
fk_log_requests >"$dir/requests.txt"
grep -q '^201 POST /apis/kubevirt.io/v1/namespaces/ferry-test/virtualmachines?fieldManager=kubectl-client-side-apply&fieldValidation=Strict application/json$' \
	"$dir/requests.txt" || fail "no apply POST of the VM in the log"
echo "ok - log: apply POSTs with fieldValidation=Strict"
grep -q '^200 PATCH /apis/kubevirt.io/v1/namespaces/ferry-test/virtualmachines/vm1?fieldManager=kubectl-patch application/merge-patch+json$' \
	"$dir/requests.txt" || fail "no merge PATCH in the log"
grep -q '^200 PATCH /api/v1/namespaces/ferry-test/persistentvolumeclaims/vm1-disk-1?fieldManager=kubectl-patch application/strategic-merge-patch+json$' \
	"$dir/requests.txt" || fail "no strategic PATCH in the log"
grep -q '^200 PATCH /api/v1/namespaces/ferry-test/persistentvolumeclaims/vm1-disk-1?fieldManager=kubectl-label application/merge-patch+json$' \
	"$dir/requests.txt" || fail "no label PATCH in the log"
grep -q '^200 PATCH /apis/kubevirt.io/v1/namespaces/ferry-test/virtualmachines/vm1?fieldManager=kubectl&fieldValidation=Strict&force=false application/apply-patch+yaml$' \
	"$dir/requests.txt" || fail "no server-side apply in the log"
echo "ok - log: merge, strategic and apply patches"
grep -q '^200 GET /api/v1/namespaces/ferry-test/persistentvolumeclaims?.*watch=true' \
	"$dir/requests.txt" || fail "no watch in the log"
expect "merge patch body" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("method") == "PATCH" and "merge-patch" in r["content_type"] and r["path"].endswith("/vm1"):
        print(json.dumps(r["body"], sort_keys=True)); break' "$FAKEKUBE_LOG")" '{"spec": {"runStrategy": "Always"}}'
expect "delete bodies" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
s = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("method") == "DELETE":
        s.add(json.dumps(r.get("body"), sort_keys=True))
print(" ".join(sorted(s)))' "$FAKEKUBE_LOG")" '{"propagationPolicy": "Background"}'
unexpected=$(grep -v '^2' "$dir/requests.txt" |
	grep -v '^404 GET /apis*/[^?]*/[a-z0-9-]* -$' |
	grep -v '^409 POST /api/v1/namespaces?fieldManager=kubectl-create' |
	grep -v '^409 POST /api/v1/namespaces/ferry-test/persistentvolumeclaims?' |
	grep -v '^415 PATCH /apis/kubevirt.io/v1/namespaces/ferry-test/virtualmachines/vm1?' |
	grep -v '^422 PATCH /api/v1/namespaces/ferry-test/persistentvolumeclaims/vm1-disk-1?' || :)
expect "log: no other refusals" "$unexpected" ""
expect "log: every request authenticated" \
	"$(fk_log_requests "r['auth'] != 'token' and r['path'] != '/version'")" ""
echo "# $(wc -l <"$FAKEKUBE_LOG" | tr -d ' ') requests logged"
