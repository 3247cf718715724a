#!/bin/sh
# TLS with a pre-shared key: nbds+unix with the PSK user in the userinfo and
# the key file in tls-psk-file works; plain nbd+unix to the same server fails.
#   tls-psk.sh TESTBIN
set -eu
testbin=$1

command -v nbdkit >/dev/null 2>&1 || { echo "nbdkit not installed"; exit 77; }
command -v psktool >/dev/null 2>&1 || { echo "psktool not installed"; exit 77; }
nbdkit --dump-config | grep -qx 'tls=yes' || { echo "nbdkit built without TLS"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-tls.XXXXXX")
trap 'rm -rf "$dir"' EXIT
psktool -u alice -p "$dir/keys.psk" >/dev/null

export EP_TESTBIN="$testbin" EP_PSK="$dir/keys.psk"
nbdkit --tls=require --tls-psk="$dir/keys.psk" -U - memory size=16M --run '
	"$EP_TESTBIN" tls "nbds+unix://alice@/?socket=$unixsocket&tls-psk-file=$EP_PSK" \
		"nbd+unix:///?socket=$unixsocket"'
