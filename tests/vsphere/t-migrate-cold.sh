#!/bin/sh
# A cold vSphere plan migrates end to end with `ferry reconcile --once`:
# the Provider's secret comes from the secrets directory (a CA certificate,
# checked by the session and by nbdkit curl); the StorageMap maps one
# datastore by name and one by id (its moref), the NetworkMap a portgroup
# by id; the VM that was on is powered off at the source before its disk is
# read, and its target VM runs (runStrategy Always) while the one that was
# off stays Halted; the target disks hold the uploaded bytes and zeroes
# after them. `ferry inventory` then lists what the Provider sees. The
# password is in no output, log or status file.
#   t-migrate-cold.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsphere_cleanup || :; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
FERRY=$4
[ -x "$FERRY" ] || { echo "ferry not built"; exit 77; }
command -v git >/dev/null 2>&1 || { echo "git missing"; exit 77; }
command -v nbdkit >/dev/null 2>&1 && nbdkit curl --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl missing"; exit 77; }
start=$(date +%s)
vcsim_start -ds 2
vcsim_login || vs_fail "login"

# web (DC0_H0_VM0) is on: 3 MiB of data in a 4 MiB disk on LocalDS_0.
# db (DC0_H0_VM1) is off: 1 MiB of data in a 2 MiB disk moved to LocalDS_1.
web=$(vcsim_moref VirtualMachine DC0_H0_VM0)
db=$(vcsim_moref VirtualMachine DC0_H0_VM1)
ds1=$(vcsim_moref Datastore LocalDS_1)
pg=$(vcsim_moref DistributedVirtualPortgroup DC0_DVPG0)
[ -n "$web" ] && [ -n "$db" ] && [ -n "$ds1" ] && [ -n "$pg" ] || vs_fail "vcsim's model"
vcsim_power "$db" off || vs_fail "power off db"
vs_expect "web is on" "$(vcsim_prop VirtualMachine "$web" runtime.powerState)" poweredOn
vs_expect "db is off" "$(vcsim_prop VirtualMachine "$db" runtime.powerState)" poweredOff

wd=$(vcsim_disks "$web")
vcsim_set_disk "$web" "$(echo "$wd" | cut -f 1)" 4194304 || vs_fail "capacity web"
head -c 3145728 /dev/urandom >"$dir/web.data"
vcsim_upload_disk "$(echo "$wd" | cut -f 3)" "$dir/web.data" || vs_fail "upload web"

# Move db's disk to LocalDS_1: the file goes into that datastore's
# directory, the disk's backing names it.
ds1_dir=$(vcsim_prop Datastore "$ds1" summary.url) || vs_fail "LocalDS_1's directory"
mkdir -p "$ds1_dir/DC0_H0_VM1"
: >"$ds1_dir/DC0_H0_VM1/disk1.vmdk"
: >"$ds1_dir/DC0_H0_VM1/disk1-flat.vmdk"
head -c 1048576 /dev/urandom >"$dir/db.data"
dd=$(vcsim_disks "$db")
vcsim_set_disk "$db" "$(echo "$dd" | cut -f 1)" 2097152 || vs_fail "capacity db"
vcsim_move_disk "$db" "$(echo "$dd" | cut -f 1)" "[LocalDS_1] DC0_H0_VM1/disk1.vmdk" ||
	vs_fail "move db's disk"
vcsim_upload_disk "[LocalDS_1] DC0_H0_VM1/disk1.vmdk" "$dir/db.data" || vs_fail "upload db"
vs_expect "db's disk" "$(vcsim_disks "$db" | cut -f 2,3)" "$(printf '2097152\t[LocalDS_1] DC0_H0_VM1/disk1.vmdk')"

