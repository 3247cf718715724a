#!/bin/sh
# integration.kube.target: ferry's KubeVirt target (providers/kubevirt/
# target.c) against the fake, one operation per kvdrv call:
# - a cluster given by url and token (a destination Provider's Secret):
#   the CA given, or none with insecureSkipVerify; a wrong token is 401
#   Unauthorized, a wrong CA a certificate error; the token appears in no
#   message and no debug log;
# - disk_create checks the namespace and the storage class, makes one
#   DataVolume (or PVC) per disk however often it is called, and refuses a
#   volume of that name that is not ferry's; a disk without a class gets
#   the cluster's default (CDI's virt default for a DataVolume), and
#   without one is refused; with generateName (pvcNameTemplateUseGenerateName)
#   the server names the volume and a repeated call finds it by its labels;
# - vm_create checks the multus networks, creates the VirtualMachine and
#   replaces it with the same content when called again; vm_exists' digest
#   stays across a status update and changes with a spec patch made
#   outside ferry (kubectl, or curl without it), until vm_create again;
# - copy_start runs `ferry copy` in a Job that writes a real image into
#   the claim (Filesystem and Block), byte for byte; a second copy_start of
#   the same op keeps the one Job, another op replaces it; a copy of a
#   missing source is FAILED with the worker's own message; copy_stop
#   removes the Job; a throttled copy is polled with 0 < done < total, read
#   from the progress lines in its pod's log;
# - vm_delete removes the VM, its volumes and its Jobs, and only ferry's.
# usage: target.sh KVDRV FERRY
# shellcheck disable=SC2016,SC2119  # JSON in single quotes; fakekube_require takes no args here
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require
kvdrv=${1:?usage: target.sh KVDRV FERRY}
ferry=${2:?usage: target.sh KVDRV FERRY}
[ -x "$kvdrv" ] && [ -x "$ferry" ] || { echo "kvdrv or ferry not built: skipping"; exit 77; }
command -v cmp >/dev/null 2>&1 || { echo "cmp not installed: skipping"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube-target.XXXXXX")
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
	case $2 in $3) echo "ok - $1" ;; *) fail "$1: got [$2], want [$3]" ;; esac
}
j() { fk_json "$1" "$FAKEKUBE_DIR/last.body"; }
create() { fk_api POST "$1" "$2" >/dev/null || fail "create at $1: $(cat "$FAKEKUBE_DIR/last.body")"; }
# count PATH: how many objects a list at PATH (with its query) returns
count() { fk_api GET "$1" >/dev/null || fail "list $1"; j .items.length; }

# Jobs run `ferry copy` from PATH, which the fake's processes inherit.
PATH=$(cd "$(dirname "$ferry")" && pwd):$PATH
export PATH
fakekube_start "$dir/fk" --job-backoff 0.2
KC=$FAKEKUBE_KUBECONFIG
API=/api/v1/namespaces/prod
CDI=/apis/cdi.kubevirt.io/v1beta1/namespaces/prod/datavolumes
JOBS=/apis/batch/v1/namespaces/prod/jobs
VMS=/apis/kubevirt.io/v1/namespaces/prod/virtualmachines
OWNER='labelSelector=app.kubernetes.io%2Fmanaged-by%3Dferry%2Cferry.dev%2Ftarget-vm%3Dweb-01'

# --- a cluster given by url and token, not a kubeconfig
SECRET=s3cr3t-not-the-token
fakekube_client_cert "$dir/other" other >/dev/null || fail "making another CA"
url() { "$kvdrv" --url "$FAKEKUBE_URL" --vm nothing "$@" vm-exists; }
expect "url, token, cacert" "$(url --token "$FAKEKUBE_TOKEN" --cacert "$FAKEKUBE_CACERT")" absent
expect "url, token, insecureSkipVerify" "$(url --token "$FAKEKUBE_TOKEN" --insecure)" absent
expect "insecureSkipVerify ignores cacert (as Forklift)" \
	"$(url --token "$FAKEKUBE_TOKEN" --cacert "$dir/other/client-ca.pem" --insecure)" absent
expect "the url wins over a kubeconfig" \
	"$(url --kubeconfig "$dir/nope" --token "$FAKEKUBE_TOKEN" --cacert "$FAKEKUBE_CACERT")" absent
