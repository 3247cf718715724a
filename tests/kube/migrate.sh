#!/bin/sh
# integration.kube.migrate: the quickstart end to end into a cluster. The
# quickstart's OVA (two VMs, three disks of random data and holes) is
# migrated by `ferry reconcile --once` with [target] type = kubevirt into
# the fake API server: a DataVolume per disk, a transfer Job per disk that
# runs `ferry copy` from the OVA driver's NBD endpoint into the claim (the
# fake runs it as a local process), then the VirtualMachines. Checks: both
# VMs Completed in the status branch; the claims are named by the plan's
# pvcNameTemplate plus the random characters of generateName (Forklift's
# default pvcNameTemplateUseGenerateName); every claim holds exactly its
# source disk's bytes; the VirtualMachines exist with ferry's labels and
# the claims as volumes; the Jobs are gone once their copies are recorded;
# a second reconcile changes nothing (and makes no second volume). Then
# the destination Provider gets a url and a token secret, and ferry.ini's
# kubeconfig names nothing: without a token the VMs are blocked and say
# why; with it they migrate into another namespace through that url.
# usage: migrate.sh FERRY MAKE_OVA
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require
ferry=${1:?usage: migrate.sh FERRY MAKE_OVA}
make_ova=${2:?usage: migrate.sh FERRY MAKE_OVA}
for tool in qemu-img qemu-nbd git sha256sum; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

t=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube-migrate.XXXXXX")
trap 'fakekube_stop; rm -rf "$t"' EXIT
trap 'exit 130' INT TERM
fail() {
	echo "FAIL: $*" >&2
	for f in "$t/out.txt" "$t/fk/fakekube.err"; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -40 "$f" >&2; }
	done
	exit 1
}
j() { fk_json "$1" "$FAKEKUBE_DIR/last.body"; }

# Jobs run `ferry copy` from PATH, which the fake's processes inherit.
PATH=$(cd "$(dirname "$ferry")" && pwd):$PATH
export PATH
fakekube_start "$t/fk" --job-backoff 0.2
fk_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"quickstart-vms"}}' >/dev/null ||
	fail "creating the namespace"
fk_api POST /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"local"},"provisioner":"fake.ferry.dev/local"}' >/dev/null ||
	fail "creating the storage class"

# the quickstart's desired state, its OVA share, a bare repository
sh "$make_ova" "$t/ova" >/dev/null
mkdir -p "$t/src"
for f in providers maps plan; do
	sed "s|file:///var/tmp/ferry-quickstart/ova|file://$t/ova|" \
		"$(dirname "$make_ova")/$f.yaml" >"$t/src/$f.yaml"
done
git init -q -b main "$t/src"
git -C "$t/src" add -A
git -C "$t/src" -c user.name=T -c user.email=t@example.com commit -qm "quickstart plan"
git init -q --bare -b main "$t/repo.git"
git -C "$t/src" push -q "$t/repo.git" main
cat >"$t/ferry.ini" <<EOF
[repository]
url = repo.git
[daemon]
data_dir = data
[target]
type = kubevirt
kubeconfig = $FAKEKUBE_KUBECONFIG
worker_image = quay.io/ferry/ferry:test
EOF

# Jobs read the source disks through relays at [target] transfer_address:
# without it the VMs are blocked, and say why
"$ferry" reconcile --once -c "$t/ferry.ini" >"$t/out.txt" 2>&1 || fail "reconcile (no transfer_address) exited $?"
grep -q "settled: 0 completed, 0 failed, 0 canceled, 0 waiting, 2 blocked" "$t/out.txt" ||
	fail "without transfer_address the VMs are not blocked"
"$ferry" diff -c "$t/ferry.ini" >"$t/diff.txt" 2>&1 || fail "ferry diff"
grep -q "transfer_address is not set in ferry.ini" "$t/diff.txt" ||
	{ cat "$t/diff.txt"; fail "the blocked VMs do not say why"; }
echo "ok - no transfer_address blocks the VMs, and says so"
echo "transfer_address = 127.0.0.1" >>"$t/ferry.ini"

"$ferry" reconcile --once -c "$t/ferry.ini" >"$t/out.txt" 2>&1 || fail "reconcile exited $?"
grep -q "settled: 2 completed, 0 failed" "$t/out.txt" || fail "not both VMs completed"
git --git-dir="$t/repo.git" show ferry/status:status/quickstart/first-migration.yaml | grep -q "phase: Succeeded" ||
	fail "the plan's status is not Succeeded"
echo "ok - both VMs migrated into the cluster"

# claim VM DISK: the name of the claim of disk DISK of VM, found by
# ferry's labels; the template's name with generateName's 5 characters
claim() {
	fk_api GET "/api/v1/namespaces/quickstart-vms/persistentvolumeclaims?labelSelector=ferry.dev%2Ftarget-vm%3D$1%2Cferry.dev%2Fdisk%3D$2" >/dev/null ||
		fail "listing the claims of $1"
	[ "$(j .items.length)" = 1 ] || fail "$1 disk $2: $(j .items.length) claims"
	_c=$(j .items[0].metadata.name)
	case $_c in "$1-disk-$2-"?????) echo "$_c" ;; *) fail "$1 disk $2: claim $_c is not $1-disk-$2-?????" ;; esac
}

