#!/bin/sh
# The vSphere driver's inventory against what vcsim says over plain SOAP:
# VMs, hosts, clusters, power states, disks (key, file, datastore,
# capacity), NICs (MAC, network), networks and datastores; then changes
# made through the API (power off, rename, destroy) seen by the next call
# through WaitForUpdatesEx, without a walk.
#   t-inventory.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
[ -x "$VSDRV" ] || { echo "vsdrv not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq missing"; exit 77; }
mkdir -p "$dir/work"
vcsim_start
vcsim_login || vs_fail "login"
vm0=$(vcsim_moref VirtualMachine DC0_H0_VM0)
vm1=$(vcsim_moref VirtualMachine DC0_H0_VM1)
vm2=$(vcsim_moref VirtualMachine DC0_C0_RP0_VM1)
# vcsim reports no change of config.changeTrackingEnabled to a filter
# (ReconfigVM_Task updates other properties only): turn CBT on before the
# filter exists, so that the walk sees it.
vcsim_enable_cbt "$vm1" || vs_fail "CBT"

vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --cacert "$VCSIM_CACERT" \
	--work "$dir/work"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >"$dir/inv1" || vs_fail "inventory: $(cat "$dir/inv1")"
sed -n 's/^vm //p' "$dir/inv1" >"$dir/vms1"

# --- Counts and names.
vs_expect "VM names" "$(jq -r .name "$dir/vms1" | sort | tr '\n' ' ')" \
	"$(vcsim_list VirtualMachine | cut -f 2 | sort | tr '\n' ' ')"
vs_expect "VM ids are morefs" "$(jq -r .id "$dir/vms1" | sort | tr '\n' ' ')" \
	"$(vcsim_list VirtualMachine | cut -f 1 | sort | tr '\n' ' ')"
vs_expect "hosts of the VMs" "$(jq -r .host.id "$dir/vms1" | sort -u | tr '\n' ' ')" \
	"$(vcsim_list VirtualMachine runtime.host | cut -f 2 | sort -u | tr '\n' ' ')"
vs_expect "networks" "$(sed -n 's/^networks //p' "$dir/inv1")" \
	"$(vcsim_list Network | cut -f 2 | sort | tr '\n' ',' | sed 's/,$//')"
vs_expect "datastores" "$(sed -n 's/^storages //p' "$dir/inv1")" \
	"$(vcsim_list Datastore | cut -f 2 | sort | tr '\n' ',' | sed 's/,$//')"
vs_has "first call: a walk" "$(cat "$dir/inv1")" "logins=1 walks=1 updates=0"