expect_match "a CA that did not sign the server" \
	"$(url --token "$FAKEKUBE_TOKEN" --cacert "$dir/other/client-ca.pem")" \
	"error certificate: kube: get virtualmachines/prod/nothing: $FAKEKUBE_URL: *"
expect_match "no CA: the system's store does not know the fake" \
	"$(url --token "$FAKEKUBE_TOKEN")" "error certificate: *"
expect "url without a token" "$(url --insecure)" \
	"error invalid: kubevirt target: cluster $FAKEKUBE_URL: no token (a cluster given by url needs the token of a service account)"
out=$(FERRY_LOG=debug url --token "$SECRET" --cacert "$FAKEKUBE_CACERT" 2>"$dir/debug.log") || :
expect "a wrong token: 401 Unauthorized" "$out" \
	"error auth: kube: get virtualmachines/prod/nothing: 401 Unauthorized: Unauthorized"
grep -q "debug: kube: GET" "$dir/debug.log" || fail "no debug log to look for the token in"
! grep -q "$SECRET" "$dir/debug.log" || fail "the token is in the debug log"
expect "the fake refused the token" "$(fk_log_requests "r['auth'] == 'bad'")" \
	"401 GET /apis/kubevirt.io/v1/namespaces/prod/virtualmachines/nothing -"

# The VM of most calls: two disks (Filesystem, Block) in storage class
# "local", a pod NIC and a multus NIC.
VM="--kubeconfig $KC --image quay.io/ferry/ferry:test --disk web-01-disk-0:4M:local
	--disk web-01-disk-1:2M:local:Block --nic net-0:pod --nic net-1:multus:prod/vlan-10"
# shellcheck disable=SC2086  # VM is a list of options
kv() { "$kvdrv" $VM "$@"; }

# --- no namespace yet; no storage class yet
expect "namespace missing" "$(kv disk-create 0)" \
	"error not-found: Target namespace not found: prod"
create /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}'
expect "storage class missing" "$(kv disk-create 0)" \
	"error not-found: Destination storage class not found: local (the StorageMap destination of disk web-01-disk-0)"
create /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"local"},"provisioner":"fake.ferry.dev/local"}'

# --- DataVolumes, one per disk however often disk_create runs
expect "disk_create" "$(kv disk-create 0)" "kubevirt://prod/web-01-disk-0"
expect "disk_create again" "$(kv disk-create 0)" "kubevirt://prod/web-01-disk-0"
expect "disk_create disk 1" "$(kv disk-create 1)" "kubevirt://prod/web-01-disk-1"
expect "one DataVolume per disk" "$(count "$CDI?$OWNER")" 2
fk_api GET $CDI/web-01-disk-1 >/dev/null
expect "DataVolume labels" "$(j '.metadata.labels["ferry.dev/disk"]') $(j '.metadata.labels["ferry.dev/plan"]') $(j '.metadata.labels["ferry.dev/vm-id"]')" \
	"1 wave-1 vm-42"
expect "DataVolume spec" "$(j .spec.storage.volumeMode) $(j .spec.storage.storageClassName) $(j .spec.storage.resources.requests.storage)" \
	"Block local 2Mi"
# the old DataVolume's request is what counts: a bigger disk is refused
expect "volume too small" "$("$kvdrv" --kubeconfig "$KC" --disk web-01-disk-0:8M:local disk-create 0)" \
	"error conflict: DataVolume prod/web-01-disk-0 exists with 4Mi, the disk needs 8Mi"
# a volume of the disk's name that ferry did not make is not taken over
create $API/persistentvolumeclaims '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"other-disk-0"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Mi"}},"storageClassName":"local"}}'
expect "foreign volume" "$("$kvdrv" --kubeconfig "$KC" --volumes pvc --vm other --disk other-disk-0:1M:local disk-create 0)" \
	"error conflict: PersistentVolumeClaim prod/other-disk-0 exists and was not made by ferry for disk 0 of VM other; remove it, or name the volume otherwise (pvcNameTemplate)"

# --- the cluster's default StorageClass, for a disk the StorageMap gives none
expect "no class, no default class" "$("$kvdrv" --kubeconfig "$KC" --vm plain --disk plain-disk-0:1M disk-create 0)" \
	"error not-found: no storage class in the StorageMap and the cluster has no default StorageClass (disk plain-disk-0)"
