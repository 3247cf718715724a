#!/bin/sh
# Several plans, one status commit: a pass that moves two plans records
# both in one commit (two Ferry-Plan trailers, each followed by its own
# Ferry-Phase), and `ferry history` still tells each plan's story apart:
# filtered by plan it shows only that plan's entries with that plan's
# phases; unfiltered, a commit of two plans is two entries.
#
#   plans.sh FERRY MAKE_OVA
set -eu
ferry=$1
make_ova=$2
for tool in qemu-img qemu-nbd git python3; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

t=$(mktemp -d /tmp/ferry-plans.XXXXXX)
trap "cp -r \"$t\" /tmp/mework/plans-keep; rm -rf \"$t\"" EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
git_() { git -C "$t/src" -c user.name=T -c user.email=t@example.com "$@"; }

sh "$make_ova" "$t/ova" >/dev/null
mkdir -p "$t/src"
for f in providers maps; do
	sed "s|file:///var/tmp/ferry-quickstart/ova|file://$t/ova|" \
		"$(dirname "$make_ova")/$f.yaml" >"$t/src/$f.yaml"
done
# the quickstart's two VMs, a plan each
for p in a:tiny-linux b:tiny-efi; do
	name=plan-${p%%:*}
	cat >"$t/src/$name.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: $name, namespace: quickstart}
spec:
  targetNamespace: quickstart-vms
  skipGuestConversion: true
  provider:
    source: {name: ova-local, namespace: quickstart}
    destination: {name: host, namespace: quickstart}
  map:
    network: {name: ova-net, namespace: quickstart}
    storage: {name: ova-storage, namespace: quickstart}
  vms: [{name: ${p#*:}}]
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Migration
metadata: {name: $name-1, namespace: quickstart}
spec: {plan: {name: $name, namespace: quickstart}}
EOF
done
git init -q -b main "$t/src"
git_ add -A
git_ commit -qm "two plans"
git init -q --bare -b main "$t/repo.git"
git_ push -q "$t/repo.git" main
cat >"$t/ferry.ini" <<EOF
[repository]
url = repo.git
[daemon]
data_dir = data
[target]
dir = target
EOF

"$ferry" reconcile --once -c "$t/ferry.ini" >"$t/out.txt" 2>&1 || { cat "$t/out.txt"; fail "reconcile exited $?"; }
grep -q "settled: 2 completed, 0 failed" "$t/out.txt" || { cat "$t/out.txt"; fail "not both VMs completed"; }
for p in plan-a plan-b; do
	git --git-dir="$t/repo.git" show "ferry/status:status/quickstart/$p.yaml" | grep -q "phase: Succeeded" ||
		fail "$p: status does not say Succeeded"
done

# a commit that holds both plans, the trailers paired in order
both=
for c in $(git --git-dir="$t/repo.git" rev-list ferry/status); do
	tr=$(git --git-dir="$t/repo.git" log -1 --format='%(trailers:only,unfold)' "$c")
	[ "$(echo "$tr" | grep -c '^Ferry-Plan: ')" = 2 ] || continue
	both=$c
	pairs=$(echo "$tr" | grep -E '^Ferry-(Plan|Phase): ' | tr '\n' '|')
	case $pairs in
	"Ferry-Plan: quickstart/plan-a|Ferry-Phase: "*"|Ferry-Plan: quickstart/plan-b|Ferry-Phase: "*"|") ;;
	*) fail "trailers of $c are not Plan/Phase pairs: $pairs" ;;
	esac
	git --git-dir="$t/repo.git" log -1 --format=%s "$c" | grep -q "^ferry: 2 plans: plan-a .*, plan-b " ||
		fail "subject of $c does not name both plans"
	git --git-dir="$t/repo.git" show --name-only --format= "$c" | sort >"$t/files"
	printf '%s\n' status/quickstart/plan-a.md status/quickstart/plan-a.yaml \
		status/quickstart/plan-b.md status/quickstart/plan-b.yaml | cmp -s - "$t/files" ||
		fail "commit $c does not change both plans' files: $(cat "$t/files")"
	break
done
[ -n "$both" ] || fail "no status commit holds both plans"
echo "ok: one status commit ($both) for both plans"

# history, filtered and not
"$ferry" history -c "$t/ferry.ini" -o json quickstart/plan-a >"$t/a.json" || fail "history plan-a failed"
"$ferry" history -c "$t/ferry.ini" -o json >"$t/all.json" || fail "history failed"
python3 - "$t/a.json" "$t/all.json" "$both" <<'EOF' || fail "history is wrong"
import json, sys
a = json.load(open(sys.argv[1]))
every = json.load(open(sys.argv[2]))
both = sys.argv[3]
assert a, "no entries for plan-a"
assert all(e["plan"] == "quickstart/plan-a" for e in a), a
assert a[0]["phase"] == "Succeeded", a[0]
two = [e for e in every if e["statusCommit"] == both]
assert sorted(e["plan"] for e in two) == ["quickstart/plan-a", "quickstart/plan-b"], two
assert len(every) > len(a), "unfiltered history lost plan-b"
print("ok: history pairs each plan with its phase (%d of %d entries for plan-a)" % (len(a), len(every)))
EOF
"$ferry" history -c "$t/ferry.ini" >"$t/all.txt" || fail "history (text) failed"
grep -q " quickstart/plan-b$" "$t/all.txt" || { cat "$t/all.txt"; fail "text history does not name plan-b on a shared commit"; }
echo "ok: text history names each plan of a shared commit"
