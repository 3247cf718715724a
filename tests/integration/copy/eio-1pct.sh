#!/bin/sh
# 1% of the source's reads fail with EIO (nbdkit error filter): ferry
# retries them and ends with identical data and "retries" > 0. 64M of
# random data in 64k requests: 1024 reads, so some fail (P(none) ~ 3e-5).
# --threads=1: nbdkit 1.32.5 can abort ("raw_send_socket: Assertion
# sock >= 0") when a client with requests in flight drops the connection
# after an injected error.
#   eio-1pct.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need_filter error
need jq

truncate -s 64M src.img
put_random src.img 1048576 0 64

nbdkit -U - --threads=1 --filter=error file src.img error-pread-rate=1% error=EIO --run '
	"$FERRY" copy --request-size 64k -o json "$uri" out.img >copy.json 2>copy.err' ||
	fail "copy failed: $(cat copy.json copy.err)"
cat copy.json
t=$(json_num copy.json retries)
[ "$t" -gt 0 ] || fail "retries $t, want > 0"
[ "$t" -lt 100 ] || fail "retries $t: far more than 1% of 1024 reads"
[ "$(json_num copy.json bytes_read)" -eq 67108864 ] ||
	fail "bytes_read $(json_num copy.json bytes_read), want 67108864 (retries are not counted twice)"
same src.img out.img || fail "out.img differs from the source"
echo ok