# a claim without a class waits for a default class, as in a cluster
create $API/persistentvolumeclaims '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"bare"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Mi"}}}}'
waiting() { fk_api GET "$API/events?fieldSelector=involvedObject.name%3Dbare" >/dev/null && j .items[0].reason >/dev/null; }
fk_wait 5 waiting || fail "no event for the claim without a class"
expect "FailedBinding event" "$(j .items[0].reason): $(j .items[0].message)" \
	"FailedBinding: no persistent volumes available for this claim and no storage class is set"
fk_api GET $API/persistentvolumeclaims/bare >/dev/null
expect "a claim without a class, no default: Pending" "$(j .status.phase) $(j .spec.storageClassName || echo none)" "Pending none"
create /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"standard","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"rbd.csi.ceph.com"}'
create /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"virt","annotations":{"storageclass.kubevirt.io/is-default-virt-class":"true"}},"provisioner":"nfs.csi.k8s.io"}'
bound() { fk_api GET $API/persistentvolumeclaims/bare >/dev/null && [ "$(j .status.phase)" = Bound ]; }
fk_wait 5 bound || fail "the bare claim did not bind once a default class appeared"
expect "it got the default class" "$(j .spec.storageClassName)" standard
# a DataVolume: CDI's default virtualization class; a PVC: the default class
expect "default class: DataVolume" "$("$kvdrv" --kubeconfig "$KC" --vm plain --disk plain-disk-0:1M disk-create 0)" \
	"kubevirt://prod/plain-disk-0"
fk_api GET $CDI/plain-disk-0 >/dev/null
expect "the DataVolume names CDI's default and has its provisioner's modes" \
	"$(j .spec.storage.storageClassName) $(j .spec.storage.volumeMode) $(j .spec.storage.accessModes[0])" \
	"virt Filesystem ReadWriteMany"
expect "default class: PVC" "$("$kvdrv" --kubeconfig "$KC" --volumes pvc --vm plain-pvc --disk plain-pvc-disk-0:1M disk-create 0)" \
	"kubevirt://prod/plain-pvc-disk-0"
fk_api GET $API/persistentvolumeclaims/plain-pvc-disk-0 >/dev/null
expect "the PVC names the default class and has its provisioner's modes" \
	"$(j .spec.storageClassName) $(j .spec.volumeMode) $(j .spec.accessModes[0])" \
	"standard Block ReadWriteMany"
expect "cleaned up" "$("$kvdrv" --kubeconfig "$KC" --vm plain vm-delete) $("$kvdrv" --kubeconfig "$KC" --vm plain-pvc vm-delete)" "ok ok"
fk_api DELETE $API/persistentvolumeclaims/bare >/dev/null || fail "deleting the bare claim"

# --- the VirtualMachine
expect "network missing" "$(kv vm-create)" \
	"error not-found: Destination network not found: prod/vlan-10 (interface net-1 of VM prod/web-01)"
create /apis/k8s.cni.cncf.io/v1/namespaces/prod/network-attachment-definitions '{"apiVersion":"k8s.cni.cncf.io/v1","kind":"NetworkAttachmentDefinition","metadata":{"name":"vlan-10"},"spec":{"config":"{}"}}'
expect "vm_exists before" "$(kv vm-exists)" absent
expect "vm_create" "$(kv vm-create)" ok
fk_api GET $VMS/web-01 >/dev/null
rv=$(j .metadata.resourceVersion)
expect "VM volumes" "$(j .spec.template.spec.volumes[0].dataVolume.name) $(j .spec.template.spec.volumes[1].dataVolume.name)" \
	"web-01-disk-0 web-01-disk-1"
expect "VM networks" "$(j .spec.template.spec.networks[1].multus.networkName)" prod/vlan-10
d1=$(kv vm-exists)
expect_match "vm_exists digest" "$d1" "exists ????????????????????????????????????????????????????????????????"
expect "vm_create again" "$(kv vm-create)" ok
fk_api GET $VMS/web-01 >/dev/null
expect "vm_create again writes nothing" "$(j .metadata.resourceVersion)" "$rv"
expect "digest after vm_create again" "$(kv vm-exists)" "$d1"
fk_api PATCH $VMS/web-01/status '{"status":{"printableStatus":"Stopped","ready":false}}' >/dev/null ||
	fail "status update"
