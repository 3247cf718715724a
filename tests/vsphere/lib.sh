# vSphere test servers on loopback (POSIX sh): govmomi's vCenter simulator
# (vcsim, our Go main in vcsim/) and the QueryChangedDiskAreas proxy
# (cbt-proxy/), driven over the real vim25 SOAP and /folder HTTP APIs with
# curl. Source it:   . "$(dirname "$0")/lib.sh"
# Paths must not contain spaces or quotes. sh globals this file uses start
# with _vs_. Functions:
#
# vsphere_init SCRATCH VCSIM_BIN [CBT_PROXY_BIN] [trap]
#     Sets VS_DIR=SCRATCH (absolute; made if missing), VCSIM_BIN and
#     CBT_PROXY_BIN. Exits 77 (skip) when VCSIM_BIN is not an executable
#     file (Go or govmomi missing at configure time) or curl is missing.
#     With "trap" as last argument: `trap vsphere_cleanup EXIT` (INT/TERM
#     exit 130); otherwise the test's own EXIT trap must call
#     vsphere_cleanup. Defaults: VS_USER=user VS_PASS=pass (any non-empty
#     pair logs in unless vcsim runs with -username/-password), VS_DC=DC0.
# vcsim_start [FLAGS...]
#     Starts $VCSIM_BIN -l 127.0.0.1:0 FLAGS in the background (flags:
#     `$VCSIM_BIN -h`; e.g. -vm 250 -cluster 2, -username U -password P,
#     -session-idle-timeout 2s, -method-delay PowerOffVM_Task:3000), with
#     TMPDIR=$VS_DIR/tmp so its datastore dirs stay inside the scratch dir,
#     and waits (VS_START_TIMEOUT s, default 60) for its ready line.
#     Exports VCSIM_URL (https://127.0.0.1:PORT/sdk), VCSIM_BASE
#     (https://127.0.0.1:PORT), VCSIM_HOST, VCSIM_PORT, VCSIM_THUMBPRINT
#     (SHA-1, AA:BB:..), VCSIM_THUMBPRINT256, VCSIM_PID, VCSIM_CACERT (the
#     server certificate, PEM; self-signed P-256, a CA for itself) and
#     selects it for the calls below (vsphere_use vcsim). Log:
#     $VS_DIR/vcsim.log. One vcsim at a time; never call it in $(...).
# vcsim_stop
#     SIGTERM (SIGKILL after 5 s), waits; vcsim removes its datastore dirs.
# cbtproxy_start RECORD [FLAGS...]
#     Starts $CBT_PROXY_BIN -upstream $VCSIM_URL -record RECORD FLAGS (e.g.
#     -max-areas 2, -require-cbt=false) and waits for it. Exports
#     CBTPROXY_URL, CBTPROXY_BASE, CBTPROXY_HOST, CBTPROXY_PORT,
#     CBTPROXY_THUMBPRINT, CBTPROXY_THUMBPRINT256, CBTPROXY_PID,
#     CBTPROXY_CACERT and CBTPROXY_LOG ($VS_DIR/cbt-proxy.log: one "SOAP
#     Method" line per forwarded call, one "QCDA ..." line per answered
#     query). Does not change the selected server.
# cbtproxy_stop
# vsphere_use vcsim|proxy
#     Selects the server the calls below talk to: sets VS_SOAP_URL, VS_BASE
#     and VS_CACERT (curl verifies the certificate against it).
# vsphere_cleanup
#     Stops the proxy and vcsim if running. Leaves $VS_DIR alone.
#
# vcsim_soap BODY
#     POSTs BODY (elements in prefix urn: = urn:vim25; xsi: is declared) in a
#     SOAP envelope to $VS_SOAP_URL with SOAPAction "urn:vim25/6.5" and the
#     cookie jar $VS_JAR (default $VS_DIR/cookies.txt). Prints the response
#     (also kept in $VS_DIR/soap.res). Returns 0 on HTTP 200, 1 on any other
#     status (a SOAP fault is HTTP 500), 2 when curl fails.
# vcsim_fault
#     Prints the fault type of the last response (e.g. InvalidLogin,
#     NotAuthenticated, ManagedObjectNotFound), or nothing.
# vcsim_login [USER [PASS]]
#     RetrieveServiceContent then Login (default $VS_USER/$VS_PASS). Sets
#     VS_ROOT, VS_PC, VS_SM, VS_VIEWMGR (the root folder's, property
#     collector's, session manager's and view manager's morefs, which the
#     other calls use: vCenter's group-d1, propertyCollector, SessionManager,
#     ViewManager until a login reads them; ESXi (-esx) has ha-folder-root,
#     ha-property-collector, ha-sessionmgr), VS_API (apiVersion) and
#     VS_API_TYPE (VirtualCenter or HostAgent). Returns 1 and
#     prints the fault type on failure. vcsim refuses Login (InvalidLogin)
#     while the jar's cookie names a live session: log out first.
# vcsim_logout
# vcsim_session_key
#     Prints the jar's vmware_soap_session cookie (= the UserSession key).
# vcsim_terminate_session KEY
#     Logs in a second session (jar $VS_DIR/admin-cookies.txt) and ends
#     session KEY with SessionManager.TerminateSession; the next call with
#     KEY's cookie gets NotAuthenticated, as after an idle timeout.
# vcsim_list TYPE [PROP]
#     Prints "MOREF<TAB>VALUE" for every TYPE object under the root folder
#     (a ContainerView and a RetrievePropertiesEx, view destroyed after),
#     VALUE being the scalar property PROP (default name).
# vcsim_prop TYPE MOREF PATH
#     Prints the scalar property PATH of one object (returns 1 if unset).
# vcsim_moref TYPE NAME
#     Prints the moref of the TYPE object called NAME.
# vcsim_disks MOREF [TYPE]
#     Prints "KEY<TAB>CAPACITY_BYTES<TAB>FILENAME<TAB>CHANGEID" per
#     VirtualDisk in config.hardware.device of a VirtualMachine (or of a
#     VirtualMachineSnapshot with TYPE VirtualMachineSnapshot). vcsim's disk
#     keys are random: read them. CAPACITY_BYTES falls back to
#     capacityInKB * 1024 (vcsim's own disks have no capacityInBytes).
# vcsim_set_disk VM KEY CAPACITY_BYTES [CHANGEID]
#     ReconfigVM_Task "edit" of disk KEY: capacityInKB/capacityInBytes set,
#     backing.changeId set to CHANGEID (default: kept). Waits for the task.
# vcsim_move_disk VM KEY '[DS] DIR/FILE.vmdk'
#     The same "edit" with the backing's fileName set to that file (another
#     datastore's, say), the rest kept. The files FILE.vmdk and
#     FILE-flat.vmdk must exist first (vcsim faults FileNotFound): make them
#     in the datastore's directory (`vcsim_prop Datastore MOREF summary.url`).
# vcsim_enable_cbt VM
#     ReconfigVM_Task with changeTrackingEnabled=true; waits.
# vcsim_snapshot VM NAME
#     CreateSnapshot_Task (memory=false, quiesce=false); waits; prints the
#     snapshot's moref.
# vcsim_task_wait TASK [TIMEOUT]
#     Polls info.state; returns 0 on success, 1 (printing the fault type)
#     on error or timeout (default 30 s).
# vcsim_folder_url '[DS] DIR/FILE.vmdk' [DC]
#     Prints $VS_BASE/folder/DIR/FILE-flat.vmdk?dcPath=DC&dsName=DS (the
#     data file of a disk; a name already ending in -flat.vmdk, or not in
#     .vmdk, is kept). DC defaults to $VS_DC.
# vcsim_upload_disk '[DS] DIR/FILE.vmdk' LOCALFILE [DC]
#     HTTP PUT of LOCALFILE to that URL (the datastore file API).
# vcsim_qcda VM SNAPSHOT|"" KEY START CHANGEID
#     QueryChangedDiskAreas; prints "START LENGTH" of the reply, then one
#     "START LENGTH" line per changedArea. Returns 1 on a fault.
#
# For the `ferry reconcile` tests (desired state in $VS_DIR/src, pushed to
# the bare repository $VS_DIR/repo.git):
# vs_secret CACERT_FILE PASSWORD
#     Writes $VS_DIR/secrets/mig/vcsim-creds.ini (mode 600): user
#     ferry@vsphere.local, PASSWORD, the CA certificate of CACERT_FILE.
# vs_commit MESSAGE
#     Commits everything in $VS_DIR/src and pushes it to main of
#     $VS_DIR/repo.git (both made on the first call).

