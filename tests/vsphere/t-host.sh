#!/bin/sh
# Host objects (a migration network per ESXi host): the disks of a VM on a
# host that has a Host entry are read through the Host's ipAddress with
# the Host's own credentials, the ESXi host's certificate pinned: over
# /folder (nbdkit curl with the host session's cookie, dcPath
# ha-datacenter) and through VDDK (nbdkit vddk's command line: server=
# the address, the Host's user, its password on a pipe, the SHA-1 the
# session checked, the VM's and the snapshot's morefs on the host). VMs on
# other hosts still go through vCenter; errors name the Host.
#
# The "ESXi host" is a second vcsim (-esx) on 127.X.Y.Z:443, ESXi's port
# (binding it needs root or CAP_NET_BIND_SERVICE, else the test skips);
# the stand-in for nbdkit vddk records its arguments and the password it
# reads, then serves memory on the socket the driver waits on.
#   t-host.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
esx_pid=
esx_stop() {
	[ -n "$esx_pid" ] || return 0
	kill "$esx_pid" 2>/dev/null || :
	wait "$esx_pid" 2>/dev/null || :
	esx_pid=
}
trap 'vsdrv_stop; esx_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
FERRY=$4
[ -x "$VSDRV" ] && [ -x "$FERRY" ] || { echo "vsdrv or ferry not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq missing"; exit 77; }
nbdkit=$(command -v nbdkit) && nbdkit curl --dump-plugin >/dev/null 2>&1 &&
	nbdkit memory --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl or memory missing"; exit 77; }
mkdir -p "$dir/w" "$dir/esx-tmp" "$dir/bin" "$dir/vddk/lib64"

# The ESXi host: only root/esx-pw log in. Its address is picked at random
# in 127/8, away from other runs of this test.
start_esx() {
	ip=127.$(($$ % 200 + 20)).$(awk 'BEGIN { srand(); print int(rand() * 250) + 1 }').$1
	: >"$dir/esx.out"
	TMPDIR=$dir/esx-tmp "$VCSIM_BIN" -esx -l "$ip:443" -username root -password esx-pw \
		>"$dir/esx.out" 2>"$dir/esx.log" &
	esx_pid=$!
	n=300
	until grep -q '^VCSIM_URL=' "$dir/esx.out"; do
		if ! kill -0 "$esx_pid" 2>/dev/null; then
			esx_pid=
			grep -q 'permission denied' "$dir/esx.log" &&
				{ echo "cannot bind $ip:443 (not root)"; exit 77; }
			grep -q 'address already in use' "$dir/esx.log" && return 1
			cat "$dir/esx.log" >&2
			vs_fail "the ESXi vcsim did not start"
		fi
		n=$((n - 1))
		[ "$n" -gt 0 ] || vs_fail "the ESXi vcsim did not start in 30 s"
		sleep 0.1
	done
}
start_esx 1 || start_esx 2 || start_esx 3 || vs_fail "no free address for the ESXi vcsim"
esx_sha1=$(sed -n 's/.* VCSIM_THUMBPRINT=\([^ ]*\) .*/\1/p' "$dir/esx.out")
esx_sha256=$(sed -n 's/.* VCSIM_THUMBPRINT256=\([^ ]*\) .*/\1/p' "$dir/esx.out")

# On the ESXi host: its VM gets the BIOS UUID the vCenter VM will have
# (the driver finds it by that), and two snapshots; the disk file of the
# vCenter VM's disk gets other bytes than vCenter serves.
uuid=4224beef-0000-4000-8000-0123456789ab
# lib.sh's calls go to the server these name (no CA check: pinned below)
# shellcheck disable=SC2034
VS_SOAP_URL=https://$ip:443/sdk VS_BASE=https://$ip:443 VS_CACERT='' VS_JAR=$dir/esx-cookies.txt
vcsim_login root esx-pw || vs_fail "login to the ESXi vcsim"
esx_vm=$(vcsim_moref VirtualMachine ha-host_VM0)
# set_uuid VM UUID: ReconfigVM_Task with config.uuid
set_uuid() {
	vcsim_soap "<urn:ReconfigVM_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this><urn:spec><urn:uuid>$2</urn:uuid></urn:spec></urn:ReconfigVM_Task>" \
		>/dev/null || return 1
	vcsim_task_wait "$(tr '<' '\n' <"$VS_DIR/soap.res" | sed -n 's/^returnval[^>]*>//p')"
}
set_uuid "$esx_vm" "$uuid" || vs_fail "uuid on the ESXi host"
vcsim_snapshot "$esx_vm" other >/dev/null || vs_fail "snapshot other"
esx_snap=$(vcsim_snapshot "$esx_vm" ferry-op-1) || vs_fail "snapshot ferry-op-1"
esx_ds=$(echo "$dir"/esx-tmp/govcsim-ha-datacenter-LocalDS_0-*)
[ -d "$esx_ds" ] || vs_fail "no ESXi datastore directory"
mkdir -p "$esx_ds/DC0_H0_VM0"
head -c 2097152 /dev/urandom >"$dir/esx.raw"
cp "$dir/esx.raw" "$esx_ds/DC0_H0_VM0/disk1-flat.vmdk"