fk_api GET $VMS/web-01 >/dev/null
[ "$(j .metadata.resourceVersion)" != "$rv" ] || fail "the status update changed nothing"
expect "digest after a status update" "$(kv vm-exists)" "$d1"
if command -v kubectl >/dev/null 2>&1; then
	fk_kubectl -n prod patch vm web-01 --type merge -p '{"spec":{"runStrategy":"Always"}}' >/dev/null ||
		fail "kubectl patch"
	how=kubectl
else
	fk_api PATCH $VMS/web-01 '{"spec":{"runStrategy":"Always"}}' >/dev/null || fail "patch"
	how=curl
fi
d2=$(kv vm-exists)
[ "$d2" != "$d1" ] || fail "digest unchanged after a spec patch ($how)"
echo "ok - digest changed by a spec patch ($how)"
expect "vm_create puts ferry's spec back" "$(kv vm-create) $(kv vm-exists)" "ok $d1"
# a VM of that name that is not ferry's is left alone
create $VMS '{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"theirs"},"spec":{"runStrategy":"Halted","template":{"spec":{"domain":{"devices":{}}}}}}'
expect "foreign VM: create" "$(kv --vm theirs vm-create)" \
	"error conflict: VirtualMachine prod/theirs exists and was not made by ferry for this source VM; remove it, or choose another target name"
expect "foreign VM: delete" "$(kv --vm theirs vm-delete)" \
	"error conflict: VirtualMachine prod/theirs was not made by ferry: not deleting it"

# --- copies: a raw image with data at its start, middle and end
src=$dir/src.img
if command -v qemu-img >/dev/null 2>&1; then
	qemu-img create -q -f raw "$src" 4M
else
	dd if=/dev/zero of="$src" bs=1 count=0 seek=4M 2>/dev/null
fi
for off in 0 37 63; do
	dd if=/dev/urandom of="$src" bs=64K seek=$off count=1 conv=notrunc 2>/dev/null
done
head -c 2M "$src" >"$dir/src1.img"
claim_file() { # claim_file CLAIM: the claim's local data file
	fk_api GET $API/persistentvolumeclaims/"$1" >/dev/null || fail "no claim $1"
	j '.metadata.annotations["fake.ferry.dev/path"]'
}
# wait_phase KV I OP PHASE: copy_poll through KV (kv or kp) says PHASE
# (10 s at most); sets polled
wait_phase() {
	_n=100
	while :; do
		polled=$("$1" copy-poll "$2" "$3") || :
		case $polled in "$4"*) return 0 ;; esac
		[ "$_n" -gt 0 ] || fail "copy $3 of disk $2 not $4: $polled"
		_n=$((_n - 1))
		sleep 0.1
	done
}
OP1=0123456789abcdef OP2=1111111111111111 OP3=2222222222222222
expect "copy_start without worker_image" "$("$kvdrv" --kubeconfig "$KC" --disk web-01-disk-0:4M:local copy-start 0 "$src" $OP1)" \
	"error invalid: [target] worker_image is not set in ferry.ini: the kubevirt target copies each disk in a Job that runs \`ferry copy\` from that image"
expect "copy_poll before copy_start" "$(kv copy-poll 0 $OP1)" \
	"error not-found: no transfer Job of operation $OP1 for disk web-01-disk-0 of VM prod/web-01"
expect "copy_start" "$(kv copy-start 0 "$src" $OP1 --request-size 64K)" ok
fk_api GET $JOBS/web-01-disk-0-copy >/dev/null
uid=$(j .metadata.uid)
expect "Job command" "$(j .spec.template.spec.containers[0].command) $(j .spec.template.spec.containers[0].args)" \
	"[\"ferry\", \"copy\"] [\"--progress-fd\", \"1\", \"--progress-interval\", \"1\", \"--request-size\", \"64K\", \"$src\", \"/var/lib/ferry/disk/disk.img\"]"
expect "Job op label" "$(j '.metadata.labels["ferry.dev/op"]') $(j '.spec.template.metadata.labels["ferry.dev/op"]')" \
	"$OP1 $OP1"