# shellcheck disable=SC2034,SC2119,SC2120  # a library: its globals are for the tests
_vs_vcsim_pid=
_vs_proxy_pid=

vsphere_init() {
	VS_DIR=$1
	VCSIM_BIN=$2
	CBT_PROXY_BIN=${3:-}
	[ "$CBT_PROXY_BIN" != trap ] || CBT_PROXY_BIN=
	case $VS_DIR in /*) ;; *) VS_DIR=$(pwd)/$VS_DIR ;; esac
	mkdir -p "$VS_DIR/tmp"
	if [ ! -x "$VCSIM_BIN" ] || [ -d "$VCSIM_BIN" ]; then
		echo "vcsim not built ($VCSIM_BIN): Go or govmomi missing at configure time"
		exit 77
	fi
	command -v curl >/dev/null 2>&1 || { echo "curl not installed"; exit 77; }
	VS_USER=${VS_USER:-user}
	VS_PASS=${VS_PASS:-pass}
	VS_DC=${VS_DC:-DC0}
	_vs_vc_morefs
	VS_JAR=${VS_JAR:-$VS_DIR/cookies.txt}
	for _vs_a in "$@"; do :; done
	if [ "$_vs_a" = trap ]; then
		trap 'vsphere_cleanup || :' EXIT
		trap 'exit 130' INT TERM
	fi
}

# _vs_wait_ready PID OUTFILE PREFIX: waits for the ready line.
_vs_wait_ready() {
	_vs_n=$((${VS_START_TIMEOUT:-60} * 10))
	while ! grep -q "^$3" "$2" 2>/dev/null; do
		if ! kill -0 "$1" 2>/dev/null || [ "$_vs_n" -le 0 ]; then
			echo "$3 server did not start" >&2
			return 1
		fi
		_vs_n=$((_vs_n - 1))
		sleep 0.1
	done
}

# _vs_field OUTFILE KEY: a KEY=VALUE word of a ready line.
_vs_field() {
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p"
}

_vs_kill() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	_vs_n=50
	while kill -0 "$1" 2>/dev/null && [ "$_vs_n" -gt 0 ]; do
		sleep 0.1
		_vs_n=$((_vs_n - 1))
	done
	kill -KILL "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
}

vcsim_start() {
	[ -z "$_vs_vcsim_pid" ] || vcsim_stop
	: >"$VS_DIR/vcsim.out"
	TMPDIR=$VS_DIR/tmp "$VCSIM_BIN" -l 127.0.0.1:0 -cert-out "$VS_DIR/vcsim.pem" "$@" \
		>"$VS_DIR/vcsim.out" 2>>"$VS_DIR/vcsim.log" &
	_vs_vcsim_pid=$!
	if ! _vs_wait_ready "$_vs_vcsim_pid" "$VS_DIR/vcsim.out" VCSIM_URL=; then
		tail -n 20 "$VS_DIR/vcsim.log" >&2
		_vs_kill "$_vs_vcsim_pid"
		_vs_vcsim_pid=
		return 1
	fi
	VCSIM_URL=$(_vs_field "$VS_DIR/vcsim.out" VCSIM_URL)
	VCSIM_BASE=${VCSIM_URL%/sdk}
	VCSIM_HOST=$(echo "$VCSIM_BASE" | sed 's|^[a-z]*://||; s|:[0-9]*$||')
	VCSIM_PORT=${VCSIM_BASE##*:}
	VCSIM_THUMBPRINT=$(_vs_field "$VS_DIR/vcsim.out" VCSIM_THUMBPRINT)
	VCSIM_THUMBPRINT256=$(_vs_field "$VS_DIR/vcsim.out" VCSIM_THUMBPRINT256)
	VCSIM_PID=$_vs_vcsim_pid
	VCSIM_CACERT=$VS_DIR/vcsim.pem
	export VCSIM_URL VCSIM_BASE VCSIM_HOST VCSIM_PORT VCSIM_THUMBPRINT VCSIM_THUMBPRINT256 \
		VCSIM_PID VCSIM_CACERT
	rm -f "$VS_JAR"
	_vs_vc_morefs
	vsphere_use vcsim
}

vcsim_stop() {
	_vs_kill "${_vs_vcsim_pid:-}"
	_vs_vcsim_pid=
}

cbtproxy_start() {
	[ -x "$CBT_PROXY_BIN" ] || { echo "cbt-proxy not built ($CBT_PROXY_BIN)" >&2; return 1; }
	[ -z "$_vs_proxy_pid" ] || cbtproxy_stop
	_vs_rec=$1
	shift
	: >"$VS_DIR/cbt-proxy.out"
	CBTPROXY_LOG=$VS_DIR/cbt-proxy.log
	"$CBT_PROXY_BIN" -l 127.0.0.1:0 -upstream "$VCSIM_URL" -record "$_vs_rec" \
		-cert-out "$VS_DIR/cbt-proxy.pem" "$@" >"$VS_DIR/cbt-proxy.out" 2>>"$CBTPROXY_LOG" &
	_vs_proxy_pid=$!
	if ! _vs_wait_ready "$_vs_proxy_pid" "$VS_DIR/cbt-proxy.out" CBTPROXY_URL=; then
		tail -n 20 "$CBTPROXY_LOG" >&2
		_vs_kill "$_vs_proxy_pid"
		_vs_proxy_pid=
		return 1
	fi
	CBTPROXY_URL=$(_vs_field "$VS_DIR/cbt-proxy.out" CBTPROXY_URL)
	CBTPROXY_BASE=${CBTPROXY_URL%/sdk}
	CBTPROXY_HOST=$(echo "$CBTPROXY_BASE" | sed 's|^[a-z]*://||; s|:[0-9]*$||')
	CBTPROXY_PORT=${CBTPROXY_BASE##*:}
	CBTPROXY_THUMBPRINT=$(_vs_field "$VS_DIR/cbt-proxy.out" CBTPROXY_THUMBPRINT)
	CBTPROXY_THUMBPRINT256=$(_vs_field "$VS_DIR/cbt-proxy.out" CBTPROXY_THUMBPRINT256)
	CBTPROXY_PID=$_vs_proxy_pid
	CBTPROXY_CACERT=$VS_DIR/cbt-proxy.pem
	export CBTPROXY_URL CBTPROXY_BASE CBTPROXY_HOST CBTPROXY_PORT CBTPROXY_THUMBPRINT \
		CBTPROXY_THUMBPRINT256 CBTPROXY_PID CBTPROXY_CACERT CBTPROXY_LOG
}

cbtproxy_stop() {
	_vs_kill "${_vs_proxy_pid:-}"
	_vs_proxy_pid=
}

vsphere_use() {
	case $1 in
	vcsim) VS_SOAP_URL=$VCSIM_URL VS_BASE=$VCSIM_BASE VS_CACERT=$VCSIM_CACERT ;;
	proxy) VS_SOAP_URL=$CBTPROXY_URL VS_BASE=$CBTPROXY_BASE VS_CACERT=$CBTPROXY_CACERT ;;
	*) echo "vsphere_use: vcsim or proxy" >&2; return 1 ;;
	esac
}

vsphere_cleanup() {
	cbtproxy_stop
	vcsim_stop
}

_vs_tls() {
	if [ -n "${VS_CACERT:-}" ] && [ -f "$VS_CACERT" ]; then
		echo "--cacert $VS_CACERT"
	else
		echo "-k"
	fi
}

# _vs_esc TEXT: TEXT escaped for XML character data.
_vs_esc() {
	printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'
}

vcsim_soap() {
	printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:urn="urn:vim25"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' \
		"$1" >"$VS_DIR/soap.req"
	# shellcheck disable=SC2046
	_vs_code=$(curl -sS $(_vs_tls) -b "$VS_JAR" -c "$VS_JAR" \
		-H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:vim25/6.5"' \
		--data-binary @"$VS_DIR/soap.req" -o "$VS_DIR/soap.res" -w '%{http_code}' "$VS_SOAP_URL") ||
		return 2
	cat "$VS_DIR/soap.res"
	[ "$_vs_code" = 200 ]
}

# The last response, one element per line: "name attrs>text" or "/name>".
_vs_lines() {
	tr '<' '\n' <"$VS_DIR/soap.res"
}

# _vs_text NAME: the text of every NAME element of the last response.
_vs_text() {
	_vs_lines | sed -n "s/^$1>//p; s/^$1 [^>]*>//p"
}

vcsim_fault() {
	_vs_lines | sed -n 's/^\([A-Za-z]*\)Fault xmlns="urn:vim25".*/\1/p' | head -n 1
}

