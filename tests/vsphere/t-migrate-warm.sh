#!/bin/sh
# A warm vSphere plan end to end with `ferry reconcile --once`, through the
# CBT proxy (vcsim has no QueryChangedDiskAreas): two precopies while the
# VM runs, then a cutover pushed as the Migration's new `cutover` time.
#   run 1: snapshot 0, its allocated areas copied, then CopyingPaused
#   (the guest writes; precopy_interval passes)
#   run 2: snapshot 0 removed, snapshot 1, only what changed since
#   snapshot 0's change id copied, paused again
#   (the guest writes; the cutover time is pushed)
#   run 3: the guest is asked to shut down, and ignores it (the proxy
#   swallows ShutdownGuest): the run ends with the VM waiting, still on
#   run 4, after guest_shutdown_timeout: the VM is powered off, snapshot 1
#   removed, the final snapshot taken, what changed since snapshot 1
#   copied, the final snapshot removed, the target VM created
# Each round must read no more than the bytes the guest wrote (the proxy
# answers from this test's record of what it wrote); the target disk must
# equal the source; at most one snapshot of ferry's exists at a time and
# none at the end. A VM with a snapshot ferry did not take is blocked.
# FERRY_TEST_TARGET=kubevirt (t-migrate-warm-kube.sh) migrates into the fake
# Kubernetes API server instead of a local directory: each round is a Job
# reading the disk through a TLS-PSK relay, its changed areas handed over in
# the Job's Secret, which must list exactly what the guest wrote.
#   t-migrate-warm.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

target=${FERRY_TEST_TARGET:-local}
if [ "$target" = kubevirt ]; then
	FAKEKUBE_PY=$here/../kube/fakekube.py
	. "$here/../kube/lib.sh"
	fakekube_require
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsphere_cleanup || :; [ "$target" = local ] || fakekube_stop; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
FERRY=$4
[ -x "$FERRY" ] && [ -x "$CBT_PROXY_BIN" ] || { echo "not built"; exit 77; }
command -v git >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 || { echo "git or jq missing"; exit 77; }
command -v nbdkit >/dev/null 2>&1 && nbdkit curl --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl missing"; exit 77; }
start=$(date +%s)
if [ "$target" = kubevirt ]; then
	# Jobs run `ferry copy` from PATH, which the fake's processes inherit
	PATH=$(cd "$(dirname "$FERRY")" && pwd):$PATH
	export PATH
	fakekube_start "$dir/fk" --job-backoff 0.2
	fk_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"mig-vms"}}' >/dev/null ||
		vs_fail "creating the namespace"
	fk_api POST /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"standard"},"provisioner":"fake.ferry.dev/local"}' >/dev/null ||
		vs_fail "creating the storage class"
fi
vcsim_start
vcsim_login || vs_fail "login"

size=4194304
vm=$(vcsim_moref VirtualMachine DC0_H0_VM0)
other=$(vcsim_moref VirtualMachine DC0_H0_VM1)
key=$(vcsim_disks "$vm" | cut -f 1)
vs_expect "the VM is on" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOn
cid0="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/1"
cid1="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/2"
cid2="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/3"
vcsim_set_disk "$vm" "$key" $size "$cid0" || vs_fail "capacity and changeId"
vcsim_enable_cbt "$vm" || vs_fail "CBT"
vcsim_enable_cbt "$other" || vs_fail "CBT on the other VM"
vcsim_snapshot "$other" before-upgrade >/dev/null || vs_fail "the other VM's own snapshot"
ds=$(vcsim_prop Datastore "$(vcsim_moref Datastore LocalDS_0)" summary.url)
flat=$ds/DC0_H0_VM0/disk1-flat.vmdk

