#!/bin/sh
# Crash safety: RUNS times, migrate 3 VMs with 64 MiB disks of random data
# from an OVA share into the local target, kill -9 the reconciler at a
# random moment, restart it, and check that the run ends with every VM
# Completed, every disk identical to its source, exactly one target per VM,
# and nothing left running. The repository is served by git daemon, as a
# forge would serve it: with a file:// remote, the killed reconciler would
# itself be the server, and a ref lock it held would stay behind in the
# remote for a person to remove.
#
#   crash.sh FERRY MAKE_OVA [RUNS]
set -eu
ferry=$1
make_ova=$2
runs=${3:-20}
for tool in qemu-img qemu-nbd git; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

t=$(mktemp -d /tmp/ferry-crash.XXXXXX)
. "$(dirname "$0")/../git/lib.sh"
cleanup() {
	gitlab_cleanup
	pkill -9 -f "$t" 2>/dev/null || true
	rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
gitlab_init "$t/gl"
gitlab_daemon
fail() { echo "FAIL: $*" >&2; exit 1; }

EXTRA_VMS=3 EXTRA_MIB=64 sh "$make_ova" "$t/ova" >/dev/null
mkdir -p "$t/src"
cat >"$t/src/all.yaml" <<EOF
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: share, namespace: crash}
spec: {type: ova, url: "file://$t/ova"}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata: {name: host, namespace: crash}
spec: {type: openshift, url: ""}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata: {name: net, namespace: crash}
spec:
  provider: {source: {name: share}, destination: {name: host}}
  map: [{source: {name: VM Network}, destination: {type: pod}}]
---
apiVersion: forklift.konveyor.io/v1beta1
kind: StorageMap
metadata: {name: storage, namespace: crash}
spec:
  provider: {source: {name: share}, destination: {name: host}}
  map: [{source: {name: Dummy storage for source provider share}, destination: {storageClass: local}}]
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: crash, namespace: crash}
spec:
  targetNamespace: crash-vms
  skipGuestConversion: true
  provider: {source: {name: share}, destination: {name: host}}
  map: {network: {name: net}, storage: {name: storage}}
  vms: [{name: extra-1}, {name: extra-2}, {name: extra-3}]
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Migration
metadata: {name: crash-1, namespace: crash}
spec: {plan: {name: crash}}
EOF
git init -q -b main "$t/src"
git -C "$t/src" add -A
git -C "$t/src" -c user.name=T -c user.email=t@example.com commit -qm "crash test plan"
git init -q --bare -b main "$t/repo.git"
git -C "$t/src" push -q "$t/repo.git" main

# how long an undisturbed run takes: the kills land inside that window
mkrun() { # N: a fresh data dir, target and repository for run N
	mkdir -p "$t/run$1"
	cp -r "$t/repo.git" "$GL_DIR/srv/run$1.git"
	printf "[repository]\nurl = $GL_GIT_URL_BASE/run$1.git\nstatus_interval = 1s\n[daemon]\ndata_dir = data\n[target]\ndir = target\n[secrets]\ndir = secrets\n" >"$t/run$1/ferry.ini"
}
mkrun 0
start=$(date +%s%N)
"$ferry" reconcile --once -q -c "$t/run0/ferry.ini" >"$t/run0.log" 2>&1 || { cat "$t/run0.log"; fail "undisturbed run failed"; }
span=$(( ($(date +%s%N) - start) / 1000000 ))
echo "an undisturbed run takes $span ms"
rm -rf "$t/run0"

# nothing of run N still running, allowing a killed run's servers a few
# seconds to see their parent gone and exit
settled() { # DIR
	n=0
	while pgrep -f "$1" >/dev/null; do
		n=$((n + 1))
		[ $n -lt 50 ] || return 1
		sleep 0.1
	done
}

check_run() { # N
	rr=$t/run$1
	for vm in 1 2 3; do
		want=$(awk -v m="extra-$vm-disk1.vmdk" '$2 == m {print $1}' "$t/ova/sums.txt")
		got=$(sha256sum <"$rr/target/crash-vms/extra-$vm/extra-$vm-disk-0.img" | cut -d' ' -f1)
		[ "$want" = "$got" ] || fail "run $1: extra-$vm disk differs from its source"
	done
	[ "$(ls "$rr/target/crash-vms" | wc -l)" = 3 ] || fail "run $1: not exactly 3 target VMs"
	[ "$(ls "$rr/target/crash-vms"/*/virtualmachine.yaml | wc -l)" = 3 ] || fail "run $1: a VM manifest is missing"
	git --git-dir="$GL_DIR/srv/run$1.git" show ferry/status:status/crash/crash.yaml | grep -q "phase: Succeeded" ||
		fail "run $1: the status branch does not say Succeeded"
	settled "$rr" || {
		pgrep -af "$rr"
		fail "run $1: processes left running (the killed reconciler was pid $pid)"
	}
}

i=1
while [ "$i" -le "$runs" ]; do
	mkrun "$i"
	r=$t/run$i
	# a random moment within the undisturbed run's span (and a little after)
	delay=$(( $(od -An -N2 -tu2 /dev/urandom) % (span + span / 4 + 1) ))
	"$ferry" reconcile --once -q -c "$r/ferry.ini" >"$r/first.log" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	"$ferry" reconcile --once -q -c "$r/ferry.ini" >"$r/second.log" 2>&1 ||
		{ cat "$r/first.log" "$r/second.log"; fail "run $i: the restarted reconcile failed"; }
	grep -q "settled: 3 completed, 0 failed" "$r/second.log" ||
		{ cat "$r/second.log"; fail "run $i: not 3 completed"; }
	check_run "$i"
	echo "run $i: killed after $delay ms; resumed to 3 Completed, disks identical"
	rm -rf "$r"
	i=$((i + 1))
done
echo "PASS: $runs runs"