# The ServiceContent's morefs until a login reads them (vCenter's; ESXi
# has ha-folder-root, ha-property-collector, ha-sessionmgr).
_vs_vc_morefs() {
	VS_ROOT=group-d1 VS_PC=propertyCollector VS_SM=SessionManager VS_VIEWMGR=ViewManager
}

vcsim_login() {
	vcsim_soap '<urn:RetrieveServiceContent><urn:_this type="ServiceInstance">ServiceInstance</urn:_this></urn:RetrieveServiceContent>' >/dev/null ||
		{ vcsim_fault; return 1; }
	VS_ROOT=$(_vs_text rootFolder)
	VS_PC=$(_vs_text propertyCollector)
	VS_SM=$(_vs_text sessionManager)
	VS_VIEWMGR=$(_vs_text viewManager)
	VS_API=$(_vs_text apiVersion)
	VS_API_TYPE=$(_vs_text apiType)
	vcsim_soap "<urn:Login><urn:_this type=\"SessionManager\">$VS_SM</urn:_this><urn:userName>$(_vs_esc "${1:-$VS_USER}")</urn:userName><urn:password>$(_vs_esc "${2:-$VS_PASS}")</urn:password></urn:Login>" >/dev/null ||
		{ vcsim_fault; return 1; }
}