# vCenter: DC0_H0_VM0 (on DC0_H0, the host the Host object names) and
# DC0_C0_RP0_VM0 (on a host of the cluster) get 2 MiB disks and bytes of
# their own.
vcsim_start
vcsim_login || vs_fail "login"
vm=$(vcsim_moref VirtualMachine DC0_H0_VM0)
vm2=$(vcsim_moref VirtualMachine DC0_C0_RP0_VM0)
set_uuid "$vm" "$uuid" || vs_fail "uuid on vCenter"
for v in "$vm" "$vm2"; do
	d=$(vcsim_disks "$v")
	vcsim_set_disk "$v" "$(echo "$d" | cut -f 1)" 2097152 || vs_fail "capacity"
	head -c 2097152 /dev/urandom >"$dir/$v.raw"
	vcsim_upload_disk "$(echo "$d" | cut -f 3)" "$dir/$v.raw" || vs_fail "upload"
done
file=$(vcsim_disks "$vm" | cut -f 3)
host=$(vcsim_prop VirtualMachine "$vm" runtime.host) || vs_fail "runtime.host"
host2=$(vcsim_prop VirtualMachine "$vm2" runtime.host) || vs_fail "runtime.host"
[ "$host" != "$host2" ] || vs_fail "both VMs on $host"

# driver [--vddk] HOST_SPEC: a driver with one Host entry, opened, with
# an inventory
driver() {
	vddk=
	if [ "$1" = --vddk ]; then
		vddk="--vddk-libdir $dir/vddk"
		shift
	fi
	# shellcheck disable=SC2086
	vsdrv_start env PATH="$dir/bin:$PATH" FAKE_DIR="$dir" "$VSDRV" --url "$VCSIM_URL" \
		--user u --password p --cacert "$VCSIM_CACERT" --work "$dir/w" $vddk --host "$1"
	out=$(vsdrv open) || vs_fail "open: $out"
	out=$(vsdrv inventory) || vs_fail "inventory: $out"
}
# copy VM WANT: disk 0 of VM served and copied, its bytes are WANT's
copy() {
	out=$(vsdrv disk-open "$1" 0) || vs_fail "disk-open $1: $out"
	"$FERRY" copy "$(echo "$out" | sed -n 's/^uri \([^ ]*\) .*/\1/p')" "$dir/out.raw" \
		>/dev/null || vs_fail "ferry copy"
	vsdrv disk-close >/dev/null
	cmp "$2" "$dir/out.raw" || vs_fail "disk of $1: not the bytes of $2"
}

# --- /folder through the Host (pinned by SHA-256 here)
driver "id=$host,ip=$ip,user=root,password=esx-pw,thumbprint=$esx_sha256"
copy "$vm" "$dir/esx.raw"
echo "ok - a VM on the Host's host: its disk read from the ESXi host's /folder"
copy "$vm2" "$dir/$vm2.raw"
echo "ok - a VM on another host: read through vCenter"
grep -q esx-pw "$VS_DIR/drv.err" && vs_fail "the Host's password in the driver's log"
vsdrv_stop

