#!/bin/sh
# The source server dies mid-copy and comes back on the same socket after
# about 1 s: ferry reconnects, retries and finishes with identical data and
# "retries" > 0 in its JSON report. Source: nbdkit file plugin, 256M with
# 32M of random data, behind the rate filter (a server-wide cap of 6 MB/s
# after a 2 s burst: the copy takes about 3.3 s however many requests ferry
# keeps in flight). The server is killed at 1.5 s, restarted at 2.5 s.
#   server-restart.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need_filter rate
need jq

M=1048576
truncate -s $((256 * M)) src.img
put_random src.img $M 16 16
put_random src.img $M 128 16

sock=$dir/src.sock
start_server() {
	rm -f "$sock" "$dir/nbdkit.pid" # nbdkit leaves its socket behind
	nbdkit -U "$sock" -P "$dir/nbdkit.pid" --filter=rate file src.img rate=48M
	wait_for_file "$dir/nbdkit.pid" 10 && wait_for_socket "$sock" 10 || fail "nbdkit did not start"
}
bg_pidfile "$dir/nbdkit.pid"
start_server
uri="nbd+unix:///?socket=$sock"

"$ferry" copy -o json "$uri" out.img >copy.json 2>copy.err &
fp=$!
bg_pid $fp
sleep 1.5
kill -0 $fp 2>/dev/null || fail "ferry ended before the server was killed: $(cat copy.json copy.err)"
kill -9 "$(cat "$dir/nbdkit.pid")"
sleep 1
start_server
rc=0
wait $fp || rc=$?
cat copy.json
[ $rc -eq 0 ] || fail "ferry copy exited $rc: $(cat copy.err)"
t=$(json_num copy.json retries)
[ "$t" -gt 0 ] || fail "retries $t, want > 0"
same src.img out.img || fail "out.img differs from the source"
echo ok