vcsim_logout() {
	vcsim_soap "<urn:Logout><urn:_this type=\"SessionManager\">$VS_SM</urn:_this></urn:Logout>" >/dev/null
}

vcsim_session_key() {
	awk '$6 == "vmware_soap_session" { print $7 }' "$VS_JAR" 2>/dev/null
}

vcsim_terminate_session() {
	_vs_jar=$VS_JAR
	VS_JAR=$VS_DIR/admin-cookies.txt
	rm -f "$VS_JAR"
	_vs_rc=0
	if vcsim_login; then
		vcsim_soap "<urn:TerminateSession><urn:_this type=\"SessionManager\">$VS_SM</urn:_this><urn:sessionId>$1</urn:sessionId></urn:TerminateSession>" >/dev/null ||
			{ vcsim_fault; _vs_rc=1; }
		vcsim_logout
	else
		_vs_rc=1
	fi
	VS_JAR=$_vs_jar
	return $_vs_rc
}

# _vs_retrieve TYPE MOREF PATH...: RetrievePropertiesEx of one object.
_vs_retrieve() {
	_vs_t=$1 _vs_m=$2
	shift 2
	_vs_ps=
	for _vs_p in "$@"; do _vs_ps="$_vs_ps<urn:pathSet>$_vs_p</urn:pathSet>"; done
	vcsim_soap "<urn:RetrievePropertiesEx><urn:_this type=\"PropertyCollector\">$VS_PC</urn:_this><urn:specSet><urn:propSet><urn:type>$_vs_t</urn:type>$_vs_ps</urn:propSet><urn:objectSet><urn:obj type=\"$_vs_t\">$_vs_m</urn:obj></urn:objectSet></urn:specSet><urn:options/></urn:RetrievePropertiesEx>" >/dev/null
}