expect "copy_start again" "$(kv copy-start 0 "$src" $OP1)" ok
fk_api GET $JOBS/web-01-disk-0-copy >/dev/null
expect "copy_start again keeps the Job" "$(j .metadata.uid) $(count "$JOBS?$OWNER")" "$uid 1"
wait_phase kv 0 $OP1 DONE
expect "copy_poll DONE" "$polled" "DONE 4194304 4194304"
cmp "$src" "$(claim_file web-01-disk-0)" || fail "claim web-01-disk-0 differs from the source"
echo "ok - the Job copied the image into the Filesystem claim"
expect "copy_start Block" "$(kv copy-start 1 "$dir/src1.img" $OP1)" ok
wait_phase kv 1 $OP1 DONE
fk_api GET $JOBS/web-01-disk-1-copy >/dev/null
expect "Block Job device" "$(j .spec.template.spec.containers[0].volumeDevices[0].devicePath) $(j .spec.template.spec.containers[0].args[-1])" \
	"/dev/ferry-disk /dev/ferry-disk"
cmp "$dir/src1.img" "$(claim_file web-01-disk-1)" || fail "claim web-01-disk-1 differs from the source"
echo "ok - the Job copied the image into the Block claim"
expect "copy_stop" "$(kv copy-stop 1 $OP1)" ok
expect "copy_stop removed the Job" "$(count "$JOBS?labelSelector=ferry.dev%2Fdisk%3D1")" 0
expect "copy_stop again" "$(kv copy-stop 1 $OP1)" ok
expect "copy_poll after copy_stop" "$(kv copy-poll 1 $OP1)" \
	"error not-found: no transfer Job of operation $OP1 for disk web-01-disk-1 of VM prod/web-01"

# --- a copy that fails: the worker's own message; another op replaces it
expect "copy_start of a missing source" "$(kv copy-start 0 "$dir/missing.img" $OP2)" ok
expect "the other op's Job is gone" "$(count "$JOBS?labelSelector=ferry.dev%2Fop%3D$OP1")" 0
wait_phase kv 0 $OP2 FAILED
expect_match "copy_poll FAILED" "$polled" \
	"FAILED 0 4194304 ferry copy: $dir/missing.img: open: No such file or directory (Job prod/web-01-disk-0-copy: BackoffLimitExceeded; pod web-01-disk-0-copy-????? exit code 1)"
expect "copy_start replaces the failed op" "$(kv copy-start 0 "$src" $OP3)" ok
expect "one Job, of the new op" "$(count "$JOBS?$OWNER") $(count "$JOBS?labelSelector=ferry.dev%2Fop%3D$OP3")" "1 1"
wait_phase kv 0 $OP3 DONE

# --- vm_delete: the VM, its volumes and its Jobs; only ferry's
expect "vm_delete" "$(kv vm-delete)" ok
expect "VM gone" "$(kv vm-exists)" absent
expect "DataVolumes, PVCs and Jobs gone" \
	"$(count "$CDI?$OWNER") $(count "$API/persistentvolumeclaims?$OWNER") $(count "$JOBS?$OWNER")" "0 0 0"
expect "vm_delete again" "$(kv vm-delete)" ok
fk_api GET $API/persistentvolumeclaims/other-disk-0 >/dev/null || fail "a foreign PVC was deleted"
fk_api GET $VMS/theirs >/dev/null || fail "a foreign VM was deleted"
echo "ok - other objects stay"

# --- volumes = pvc: plain claims, sized with the filesystem overhead
PVC="--kubeconfig $KC --volumes pvc --type openshift --vm db --image quay.io/ferry/ferry:test
	--node-selector kubernetes.io/arch=amd64 --cpu 500m --memory 256Mi
	--disk db-disk-0:4M:local --disk db-disk-1:2M:local:Block"
# shellcheck disable=SC2086  # PVC is a list of options
kp() { "$kvdrv" $PVC "$@"; }
DBSEL='labelSelector=ferry.dev%2Ftarget-vm%3Ddb'
expect "pvc disk_create" "$(kp disk-create 0) $(kp disk-create 0) $(kp disk-create 1)" \
	"kubevirt://prod/db-disk-0 kubevirt://prod/db-disk-0 kubevirt://prod/db-disk-1"
