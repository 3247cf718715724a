#!/bin/sh
# The vSphere driver's actions, each waiting on its Task and idempotent:
# power off (guest shutdown first) and on, snapshots made, found by name
# (also one made before a "crash"), removed twice, the disks' changeIds
# recorded at the snapshot, CBT turned on; and a re-login in the middle.
#   t-actions.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
[ -x "$VSDRV" ] || { echo "vsdrv not built"; exit 77; }
vcsim_start
vcsim_login || vs_fail "login"
vm=$(vcsim_moref VirtualMachine DC0_H0_VM0)
FERRY_LOG=debug
export FERRY_LOG
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --thumbprint "$VCSIM_THUMBPRINT"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >/dev/null || vs_fail "inventory"

# count METHOD: how many times the driver called it so far
count() { grep -c "vsphere: $1: HTTP" "$VS_DIR/drv.err" || :; }

# --- Power.
vs_expect "power state" "$(vsdrv power "$vm")" On
out=$(vsdrv power-off "$vm" 5) || vs_fail "power off: $out"
vs_expect "off (vcsim)" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOff
vs_expect "asked the guest first" "$(count ShutdownGuest)" 1
vs_expect "no hard power off needed" "$(count PowerOffVM_Task)" 0
out=$(vsdrv power-off "$vm") || vs_fail "power off again: $out"
vs_expect "power off again: nothing asked" "$(count ShutdownGuest)/$(count PowerOffVM_Task)" 1/0
out=$(vsdrv power-on "$vm") || vs_fail "power on: $out"
vs_expect "on (vcsim)" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOn
out=$(vsdrv power-on "$vm") || vs_fail "power on again: $out"
vs_expect "power on again: one task" "$(count PowerOnVM_Task)" 1
# A suspended VM has no running guest to ask: PowerOffVM_Task at once.
# (The guest-shutdown timeout cannot be seen here: vcsim's ShutdownGuest
# powers the VM off inside the call.)
vm1=$(vcsim_moref VirtualMachine DC0_H0_VM1)
vcsim_soap "<urn:SuspendVM_Task><urn:_this type=\"VirtualMachine\">$vm1</urn:_this></urn:SuspendVM_Task>" >/dev/null ||
	vs_fail "SuspendVM_Task"
vcsim_task_wait "$(_vs_text returnval)" || vs_fail "SuspendVM_Task"
vs_expect "suspended" "$(vsdrv power "$vm1")" Suspended
out=$(vsdrv power-off "$vm1" 1) || vs_fail "power off a suspended VM: $out"
vs_expect "suspended: hard power off" "$(count PowerOffVM_Task)" 1
vs_expect "suspended: off" "$(vcsim_prop VirtualMachine "$vm1" runtime.powerState)" poweredOff

# --- Snapshots, with the changeId of each disk at the snapshot.
key=$(vcsim_disks "$vm" | cut -f 1)
vcsim_enable_cbt "$vm" || vs_fail "CBT"
cid1="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/7"
vcsim_set_disk "$vm" "$key" 4194304 "$cid1" || vs_fail "set changeId"
out=$(vsdrv snap-create "$vm" ferry-op-0001) || vs_fail "snapshot: $out"
snap=$(echo "$out" | sed -n 's/^snapshot \([^ ]*\) ferry-op-0001$/\1/p')
case $snap in snapshot-*) ;; *) vs_fail "snapshot moref [$out]" ;; esac
vs_has "changeId at the snapshot" "$out" "disk $key changeId=$cid1"
vs_expect "vcsim has it" "$(vcsim_prop VirtualMachine "$vm" snapshot.currentSnapshot)" "$snap"
out=$(vsdrv snap-create "$vm" ferry-op-0001) || vs_fail "snapshot again: $out"
vs_has "snapshot again: the same one" "$out" "snapshot $snap ferry-op-0001"
vs_expect "one CreateSnapshot_Task" "$(count CreateSnapshot_Task)" 1
out=$(vsdrv snap-find "$vm" ferry-op-0001) || vs_fail "find: $out"
vs_has "found by name" "$out" "snapshot $snap ferry-op-0001"

# A ferry that crashed after vSphere made its snapshot: the next one finds
# it by the operation's name instead of making another.
crashed=$(vcsim_snapshot "$vm" ferry-op-0002) || vs_fail "vcsim snapshot"
out=$(vsdrv snap-create "$vm" ferry-op-0002) || vs_fail "snapshot after a crash: $out"
vs_has "crash-resume: ferry's own snapshot" "$out" "snapshot $crashed ferry-op-0002"
vs_expect "still one CreateSnapshot_Task" "$(count CreateSnapshot_Task)" 1

out=$(vsdrv snap-find "$vm" ferry-op-none) && vs_fail "found a snapshot that does not exist"
vs_has "not found" "$out" "error not-found: vsphere: VM 'DC0_H0_VM0' ($vm) has no snapshot called 'ferry-op-none'"

out=$(vsdrv snap-remove "$vm" "$crashed") || vs_fail "remove: $out"
out=$(vsdrv snap-remove "$vm" "$crashed") || vs_fail "remove again: $out"
echo "ok - removing a snapshot twice"
out=$(vsdrv snap-find "$vm" ferry-op-0002) && vs_fail "found a removed snapshot"
out=$(vsdrv snap-remove "$vm" "$snap") || vs_fail "remove: $out"
vcsim_prop VirtualMachine "$vm" snapshot.currentSnapshot >/dev/null &&
	vs_fail "vcsim still has a snapshot"
echo "ok - no snapshot left"

# --- CBT.
vm2=$(vcsim_moref VirtualMachine DC0_C0_RP0_VM0)
out=$(vsdrv cbt "$vm2") || vs_fail "cbt: $out"
vs_expect "CBT on" "$(vcsim_prop VirtualMachine "$vm2" config.changeTrackingEnabled)" true
n=$(count ReconfigVM_Task)
out=$(vsdrv cbt "$vm2") || vs_fail "cbt again: $out"
vs_expect "CBT again: no reconfiguration" "$(count ReconfigVM_Task)" "$n"

# --- A session that ends between two actions.
vcsim_terminate_session "$(vcsim_sessions ferry)" || vs_fail "TerminateSession"
out=$(vsdrv snap-create "$vm" ferry-op-0003) || vs_fail "snapshot after TerminateSession: $out"
vs_has "snapshot after TerminateSession" "$out" "ferry-op-0003"
vs_has "logged in again" "$(vsdrv stats)" "logins=2"
vsdrv_stop
vsdrv_check
echo "all ok"