vcsim_prop() {
	_vs_retrieve "$1" "$2" "$3" || { vcsim_fault; return 1; }
	_vs_lines | grep -q '^val' || return 1
	_vs_text val | head -n 1
}

vcsim_list() {
	vcsim_soap "<urn:CreateContainerView><urn:_this type=\"ViewManager\">$VS_VIEWMGR</urn:_this><urn:container type=\"Folder\">$VS_ROOT</urn:container><urn:type>$1</urn:type><urn:recursive>true</urn:recursive></urn:CreateContainerView>" >/dev/null ||
		{ vcsim_fault >&2; return 1; }
	_vs_view=$(_vs_text returnval)
	vcsim_soap "<urn:RetrievePropertiesEx><urn:_this type=\"PropertyCollector\">$VS_PC</urn:_this><urn:specSet><urn:propSet><urn:type>$1</urn:type><urn:pathSet>${2:-name}</urn:pathSet></urn:propSet><urn:objectSet><urn:obj type=\"ContainerView\">$_vs_view</urn:obj><urn:skip>true</urn:skip><urn:selectSet xsi:type=\"urn:TraversalSpec\"><urn:name>view</urn:name><urn:type>ContainerView</urn:type><urn:path>view</urn:path><urn:skip>false</urn:skip></urn:selectSet></urn:objectSet></urn:specSet><urn:options/></urn:RetrievePropertiesEx>" >/dev/null ||
		{ vcsim_fault >&2; return 1; }
	_vs_lines | awk -F'>' '$1 ~ /^obj / { m = $2 } $1 ~ /^val( |$)/ { print m "\t" $2 }' >"$VS_DIR/list.out"
	vcsim_soap "<urn:DestroyView><urn:_this type=\"ContainerView\">$_vs_view</urn:_this></urn:DestroyView>" >/dev/null
	cat "$VS_DIR/list.out"
}

vcsim_moref() {
	vcsim_list "$1" name | awk -F'\t' -v n="$2" '$2 == n { print $1; exit }'
}

# _vs_disk_awk: one line per VirtualDisk of a config.hardware.device
# response, fields (tab-separated): key capacity fileName changeId label
# controllerKey unitNumber diskMode thinProvisioned.
_vs_disk_awk() {
	_vs_lines | awk -F'>' '
	$1 ~ /^VirtualDevice .*"VirtualDisk"$/ { d = 1; key = ""; kb = 0; by = 0; f = ""; c = ""; l = ""; ck = ""; u = ""; m = "persistent"; t = "false"; next }
	!d { next }
	$1 == "key" && key == "" { key = $2 }
	$1 == "capacityInKB" { kb = $2 }
	$1 == "capacityInBytes" { by = $2 }
	$1 == "fileName" && f == "" { f = $2 }
	$1 == "changeId" && c == "" { c = $2 }
	$1 == "label" { l = $2 }
	$1 == "controllerKey" { ck = $2 }
	$1 == "unitNumber" { u = $2 }
	$1 == "diskMode" { m = $2 }
	$1 == "thinProvisioned" { t = $2 }
	$1 == "/VirtualDevice" { if (by == 0) by = kb * 1024; print key "\t" by "\t" f "\t" c "\t" l "\t" ck "\t" u "\t" m "\t" t; d = 0 }'
}

