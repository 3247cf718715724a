#!/bin/sh
# 1,000 VMs (vcsim -vm 250 -standalone-host 2 -cluster 2): the first
# inventory walks them all, the second costs one WaitForUpdatesEx. Prints
# the times (the issue's closing note quotes them).
#   t-inventory-large.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
[ -x "$VSDRV" ] || { echo "vsdrv not built"; exit 77; }
now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }

vcsim_start -vm 250 -standalone-host 2 -cluster 2
FERRY_LOG=debug
export FERRY_LOG
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --thumbprint "$VCSIM_THUMBPRINT256"
vsdrv open >/dev/null || vs_fail "open"
t0=$(now)
vsdrv inventory >"$dir/inv1" || vs_fail "inventory: $(tail -n 3 "$dir/inv1")"
t1=$(now)
vsdrv inventory >"$dir/inv2" || vs_fail "inventory 2"
t2=$(now)
vs_expect "1,000 VMs" "$(grep -c '^vm ' "$dir/inv1")" 1000
vs_expect "1,000 VMs again" "$(grep -c '^vm ' "$dir/inv2")" 1000
vs_has "second: one call" "$(grep '^stats' "$dir/inv2")" "walks=1 updates=1 changes=0 delta_calls=1"
cmp "$dir/inv1" "$dir/inv2" >/dev/null 2>&1 ||
	[ "$(grep -v '^stats' "$dir/inv1")" = "$(grep -v '^stats' "$dir/inv2")" ] ||
	vs_fail "the second inventory differs"
echo "# first inventory (walk + filter): $(ms "$t0" "$t1") ms; second (updates): $(ms "$t1" "$t2") ms"
grep -E 'RetrievePropertiesEx|WaitForUpdatesEx' "$VS_DIR/drv.err" | sed 's/^/# /'
vsdrv_stop
vsdrv_check
echo "all ok"