expect "one PVC per disk, no DataVolume" "$(count "$API/persistentvolumeclaims?$DBSEL") $(count "$CDI?$DBSEL")" "2 0"
fk_api GET $API/persistentvolumeclaims/db-disk-0 >/dev/null
expect "PVC spec" "$(j .spec.volumeMode) $(j .spec.accessModes[0]) $(j .spec.resources.requests.storage)" \
	"Filesystem ReadWriteOnce 5Mi"
expect "pvc vm_create" "$(kp vm-create)" ok
fk_api GET $VMS/db >/dev/null
expect "VM claims" "$(j .spec.template.spec.volumes[0].persistentVolumeClaim.claimName) $(j .spec.template.spec.volumes[1].persistentVolumeClaim.claimName)" \
	"db-disk-0 db-disk-1"
expect "pvc copy_start" "$(kp copy-start 0 "$src" $OP1)" ok
fk_api GET $JOBS/db-disk-0-copy >/dev/null
expect "Job worker settings" "$(j .spec.template.spec.nodeSelector) $(j .spec.template.spec.containers[0].resources)" \
	'{"kubernetes.io/arch": "amd64"} {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "500m", "memory": "256Mi"}}'
wait_phase kp 0 $OP1 DONE
cmp -n 4194304 "$src" "$(claim_file db-disk-0)" || fail "claim db-disk-0 differs from the source"
echo "ok - the Job copied the image into the PVC"
expect "pvc vm_delete" "$(kp vm-delete) $(kp vm-exists)" "ok absent"
expect "PVCs and Jobs gone" "$(count "$API/persistentvolumeclaims?$DBSEL") $(count "$JOBS?$DBSEL")" "0 0"

# --- generateName (pvcNameTemplateUseGenerateName): the server names the
# volume; ferry finds it again by its labels. A throttled copy into it shows
# its progress while it runs.
GEN="--kubeconfig $KC --image quay.io/ferry/ferry:test --generate-name --vm gen
	--disk gen-disk-0:1M:local"
# shellcheck disable=SC2086  # GEN is a list of options
kg() { "$kvdrv" $GEN "$@"; }
uri=$(kg disk-create 0)
expect_match "disk_create with generateName" "$uri" "kubevirt://prod/gen-disk-0-?????"
expect "disk_create again finds it" "$(kg disk-create 0)" "$uri"
GENSEL='labelSelector=ferry.dev%2Ftarget-vm%3Dgen'
expect "one DataVolume" "$(count "$CDI?$GENSEL")" 1
gen=${uri##*/}
fk_api GET $CDI/"$gen" >/dev/null || fail "no DataVolume $gen"
expect "its generateName" "$(j .metadata.generateName)" gen-disk-0-
expect "vm_create names it" "$(kg vm-create)" ok
fk_api GET $VMS/gen >/dev/null
expect "VM volume" "$(j .spec.template.spec.volumes[0].dataVolume.name)" "$gen"
head -c 1M /dev/urandom >"$dir/rnd.img"
expect "copy_start, throttled" "$(kg copy-start 0 "$dir/rnd.img" $OP1 --rate-limit 256K --request-size 64K)" ok
fk_api GET $JOBS/"$gen"-copy >/dev/null || fail "no Job $gen-copy"
# RUNNING DONE TOTAL, with 0 < DONE < TOTAL at least once
midway() {
	polled=$(kg copy-poll 0 $OP1)
	case $polled in
	"RUNNING 0 "*) return 1 ;;
	"RUNNING "*)
		# shellcheck disable=SC2086  # the words of one answer
		set -- $polled
		[ "$2" -lt "$3" ] && [ "$3" = 1048576 ]
		;;
	*) fail "copy ended before a poll saw it midway: $polled" ;;
	esac
}
fk_wait 10 midway || fail "no poll saw the copy midway: $polled"
echo "ok - copy_poll midway: $polled"
expect_match "progress read from the pod's log" \
	"$(fk_log_requests "r['path'].endswith('/log')" | tail -n 1)" \
	"200 GET /api/v1/namespaces/prod/pods/$gen-copy-?????/log?container=copy&tailLines=10 -"