# The guest's disk: data in three places, zeroes elsewhere.
: >"$dir/src.raw"
truncate -s $size "$dir/src.raw"
put() { # put OFFSET LENGTH: random bytes at OFFSET, in the image and the flat file
	head -c "$2" /dev/urandom | dd of="$dir/src.raw" bs=1 seek="$1" conv=notrunc status=none
	dd if="$dir/src.raw" of="$flat" bs=1 skip="$1" seek="$1" count="$2" conv=notrunc status=none
}
vcsim_upload_disk "$(vcsim_disks "$vm" | cut -f 3)" "$dir/src.raw" || vs_fail "upload"
put 0 65536
put 1048576 65536
put 3145728 4096
record() { # record AREAS_SINCE_CID0 AREAS_SINCE_CID1
	cat >"$dir/rec.tmp" <<EOR
{"disks": [{"vm": "$vm", "deviceKey": $key, "capacity": $size,
  "changes": [{"changeId": "*", "areas": [[0, 65536], [1048576, 65536], [3145728, 4096]]},
              {"changeId": "$cid0", "areas": $1},
              {"changeId": "$cid1", "areas": $2}]}]}
EOR
	mv "$dir/rec.tmp" "$dir/rec.json"
}
record '[]' '[]'
cbtproxy_start "$dir/rec.json" -max-areas 2 -ignore-shutdown

pass="pw-$$-not-in-any-output"
mkdir -p "$dir/src"
vs_secret "$CBTPROXY_CACERT" "$pass"
cat >"$dir/src/objects.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: vcsim, namespace: mig}
spec:
  type: vsphere
  url: $CBTPROXY_URL
  secret: {name: vcsim-creds, namespace: mig}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: host, namespace: mig}
spec: {type: openshift, url: ""}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata: {name: net, namespace: mig}
spec:
  provider: {source: {name: vcsim}, destination: {name: host}}
  map:
    - {source: {name: VM Network}, destination: {type: pod}}
    - {source: {name: DC0_DVPG0}, destination: {type: pod}}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: StorageMap
metadata: {name: storage, namespace: mig}
spec:
  provider: {source: {name: vcsim}, destination: {name: host}}
  map:
    - {source: {name: LocalDS_0}, destination: {storageClass: standard}}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: warm, namespace: mig}
spec:
  type: warm
  targetNamespace: mig-vms
  provider: {source: {name: vcsim}, destination: {name: host}}
  map: {network: {name: net}, storage: {name: storage}}
  skipGuestConversion: true
  vms:
    - {id: $vm, targetName: web}
    - {id: $other, targetName: other}
