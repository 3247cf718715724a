#!/bin/sh
# Failures end with exit 1 (the copy failed) or 2 (usage) and a message
# that names what is wrong:
#  - a missing source file (and no destination is created);
#  - a Unix socket nobody listens on;
#  - a destination smaller than the source ("smaller than the source");
#  - a read-only destination;
#  - a checkpoint of another copy (refused, kept);
#  - a source whose reads always fail: the offset, after the retries;
#  - bad option values: --request-size 128M/65M/abc/-1/1.5M/'', a
#    malformed changed-areas file, --incremental with --changed-areas,
#    --incremental without bitmap:.
#   errors.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin memory
need_plugin file
need_filter error
need jq

M=1048576
truncate -s $((2 * M)) src.img
put_random src.img $M 1 1

expect() { # EXIT-STATUS STDERR-PATTERN -- ferry copy arguments
	_want=$1 _pat=$2
	shift 3
	set +e
	"$ferry" copy "$@" >out.txt 2>err.txt
	_rc=$?
	set -e
	[ $_rc -eq "$_want" ] || fail "ferry copy $*: exit $_rc, want $_want: $(cat err.txt)"
	grep -q -- "$_pat" err.txt || fail "ferry copy $*: no '$_pat' in: $(cat err.txt)"
	echo "ferry copy $* -> $_rc: $(head -1 err.txt)"
}

expect 1 "$dir/missing.img" -- "$dir/missing.img" out.img
[ ! -e out.img ] || fail "a destination was created for a missing source"
expect 1 "nope.sock" -- "nbd+unix:///?socket=$dir/nope.sock" out.img
[ ! -e out.img ] || fail "a destination was created for a missing source"

nbdkit -U - memory size=1M --run '"$FERRY" copy src.img "$uri" 2>small.err; echo $? >small.rc'
[ "$(cat small.rc)" -eq 1 ] || fail "smaller destination: exit $(cat small.rc): $(cat small.err)"
grep -q 'smaller than the source' small.err || fail "smaller destination: $(cat small.err)"
echo "smaller destination -> 1: $(cat small.err)"

nbdkit -U - -r memory size=2M --run '"$FERRY" copy src.img "$uri" 2>ro.err; echo $? >ro.rc'
[ "$(cat ro.rc)" -eq 1 ] || fail "read-only destination: exit $(cat ro.rc): $(cat ro.err)"
grep -q 'read-only' ro.err || fail "read-only destination: $(cat ro.err)"
echo "read-only destination -> 1: $(cat ro.err)"

# a checkpoint of a copy to another destination
printf 'ferry-checkpoint 1\nsize %s\nsrc src.img\ndst other.img\n0 1048576\n' $((2 * M)) >ck
cp ck ck.orig
expect 1 "checkpoint of a copy to other.img" -- --checkpoint ck src.img out.img
cmp ck ck.orig || fail "the other copy's checkpoint was changed"
rm -f out.img

# every read fails: exit 1 naming the offset of a failed read inside the
# data ([1M, 2M); which request gives up first depends on the workers)
nbdkit -U - --threads=1 --filter=error file src.img error-pread-rate=100% error=EIO --run '
	"$FERRY" copy -o json "$uri" eio.img >eio.json 2>eio.err; echo $? >eio.rc'
[ "$(cat eio.rc)" -eq 1 ] || fail "EIO: exit $(cat eio.rc): $(cat eio.err)"
off=$(sed -n 's/.*read at offset \([0-9]*\) failed.*/\1/p' eio.err | head -1)
[ -n "$off" ] && [ "$off" -ge "$M" ] && [ "$off" -lt $((2 * M)) ] ||
	fail "EIO: the message does not name an offset in the data: $(cat eio.err)"
jq -e '.status == "failed" and (.error | test("read at offset [0-9]+ failed")) and .retries > 0' eio.json >/dev/null ||
	fail "EIO: JSON report: $(cat eio.json)"
echo "reads always fail -> 1: $(head -1 eio.err)"

# usage errors
for v in 128M 65M abc -1 1.5M ''; do
	expect 2 "must be a power of two from 4K to 64M" -- --request-size "$v" src.img out.img
done
[ ! -e out.img ] || fail "a usage error created the destination"
echo '[{"start": 0, "lenght": 4096}]' >typo.json
expect 2 "typo.json" -- --changed-areas typo.json src.img out.img
echo '[{"start": 0, "length": 4096}' >broken.json
expect 2 "broken.json" -- --changed-areas broken.json src.img out.img
expect 2 "exclusive" -- --incremental bitmap:b --changed-areas typo.json src.img out.img
expect 2 "bitmap:NAME" -- --incremental b src.img out.img
[ ! -e out.img ] || fail "a usage error created the destination"
echo ok
