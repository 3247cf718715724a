#!/bin/sh
# End to end: `ferry quickstart` migrates the two VMs of the generated OVA
# share into the local target. The target disks must read back exactly the
# source disks' bytes; the status branch must carry the trailers; a second
# reconcile must change nothing; deleting a migrated VM must show as drift
# (not be recreated); nothing may be left running.
#
#   quickstart.sh FERRY
set -eu
ferry=$1
command -v qemu-img >/dev/null || { echo "SKIP: qemu-img missing"; exit 77; }
command -v qemu-nbd >/dev/null || { echo "SKIP: qemu-nbd missing"; exit 77; }
command -v git >/dev/null || { echo "SKIP: git missing"; exit 77; }

t=$(mktemp -d /tmp/ferry-qs.XXXXXX)
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$ferry" quickstart --dir "$t/qs" >"$t/out.txt" 2>&1 || { cat "$t/out.txt"; fail "quickstart exited $?"; }
cat "$t/out.txt"
q=$t/qs
grep -q "settled: 2 completed, 0 failed" "$t/out.txt" || fail "not both VMs completed"

# every target disk equals its source disk (sums.txt: SHA-256 of the raw content)
check() { # SOURCE_MEMBER TARGET_IMG
	want=$(awk -v m="$1" '$2 == m {print $1}' "$q/ova/sums.txt")
	got=$(sha256sum <"$q/target/quickstart-vms/$2" | cut -d' ' -f1)
	[ -n "$want" ] || fail "no sum for $1"
	[ "$want" = "$got" ] || fail "$2: $got, want $want (from $1)"
	echo "ok: $2 = $1"
}
check tiny-linux-disk1.vmdk tiny-linux/tiny-linux-disk-0.img
check tiny-linux-disk2.vmdk tiny-linux/tiny-linux-disk-1.img
check tiny-efi-disk1.vmdk tiny-efi/tiny-efi-disk-0.img
[ "$(stat -c %s "$q/target/quickstart-vms/tiny-linux/tiny-linux-disk-0.img")" = 67108864 ] ||
	fail "tiny-linux disk 0 is not 64 MiB"
# sparse: holes stayed holes (the 64 MiB disk has about 3.5 MiB of data)
used=$(du -k "$q/target/quickstart-vms/tiny-linux/tiny-linux-disk-0.img" | cut -f1)
[ "$used" -lt 16384 ] || fail "tiny-linux disk 0 uses $used KiB: not sparse"
for vm in tiny-linux tiny-efi; do
	grep -q "^kind: VirtualMachine" "$q/target/quickstart-vms/$vm/virtualmachine.yaml" ||
		fail "$vm: no VirtualMachine manifest"
done
grep -q "efi:" "$q/target/quickstart-vms/tiny-efi/virtualmachine.yaml" || fail "tiny-efi is not UEFI"
[ "$(ls "$q/target/quickstart-vms" | wc -l)" = 2 ] || fail "not exactly 2 target VMs"

# the status branch: the plan's files and commits with the trailers
main=$(git --git-dir="$q/repo.git" rev-parse main)
git --git-dir="$q/repo.git" show ferry/status:status/quickstart/first-migration.yaml >"$t/status.yaml"
grep -q "phase: Succeeded" "$t/status.yaml" || fail "status yaml does not say Succeeded"
git --git-dir="$q/repo.git" show ferry/status:status/quickstart/first-migration.md | grep -q tiny-efi ||
	fail "status md lists no tiny-efi"
msg=$(git --git-dir="$q/repo.git" log -1 --format=%B ferry/status)
echo "$msg" | grep -q "^Ferry-Plan: quickstart/first-migration$" || fail "no Ferry-Plan trailer: $msg"
echo "$msg" | grep -q "^Ferry-Source-Commit: $main$" || fail "no Ferry-Source-Commit $main: $msg"
echo "$msg" | grep -q "^Ferry-Phase: Succeeded$" || fail "no Ferry-Phase: $msg"

# nothing left running that belongs to this run
if pgrep -f "$q" >/dev/null; then pgrep -af "$q"; fail "processes left running"; fi

# a second pass changes nothing: no new status commit, nothing to do
before=$(git --git-dir="$q/repo.git" rev-parse ferry/status)
"$ferry" reconcile --once -c "$q/ferry.ini" >"$t/again.txt" 2>&1 || { cat "$t/again.txt"; fail "second reconcile failed"; }
grep -q "settled: 2 completed" "$t/again.txt" || { cat "$t/again.txt"; fail "second reconcile did not settle"; }
grep -q -- "->" "$t/again.txt" && { cat "$t/again.txt"; fail "second reconcile moved a VM"; }
after=$(git --git-dir="$q/repo.git" rev-parse ferry/status)
[ "$before" = "$after" ] || fail "second reconcile made a status commit"
"$ferry" diff -c "$q/ferry.ini" >"$t/diff.txt" || fail "diff failed"
grep -q "nothing to do" "$t/diff.txt" || { cat "$t/diff.txt"; fail "diff after completion is not empty"; }

# drift: the migrated tiny-efi is deleted behind ferry's back
rm -rf "$q/target/quickstart-vms/tiny-efi"
"$ferry" diff -c "$q/ferry.ini" -o json >"$t/drift.json" || fail "diff failed"
grep -q '"action": "drift"' "$t/drift.json" || { cat "$t/drift.json"; fail "no drift reported"; }
grep -q '"vmName": "tiny-efi"' "$t/drift.json" || fail "drift is not about tiny-efi"
"$ferry" reconcile --once -c "$q/ferry.ini" >/dev/null 2>&1 || fail "reconcile after drift failed"
[ ! -e "$q/target/quickstart-vms/tiny-efi" ] || fail "tiny-efi was recreated"

# drift: tiny-linux's VirtualMachine is edited behind ferry's back; the
# edit is reported (not undone), and the deleted tiny-efi still is
m="$q/target/quickstart-vms/tiny-linux/virtualmachine.yaml"
[ -f "$m" ] || fail "no manifest for tiny-linux"
"$ferry" diff -c "$q/ferry.ini" >"$t/nodrift.txt" || fail "diff failed"
grep -q "tiny-linux" "$t/nodrift.txt" && { cat "$t/nodrift.txt"; fail "tiny-linux drifted before any edit"; }
sed 's/runStrategy: .*/runStrategy: Always/; $a\
# edited by hand' "$m" >"$m.new" && mv "$m.new" "$m"
edited=$(sha256sum "$m")
"$ferry" diff -c "$q/ferry.ini" >"$t/changed.txt" || fail "diff failed"
grep -q "drift .*tiny-linux .*changed outside ferry" "$t/changed.txt" || { cat "$t/changed.txt"; fail "the edit of tiny-linux is not reported"; }
grep -q "drift .*tiny-efi .*deleted outside ferry" "$t/changed.txt" || { cat "$t/changed.txt"; fail "tiny-efi's drift is gone"; }
"$ferry" reconcile --once -c "$q/ferry.ini" >/dev/null 2>&1 || fail "reconcile after the edit failed"
[ "$(sha256sum "$m")" = "$edited" ] || fail "ferry overwrote the edited tiny-linux"
echo "PASS"
