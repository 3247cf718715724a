#!/bin/sh
# TLS: a CA and a server certificate made with certtool (the layout nbdkit
# and libnbd expect: ca-cert.pem, server-cert.pem, server-key.pem), nbdkit
# --tls=require memory filled with known data by ferry over TLS, copied back
# over TLS with nbds+unix://...&tls-certificates=DIR; then the same with a
# pre-shared key (psktool). Plain nbd+unix to the TLS-only server fails.
#   tls.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin memory
need certtool psktool
nbdkit --dump-config | grep -qx 'tls=yes' || skip "nbdkit built without TLS"

M=1048576
truncate -s $((16 * M)) src.img
put_random src.img $M 3 2
put_random src.img 4096 3000 1

mkdir pki
certtool --generate-privkey --key-type=ecdsa --outfile pki/ca-key.pem >/dev/null 2>&1
cat >ca.info <<T
cn = ferry test CA
ca
cert_signing_key
expiration_days = 2
T
certtool --generate-self-signed --load-privkey pki/ca-key.pem --template ca.info \
	--outfile pki/ca-cert.pem >/dev/null 2>&1
certtool --generate-privkey --key-type=ecdsa --outfile pki/server-key.pem >/dev/null 2>&1
cat >server.info <<T
organization = ferry test
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
tls_www_server
encryption_key
signing_key
expiration_days = 2
T
certtool --generate-certificate --load-ca-certificate pki/ca-cert.pem \
	--load-ca-privkey pki/ca-key.pem --load-privkey pki/server-key.pem \
	--template server.info --outfile pki/server-cert.pem >/dev/null 2>&1
chmod 0600 pki/*key.pem
# the client side needs only the CA certificate
mkdir client
cp pki/ca-cert.pem client/
# another CA, which did not sign the server's certificate
mkdir wrong
certtool --generate-privkey --key-type=ecdsa --outfile wrong/ca-key.pem >/dev/null 2>&1
certtool --generate-self-signed --load-privkey wrong/ca-key.pem --template ca.info \
	--outfile wrong/ca-cert.pem >/dev/null 2>&1
rm wrong/ca-key.pem

# X.509
nbdkit --tls=require --tls-certificates="$dir/pki" -U - memory size=16M --run '
	u="nbds+unix:///?socket=$unixsocket&tls-certificates=$PWD/client"
	"$FERRY" copy src.img "$u" && "$FERRY" copy "$u" out.img &&
	if "$FERRY" copy "nbd+unix:///?socket=$unixsocket" plain.img 2>plain.err; then
		echo "plain NBD to a --tls=require server worked" >&2; exit 1
	fi
	' || fail "X.509 TLS copies failed"
same src.img out.img || fail "X.509: out.img differs from the source"
cat plain.err
grep -q 'socket=' plain.err || fail "plain: the message does not name the endpoint: $(cat plain.err)"

# X.509 over TCP to localhost, where libnbd checks the server's certificate
# (libnbd 1.14 does not over Unix sockets: there is no host name): the
# right CA works, another CA is refused.
port=
for try in 1 2 3 4 5 6 7 8; do
	p=$((20000 + ($$ * 7 + try * 997) % 40000))
	if nbdkit --tls=require --tls-certificates="$dir/pki" -i 127.0.0.1 -p $p \
		-P "$dir/tcp.pid" memory size=16M 2>bind.err; then
		port=$p
		break
	fi
done
[ -n "$port" ] || fail "nbdkit could not listen on a TCP port: $(cat bind.err)"
bg_pidfile "$dir/tcp.pid"
wait_for_file "$dir/tcp.pid" 10 || fail "nbdkit did not start on port $port"
rm -f out.img
"$ferry" copy src.img "nbds://localhost:$port/?tls-certificates=$dir/client" &&
	"$ferry" copy "nbds://localhost:$port/?tls-certificates=$dir/client" out.img ||
	fail "X.509 over TCP failed"
same src.img out.img || fail "X.509 over TCP: out.img differs from the source"
set +e
"$ferry" copy "nbds://localhost:$port/?tls-certificates=$dir/wrong" wrong.img 2>wrong.err
rc=$?
set -e
cat wrong.err
[ $rc -eq 1 ] || fail "a server certificate from another CA: exit $rc, want 1"
grep -q "localhost:$port" wrong.err || fail "wrong CA: the message does not name the endpoint"

# PSK
psktool -u alice -p keys.psk >/dev/null
rm -f out.img
nbdkit --tls=require --tls-psk="$dir/keys.psk" -U - memory size=16M --run '
	u="nbds+unix://alice@/?socket=$unixsocket&tls-psk-file=$PWD/keys.psk"
	"$FERRY" copy src.img "$u" && "$FERRY" copy "$u" out.img' ||
	fail "PSK TLS copies failed"
same src.img out.img || fail "PSK: out.img differs from the source"
echo ok
