#!/bin/sh
# TLS choices of the vSphere driver: a SHA-1 or SHA-256 thumbprint pin (any
# case, with or without colons), a wrong pin refused with the server's real
# thumbprints in the message, the secret's cacert, the system CAs (which do
# not know vcsim's certificate), insecureSkipVerify with its warning.
#   t-tls.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
[ -x "$VSDRV" ] || { echo "vsdrv not built"; exit 77; }
mkdir -p "$dir/work"
vcsim_start
FERRY_LOG=debug # every SOAP call is logged (method and status only)
export FERRY_LOG

# try WHAT OPTIONS...: opens a driver with OPTIONS; prints the answer.
try() {
	: >"$VS_DIR/drv.err"
	vsdrv_start "$VSDRV" --url "$VCSIM_URL" --user u --password p --work "$dir/work" "$@"
	_rc=0
	vsdrv open || _rc=$?
	vsdrv_stop
	return $_rc
}

out=$(try --thumbprint "$VCSIM_THUMBPRINT") || vs_fail "SHA-1 pin: $out"
echo "ok - SHA-1 thumbprint pinned"
lower=$(echo "$VCSIM_THUMBPRINT256" | tr -d : | tr 'A-F' 'a-f')
out=$(try --thumbprint "$lower") || vs_fail "SHA-256 pin: $out"
echo "ok - SHA-256 thumbprint, lower case without colons"

wrong=00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33
out=$(try --thumbprint "$wrong") && vs_fail "a wrong pin was accepted"
vs_has "wrong pin: category" "$out" "error certificate:"
vs_has "wrong pin: names the pin" "$out" "does not match the pinned thumbprint $wrong"
vs_has "wrong pin: the server's SHA-1" "$out" "SHA-1 $VCSIM_THUMBPRINT"
vs_has "wrong pin: the server's SHA-256" "$out" "SHA-256 $VCSIM_THUMBPRINT256"
grep -q 'RetrieveServiceContent: SSL' "$VS_DIR/drv.err" || vs_fail "no TLS failure logged"
grep -q 'vsphere: Login' "$VS_DIR/drv.err" && vs_fail "a Login went out over the wrong certificate"
echo "ok - nothing sent over the wrong certificate"

out=$(try --thumbprint "12:34") && vs_fail "a short thumbprint was accepted"
vs_has "malformed thumbprint" "$out" "error invalid: vsphere provider test/vcsim: the secret's thumbprint is not a SHA-1 or SHA-256"

out=$(try --cacert "$VCSIM_CACERT") || vs_fail "cacert: $out"
echo "ok - the secret's cacert is trusted"

out=$(try) && vs_fail "the system CAs trusted vcsim's certificate"
vs_has "system CAs: category" "$out" "error certificate:"
vs_has "system CAs: the server's thumbprints" "$out" "its thumbprints are SHA-1 $VCSIM_THUMBPRINT, SHA-256 $VCSIM_THUMBPRINT256"

other=$dir/other.pem
cp "$VCSIM_CACERT" "$other.keep"
vcsim_stop
vcsim_start # a new certificate: the old one is the wrong CA now
out=$(try --cacert "$other.keep") && vs_fail "a cacert of another server was trusted"
vs_has "wrong cacert" "$out" "error certificate:"

out=$(try --insecure) || vs_fail "insecureSkipVerify: $out"
grep -q 'insecureSkipVerify is true' "$VS_DIR/drv.err" || vs_fail "no warning for insecureSkipVerify"
vs_expect "one warning" "$(grep -c insecureSkipVerify "$VS_DIR/drv.err")" 1

out=$(try --insecure --thumbprint "$wrong") && vs_fail "insecureSkipVerify overrode the pin"
vs_has "a pin beats insecureSkipVerify" "$out" "does not match the pinned thumbprint"

vsdrv_start "$VSDRV" --url "http://$VCSIM_HOST:$VCSIM_PORT/sdk" --user u --password p
out=$(vsdrv open) && vs_fail "http:// accepted"
vs_has "http refused" "$out" "is reached over https://"
vsdrv_stop
vsdrv_check
echo "all ok"