# --- Each VM's facts against vcsim's.
for vm in $(jq -r .id "$dir/vms1"); do
	j=$(jq -c "select(.id == \"$vm\")" "$dir/vms1")
	name=$(echo "$j" | jq -r .name)
	[ "$(echo "$j" | jq -r .powerState)" = On ] ||
		vs_fail "$name: power $(echo "$j" | jq -r .powerState)"
	[ "$(echo "$j" | jq -r .uuid)" = "$(vcsim_prop VirtualMachine "$vm" config.uuid)" ] ||
		vs_fail "$name: uuid"
	[ "$(echo "$j" | jq -r .cpuCount)" = "$(vcsim_prop VirtualMachine "$vm" config.hardware.numCPU)" ] ||
		vs_fail "$name: cpus"
	[ "$(echo "$j" | jq -r .memoryMB)" = "$(vcsim_prop VirtualMachine "$vm" config.hardware.memoryMB)" ] ||
		vs_fail "$name: memory"
	host=$(echo "$j" | jq -r .host.id)
	[ "$(echo "$j" | jq -r .host.name)" = "$(vcsim_prop HostSystem "$host" name)" ] ||
		vs_fail "$name: host name"
	# disks: key, capacity (capacityInKB * 1024 in vcsim), file
	want=$(vcsim_disks "$vm" | cut -f 1-3 | sort)
	got=$(echo "$j" | jq -r '.disks[] | "\(.id)\t\(.capacity)\t\(.file)"' | sort)
	[ "$got" = "$want" ] || vs_fail "$name: disks [$got] want [$want]"
	[ "$(echo "$j" | jq -r '.disks[0].storage')" = LocalDS_0 ] || vs_fail "$name: datastore"
	[ "$(echo "$j" | jq -r '.disks[0].bus')" = scsi ] || vs_fail "$name: bus"
	# NICs: the MAC addresses in config.hardware.device
	_vs_retrieve VirtualMachine "$vm" config.hardware.device
	want=$(_vs_text macAddress | sort | tr '\n' ' ')
	got=$(echo "$j" | jq -r '.nics[].mac' | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || vs_fail "$name: MACs [$got] want [$want]"
	echo "$j" | jq -e '.nics[0].network == "DC0_DVPG0" and .nics[0].networkId != null' >/dev/null ||
		vs_fail "$name: NIC network"
done
echo "ok - every VM's power, uuid, CPUs, memory, host, disks and NICs match"
vs_expect "cluster of a cluster VM" \
	"$(jq -r 'select(.name == "DC0_C0_RP0_VM0") | .host.cluster.name' "$dir/vms1")" DC0_C0
vs_expect "no cluster for a standalone host's VM" \
	"$(jq -r 'select(.name == "DC0_H0_VM0") | .host.cluster' "$dir/vms1")" null
vs_expect "inventory path" "$(jq -r 'select(.name == "DC0_H0_VM0") | .source' "$dir/vms1")" \
	/DC0/vm/DC0_H0_VM0

# vcsim 0.24.2 panics in WaitForUpdatesEx (and drops the updates) when one
# batch holds a change to an object and then its removal: power the VM to
# be destroyed off before the batch.
vcsim_power "$vm2" off || vs_fail "power off $vm2"

# --- Nothing of ours changed: one WaitForUpdatesEx.
out=$(vsdrv inventory) || vs_fail "inventory 2: $out"
vs_has "idle: updates, no walk" "$out" "walks=1 updates=1 changes=1 delta_calls=1"

# --- Changes through the API.
vcsim_power "$vm0" off || vs_fail "power off"
vcsim_rename "$vm1" renamed-vm || vs_fail "rename"
snap=$(vcsim_snapshot "$vm1" before-migration) || vs_fail "snapshot"
vcsim_soap "<urn:Destroy_Task><urn:_this type=\"VirtualMachine\">$vm2</urn:_this></urn:Destroy_Task>" >/dev/null ||
	vs_fail "Destroy_Task"
vcsim_task_wait "$(_vs_text returnval)" || vs_fail "Destroy_Task"
vsdrv inventory >"$dir/inv3" || vs_fail "inventory 3: $(cat "$dir/inv3")"
sed -n 's/^vm //p' "$dir/inv3" >"$dir/vms3"
stats=$(grep '^stats' "$dir/inv3")
vs_has "changes: no walk" "$stats" "walks=1 updates=2"
n=$(echo "$stats" | sed 's/.*changes=\([0-9]*\).*/\1/')
[ "$n" -ge 3 ] || vs_fail "changes: $n object updates, want 3 VMs at least"
echo "ok - $n object updates applied"
calls=$(echo "$stats" | sed 's/.*delta_calls=//')
[ "$calls" -le 3 ] || vs_fail "changes took $calls calls"
echo "ok - $calls SOAP call(s) for the changes"
vs_expect "powered off" "$(jq -r "select(.id == \"$vm0\") | .powerState" "$dir/vms3")" Off
vs_expect "renamed" "$(jq -r "select(.id == \"$vm1\") | .name" "$dir/vms3")" renamed-vm
vs_expect "CBT on" "$(jq -r "select(.id == \"$vm1\") | .changeTrackingEnabled" "$dir/vms3")" true
vs_expect "current snapshot" "$(jq -r "select(.id == \"$vm1\") | .snapshot.id" "$dir/vms3")" "$snap"
vs_expect "snapshot list" "$(jq -c "select(.id == \"$vm1\") | .snapshots" "$dir/vms3")" \
	"[{\"id\":\"$snap\",\"name\":\"before-migration\"}]"
vs_expect "destroyed VM gone" "$(jq -r "select(.id == \"$vm2\") | .name" "$dir/vms3")" ""
vs_expect "three VMs" "$(wc -l <"$dir/vms3")" 3
# The same as a fresh walk sees it.
vsdrv_stop
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --cacert "$VCSIM_CACERT"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory | sed -n 's/^vm //p' >"$dir/vms4" || vs_fail "inventory"
cmp "$dir/vms3" "$dir/vms4" || vs_fail "the updated inventory differs from a fresh walk"
echo "ok - the updated inventory is what a fresh walk sees"
vsdrv_stop
vsdrv_check
echo "all ok"