wait_phase kg 0 $OP1 DONE
expect "copy_poll DONE" "$polled" "DONE 1048576 1048576"
cmp "$dir/rnd.img" "$(claim_file "$gen")" || fail "claim $gen differs from the source"
echo "ok - the Job copied the image into the generated claim"
expect "vm_delete" "$(kg vm-delete)" ok
expect "its volumes and Jobs gone" "$(count "$CDI?$GENSEL") $(count "$JOBS?$GENSEL")" "0 0"
# the random characters met a name in use: try again, with new ones
fk_control POST /_fake/inject '{"method":"POST","path":"/datavolumes$","code":409,"reason":"AlreadyExists","count":1}' >/dev/null
expect "a generated name that is taken" "$(kg disk-create 0)" \
	"error retryable: kube: create datavolumes/prod/gen-disk-0-*: 409 AlreadyExists: fake: injected 409"
expect_match "made on the next try" "$(kg disk-create 0)" "kubevirt://prod/gen-disk-0-?????"
expect "vm_delete again" "$(kg vm-delete)" ok

# --- a warm round's copy from a TLS-PSK server: the key and the changed
# areas reach the worker in a Secret named as the Job, never in the Job;
# only the listed areas are written; a wrong key is refused
if command -v nbdkit >/dev/null 2>&1; then
	echo "ferry:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$dir/psk"
	echo "ferry:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$dir/wrong.psk"
	chmod 600 "$dir/psk" "$dir/wrong.psk"
	key=$(cut -d: -f2 "$dir/psk")
	# the areas: the data at 0 and at 63x64K, not the one at 37x64K
	printf '[{"start": 0, "length": 65536}, {"start": %d, "length": 65536}]\n' $((63 * 65536)) >"$dir/areas.json"
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	nbdkit --foreground --readonly --exit-with-parent -i 127.0.0.1 -p "$port" --tls=require \
		--tls-psk="$dir/psk" file "$src" 2>"$dir/nbdkit.err" &
	nbdkit_pid=$!
	fk_wait 10 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$port" ||
		fail "nbdkit did not listen on $port"
	WARM="--kubeconfig $KC --image quay.io/ferry/ferry:test --vm warm --disk warm-disk-0:4M:local"
	# shellcheck disable=SC2086  # WARM is a list of options
	kw() { "$kvdrv" $WARM "$@"; }
	expect "warm disk_create" "$(kw disk-create 0)" "kubevirt://prod/warm-disk-0"
	expect "warm copy_start" "$(kw --psk-file "$dir/psk" --areas-file "$dir/areas.json" copy-start 0 "nbds://ferry@127.0.0.1:$port/" $OP1)" ok
	fk_api GET $JOBS/warm-disk-0-copy >/dev/null || fail "no Job warm-disk-0-copy"
	expect "warm Job args" "$(j .spec.template.spec.containers[0].args)" \
		"[\"--progress-fd\", \"1\", \"--progress-interval\", \"1\", \"--changed-areas\", \"/run/ferry/copy/areas\", \"nbds://ferry@127.0.0.1:$port/?tls-psk-file=/run/ferry/copy/psk\", \"/var/lib/ferry/disk/disk.img\"]"
	expect "warm Job inputs volume" "$(j .spec.template.spec.volumes[1]) $(j .spec.template.spec.containers[0].volumeMounts[1])" \
		'{"name": "inputs", "secret": {"defaultMode": 256, "secretName": "warm-disk-0-copy"}} {"mountPath": "/run/ferry/copy", "name": "inputs", "readOnly": true}'
	grep -q "$key" "$FAKEKUBE_DIR/last.body" && fail "the key is in the Job"
	fk_api GET $API/secrets/warm-disk-0-copy >/dev/null || fail "no Secret warm-disk-0-copy"
	expect "the Secret's key" "$(j .data.psk | base64 -d)" "$(cat "$dir/psk")"
	expect "the Secret's areas" "$(j .data.areas | base64 -d)" "$(cat "$dir/areas.json")"
	expect "the Secret's labels are the Job's" "$(j '.metadata.labels["ferry.dev/op"]') $(j .immutable)" "$OP1 true"
	wait_phase kw 0 $OP1 DONE
	expect "warm copy_poll DONE (the disk's size)" "$polled" "DONE 4194304 4194304"
	c=$(claim_file warm-disk-0)
	cmp -n 65536 "$src" "$c" || fail "area 0 differs"
	cmp -i $((63 * 65536)) -n 65536 "$src" "$c" || fail "area 63x64K differs"
	[ "$(dd if="$c" bs=64K skip=37 count=1 2>/dev/null | tr -d '\0' | wc -c)" = 0 ] ||
		fail "the area at 37x64K, not listed, was written"
	echo "ok - a warm copy over TLS-PSK wrote only the listed areas"
	expect "warm copy_stop" "$(kw copy-stop 0 $OP1)" ok
	expect "the Job and its Secret are gone" "$(count "$JOBS?labelSelector=ferry.dev%2Ftarget-vm%3Dwarm") $(count "$API/secrets?labelSelector=ferry.dev%2Ftarget-vm%3Dwarm")" "0 0"
	expect "copy_start, wrong key" "$(kw --psk-file "$dir/wrong.psk" copy-start 0 "nbds://ferry@127.0.0.1:$port/" $OP2)" ok
	wait_phase kw 0 $OP2 FAILED
	expect_match "a wrong key is refused" "$polled" "FAILED 0 4194304 ferry copy: nbds://ferry@127.0.0.1:$port/?tls-psk-file=*/psk: connect failed: *gnutls_handshake*"
	echo "ok - a wrong key is refused"
	expect "vm_delete removes the Secrets too" "$(kw vm-delete) $(count "$API/secrets?labelSelector=ferry.dev%2Ftarget-vm%3Dwarm")" "ok 0"
	kill "$nbdkit_pid" 2>/dev/null
	wait "$nbdkit_pid" 2>/dev/null || :
