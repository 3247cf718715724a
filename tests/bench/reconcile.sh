#!/bin/sh
# Benchmark the reconcile engine at scale: a generated repository of 5,000
# VMs in 50 plans against a source that answers instantly (reconcile_bench's
# in-memory driver), the real engine, journal, local target and Git.
#
# A benchmark, not a test: it never passes or fails on time. It fails only
# when something is wrong (a VM not completed, a no-change pass that moved).
#
#   tests/bench/reconcile.sh                     5000 VMs / 50 plans, +500
#   VMS=1000 PLANS=10 START=100 tests/bench/reconcile.sh
#
# Environment:
#   VMS        VMs in the repository (default 5000), PLANS plans (default 50)
#   START      VMs of the plan added for the start figure (default 500)
#   RUNS       warm no-change passes timed (default 10); the median is printed
#   BUILD      the build directory (default build/ of this checkout)
#   FERRY      the ferry binary the workers run (default $BUILD/ferry)
#   BENCH      reconcile_bench (default $BUILD/reconcile_bench)
#   BENCH_DIR  where the mktemp -d work directory goes (default $TMPDIR or
#              /tmp); the journal commits with synchronous=FULL, so a disk
#              and tmpfs give different figures: the script prints which
#   KEEP       1: keep the work directory (its path is printed)
#
# Steps (each a separate reconcile_bench process, so that each peak RSS is
# its own):
#   1. settle    every VM migrated for real: `ferry copy` of a 1 MiB sparse
#                file per disk, CreateVM in the local target, status pushed;
#                this fills the journal honestly (timed, for information)
#   2. nochange  cold pass (engine open + first forced pass, as a daemon
#                that starts), then RUNS passes of the warm engine: the
#                daemon polling an unmoved branch; peak RSS of the process
#   3. start     a commit adds a plan of START VMs and its Migration, with
#                [limits] max_vm_inflight = START; one pass fetches it and
#                starts every VM (each journalled up to CopyDisks, its
#                `ferry copy` worker forked): that pass is timed; the copies
#                then finish, untimed
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
FERRY=${FERRY:-$BUILD/ferry}
BENCH=${BENCH:-$BUILD/reconcile_bench}
VMS=${VMS:-5000}
PLANS=${PLANS:-50}
START=${START:-500}
RUNS=${RUNS:-10}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}

for f in "$FERRY" "$BENCH"; do
	[ -x "$f" ] || { echo "reconcile.sh: $f is missing (build first)" >&2; exit 2; }
done
command -v git >/dev/null || { echo "reconcile.sh: git is missing" >&2; exit 2; }
[ $((VMS % PLANS)) -eq 0 ] || { echo "reconcile.sh: VMS must be a multiple of PLANS" >&2; exit 2; }

W=$(mktemp -d "$BENCH_DIR/ferry-bench-reconcile.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then trap 'echo "kept $W"' EXIT; else trap 'rm -rf "$W"' EXIT; fi
trap 'exit 130' INT TERM
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the machine --------------------------------------------------------
rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$TOP" status --porcelain 2>/dev/null | grep -q . && echo "+changes" || true)
echo "ferry reconcile benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
	"$(awk '/MemTotal/ { printf "%d GiB RAM", $2 / 1048576 + 0.5 }' /proc/meminfo)"
echo "  kernel:   $(uname -sr)"
echo "  load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "  ferry:    $FERRY ($rev$dirty); $(git --version)"
echo "  work dir: $W ($(stat -f -c %T "$W"))"
echo "  scale:    $VMS VMs in $PLANS plans (1 disk of 1 MiB, 1 NIC each), then a plan of $START"

# ---- the repository -----------------------------------------------------
t0=$(now)
src=$W/src
mkdir -p "$src/plans"
cat >"$src/providers.yaml" <<'EOF'
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata:
  name: bench
  namespace: bench
spec:
  # served by reconcile_bench's in-memory driver, registered as "ova"
  type: ova
  url: file:///var/empty/ferry-bench
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Provider
metadata:
  name: host
  namespace: bench
spec:
  type: openshift
  url: ""
---
apiVersion: forklift.konveyor.io/v1beta1
kind: NetworkMap
metadata:
  name: bench-net
  namespace: bench
spec:
  provider:
    source: {name: bench, namespace: bench}
    destination: {name: host, namespace: bench}
  map:
    - source: {name: bench-net}
      destination: {type: pod}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: StorageMap
metadata:
  name: bench-ds
  namespace: bench
spec:
  provider:
    source: {name: bench, namespace: bench}
    destination: {name: host, namespace: bench}
  map:
    - source: {name: bench-ds}
      destination: {storageClass: local, volumeMode: Filesystem, accessMode: ReadWriteOnce}
EOF
# plan NAME FIRST COUNT: a Plan of VMs FIRST.. and its Migration
plan() {
	awk -v name="$1" -v first="$2" -v count="$3" 'BEGIN {
		print "apiVersion: forklift.konveyor.io/v1beta1"
		print "kind: Plan"
		print "metadata:"
		print "  name: " name
		print "  namespace: bench"
		print "spec:"
		print "  type: cold"
		print "  targetNamespace: bench-vms"
		print "  provider:"
		print "    source: {name: bench, namespace: bench}"
		print "    destination: {name: host, namespace: bench}"
		print "  map:"
		print "    network: {name: bench-net, namespace: bench}"
		print "    storage: {name: bench-ds, namespace: bench}"
		print "  skipGuestConversion: true"
		print "  vms:"
		for (i = first; i < first + count; i++)
			printf "    - id: id-%05d\n      name: vm-%05d\n", i, i
		print "---"
		print "apiVersion: forklift.konveyor.io/v1beta1"
		print "kind: Migration"
		print "metadata:"
		print "  name: " name "-1"
		print "  namespace: bench"
		print "spec:"
		print "  plan: {name: " name ", namespace: bench}"
	}'
}
per=$((VMS / PLANS))
for p in $(seq 1 "$PLANS"); do
	plan "$(printf 'plan-%03d' "$p")" $(((p - 1) * per + 1)) "$per" >"$src/plans/$(printf 'plan-%03d' "$p").yaml"
