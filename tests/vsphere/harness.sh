#!/bin/sh
# The vSphere test harness checks itself against the real servers: vcsim
# starts and lists its inventory over SOAP, logins and faults are what
# vim25 gives, disk bytes round-trip through /folder (and nbdkit curl), the
# CBT proxy answers QueryChangedDiskAreas from its record and forwards the
# rest, and sessions can be expired the two ways the driver tests need.
#   harness.sh VCSIM_BIN CBT_PROXY_BIN
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere.XXXXXX")
trap 'vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
[ -x "$CBT_PROXY_BIN" ] || { echo "cbt-proxy not built"; exit 77; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# expect WHAT GOT WANT
expect() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}
have() { command -v "$1" >/dev/null 2>&1; }

# --- vcsim starts, on a port of its own, with the certificate it names.
VS_USER=ferry VS_PASS=s3cret-pw
vcsim_start -username "$VS_USER" -password "$VS_PASS"
expect "vcsim listens on loopback" "$VCSIM_HOST" 127.0.0.1
case $VCSIM_PORT in '' | *[!0-9]*) fail "port [$VCSIM_PORT]" ;; esac
expect "URL" "$VCSIM_URL" "https://127.0.0.1:$VCSIM_PORT/sdk"
expect "SHA-1 thumbprint shape" \
	"$(echo "$VCSIM_THUMBPRINT" | grep -c '^[0-9A-F][0-9A-F]\(:[0-9A-F][0-9A-F]\)\{19\}$')" 1
code=$(curl -sS --cacert "$VCSIM_CACERT" -o /dev/null -w '%{http_code}' "$VCSIM_BASE/about")
expect "/about over TLS verified against VCSIM_CACERT" "$code" 200
if have openssl; then
	served=$(openssl s_client -connect "127.0.0.1:$VCSIM_PORT" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha1 | sed 's/.*=//')
	expect "thumbprint is the served certificate's SHA-1" "$served" "$VCSIM_THUMBPRINT"
	served=$(openssl x509 -in "$VCSIM_CACERT" -noout -fingerprint -sha256 | sed 's/.*=//')
	expect "SHA-256 thumbprint" "$served" "$VCSIM_THUMBPRINT256"
fi

# --- Sessions: nothing without a login; InvalidLogin for a bad password.
vcsim_soap '<urn:CreateContainerView><urn:_this type="ViewManager">ViewManager</urn:_this><urn:container type="Folder">group-d1</urn:container><urn:type>VirtualMachine</urn:type><urn:recursive>true</urn:recursive></urn:CreateContainerView>' >/dev/null &&
	fail "CreateContainerView without a session succeeded"
expect "no session: fault" "$(vcsim_fault)" NotAuthenticated
vcsim_login "$VS_USER" wrong >"$dir/fault" && fail "login with a bad password succeeded"
expect "bad password: fault" "$(cat "$dir/fault")" InvalidLogin
expect "bad password: HTTP status" "$_vs_code" 500
expect "bad user: fault" "$(vcsim_login nobody "$VS_PASS")" InvalidLogin
[ -z "$(vcsim_session_key)" ] || fail "a failed login set a session cookie"
vcsim_login || fail "login as $VS_USER"
key=$(vcsim_session_key)
[ -n "$key" ] || fail "no vmware_soap_session cookie after Login"
expect "LoginResponse key is the cookie" "$(_vs_text key)" "$key"
expect "root folder" "$VS_ROOT" group-d1
expect "apiVersion" "$VS_API" 6.5
expect "second Login on a live session" "$(vcsim_login)" InvalidLogin

# --- Inventory through a ContainerView: the default model.
vms=$(vcsim_list VirtualMachine | cut -f 2 | sort | tr '\n' ' ')
expect "VMs" "$vms" "DC0_C0_RP0_VM0 DC0_C0_RP0_VM1 DC0_H0_VM0 DC0_H0_VM1 "
expect "hosts" "$(vcsim_list HostSystem | wc -l)" 4
expect "clusters" "$(vcsim_list ClusterComputeResource | cut -f 2)" DC0_C0
expect "datacenters" "$(vcsim_list Datacenter | cut -f 2)" DC0
vm=$(vcsim_moref VirtualMachine DC0_H0_VM0)
vm1=$(vcsim_moref VirtualMachine DC0_H0_VM1)
expect "power state" "$(vcsim_prop VirtualMachine "$vm" runtime.powerState)" poweredOn

