#!/bin/sh
# Changed block tracking through the CBT proxy: QueryChangedDiskAreas in a
# loop by startOffset until the disk's end (the proxy answers at most two
# areas per reply), "*" for the first copy's allocation map, then the
# changes since the changeId recorded at the previous snapshot; each list
# fed to `ferry copy --changed-areas`, which must move only those bytes
# and leave a disk identical to the source, in the warm order (remove the
# previous snapshot, then take the next).
#   t-cbt.sh VCSIM CBT_PROXY VSDRV FERRY
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-vsphere-t.XXXXXX")
trap 'vsdrv_stop; vsphere_cleanup || :; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
vsphere_init "$dir" "$1" "${2:-}"
VSDRV=$3
FERRY=$4
[ -x "$VSDRV" ] && [ -x "$FERRY" ] && [ -x "$CBT_PROXY_BIN" ] || { echo "not built"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "jq missing"; exit 77; }
command -v nbdkit >/dev/null 2>&1 && nbdkit curl --dump-plugin >/dev/null 2>&1 ||
	{ echo "nbdkit curl missing"; exit 77; }
mkdir -p "$dir/w"
size=4194304
vcsim_start
vcsim_login || vs_fail "login"
vm=$(vcsim_moref VirtualMachine DC0_H0_VM0)
key=$(vcsim_disks "$vm" | cut -f 1)
file=$(vcsim_disks "$vm" | cut -f 3)
vcsim_set_disk "$vm" "$key" $size || vs_fail "capacity"
vcsim_enable_cbt "$vm" || vs_fail "CBT"
ds=$(vcsim_prop Datastore "$(vcsim_moref Datastore LocalDS_0)" summary.url)
flat=$ds/DC0_H0_VM0/disk1-flat.vmdk

# The disk: data in three places, zeroes elsewhere.
: >"$dir/src.raw"
truncate -s $size "$dir/src.raw"
put() { # put OFFSET LENGTH FILE: random bytes at OFFSET
	head -c "$2" /dev/urandom | dd of="$3" bs=1 seek="$1" conv=notrunc status=none
}
put 0 65536 "$dir/src.raw"
put 1048576 65536 "$dir/src.raw"
put 3145728 4096 "$dir/src.raw"
vcsim_upload_disk "$file" "$dir/src.raw" || vs_fail "upload"
cid1="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/1"
cid2="52 aa bb cc dd ee ff 00-11 22 33 44 55 66 77 88/2"
record() { # record AREAS_SINCE_CID1: the proxy's record (written whole, then moved)
	cat >"$dir/rec.tmp" <<EOR
{"disks": [{"vm": "$vm", "deviceKey": $key, "capacity": $size,
  "changes": [{"changeId": "*", "areas": [[0, 65536], [1048576, 65536], [3145728, 4096]]},
              {"changeId": "$cid1", "areas": $1}]}]}
EOR
	mv "$dir/rec.tmp" "$dir/rec.json"
}
record '[]'
cbtproxy_start "$dir/rec.json" -max-areas 2

vsdrv_start "$VSDRV" --url "$CBTPROXY_URL" --user u --password p --thumbprint "$CBTPROXY_THUMBPRINT" \
	--work "$dir/w"
vsdrv open >/dev/null || vs_fail "open"
vsdrv inventory >/dev/null || vs_fail "inventory"
qcda() { grep -c '^QCDA' "$CBTPROXY_LOG" || :; }

# copy SNAPSHOT AREAS: ferry copy of the disk at SNAPSHOT, only AREAS.
copy() {
	out=$(vsdrv disk-open "$vm" 0 "$1") || vs_fail "disk-open: $out"
	uri=$(echo "$out" | sed -n 's/^uri \([^ ]*\) .*/\1/p')
	"$FERRY" copy -o json --changed-areas "$2" "$uri" "$dir/dst.raw" >"$dir/copy.json" ||
		vs_fail "ferry copy --changed-areas $2"
	vsdrv disk-close >/dev/null
}

# --- Precopy 1: snapshot, its changeId, the allocation map, a full copy.
vcsim_set_disk "$vm" "$key" $size "$cid1" || vs_fail "changeId 1"
out=$(vsdrv snap-create "$vm" ferry-precopy-1) || vs_fail "snapshot 1: $out"
s1=$(echo "$out" | sed -n 's/^snapshot \([^ ]*\) .*/\1/p')
vs_has "changeId 1 recorded" "$out" "disk $key changeId=$cid1"
out=$(vsdrv changed "$vm" 0 "$s1" '*' "$dir/areas1.json") || vs_fail "changed areas (*): $out"
vs_expect "allocation map" "$out" "areas 3 bytes 135168 size $size"
vs_expect "allocation map JSON" "$(cat "$dir/areas1.json")" \
	'[{"start":0,"length":65536},{"start":1048576,"length":65536},{"start":3145728,"length":4096}]'
[ "$(qcda)" -ge 2 ] || vs_fail "one QueryChangedDiskAreas: the loop by startOffset did not run"
echo "ok - $(qcda) QueryChangedDiskAreas calls (two areas per reply)"
grep '^QCDA' "$CBTPROXY_LOG" | grep -q "snapshot=$s1" || vs_fail "the query named no snapshot"
copy "$s1" "$dir/areas1.json"
cmp "$dir/src.raw" "$dir/dst.raw" || vs_fail "precopy 1: the copy differs"
echo "ok - precopy 1: identical, $(jq .bytes_read "$dir/copy.json") bytes read"

# --- The guest writes: 4 KiB at 4096, 8 KiB at 2 MiB (a hole before).
put 4096 4096 "$dir/src.raw"
put 2097152 8192 "$dir/src.raw"
dd if="$dir/src.raw" of="$flat" bs=4096 skip=1 seek=1 count=1 conv=notrunc status=none
dd if="$dir/src.raw" of="$flat" bs=4096 skip=512 seek=512 count=2 conv=notrunc status=none
record '[[4096, 4096], [2097152, 8192]]'

# --- Precopy 2, warm order: remove the previous snapshot, take the next.
out=$(vsdrv snap-remove "$vm" "$s1") || vs_fail "remove snapshot 1: $out"
vcsim_set_disk "$vm" "$key" $size "$cid2" || vs_fail "changeId 2"
out=$(vsdrv snap-create "$vm" ferry-precopy-2) || vs_fail "snapshot 2: $out"
s2=$(echo "$out" | sed -n 's/^snapshot \([^ ]*\) .*/\1/p')
vs_has "changeId 2 recorded" "$out" "disk $key changeId=$cid2"
out=$(vsdrv changed "$vm" 0 "$s2" "\"$cid1\"" "$dir/areas2.json") || vs_fail "changed areas: $out"
vs_expect "changed since changeId 1" "$out" "areas 2 bytes 12288 size $size"
copy "$s2" "$dir/areas2.json"
cmp "$dir/src.raw" "$dir/dst.raw" || vs_fail "precopy 2: the copy differs"
moved=$(jq -r .bytes_read "$dir/copy.json")
echo "ok - precopy 2: identical; ferry copy read $moved bytes for 12288 written"
[ "$moved" -le 12288 ] || vs_fail "read $moved bytes, more than the 12288 changed"

# --- A changeId the server does not know: the fault, in words.
out=$(vsdrv changed "$vm" 0 "$s2" '"52 00/9"' "$dir/areas3.json") && vs_fail "an unknown changeId worked"
vs_has "unknown changeId" "$out" "QueryChangedDiskAreas: InvalidArgument"
vsdrv_stop
vsdrv_check
echo "all ok"