done
g() { git -C "$src" -c user.name=Bench -c user.email=bench@example.com "$@"; }
g init -q -b main
g add -A
g commit -q -m "bench: $VMS VMs in $PLANS plans"
git clone -q --bare "$src" "$W/repo.git"
# the start step's commit, pushed by reconcile_bench between its passes
plan plan-start $((VMS + 1)) "$START" >"$W/plan-start.yaml"
cat >"$W/add-plan.sh" <<EOF
set -e
cp "$W/plan-start.yaml" "$src/plans/plan-start.yaml"
git -C "$src" -c user.name=Bench -c user.email=bench@example.com add -A
git -C "$src" -c user.name=Bench -c user.email=bench@example.com commit -q -m "bench: a plan of $START VMs"
git -C "$src" push -q "$W/repo.git" main
EOF
echo "  repo:     $(du -sh "$src/plans" | cut -f1) of YAML in $PLANS files, built and committed in $(since "$t0") s"

cat >"$W/ferry.ini" <<EOF
[repository]
url = $W/repo.git
[daemon]
data_dir = $W/data
[limits]
max_vm_inflight = $START
[target]
type = local
dir = $W/target
EOF
truncate -s 1M "$W/disk.img"
echo "  config:   [limits] max_vm_inflight = $START; [target] local; status every 10 s (default)"
echo

run() { # run LOG ARGS...: reconcile_bench, its output shown and kept
	log=$1
	shift
	echo "\$ reconcile_bench $*" | sed "s|$W|\$W|g"
	if ! "$BENCH" "$@" >"$W/$log" 2>&1; then
		sed 's/^/  /' "$W/$log"
		echo "reconcile.sh: reconcile_bench $1 failed" >&2
		exit 1
	fi
	grep -v '^bench ' "$W/$log" | sed 's/^/  /'
}
val() { sed -n "s/^bench $2 //p" "$W/$1"; }

echo "== 1. settle: migrate all $VMS VMs (fills the journal; not a goal)"
run settle.out -n "$VMS" -d "$W/disk.img" -f "$FERRY" settle "$W/ferry.ini"
[ "$(val settle.out settle_completed)" = "$VMS" ] || { echo "reconcile.sh: not all VMs completed" >&2; exit 1; }
echo

echo "== 2. no-change passes (no disk data: any copy would fail)"
run nochange.out -n "$VMS" -r "$RUNS" -f "$FERRY" nochange "$W/ferry.ini"
echo

echo "== 3. start: push a plan of $START VMs, one pass starts them"
run start.out -n $((VMS + START)) -d "$W/disk.img" -f "$FERRY" -t "sh $W/add-plan.sh" start "$W/ferry.ini"
[ "$(val start.out start_workers)" = "$START" ] || { echo "reconcile.sh: the pass did not start $START copies" >&2; exit 1; }
echo

goal() { # goal VALUE LIMIT: "meets" or "misses"
	awk -v v="$1" -v l="$2" 'BEGIN { print (v < l ? "meets" : "MISSES") }'
}
wm=$(val nochange.out warm_median_s)
rss=$(val nochange.out peak_rss_mib)
st=$(val start.out start_s)
echo "== summary ($VMS VMs, $PLANS plans; medians of $RUNS warm passes; wall seconds of ferry_engine_pass)"
printf '  %-52s %12s  %-10s %s\n' figure measured goal ""
printf '  %-52s %10s s  %-10s %s\n' "no-change pass, warm engine (median of $RUNS)" "$wm" "< 0.5 s" "$(goal "$wm" 0.5)"
printf '  %-52s %8s MiB  %-10s %s\n' "  peak RSS of that process (VmHWM)" "$rss" "< 64 MiB" "$(goal "$rss" 64)"
printf '  %-52s %10s s  %-10s\n' "  min-max of the $RUNS passes" "$(val nochange.out warm_min_s)-$(val nochange.out warm_max_s)" ""
printf '  %-52s %10s s  %-10s\n' "  of which the bench provider builds its inventory" "$(val nochange.out warm_inventory_s)" ""
printf '  %-52s %10s s  %-10s\n' "cold pass (engine open + first forced pass)" "$(val nochange.out cold_s)" "none"
printf '  %-52s %10s s  %-10s %s\n' "start $START VMs of one new plan (the pass: fetch, act)" "$st" "< 2 s" "$(goal "$st" 2)"
printf '  %-52s %8s MiB  %-10s\n' "  peak RSS of that process" "$(val start.out peak_rss_mib)" ""
printf '  %-52s %10s s  %-10s\n' "  then until all $START completed (copies, CreateVM)" "$(val start.out start_finish_s)" ""
printf '  %-52s %10s s  %-10s\n' "settle: migrate all $VMS from empty ($(val settle.out settle_passes) passes)" "$(val settle.out settle_s)" ""
echo "  Forklift needed minutes to start 200 VMs (the issue); no reference tool runs here."
echo "done, $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