vcsim_disks() {
	_vs_retrieve "${2:-VirtualMachine}" "$1" config.hardware.device || { vcsim_fault >&2; return 1; }
	_vs_disk_awk | cut -f 1-4
}

vcsim_task_wait() {
	_vs_n=$((${2:-30} * 10))
	while [ "$_vs_n" -gt 0 ]; do
		_vs_retrieve Task "$1" info.state || { vcsim_fault; return 1; }
		case $(_vs_text val) in
		success) return 0 ;;
		error)
			_vs_retrieve Task "$1" info.error
			_vs_lines | sed -n 's/^fault [^>]*type="\([A-Za-z]*\)".*/\1/p' | head -n 1
			return 1 ;;
		esac
		_vs_n=$((_vs_n - 1))
		sleep 0.1
	done
	echo timeout
	return 1
}

# _vs_run_task BODY: calls a *_Task method and waits for its task.
_vs_run_task() {
	vcsim_soap "$1" >/dev/null || { vcsim_fault; return 1; }
	_vs_task=$(_vs_text returnval)
	vcsim_task_wait "$_vs_task"
}

vcsim_set_disk() {
	_vs_retrieve VirtualMachine "$1" config.hardware.device || { vcsim_fault; return 1; }
	_vs_d=$(_vs_disk_awk | awk -F'\t' -v k="$2" '$1 == k')
	[ -n "$_vs_d" ] || { echo "no disk $2 on $1"; return 1; }
	_vs_cid=$(printf '%s' "$_vs_d" | cut -f 4)
	[ $# -lt 4 ] || _vs_cid=$(_vs_esc "$4")
	[ -z "$_vs_cid" ] || _vs_cid="<urn:changeId>$_vs_cid</urn:changeId>"
	_vs_edit_disk "$1" "$2" "$3" "$(printf '%s' "$_vs_d" | cut -f 3)"
}

# _vs_edit_disk VM KEY CAPACITY FILENAME: the "edit" of disk $_vs_d (a
# _vs_disk_awk line) with changeId element $_vs_cid; FILENAME as XML text.
_vs_edit_disk() {
	# The simulator replaces the whole device on "edit" and crashes the
	# request (leaving the VM's device list damaged) without deviceInfo.
	_vs_run_task "<urn:ReconfigVM_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this><urn:spec><urn:deviceChange><urn:operation>edit</urn:operation><urn:device xsi:type=\"urn:VirtualDisk\"><urn:key>$2</urn:key><urn:deviceInfo><urn:label>$(printf '%s' "$_vs_d" | cut -f 5)</urn:label><urn:summary></urn:summary></urn:deviceInfo><urn:backing xsi:type=\"urn:VirtualDiskFlatVer2BackingInfo\"><urn:fileName>$4</urn:fileName><urn:diskMode>$(printf '%s' "$_vs_d" | cut -f 8)</urn:diskMode><urn:thinProvisioned>$(printf '%s' "$_vs_d" | cut -f 9)</urn:thinProvisioned>$_vs_cid</urn:backing><urn:controllerKey>$(printf '%s' "$_vs_d" | cut -f 6)</urn:controllerKey><urn:unitNumber>$(printf '%s' "$_vs_d" | cut -f 7)</urn:unitNumber><urn:capacityInKB>$(($3 / 1024))</urn:capacityInKB><urn:capacityInBytes>$3</urn:capacityInBytes></urn:device></urn:deviceChange></urn:spec></urn:ReconfigVM_Task>"
}

vcsim_move_disk() {
	_vs_retrieve VirtualMachine "$1" config.hardware.device || { vcsim_fault; return 1; }
	_vs_d=$(_vs_disk_awk | awk -F'\t' -v k="$2" '$1 == k')
	[ -n "$_vs_d" ] || { echo "no disk $2 on $1"; return 1; }
	_vs_cid=$(printf '%s' "$_vs_d" | cut -f 4)
	[ -z "$_vs_cid" ] || _vs_cid="<urn:changeId>$_vs_cid</urn:changeId>"
	_vs_edit_disk "$1" "$2" "$(printf '%s' "$_vs_d" | cut -f 2)" "$(_vs_esc "$3")"
}

vcsim_enable_cbt() {
	_vs_run_task "<urn:ReconfigVM_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this><urn:spec><urn:changeTrackingEnabled>true</urn:changeTrackingEnabled></urn:spec></urn:ReconfigVM_Task>"
}

vcsim_snapshot() {
	_vs_run_task "<urn:CreateSnapshot_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this><urn:name>$(_vs_esc "$2")</urn:name><urn:memory>false</urn:memory><urn:quiesce>false</urn:quiesce></urn:CreateSnapshot_Task>" ||
		return 1
	_vs_retrieve Task "$_vs_task" info.result || return 1
	_vs_text val
}

vcsim_folder_url() {
	_vs_ds=$(printf '%s' "$1" | sed -n 's/^\[\([^]]*\)\] *.*/\1/p')
	_vs_path=$(printf '%s' "$1" | sed 's/^\[[^]]*\] *//; s/ /%20/g')
	case $_vs_path in
	*-flat.vmdk) ;;
	*.vmdk) _vs_path=${_vs_path%.vmdk}-flat.vmdk ;;
	esac
	echo "$VS_BASE/folder/$_vs_path?dcPath=${2:-$VS_DC}&dsName=$_vs_ds"
}