# every claim holds its source disk's bytes (sums.txt: SHA-256 of the raw
# content); a claim may be larger (rounded up): the rest must be zeros
check() { # SOURCE_MEMBER VM DISK
	want=$(awk -v m="$1" '$2 == m {print $1}' "$t/ova/sums.txt")
	c=$(claim "$2" "$3")
	img=$FAKEKUBE_RUN_ROOT/quickstart-vms/_pvc/$c/disk.img
	size=$(python3 -c 'import json, sys
for vm in json.load(open(sys.argv[1]))["vms"]:
    for d in vm["disks"]:
        if d["file"].endswith(sys.argv[2]):
            print(d["capacity"])' "$t/inventory.json" "$1")
	[ -n "$want" ] && [ -n "$size" ] || fail "no sum or size for $1"
	[ -f "$img" ] || fail "$c: no claim file $img"
	got=$(head -c "$size" "$img" | sha256sum | cut -d' ' -f1)
	[ "$want" = "$got" ] || fail "$c: $got, want $want (from $1)"
	rest=$(($(stat -c %s "$img") - size))
	[ "$rest" -ge 0 ] || fail "$c is smaller than $1"
	[ "$(tail -c "$rest" "$img" | tr -d '\0' | wc -c)" = 0 ] || fail "$c: bytes after the disk are not zero"
	echo "ok - claim $c = $1"
}
# the disks' sizes, as the source driver sees them
"$ferry" inventory -c "$t/ferry.ini" -o json quickstart/ova-local >"$t/inventory.json" ||
	fail "ferry inventory failed"
check tiny-linux-disk1.vmdk tiny-linux 0
check tiny-linux-disk2.vmdk tiny-linux 1
check tiny-efi-disk1.vmdk tiny-efi 0

# the VirtualMachines: ferry's, with the claims as volumes
VMS=/apis/kubevirt.io/v1/namespaces/quickstart-vms/virtualmachines
for vm in tiny-linux tiny-efi; do
	fk_api GET "$VMS/$vm" >/dev/null || fail "no VirtualMachine $vm"
	[ "$(j '.metadata.labels["app.kubernetes.io/managed-by"]')" = ferry ] || fail "$vm is not labelled as ferry's"
	[ "$(j .spec.runStrategy)" = Halted ] || fail "$vm: runStrategy $(j .spec.runStrategy), want Halted (the OVA's VMs are off)"
	dv=$(j .spec.template.spec.volumes[0].dataVolume.name)
	[ "$dv" = "$(claim "$vm" 0)" ] || fail "$vm: first volume is not the DataVolume of disk 0: $dv"
done
fk_api GET "$VMS/tiny-efi" >/dev/null
j .spec.template.spec.domain.firmware.bootloader.efi >/dev/null || fail "tiny-efi is not UEFI"
echo "ok - VirtualMachines tiny-linux and tiny-efi"

# each Job read its disk from a relay over TLS with a key of its own, given
# in a Secret: the Job's spec names the key's file, never the key; no key
# is in ferry's files, its output or Git
"$FAKEKUBE_PYTHON" - "$FAKEKUBE_LOG" "$t/keys" <<'PY' || fail "the Jobs' sources and keys are not as they should be"
import base64, json, re, sys
jobs, keys = [], []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("method") != "POST" or r.get("status") != 201:
        continue
    if r["path"].endswith("/jobs"):
        jobs.append(r["body"])
    elif r["path"].endswith("/secrets"):
        keys.append(base64.b64decode(r["body"]["data"]["psk"]).decode())
assert len(jobs) == 3 and len(keys) == 3, (len(jobs), len(keys))
assert len(set(keys)) == 3, "a key was used twice"
for k in keys:
    assert re.fullmatch(r"ferry:[0-9a-f]{64}\n?", k), "not a psktool key line: %r" % k
for job in jobs:
    spec = json.dumps(job)
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert any(re.fullmatch(r"nbds://ferry@127\.0\.0\.1:[0-9]+/\?tls-psk-file=/run/ferry/copy/psk", a)
               for a in args), args
    assert not any(k.split(":")[1].strip() in spec for k in keys), "a key is in a Job"
open(sys.argv[2], "w").write("".join(k.split(":")[1].strip() + "\n" for k in keys))
PY
while read -r key; do
	grep -rlq -- "$key" "$t/data" "$t/out.txt" && fail "a relay's key is in ferry's files or output"
	git --git-dir="$t/repo.git" log -p --all | grep -q -- "$key" && fail "a relay's key is in Git"
done <"$t/keys"
ls "$t/data/work" | grep -q '^relay-' && fail "relay files left: $(ls "$t/data/work")"
pgrep -f "tls-psk=$t/data/work" >/dev/null && fail "a relay is still running"
echo "ok - each Job read through its own TLS-PSK relay; no key in a Job, a file, the output or Git"

# the transfer Jobs and their Secrets are gone; the DataVolumes stay
fk_api GET /apis/batch/v1/namespaces/quickstart-vms/jobs >/dev/null || fail "listing Jobs"
[ "$(j .items.length)" = 0 ] || fail "Jobs left behind: $(cat "$FAKEKUBE_DIR/last.body")"
fk_api GET /api/v1/namespaces/quickstart-vms/secrets >/dev/null || fail "listing Secrets"
[ "$(j .items.length)" = 0 ] || fail "Secrets left behind: $(cat "$FAKEKUBE_DIR/last.body")"
fk_api GET /apis/cdi.kubevirt.io/v1beta1/namespaces/quickstart-vms/datavolumes >/dev/null || fail "listing DataVolumes"
[ "$(j .items.length)" = 3 ] || fail "want 3 DataVolumes, got $(j .items.length)"
echo "ok - 3 DataVolumes, no Job left"

# a second pass changes nothing
before=$(git --git-dir="$t/repo.git" rev-parse ferry/status)
"$ferry" reconcile --once -c "$t/ferry.ini" >"$t/out.txt" 2>&1 || fail "second reconcile exited $?"
grep -q "settled: 2 completed" "$t/out.txt" || fail "second reconcile did not settle"
[ "$(git --git-dir="$t/repo.git" rev-parse ferry/status)" = "$before" ] || fail "second reconcile made a status commit"
fk_api GET /apis/cdi.kubevirt.io/v1beta1/namespaces/quickstart-vms/datavolumes >/dev/null || fail "listing DataVolumes"
[ "$(j .items.length)" = 3 ] || fail "after a second pass: $(j .items.length) DataVolumes"
echo "ok - a second reconcile changes nothing"

# --- The destination Provider with a url: the cluster is reached with its
# secret's token and CA, not ferry.ini's kubeconfig (which names nothing
# now). Without a token the VMs are blocked and say why.
fk_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"by-url"}}' >/dev/null ||
	fail "creating the namespace by-url"