else
	echo "skip - no nbdkit: the TLS-PSK copy is not tested"
fi

# --- a pod of an earlier copy still running (its Job deleted, the pod
# terminating: the fake's process is stopped so that it cannot exit):
# copy_start of another operation waits rather than have two copies write
# one volume; once that pod is gone, it starts
HOLD="--kubeconfig $KC --image quay.io/ferry/ferry:test --vm hold --disk hold-disk-0:1M:local"
# shellcheck disable=SC2086  # HOLD is a list of options
kh() { "$kvdrv" $HOLD "$@"; }
expect "hold disk_create" "$(kh disk-create 0)" "kubevirt://prod/hold-disk-0"
expect "a slow copy" "$(kh copy-start 0 "$dir/rnd.img" $OP1 --rate-limit 64K)" ok
# pid_of JOB: the pid of its pod's process, from the fake's state
pid_of() {
	fk_control GET /_fake/state >/dev/null || return 1
	"$FAKEKUBE_PYTHON" -c 'import json, sys
for k, v in json.load(open(sys.argv[1]))["pids"].items():
    if k.startswith("prod/" + sys.argv[2] + "-"):
        print(v)' "$FAKEKUBE_DIR/last.body" "$1" | grep .
}
fk_wait 10 pid_of hold-disk-0-copy >/dev/null || fail "the slow copy's pod never ran"
pid=$(pid_of hold-disk-0-copy)
kill -STOP "$pid"
expect_match "copy_start while the earlier pod runs" "$(kh copy-start 0 "$dir/rnd.img" $OP2)" \
	"error retryable: pod prod/hold-disk-0-copy-????? of an earlier copy into hold-disk-0 is still running"
expect "its Job is gone, no new one" "$(count "$JOBS?labelSelector=ferry.dev%2Ftarget-vm%3Dhold")" 0
kill -CONT "$pid"
started() { [ "$(kh copy-start 0 "$dir/rnd.img" $OP2)" = ok ]; }
fk_wait 10 started || fail "copy_start never went ahead once the earlier pod was gone: $(kh copy-start 0 "$dir/rnd.img" $OP2)"
wait_phase kh 0 $OP2 DONE
cmp "$dir/rnd.img" "$(claim_file hold-disk-0)" || fail "claim hold-disk-0 differs from the source"
echo "ok - a copy waits for an earlier copy's pod to end"
expect "hold vm_delete" "$(kh vm-delete)" ok

# --- the kubeconfig from $KUBECONFIG; one that cannot be read
expect "KUBECONFIG" "$(KUBECONFIG=$KC "$kvdrv" --vm nothing vm-exists)" absent
expect_match "missing kubeconfig" "$("$kvdrv" --kubeconfig "$dir/nope" vm-exists)" \
	"error not-found: kubevirt target: kubeconfig $dir/nope: No such file or directory"
