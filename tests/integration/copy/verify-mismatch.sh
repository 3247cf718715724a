#!/bin/sh
# --verify hashes both ends after the copy:
#  - to null: (reads zeroes) from a source with data at 5M and 20M: exit 1,
#    "verify: destination differs ... offset 5242880" (the first bad block);
#  - an all-zero source to null: verifies;
#  - a real copy verifies and reports the sha256 (text and JSON agree, the
#    same content gives the same sha256, other content another one).
#   verify-mismatch.sh FERRY
. "$(dirname "$0")/lib.sh"
need_plugin file
need jq

M=1048576
truncate -s $((64 * M)) src.img zero.img
put_random src.img $M 5 1
put_random src.img 4096 5120 1

set +e
nbdkit -U - file src.img --run '"$FERRY" copy --verify "$uri" null: >null.out 2>null.err'
rc=$?
set -e
cat null.err
[ $rc -eq 1 ] || fail "--verify to null: exit $rc, want 1"
grep -q 'verify: destination differs' null.err || fail "--verify to null: message: $(cat null.err)"
grep -q 'offset 5242880' null.err || fail "--verify to null: the first bad block is at 5242880: $(cat null.err)"

"$ferry" copy --verify -o json zero.img null: >zero.json || fail "all-zero source to null: $(cat zero.json)"
jq -e '.verified == true' zero.json >/dev/null || fail "all-zero source to null: not verified"

nbdkit -U - file src.img --run '
	"$FERRY" copy --verify "$uri" out.img >text.out &&
	"$FERRY" copy --verify -o json "$uri" out2.img >copy.json' || fail "verified copies failed"
cat text.out
sha=$(sed -n 's/.*verified sha256 \([0-9a-f]\{64\}\)$/\1/p' text.out)
[ -n "$sha" ] || fail "no sha256 in: $(cat text.out)"
jq -e --arg s "$sha" '.verified == true and .sha256 == $s' copy.json >/dev/null ||
	fail "JSON report disagrees with the text one ($sha): $(cat copy.json)"
same src.img out.img || fail "out.img differs"
"$ferry" copy --verify -o json out.img again.img >again.json || fail "out.img -> again.img failed"
jq -e --arg s "$sha" '.sha256 == $s' again.json >/dev/null ||
	fail "the same content hashed differently: $(jq -r .sha256 again.json), want $sha"
[ "$(jq -r .sha256 zero.json)" != "$sha" ] || fail "zero and non-zero disks have the same sha256"
echo ok
