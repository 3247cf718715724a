#!/bin/sh
# An ESXi endpoint (vcsim -esx): the ServiceContent's own morefs
# (ha-folder-root, ha-property-collector, ...), sdkEndpoint checked against
# apiType, the inventory, and a disk read through ha-datacenter's /folder.
#   t-esxi.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
FERRY=$4
[ -x "$VSDRV" ] && [ -x "$FERRY" ] || { echo "vsdrv or ferry not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq missing"; exit 77; }
command -v nbdkit >/dev/null 2>&1 && nbdkit curl --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl missing"; exit 77; }
mkdir -p "$dir/w"
vcsim_start -esx
vcsim_login || vs_fail "login"
vs_expect "an ESXi endpoint" "$VS_API_TYPE $VS_ROOT" "HostAgent ha-folder-root"

vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user root --password p --cacert "$VCSIM_CACERT" \
	--sdk-endpoint esxi --work "$dir/w"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >"$dir/inv" || vs_fail "inventory: $(cat "$dir/inv")"
vs_expect "VMs" "$(sed -n 's/^vm //p' "$dir/inv" | jq -r .name | sort | tr '\n' ' ')" \
	"$(vcsim_list VirtualMachine | cut -f 2 | sort | tr '\n' ' ')"
vs_expect "path" "$(sed -n 's/^vm //p' "$dir/inv" | jq -r .source | head -n 1)" \
	/ha-datacenter/vm/ha-host_VM0
grep -q sdkEndpoint "$VS_DIR/drv.err" && vs_fail "a warning for the right sdkEndpoint"

vm=$(vcsim_moref VirtualMachine ha-host_VM0)
d=$(vcsim_disks "$vm")
vcsim_set_disk "$vm" "$(echo "$d" | cut -f 1)" 2097152 || vs_fail "capacity"
head -c 2097152 /dev/urandom >"$dir/disk.raw"
VS_DC=ha-datacenter vcsim_upload_disk "$(echo "$d" | cut -f 3)" "$dir/disk.raw" || vs_fail "upload"
out=$(vsdrv disk-open "$vm" 0) || vs_fail "disk-open: $out"
"$FERRY" copy "$(echo "$out" | sed -n 's/^uri \([^ ]*\) .*/\1/p')" "$dir/out.raw" >/dev/null ||
	vs_fail "ferry copy"
cmp "$dir/disk.raw" "$dir/out.raw" || vs_fail "the disk differs"
echo "ok - a disk of an ESXi host, through ha-datacenter"
vsdrv_stop

vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user root --password p --cacert "$VCSIM_CACERT" \
	--sdk-endpoint vcenter
vsdrv open >/dev/null || vs_fail "open"
vsdrv_stop
vs_has "sdkEndpoint vcenter on ESXi: a warning" "$(cat "$VS_DIR/drv.err")" \
	"sdkEndpoint is vcenter, but $VCSIM_URL is a HostAgent"
vsdrv_check
echo "all ok"