# --- A disk with real bytes: capacity by ReconfigVM_Task, data by /folder.
expect "one disk" "$(vcsim_disks "$vm" | wc -l)" 1
disk=$(vcsim_disks "$vm")
dkey=$(echo "$disk" | cut -f 1)
dfile=$(echo "$disk" | cut -f 3)
expect "disk file" "$dfile" "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"
expect "default capacity (capacityInKB only)" "$(echo "$disk" | cut -f 2)" 1048576
ndev=$(_vs_retrieve VirtualMachine "$vm" config.hardware.device && _vs_lines | grep -c '^VirtualDevice ')
size=4194304
vcsim_set_disk "$vm" "$dkey" $size || fail "ReconfigVM_Task (capacity)"
expect "capacity after ReconfigVM_Task" "$(vcsim_disks "$vm" | cut -f 2)" $size
expect "disk key kept" "$(vcsim_disks "$vm" | cut -f 1)" "$dkey"
expect "device count kept" \
	"$(_vs_retrieve VirtualMachine "$vm" config.hardware.device && _vs_lines | grep -c '^VirtualDevice ')" "$ndev"

head -c $size /dev/urandom >"$dir/disk.raw"
vcsim_upload_disk "$dfile" "$dir/disk.raw" || fail "PUT to /folder"
url=$(vcsim_folder_url "$dfile")
expect "folder URL" "$url" "$VCSIM_BASE/folder/DC0_H0_VM0/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0"
curl -sS --cacert "$VCSIM_CACERT" -o "$dir/get.raw" "$url"
cmp "$dir/disk.raw" "$dir/get.raw" || fail "GET differs from PUT"
echo "ok - /folder GET returns the uploaded 4 MiB"
code=$(curl -sS --cacert "$VCSIM_CACERT" -r 1048576-1114111 -o "$dir/range.raw" -w '%{http_code}' "$url")
expect "Range request status" "$code" 206
dd if="$dir/disk.raw" of="$dir/want.raw" bs=65536 skip=16 count=1 status=none
cmp "$dir/want.raw" "$dir/range.raw" || fail "Range bytes differ"
echo "ok - /folder Range returns the right 64 KiB"
ds=$(vcsim_moref Datastore LocalDS_0)
dsdir=$(vcsim_prop Datastore "$ds" summary.url)
case $dsdir in "$VS_DIR"/tmp/*) ;; *) fail "datastore dir [$dsdir] not under $VS_DIR/tmp" ;; esac
cmp "$dir/disk.raw" "$dsdir/DC0_H0_VM0/disk1-flat.vmdk" || fail "datastore file differs"
echo "ok - the datastore dir holds the same bytes"
if have nbdkit && have nbdcopy && nbdkit curl --dump-plugin >/dev/null 2>&1; then
	nbdkit -U - curl url="$url" cainfo="$VCSIM_CACERT" --run "nbdcopy \"\$uri\" $dir/nbd.raw"
	cmp "$dir/disk.raw" "$dir/nbd.raw" || fail "nbdkit curl read differs"
	echo "ok - nbdkit curl reads the disk through /folder"
else
	echo "# nbdkit curl or nbdcopy missing: not checked"
fi

# --- CBT and snapshots: vcsim keeps whatever changeId the test sets.
expect "CBT off by default (property unset)" "$(vcsim_prop VirtualMachine "$vm" config.changeTrackingEnabled || echo unset)" unset
vcsim_enable_cbt "$vm" || fail "enable CBT"
expect "CBT on" "$(vcsim_prop VirtualMachine "$vm" config.changeTrackingEnabled)" true
cid1="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/1"
vcsim_set_disk "$vm" "$dkey" $size "$cid1" || fail "ReconfigVM_Task (changeId)"
snap=$(vcsim_snapshot "$vm" ferry-precopy-1) || fail "CreateSnapshot_Task"
case $snap in snapshot-*) ;; *) fail "snapshot moref [$snap]" ;; esac
expect "snapshot's disk changeId" "$(vcsim_disks "$snap" VirtualMachineSnapshot | cut -f 4)" "$cid1"
vcsim_qcda "$vm" "$snap" "$dkey" 0 '*' >/dev/null && fail "vcsim answered QueryChangedDiskAreas"
expect "vcsim itself: QueryChangedDiskAreas" "$(vcsim_fault)" MethodNotFound

# --- The CBT proxy: QueryChangedDiskAreas from the record, the rest forwarded.
cat >"$dir/record.tmp" <<EOF
{"disks": [{"vm": "$vm", "deviceKey": $dkey, "capacity": $size,
  "changes": [{"changeId": "*", "areas": [[0, 65536], [1048576, 65536], [3145728, 4096]]},
              {"changeId": "$cid1", "areas": [[4096, 4096]]},
              {"changeId": "$cid1", "snapshot": "snapshot-none", "areas": [[0, 512]]}]}]}
EOF
mv "$dir/record.tmp" "$dir/record.json"
cbtproxy_start "$dir/record.json" -max-areas 2
vsphere_use proxy
VS_JAR=$dir/proxy-cookies.txt
vcsim_qcda "$vm" "$snap" "$dkey" 0 '*' >/dev/null && fail "proxy answered without a session"
expect "proxy, no session" "$(vcsim_fault)" NotAuthenticated
expect "proxy, bad password" "$(vcsim_login "$VS_USER" nope)" InvalidLogin
vcsim_login || fail "login through the proxy"
grep -q '^SOAP Login$' "$CBTPROXY_LOG" || fail "proxy log has no forwarded Login"
echo "ok - Login forwarded by the proxy"
expect "allocated areas, first reply" "$(vcsim_qcda "$vm" "$snap" "$dkey" 0 '*' | tr '\n' ,)" \
	"0 3145728,0 65536,1048576 65536,"
expect "allocated areas, from 3145728" "$(vcsim_qcda "$vm" "$snap" "$dkey" 3145728 '*' | tr '\n' ,)" \
	"3145728 1048576,3145728 4096,"
expect "areas clipped at startOffset" "$(vcsim_qcda "$vm" "$snap" "$dkey" 32768 '*' | tr '\n' ,)" \
	"32768 3112960,32768 32768,1048576 65536,"
expect "changed since $cid1" "$(vcsim_qcda "$vm" "$snap" "$dkey" 0 "$cid1" | tr '\n' ,)" "0 4194304,4096 4096,"
expect "response shape" "$(_vs_lines | sed -n 's/^\([A-Za-z:]*\)[ >].*/\1/p' | tr '\n' ' ')" \
	"soapenv:Envelope soapenv:Body QueryChangedDiskAreasResponse returnval startOffset length changedArea start length "