# --- VDDK: a stand-in nbdkit records the command line and the password
: >"$dir/vddk/lib64/libvixDiskLib.so.8"
cat >"$dir/bin/nbdkit" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"\$FAKE_DIR/vddk.args"
for a; do
	case \$a in
	--unix=*) sock=\${a#--unix=} ;;
	--pidfile=*) pidf=\${a#--pidfile=} ;;
	password=-*) fd=\${a#password=-} ;;
	esac
done
eval "cat <&\$fd" >"\$FAKE_DIR/vddk.pw"
exec "$nbdkit" --foreground --readonly --unix="\$sock" --pidfile="\$pidf" memory 1M
EOF
chmod +x "$dir/bin/nbdkit"
# args: the recorded command line from the plugin's name on, one line
args() {
	sed -n '/^vddk$/,$p' "$dir/vddk.args" | tr '\n' ' '
}
driver --vddk "id=$host,ip=$ip,user=root,password=esx-pw,thumbprint=$esx_sha256"
out=$(vsdrv disk-open "$vm" 0) || vs_fail "vddk disk-open: $out"
vs_expect "VDDK through the Host" "$(args)" "vddk server=$ip user=root password=-3 \
thumbprint=$esx_sha1 vm=moref=$esx_vm file=$file libdir=$dir/vddk "
vs_expect "the Host's password, on the pipe" "$(cat "$dir/vddk.pw")" esx-pw
vsdrv disk-close >/dev/null
out=$(vsdrv snap-create "$vm" ferry-op-1) || vs_fail "snapshot: $out"
snap=$(echo "$out" | sed -n 's/^snapshot \([^ ]*\) .*/\1/p')
vsdrv inventory >/dev/null || vs_fail "inventory"
out=$(vsdrv disk-open "$vm" 0 "$snap") || vs_fail "vddk disk-open $snap: $out"
vs_expect "a snapshot: its namesake on the ESXi host" "$(args)" "vddk server=$ip \
user=root password=-3 thumbprint=$esx_sha1 vm=moref=$esx_vm snapshot=$esx_snap file=$file \
libdir=$dir/vddk "
vsdrv disk-close >/dev/null
out=$(vsdrv disk-open "$vm2" 0) || vs_fail "vddk disk-open $vm2: $out"
vs_expect "VDDK through vCenter for another host's VM" "$(args)" "vddk \
server=127.0.0.1 port=$VCSIM_PORT user=u password=-3 thumbprint=$VCSIM_THUMBPRINT \
vm=moref=$vm2 file=$(vcsim_disks "$vm2" | cut -f 3) libdir=$dir/vddk "
vs_expect "the provider's password" "$(cat "$dir/vddk.pw")" p
vsdrv disk-close >/dev/null
# DC0_H0_VM1 is on the same host, but its UUID is not on the ESXi host
out=$(vsdrv disk-open DC0_H0_VM1 0) && vs_fail "a VM the ESXi host does not have"
vs_has "a VM the ESXi host lacks" "$out" "error not-found: serving disk"
vs_has "... names the Host" "$out" \
	"through Host test/esx ($ip): VM 'DC0_H0_VM1' ($(vcsim_moref VirtualMachine \
DC0_H0_VM1), uuid "
vsdrv_stop

# --- errors (vcsim keeps no summary.config.sslThumbprint for its hosts)
driver "id=$host,ip=$ip,user=root,password=esx-pw"
out=$(vsdrv disk-open "$vm" 0) && vs_fail "no thumbprint anywhere"
vs_expect "no thumbprint: refused, not unchecked" "$out" "error certificate: serving disk \
$(vcsim_disks "$vm" | cut -f 1) of VM 'DC0_H0_VM0': through Host test/esx ($ip): no \
thumbprint to check the ESXi host's certificate against: the Host's secret has none, and \
vCenter has none for $host (summary.config.sslThumbprint); add \`thumbprint\` to the Host's \
secret"
vsdrv_stop
driver "id=$host,ip=$ip,user=root,password=esx-pw,thumbprint=$VCSIM_THUMBPRINT"
out=$(vsdrv disk-open "$vm" 0) && vs_fail "a wrong thumbprint"
vs_has "a wrong thumbprint" "$out" "error certificate: serving disk"
vs_has "... names the Host and what the host shows" "$out" \
	"through Host test/esx ($ip): vsphere: https://$ip:443: the server's certificate does not match the pinned thumbprint $VCSIM_THUMBPRINT: the server presents SHA-1 $esx_sha1"
vsdrv_stop
driver "name=DC0_H0,ip=$ip,user=root,password=wrong-pw,thumbprint=$esx_sha1"
out=$(vsdrv disk-open "$vm" 0) && vs_fail "a wrong password"
vs_has "a Host matched by name, a wrong password" "$out" \
	"error auth: serving disk $(vcsim_disks "$vm" | cut -f 1) of VM 'DC0_H0_VM0': through Host test/esx ($ip): "
case $out in *wrong-pw*) vs_fail "the password in the error" ;; esac
vsdrv_stop
vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --cacert "$VCSIM_CACERT" \
	--host "id=$host,ip=$ip,user=root"
out=$(vsdrv open) && vs_fail "a Host without a password"
vs_expect "a Host without a password" "$out" \
	"error invalid: vsphere provider test/vcsim: Host test/esx: its secret has no password"
vsdrv_stop
vsdrv_check
echo "all ok"