# The desired state, in a bare repository.
pass="pw-$$-not-in-any-output"
mkdir -p "$dir/src"
vs_secret "$VCSIM_CACERT" "$pass"
chmod 644 "$dir/secrets/mig/vcsim-creds.ini" # refused, below
cat >"$dir/src/providers.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: vcsim, namespace: mig}
spec:
  type: vsphere
  url: $VCSIM_URL
  secret: {name: vcsim-creds, namespace: mig}
  settings: {sdkEndpoint: vcenter}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: host, namespace: mig}
spec: {type: openshift, url: ""}
EOF
cat >"$dir/src/maps.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata: {name: net, namespace: mig}
spec:
  provider: {source: {name: vcsim}, destination: {name: host}}
  map:
    - {source: {id: $pg}, destination: {type: pod}}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: StorageMap
metadata: {name: storage, namespace: mig}
spec:
  provider: {source: {name: vcsim}, destination: {name: host}}
  map:
    - {source: {name: LocalDS_0}, destination: {storageClass: by-name}}
    - {source: {id: "$ds1"}, destination: {storageClass: by-id}}
EOF
cat >"$dir/src/plan.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: cold, namespace: mig}
spec:
  type: cold
  targetNamespace: mig-vms
  provider: {source: {name: vcsim}, destination: {name: host}}
  map: {network: {name: net}, storage: {name: storage}}
  skipGuestConversion: true
  vms:
    - {id: $web, targetName: web}
    - {name: DC0_H0_VM1, targetName: db}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Migration
metadata: {name: cold-1, namespace: mig}
spec:
  plan: {name: cold, namespace: mig}
EOF
vs_commit "migrate web and db"
cat >"$dir/ferry.ini" <<EOF
[repository]
url = repo.git
branch = main
[daemon]
data_dir = data
[target]
type = local
dir = target
[secrets]
dir = secrets
EOF

# A secret file others may read is refused: the VMs wait, and say why.
"$FERRY" reconcile --once -c "$dir/ferry.ini" >"$dir/out.txt" 2>&1 ||
	{ cat "$dir/out.txt"; vs_fail "reconcile exited $?"; }
vs_has "blocked" "$(cat "$dir/out.txt")" "settled: 0 completed, 0 failed, 0 canceled, 0 waiting, 2 blocked"
"$FERRY" diff -c "$dir/ferry.ini" >"$dir/diff.txt" || vs_fail "ferry diff"
vs_has "why: the secret's mode" "$(cat "$dir/diff.txt")" "source Provider mig/vcsim: $dir/secrets/mig/vcsim-creds.ini: group or others may access this secret file (mode 0644)"
vs_expect "web untouched" "$(vcsim_prop VirtualMachine "$web" runtime.powerState)" poweredOn

chmod 600 "$dir/secrets/mig/vcsim-creds.ini"
"$FERRY" reconcile --once -c "$dir/ferry.ini" >"$dir/out.txt" 2>&1 ||
	{ cat "$dir/out.txt"; vs_fail "reconcile exited $?"; }
cat "$dir/out.txt"
vs_has "settled" "$(cat "$dir/out.txt")" "settled: 2 completed, 0 failed"
vs_has "web's power recorded" "$(cat "$dir/out.txt")" "DC0_H0_VM0: the source VM was On"
vs_has "db's power recorded" "$(cat "$dir/out.txt")" "DC0_H0_VM1: the source VM was Off"
vs_has "web through the power phases" "$(cat "$dir/out.txt")" "StorePowerState -> PowerOffSource"

git --git-dir="$dir/repo.git" show ferry/status:status/mig/cold.yaml >"$dir/status.yaml" ||
	vs_fail "no status/mig/cold.yaml on the status branch"
vs_expect "both VMs Completed" "$(awk '/^  - id:/ { id = $3 } /^    phase:/ { print id, $2 }' "$dir/status.yaml")" "$(printf '"%s" Completed\n"%s" Completed' "$web" "$db")"
vs_has "the plan Succeeded" "$(cat "$dir/status.yaml")" "phase: Succeeded"