expect "unknown changeId" "$(vcsim_qcda "$vm" "$snap" "$dkey" 0 "52 00/9")" InvalidArgument
expect "its invalidProperty" "$(_vs_text invalidProperty)" changeId
expect "unknown disk" "$(vcsim_qcda "$vm" "$snap" 12345 0 '*')" InvalidArgument
expect "startOffset at the end" "$(vcsim_qcda "$vm" "$snap" "$dkey" $size '*')" InvalidArgument
expect "VM without CBT" "$(vcsim_qcda "$vm1" "" "$dkey" 0 '*')" NotSupported
expect "VM that does not exist" "$(vcsim_qcda vm-99999 "" "$dkey" 0 '*')" ManagedObjectNotFound
expect "answered queries logged" "$(grep -c '^QCDA .* -> length=' "$CBTPROXY_LOG")" 4
code=$(curl -sS --cacert "$CBTPROXY_CACERT" -r 1048576-1114111 -o "$dir/prange.raw" -w '%{http_code}' \
	"$(vcsim_folder_url "$dfile")")
expect "Range request through the proxy" "$code" 206
cmp "$dir/want.raw" "$dir/prange.raw" || fail "Range bytes through the proxy differ"
echo "ok - /folder through the proxy"
if have openssl; then
	served=$(openssl s_client -connect "127.0.0.1:$CBTPROXY_PORT" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha1 | sed 's/.*=//')
	expect "proxy thumbprint" "$served" "$CBTPROXY_THUMBPRINT"
fi
cbtproxy_stop
vsphere_use vcsim
VS_JAR=$dir/cookies.txt

# --- Expiring a session: TerminateSession from a second session ...
vcsim_terminate_session "$key" || fail "TerminateSession"
vcsim_soap '<urn:CurrentTime><urn:_this type="ServiceInstance">ServiceInstance</urn:_this></urn:CurrentTime>' >/dev/null &&
	fail "terminated session still works"
expect "terminated session" "$(vcsim_fault)" NotAuthenticated
vcsim_login || fail "login again with the stale cookie in the jar"
[ "$(vcsim_session_key)" != "$key" ] || fail "same session key after re-login"
echo "ok - re-login after TerminateSession"
vcsim_logout

# ... or an idle timeout (-session-idle-timeout; checked every interval).
vcsim_stop
kill -0 "$VCSIM_PID" 2>/dev/null && fail "vcsim still runs after vcsim_stop"
expect "datastore dirs removed on SIGTERM" "$(ls "$VS_DIR/tmp")" ""
vcsim_start -session-idle-timeout 1s
vcsim_login || fail "login (idle timeout)"
for _ in 1 2 3; do
	sleep 0.5
	vcsim_soap '<urn:CurrentTime><urn:_this type="ServiceInstance">ServiceInstance</urn:_this></urn:CurrentTime>' >/dev/null ||
		fail "an active session expired"
done
echo "ok - an active session stays"
sleep 2.5
vcsim_soap '<urn:CurrentTime><urn:_this type="ServiceInstance">ServiceInstance</urn:_this></urn:CurrentTime>' >/dev/null &&
	fail "idle session did not expire"
expect "idle session" "$(vcsim_fault)" NotAuthenticated
vcsim_login || fail "login after the idle timeout"
echo "ok - re-login after the idle timeout"
vsphere_cleanup
expect "no datastore dir left" "$(ls "$VS_DIR/tmp")" ""
echo "harness: all checks passed"