mkdir -p "$t/secrets/quickstart"
printf '[secret]\nuser = ferry\n' >"$t/secrets/quickstart/host-token.ini"
chmod 600 "$t/secrets/quickstart/host-token.ini"
sed -i 's/targetNamespace: quickstart-vms/targetNamespace: by-url/' "$t/src/plan.yaml"
sed -i "s|^  url: \"\"|  url: $FAKEKUBE_URL\n  secret: {name: host-token}|" "$t/src/providers.yaml"
grep -q "secret: {name: host-token}" "$t/src/providers.yaml" || fail "the Provider was not edited"
git -C "$t/src" -c user.name=T -c user.email=t@example.com commit -qam "the cluster by url"
git -C "$t/src" push -q "$t/repo.git" main
sed -e "s|^kubeconfig = .*|kubeconfig = $t/no-such-kubeconfig|" -e "s|^data_dir = data|data_dir = data2|" \
	"$t/ferry.ini" >"$t/ferry2.ini"
printf '[secrets]\ndir = secrets\n' >>"$t/ferry2.ini"
"$ferry" reconcile --once -c "$t/ferry2.ini" >"$t/out.txt" 2>&1 || fail "reconcile (no token) exited $?"
grep -q "settled: 0 completed, 0 failed, 0 canceled, 0 waiting, 2 blocked" "$t/out.txt" ||
	fail "without a token the VMs are not blocked"
"$ferry" diff -c "$t/ferry2.ini" >"$t/diff.txt" 2>&1 || fail "ferry diff"
grep -q "destination Provider quickstart/host: a cluster given by url ($FAKEKUBE_URL) needs a secret with a token" "$t/diff.txt" ||
	{ cat "$t/diff.txt"; fail "the blocked VMs do not say why"; }
echo "ok - a url without a token blocks the plan's VMs, and says so"
{
	printf '[secret]\ntoken = %s\ncacert =\n' "$FAKEKUBE_TOKEN"
	cat "$FAKEKUBE_CACERT"
} >"$t/secrets/quickstart/host-token.ini"
"$ferry" reconcile --once -c "$t/ferry2.ini" >"$t/out.txt" 2>&1 || fail "reconcile (by url) exited $?"
grep -q "settled: 2 completed, 0 failed" "$t/out.txt" || fail "not both VMs completed through the url"
fk_api GET /apis/kubevirt.io/v1/namespaces/by-url/virtualmachines >/dev/null || fail "listing VMs"
[ "$(j .items.length)" = 2 ] || fail "by-url has $(j .items.length) VMs, not 2"
grep -rl -- "$FAKEKUBE_TOKEN" "$t/data2" "$t/out.txt" "$t/diff.txt" && fail "the token leaked"
git --git-dir="$t/repo.git" log -p --all | grep -q -- "$FAKEKUBE_TOKEN" && fail "the token is in Git"
echo "ok - both VMs migrated through the destination Provider's url and token"