vs_expect "web is off at the source" "$(vcsim_prop VirtualMachine "$web" runtime.powerState)" poweredOff
vs_expect "db is still off" "$(vcsim_prop VirtualMachine "$db" runtime.powerState)" poweredOff

t=$dir/target/mig-vms
vs_expect "web runs (it was on)" "$(sed -n 's/^ *runStrategy: //p' "$t/web/virtualmachine.yaml")" Always
vs_expect "db stays halted" "$(sed -n 's/^ *runStrategy: //p' "$t/db/virtualmachine.yaml")" Halted
# (the local target's manifests name no storage class: that the maps
# matched, by name and by id, shows in the VMs not being blocked)

# same bytes, then zeroes to the disk's capacity
check() { # IMG DATA CAPACITY
	vs_expect "$(basename "$1") size" "$(stat -c %s "$1")" "$3"
	n=$(stat -c %s "$2")
	cmp -n "$n" "$1" "$2" || vs_fail "$1: the first $n bytes differ"
	cmp -n $(($3 - n)) -i "$n:0" "$1" /dev/zero || vs_fail "$1: not zero after $n bytes"
	echo "ok - $(basename "$1"): the uploaded bytes, then zeroes"
}
check "$t/web/web-disk-0.img" "$dir/web.data" 4194304
check "$t/db/db-disk-0.img" "$dir/db.data" 2097152

# a second pass has nothing to do
"$FERRY" reconcile --once -c "$dir/ferry.ini" >"$dir/again.txt" 2>&1 ||
	{ cat "$dir/again.txt"; vs_fail "second reconcile"; }
grep -q -- "->" "$dir/again.txt" && { cat "$dir/again.txt"; vs_fail "second reconcile moved a VM"; }
echo "ok - a second reconcile changes nothing"

# ferry inventory: the same Provider, as the engine opens it
"$FERRY" inventory -c "$dir/ferry.ini" mig/vcsim >"$dir/inv.txt" 2>&1 ||
	{ cat "$dir/inv.txt"; vs_fail "ferry inventory"; }
cat "$dir/inv.txt"
vs_has "inventory header" "$(head -n 1 "$dir/inv.txt")" "NAME"
vs_expect "web, off now" "$(awk '$1 == "DC0_H0_VM0" { print $2, $3, $4 }' "$dir/inv.txt")" "$web Off 1"
vs_expect "db's disk" "$(awk '$1 == "DC0_H0_VM1" { print $7, $8, $9 }' "$dir/inv.txt")" "1 (2 MiB)"
"$FERRY" inventory -c "$dir/ferry.ini" mig/vcsim -o json >"$dir/inv.json" ||
	vs_fail "ferry inventory -o json"
vs_has "json: a VM" "$(cat "$dir/inv.json")" "\"id\": \"$db\""
vs_has "json: storages" "$(tr -d ' \n' <"$dir/inv.json")" '"storages":["LocalDS_0","LocalDS_1"]'
"$FERRY" inventory -c "$dir/ferry.ini" vcsim --networks >"$dir/nets.txt" || vs_fail "--networks"
vs_has "networks" "$(cat "$dir/nets.txt")" "  DC0_DVPG0"
out=$("$FERRY" inventory -c "$dir/ferry.ini" mig/vcsin 2>&1) && vs_fail "an unknown Provider"
vs_expect "unknown Provider" "$out" "ferry inventory: no Provider mig/vcsin in the desired state; did you mean mig/vcsim?"

# the password is nowhere but in its secret file
if grep -rl -- "$pass" "$dir" | grep -v "secrets/mig/vcsim-creds.ini"; then
	vs_fail "the password leaked into the files above"
fi
git --git-dir="$dir/repo.git" log -p --all | grep -q -- "$pass" && vs_fail "the password is in Git"
echo "ok - the password is in no output, log, journal or status"
echo "all ok ($(($(date +%s) - start)) s)"