vcsim_upload_disk() {
	# shellcheck disable=SC2046
	_vs_code=$(curl -sS $(_vs_tls) -b "$VS_JAR" -T "$2" -o /dev/null -w '%{http_code}' \
		"$(vcsim_folder_url "$1" "${3:-}")") || return 2
	[ "$_vs_code" = 200 ] || { echo "PUT: HTTP $_vs_code" >&2; return 1; }
}

vcsim_qcda() {
	_vs_snap=
	[ -z "$2" ] || _vs_snap="<urn:snapshot type=\"VirtualMachineSnapshot\">$2</urn:snapshot>"
	vcsim_soap "<urn:QueryChangedDiskAreas><urn:_this type=\"VirtualMachine\">$1</urn:_this>$_vs_snap<urn:deviceKey>$3</urn:deviceKey><urn:startOffset>$4</urn:startOffset><urn:changeId>$(_vs_esc "$5")</urn:changeId></urn:QueryChangedDiskAreas>" >/dev/null ||
		{ vcsim_fault; return 1; }
	_vs_lines | awk -F'>' '
	$1 == "returnval" { r = 1 } $1 == "changedArea" { r = 0 }
	$1 == "startOffset" { so = $2 } $1 == "length" && r { print so " " $2 }
	$1 == "start" { s = $2 } $1 == "length" && !r { print s " " $2 }'
}

# --- The driver under test (t-*.sh): vsdrv, one command at a time.
#
# vsdrv_start VSDRV_BIN [OPTIONS...]
#     Starts VSDRV_BIN OPTIONS (tests/vsphere/vsdrv.c: --url --user
#     --password --thumbprint --cacert --insecure --work ...) reading
#     commands from the fifo $VS_DIR/drv.in (kept open on fd 7), output to
#     $VS_DIR/drv.out, stderr to $VS_DIR/drv.err. One driver at a time;
#     start it after vcsim (fd 7 would leak into vcsim otherwise).
# vsdrv COMMAND [ARGS...]
#     Sends one command and waits (VS_DRV_TIMEOUT s, default 60) for its
#     end; prints its output; returns its status (0 ok, 1 failed, 2 bad
#     command, 3 driver gone or timeout). Fine inside $(...).
# vsdrv_stop
#     Closes the fifo (the driver closes its source: Logout) and waits;
#     returns 1 (and notes it in $VS_DIR/drv.failed) when the driver
#     exited with a status other than 0 (a sanitizer's report, say).
# vsdrv_check
#     Fails the test when any driver of it exited badly.

_vs_drv_pid=

vsdrv_start() {
	[ -z "$_vs_drv_pid" ] || vsdrv_stop
	rm -f "$VS_DIR/drv.in"
	mkfifo "$VS_DIR/drv.in"
	: >"$VS_DIR/drv.out"
	echo 0 >"$VS_DIR/drv.n"
	"$@" <"$VS_DIR/drv.in" >"$VS_DIR/drv.out" 2>>"$VS_DIR/drv.err" &
	_vs_drv_pid=$!
	exec 7>"$VS_DIR/drv.in"
}

vsdrv() {
	[ -n "$_vs_drv_pid" ] || { echo "vsdrv: not started" >&2; return 3; }
	# the count lives in a file: tests call this in $(...)
	_vs_drv_n=$(($(cat "$VS_DIR/drv.n") + 1))
	echo "$_vs_drv_n" >"$VS_DIR/drv.n"
	printf '%s\n' "$*" >&7
	_vs_n=$((${VS_DRV_TIMEOUT:-60} * 20))
	while ! grep -q "^## end $_vs_drv_n " "$VS_DIR/drv.out"; do
		if ! kill -0 "$_vs_drv_pid" 2>/dev/null || [ "$_vs_n" -le 0 ]; then
			echo "vsdrv: no answer to: $*" >&2
			tail -n 5 "$VS_DIR/drv.err" >&2
			return 3
		fi
		_vs_n=$((_vs_n - 1))
		sleep 0.05
	done
	sed -n "/^## begin $_vs_drv_n\$/,/^## end $_vs_drv_n /p" "$VS_DIR/drv.out" | sed '1d;$d'
	return "$(sed -n "s/^## end $_vs_drv_n rc=//p" "$VS_DIR/drv.out")"
}

