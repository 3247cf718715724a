#!/bin/sh
# Disks leave vSphere through the datastore's HTTPS file access: the driver
# serves a disk with nbdkit curl (session cookie on a pipe, never on the
# command line), `ferry copy` reads it, the bytes match what was uploaded
# through /folder. A short file reads as zeroes up to the disk's capacity;
# a snapshot's disk reads the same; VDDK without its library is a clear
# error; a killed driver's leftovers are cleaned by the next one.
#   t-disk.sh VCSIM CBT_PROXY VSDRV FERRY
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
command -v nbdkit >/dev/null 2>&1 && nbdkit curl --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl missing"; exit 77; }
work=$dir/w
mkdir -p "$work"
vcsim_start
vcsim_login || vs_fail "login"

# Two VMs' disks get bytes: 4 MiB of random data; 1 MiB in a 3 MiB disk.
vm0=$(vcsim_moref VirtualMachine DC0_H0_VM0)
vm1=$(vcsim_moref VirtualMachine DC0_H0_VM1)
d0=$(vcsim_disks "$vm0")
d1=$(vcsim_disks "$vm1")
vcsim_set_disk "$vm0" "$(echo "$d0" | cut -f 1)" 4194304 || vs_fail "capacity"
vcsim_set_disk "$vm1" "$(echo "$d1" | cut -f 1)" 3145728 || vs_fail "capacity"
head -c 4194304 /dev/urandom >"$dir/disk0.raw"
head -c 1048576 /dev/urandom >"$dir/disk1.part"
vcsim_upload_disk "$(echo "$d0" | cut -f 3)" "$dir/disk0.raw" || vs_fail "upload 0"
vcsim_upload_disk "$(echo "$d1" | cut -f 3)" "$dir/disk1.part" || vs_fail "upload 1"
cp "$dir/disk1.part" "$dir/disk1.raw"
truncate -s 3145728 "$dir/disk1.raw"

vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --cacert "$VCSIM_CACERT" --work "$work"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >/dev/null || vs_fail "inventory"

# copy VM [SNAPSHOT] OUT: serve disk 0, copy it with ferry copy, close it.
copy() {
	out=$(vsdrv disk-open "$1" 0 ${2:-}) || vs_fail "disk-open $1: $out"
	uri=$(echo "$out" | sed -n 's/^uri \([^ ]*\) .*/\1/p')
	size=$(echo "$out" | sed -n 's/.* size \([0-9]*\) .*/\1/p')
	"$FERRY" copy -o json "$uri" "$3" >"$dir/copy.json" || vs_fail "ferry copy $uri"
}

copy "$vm0" "" "$dir/out0.raw"
vs_expect "served size" "$size" 4194304
cmp "$dir/disk0.raw" "$dir/out0.raw" || vs_fail "disk 0 differs"
echo "ok - 4 MiB through nbdkit curl and ferry copy, identical"
# While it is open: the cookie is on a pipe, not on nbdkit's command line.
pid=$(cat "$work"/vs-*.pid)
tr '\0' ' ' </proc/"$pid"/cmdline >"$dir/cmdline"
vs_has "nbdkit curl" "$(cat "$dir/cmdline")" " curl url=$VCSIM_BASE/folder/DC0_H0_VM0/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0 "
vs_has "cookie from a descriptor" "$(cat "$dir/cmdline")" "cookie=-3"
vs_has "the secret's CA" "$(cat "$dir/cmdline")" "cainfo=$work/vs-"
grep -q vmware_soap_session "$dir/cmdline" && vs_fail "the cookie is on the command line"
vsdrv disk-close >/dev/null
[ -z "$(ls "$work")" ] || vs_fail "files left after disk-close: $(ls "$work")"
kill -0 "$pid" 2>/dev/null && vs_fail "nbdkit $pid still runs after disk-close"
echo "ok - disk-close stops nbdkit and removes its files"

copy "$vm1" "" "$dir/out1.raw"
vs_expect "short file: the disk's capacity" "$size" 3145728
cmp "$dir/disk1.raw" "$dir/out1.raw" || vs_fail "disk 1 differs"
echo "ok - a file shorter than its disk reads as zeroes to the end"
vsdrv disk-close >/dev/null

# Through a snapshot: the files it froze.
snap=$(vcsim_snapshot "$vm0" ferry-op-7) || vs_fail "snapshot"
copy "$vm0" "$snap" "$dir/out0s.raw"
cmp "$dir/disk0.raw" "$dir/out0s.raw" || vs_fail "disk 0 at the snapshot differs"
echo "ok - the disk as of a snapshot"
vsdrv disk-close >/dev/null

# A pinned certificate: nbdkit does not check it again (the session did).
vsdrv_stop
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --thumbprint "$VCSIM_THUMBPRINT" \
	--work "$work"
vsdrv open >/dev/null || vs_fail "open (pinned)"
vsdrv inventory >/dev/null || vs_fail "inventory"
copy "$vm0" "" "$dir/out0p.raw"
cmp "$dir/disk0.raw" "$dir/out0p.raw" || vs_fail "disk 0 (pinned) differs"
tr '\0' ' ' </proc/"$(cat "$work"/vs-*.pid)"/cmdline >"$dir/cmdline"
vs_has "pinned: sslverify=false" "$(cat "$dir/cmdline")" "sslverify=false"

# A ferry killed while serving: its nbdkit dies with it (tied), and the
# next driver in the same work directory removes what was left.
kill -9 "$_vs_drv_pid"
wait "$_vs_drv_pid" 2>/dev/null || :
_vs_drv_pid=
exec 7>&-
[ -n "$(ls "$work")" ] || vs_fail "nothing left behind to clean"
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --thumbprint "$VCSIM_THUMBPRINT" \
	--work "$work"
vsdrv open >/dev/null || vs_fail "open after a kill"
vs_expect "leftovers reaped" "$(ls "$work")" ""

# VDDK named but not there: a clear error, nothing started.
vsdrv_stop
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --thumbprint "$VCSIM_THUMBPRINT" \
	--work "$work" --vddk-libdir "$dir/no-vddk"
vsdrv open >/dev/null || vs_fail "open (vddk)"
vsdrv inventory >/dev/null || vs_fail "inventory (vddk)"
out=$(vsdrv disk-open "$vm0" 0) && vs_fail "disk-open without VDDK succeeded"
vs_has "VDDK missing" "$out" "VDDK library not found at $dir/no-vddk"
vs_expect "nothing left" "$(ls "$work")" ""
vsdrv_stop
vsdrv_check
echo "all ok"