EOF
migration() { # migration [CUTOVER]
	cat >"$dir/src/migration.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Migration
metadata: {name: warm-1, namespace: mig}
spec:
  plan: {name: warm, namespace: mig}
EOF
	[ -z "${1:-}" ] || echo "  cutover: \"$1\"" >>"$dir/src/migration.yaml"
	vs_commit "${2:-migrate}"
}
migration
interval=6
ini() { # ini PRECOPY_INTERVAL
	cat >"$dir/ferry.ini" <<EOF
[repository]
url = repo.git
branch = main
[daemon]
data_dir = data
[limits]
precopy_interval = $1
guest_shutdown_timeout = 2s
[secrets]
dir = secrets
EOF
	if [ "$target" = local ]; then
		printf '[target]\ntype = local\ndir = target\n' >>"$dir/ferry.ini"
	else
		printf '[target]\ntype = kubevirt\nkubeconfig = %s\nworker_image = quay.io/ferry/ferry:test\ntransfer_address = 127.0.0.1\n' \
			"$FAKEKUBE_KUBECONFIG" >>"$dir/ferry.ini"
	fi
}
# the target's copy of the disk: the local file, or the claim's file in
# the fake (named by generateName; only the disk's bytes, the rest must
# be zeros)
target_disk() {
	if [ "$target" = local ]; then
		cat "$dir/target/mig-vms/web/web-disk-0.img"
		return
	fi
	set -- "$FAKEKUBE_RUN_ROOT"/mig-vms/_pvc/web-disk-0-*/disk.img
	[ -f "$1" ] || vs_fail "no claim file of web-disk-0"
	[ "$(tail -c +$((size + 1)) "$1" | tr -d '\0' | wc -c)" = 0 ] || vs_fail "bytes after the disk"
	head -c $size "$1"
}
same() { # same WHEN: the target's disk equals the source
	target_disk >"$dir/got.raw"
	cmp "$dir/src.raw" "$dir/got.raw" || vs_fail "$1: the copy differs"
}
reconcile() { # reconcile NAME: one --once run, its output in NAME.txt
	"$FERRY" reconcile --once -c "$dir/ferry.ini" >"$dir/$1.txt" 2>&1 ||
		{ cat "$dir/$1.txt"; vs_fail "reconcile ($1) exited $?"; }
	cat "$dir/$1.txt"
}
# ferry's snapshots of the VM now (names start with ferry-)
snapshots() {
	vcsim_soap "<urn:RetrievePropertiesEx><urn:_this type=\"PropertyCollector\">$VS_PC</urn:_this><urn:specSet><urn:propSet><urn:type>VirtualMachine</urn:type><urn:pathSet>snapshot</urn:pathSet></urn:propSet><urn:objectSet><urn:obj type=\"VirtualMachine\">$vm</urn:obj></urn:objectSet></urn:specSet><urn:options/></urn:RetrievePropertiesEx>" >/dev/null ||
		vs_fail "reading the VM's snapshots"
	grep -o '<name>ferry-[0-9a-f]*</name>' "$VS_DIR/soap.res" | wc -l
}
# bytes the copies of a round read (their reports); kubevirt: what the
# changed areas its Job was handed add up to (the Secrets, in the fake's
# request log)
round_bytes() { # round_bytes N: the reports of round N's copies (N=0: copy-disk-0)
	if [ "$target" = kubevirt ]; then
		"$FAKEKUBE_PYTHON" - "$FAKEKUBE_LOG" "$1" <<'PY'
import base64, json, sys
secrets = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("method") == "POST" and r.get("status") == 201 and r["path"].endswith("/secrets"):
        secrets.append(r["body"])
areas = json.loads(base64.b64decode(secrets[int(sys.argv[2])]["data"]["areas"]))
print(sum(a["length"] for a in areas))
PY
		return
	fi
	sum=0
	for f in "$dir"/data/work/*.json; do
		[ -e "$f" ] || continue
		op=$(basename "$f" .json)
		grep -q "^$op$" "$dir/round$1.ops" 2>/dev/null || continue
		sum=$((sum + $(jq .bytes_read "$f")))
	done
	echo $sum
}
# operation ids of the copy reports that exist now, which were not there before
new_ops() { # new_ops N
	for f in "$dir"/data/work/*.json; do
		[ -e "$f" ] && basename "$f" .json
	done | sort >"$dir/ops.now"
	touch "$dir/ops.seen"
	comm -13 "$dir/ops.seen" "$dir/ops.now" >"$dir/round$1.ops"
	cp "$dir/ops.now" "$dir/ops.seen"
}

# --- run 1: the initial snapshot and copy; then it waits.
ini 1h
reconcile run1
vs_has "the other VM is blocked" "$(cat "$dir/run1.txt")" "1 blocked"
"$FERRY" diff -c "$dir/ferry.ini" >"$dir/diff.txt" || vs_fail "ferry diff"
vs_has "why" "$(cat "$dir/diff.txt")" "has a snapshot ferry did not take (before-upgrade)"
vs_has "round 0 copied" "$(cat "$dir/run1.txt")" "CopyDisks -> CopyingPaused"
vs_expect "one snapshot of ferry's" "$(snapshots)" 1
vs_expect "the VM still runs" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOn
new_ops 0
b0=$(round_bytes 0)
echo "ok - precopy 1: read $b0 bytes of the 135168 allocated"
[ "$b0" -le 135168 ] && [ "$b0" -gt 0 ] || vs_fail "precopy 1 read $b0 bytes"
same "precopy 1"

# --- the guest writes 4 KiB at 4096 and 8 KiB at 2 MiB; the next snapshot
# will carry change id 1.
put 4096 4096
put 2097152 8192
record '[[4096, 4096], [2097152, 8192]]' '[]'
vcsim_set_disk "$vm" "$key" $size "$cid1" || vs_fail "changeId 1"
# --- run 2, once the interval has passed since snapshot 0
ini ${interval}s
sleep $interval
reconcile run2
vs_has "a second round" "$(cat "$dir/run2.txt")" "RemovePreviousSnapshot -> CreateSnapshot"
vs_has "paused again" "$(cat "$dir/run2.txt")" "CopyDisks -> CopyingPaused"
vs_expect "still one snapshot of ferry's" "$(snapshots)" 1
new_ops 1
b1=$(round_bytes 1)
echo "ok - precopy 2: read $b1 bytes for 12288 written"
[ "$b1" -le 12288 ] && [ "$b1" -gt 0 ] || vs_fail "precopy 2 read $b1 bytes, not (0, 12288]"
same "precopy 2"

# --- the guest writes 16 KiB at 3 MiB - 4 KiB (over an old area's start);
# then the cutover time is pushed.
put 3141632 16384
record '[[4096, 4096], [2097152, 8192]]' '[[3141632, 16384]]'
vcsim_set_disk "$vm" "$key" $size "$cid2" || vs_fail "changeId 2"
migration "$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)" "cutover now"
reconcile run3
vs_has "cutover" "$(cat "$dir/run3.txt")" "CopyingPaused -> StorePowerState"
vs_has "the guest asked" "$(cat "$dir/run3.txt")" "the guest was asked to shut down"
vs_has "waiting for it" "$(cat "$dir/run3.txt")" "PowerOffSource -> WaitForPowerOff"
vs_has "the run does not block" "$(cat "$dir/run3.txt")" "1 waiting"
grep -q "SOAP ShutdownGuest (ignored)" "$CBTPROXY_LOG" || vs_fail "ShutdownGuest never came"
vs_expect "the guest ignored it" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOn
sleep 2
reconcile run4
vs_has "powered off after the timeout" "$(cat "$dir/run4.txt")" "still on 2 s after its guest was asked to shut down; powering it off"
vs_has "penultimate removed" "$(cat "$dir/run4.txt")" "RemovePenultimateSnapshot -> CreateFinalSnapshot"
vs_has "final copy" "$(cat "$dir/run4.txt")" "Finalize -> RemoveFinalSnapshot"
vs_has "completed" "$(cat "$dir/run4.txt")" "settled: 1 completed, 0 failed"
new_ops 2
b2=$(round_bytes 2)
echo "ok - cutover: read $b2 bytes for 16384 written"
[ "$b2" -le 16384 ] && [ "$b2" -gt 0 ] || vs_fail "the cutover read $b2 bytes, not (0, 16384]"
same "after the cutover"
echo "ok - the target disk equals the source"
vs_expect "no snapshot of ferry's left" "$(snapshots)" 0
vs_expect "the source VM is off" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOff
if [ "$target" = local ]; then
	strategy=$(sed -n 's/^ *runStrategy: //p' "$dir/target/mig-vms/web/virtualmachine.yaml")
else
	fk_api GET /apis/kubevirt.io/v1/namespaces/mig-vms/virtualmachines/web >/dev/null || vs_fail "no VirtualMachine web"
	strategy=$(fk_json .spec.runStrategy "$FAKEKUBE_DIR/last.body")
	fk_api GET /api/v1/namespaces/mig-vms/secrets >/dev/null || vs_fail "listing Secrets"
	vs_expect "no Job's Secret left" "$(fk_json .items.length "$FAKEKUBE_DIR/last.body")" 0
	fk_api GET /apis/batch/v1/namespaces/mig-vms/jobs >/dev/null || vs_fail "listing Jobs"
	vs_expect "no Job left" "$(fk_json .items.length "$FAKEKUBE_DIR/last.body")" 0
fi
vs_expect "the target VM runs (the source was on)" "$strategy" Always
git --git-dir="$dir/repo.git" show ferry/status:status/mig/warm.yaml >"$dir/status.yaml" ||
	vs_fail "no status/mig/warm.yaml"
vs_has "Completed in the status" "$(cat "$dir/status.yaml")" "phase: Completed"
written=$((135168 + 12288 + 16384))
echo "ok - bytes read by the three rounds: $((b0 + b1 + b2)) for $written written (disk $size)"

# a further pass has nothing to do
reconcile again
grep -q -- "->" "$dir/again.txt" && vs_fail "a further reconcile moved a VM"
if grep -rl -- "$pass" "$dir" | grep -v "secrets/mig/vcsim-creds.ini"; then
	vs_fail "the password leaked"
fi
echo "all ok ($(($(date +%s) - start)) s)"