vsdrv_stop() {
	[ -n "$_vs_drv_pid" ] || return 0
	exec 7>&-
	_vs_n=100
	while kill -0 "$_vs_drv_pid" 2>/dev/null && [ "$_vs_n" -gt 0 ]; do
		sleep 0.1
		_vs_n=$((_vs_n - 1))
	done
	kill "$_vs_drv_pid" 2>/dev/null || :
	_vs_rc=0
	wait "$_vs_drv_pid" 2>/dev/null || _vs_rc=$?
	_vs_drv_pid=
	if [ "$_vs_rc" -ne 0 ]; then
		# (a sanitizer's report, for one)
		{ echo "vsdrv exited with status $_vs_rc:"; tail -n 30 "$VS_DIR/drv.err"; } |
			tee -a "$VS_DIR/drv.failed" >&2
		return 1
	fi
}

vsdrv_check() {
	[ ! -s "$VS_DIR/drv.failed" ] || vs_fail "a driver process failed (above)"
}

# --- More helpers for the driver's tests.
#
# vs_fail MESSAGE...          prints FAIL: MESSAGE to stderr, exits 1
# vs_expect WHAT GOT WANT     fails unless GOT = WANT; prints "ok - WHAT"
# vs_has WHAT TEXT PATTERN    fails unless TEXT contains PATTERN (fixed string)
# vcsim_sessions [AGENT]
#     Prints the key of every live session (SessionManager.sessionList),
#     only those whose userAgent is AGENT when given (ferry's is "ferry"),
#     from a session of its own (jar $VS_DIR/admin-cookies.txt).
# vcsim_rename VM NAME        Rename_Task; waits
# vcsim_power VM on|off       PowerOnVM_Task / PowerOffVM_Task; waits

vs_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

vs_expect() {
	[ "$2" = "$3" ] || vs_fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}

vs_has() {
	case $2 in *"$3"*) echo "ok - $1" ;; *) vs_fail "$1: [$2] lacks [$3]" ;; esac
}

vcsim_sessions() {
	_vs_jar=$VS_JAR
	VS_JAR=$VS_DIR/admin-cookies.txt
	rm -f "$VS_JAR"
	_vs_rc=0
	if vcsim_login >/dev/null && _vs_retrieve SessionManager "$VS_SM" sessionList; then
		_vs_me=$(vcsim_session_key)
		_vs_lines | awk -F'>' -v me="$_vs_me" -v agent="${1:-}" '
		$1 == "UserSession" { k = ""; a = "" }
		$1 == "key" { k = $2 }
		$1 == "userAgent" { a = $2 }
		$1 == "/UserSession" && k != me && (agent == "" || a == agent) { print k }'
		vcsim_logout
	else
		_vs_rc=1
	fi
	VS_JAR=$_vs_jar
	return $_vs_rc
}

vcsim_rename() {
	_vs_run_task "<urn:Rename_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this><urn:newName>$(_vs_esc "$2")</urn:newName></urn:Rename_Task>"
}

vcsim_power() {
	case $2 in
	on) _vs_run_task "<urn:PowerOnVM_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this></urn:PowerOnVM_Task>" ;;
	off) _vs_run_task "<urn:PowerOffVM_Task><urn:_this type=\"VirtualMachine\">$1</urn:_this></urn:PowerOffVM_Task>" ;;
	*) echo "vcsim_power: on or off" >&2; return 1 ;;
	esac
}

vs_secret() {
	mkdir -p "$VS_DIR/secrets/mig"
	{
		printf '[secret]\nuser = ferry@vsphere.local\npassword = %s\ncacert =\n' "$2"
		cat "$1"
	} >"$VS_DIR/secrets/mig/vcsim-creds.ini"
	chmod 600 "$VS_DIR/secrets/mig/vcsim-creds.ini"
}

vs_commit() {
	if [ ! -d "$VS_DIR/repo.git" ]; then
		git init -q --bare -b main "$VS_DIR/repo.git"
		git -C "$VS_DIR/src" init -q -b main
	fi
	git -C "$VS_DIR/src" add -A
	git -C "$VS_DIR/src" -c user.name=T -c user.email=t@example.com commit -q -m "$1"
	git -C "$VS_DIR/src" push -q "$VS_DIR/repo.git" main
}
