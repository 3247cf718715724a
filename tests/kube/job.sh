#!/bin/sh
# integration.kube.job: the fake runs batch/v1 Jobs as local processes on
# local files standing in for the claims (README.md, "Job runner"): a Job
# writes known bytes into its volumeDevices devicePath and a termination
# message; its pod log, pod status, Job conditions and events are what
# ferry follows; a failing Job fails with the exit code and the log tail;
# retries, deadlines, deletion (killing the process), a claim created late
# and a WaitForFirstConsumer DataVolume behave as on a cluster.
# shellcheck disable=SC2016,SC2119  # JSON and scripts in single quotes; fakekube_require takes no args here
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fakekube_require

dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-kube.XXXXXX")
trap 'fakekube_stop; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	[ ! -f "${FAKEKUBE_DIR:-/nonexistent}/last.body" ] || cat "$FAKEKUBE_DIR/last.body" >&2
	exit 1
}
expect() {
	[ "$2" = "$3" ] || fail "$1: got [$2], want [$3]"
	echo "ok - $1"
}
j() { fk_json "$1" "$FAKEKUBE_DIR/last.body"; }
create() { fk_api POST "$1" "$2" >/dev/null || fail "create at $1"; }

fakekube_start "$dir/fk" --job-backoff 0.2
NS=/api/v1/namespaces/jobs
JOBS=/apis/batch/v1/namespaces/jobs/jobs
create /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"jobs"}}'
create /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"local"},"provisioner":"fake.ferry.dev/local"}'
create /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"wffc"},"provisioner":"fake.ferry.dev/local","volumeBindingMode":"WaitForFirstConsumer"}'
pvc() { # pvc NAME MODE SIZE [CLASS]
	create $NS/persistentvolumeclaims "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"$1\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"volumeMode\":\"$2\",\"storageClassName\":\"${4:-local}\",\"resources\":{\"requests\":{\"storage\":\"$3\"}}}}"
}
pvc block0 Block 1Mi
pvc fs0 Filesystem 2Mi
create $NS/secrets '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"password":"s3cret"}}'
# job NAME BACKOFF SCRIPT [EXTRA SPEC JSON]: a Job whose container runs
# `sh -c SCRIPT` with the block claim block0 at /dev/xvda (DEVICE in its
# environment), the filesystem claim fs0 at /data, PASSWORD from a secret.
job() {
	"$FAKEKUBE_PYTHON" -c '
import json, sys
name, backoff, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
c = {"name": "main", "image": "quay.io/ferry/ferry:test", "command": ["sh", "-c", script],
     "env": [{"name": "DEVICE", "value": "/dev/xvda"}, {"name": "OUT", "value": "$(DEVICE)"},
             {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
     "terminationMessagePolicy": "FallbackToLogsOnError",
     "volumeDevices": [{"name": "disk", "devicePath": "/dev/xvda"}],
     "volumeMounts": [{"name": "fs", "mountPath": "/data"}]}
c.update(extra.pop("container", {}))
spec = {"backoffLimit": backoff, "template": {"spec": {"restartPolicy": "Never", "containers": [c],
        "volumes": [{"name": "disk", "persistentVolumeClaim": {"claimName": extra.pop("claim", "block0")}},
                    {"name": "fs", "persistentVolumeClaim": {"claimName": "fs0"}}]}}}
spec.update(extra)
print(json.dumps({"apiVersion": "batch/v1", "kind": "Job",
                  "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "ferry"}},
                  "spec": spec}))' "$@" >"$dir/job-$1.json"
	create $JOBS @"$dir/job-$1.json"
}
# cond NAME TYPE: the Job has condition TYPE=True
cond() {
	fk_api GET $JOBS/"$1" >"$dir/cond.json" || return 1
	"$FAKEKUBE_PYTHON" -c '
import json, sys
o = json.load(open(sys.argv[1]))
sys.exit(0 if any(c["type"] == sys.argv[2] and c["status"] == "True"
                  for c in o.get("status", {}).get("conditions", [])) else 1)' "$dir/cond.json" "$2"
}
# pods NAME: the Job's pods (by its controller-uid selector), oldest first
pods() {
	fk_api GET "$NS/pods?labelSelector=job-name%3D$1" >/dev/null || fail "list pods"
	"$FAKEKUBE_PYTHON" -c '
import json, sys
for o in sorted(json.load(open(sys.argv[1]))["items"], key=lambda o: o["metadata"]["creationTimestamp"]):
    print(o["metadata"]["name"])' "$FAKEKUBE_DIR/last.body"
}

# --- a Job that writes known bytes into its block device and says so
job copy 0 'printf ferry-bytes-0123 | dd of="$DEVICE" bs=1 seek=4096 conv=notrunc 2>/dev/null &&
echo "device size $(wc -c < $OUT)" && echo "password $PASSWORD" && echo "cwd $(pwd)" &&
printf "filesystem data" > /data/disk.img.part && mv /data/disk.img.part /data/disk.img &&
printf "copied 16 bytes" > /dev/termination-log'
fk_wait 10 cond copy Complete || fail "Job copy not Complete: $(cat "$dir/cond.json")"
echo "ok - Job Complete"
fk_api GET $JOBS/copy >/dev/null
expect "Job status" "$(j .status.succeeded) $(j .status.active || echo none) $(j .status.ready)" "1 none 0"
{ j .status.startTime && j .status.completionTime; } >/dev/null || fail "Job times"
expect "Job conditions" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
print(" ".join("%s=%s" % (c["type"], c["status"]) for c in json.load(open(sys.argv[1]))["status"]["conditions"]))' "$FAKEKUBE_DIR/last.body")" \
	"SuccessCriteriaMet=True Complete=True"
job_uid=$(j .metadata.uid)
pod=$(pods copy)
fk_api GET $NS/pods/"$pod" >"$dir/pod.json"
expect "pod labels" "$(j '.metadata.labels["job-name"]') $(j '.metadata.labels["batch.kubernetes.io/job-name"]') $(j '.metadata.labels["controller-uid"]')" \
	"copy copy $job_uid"
expect "pod owner" "$(j '.metadata.ownerReferences[0].kind') $(j '.metadata.ownerReferences[0].uid') $(j '.metadata.ownerReferences[0].controller')" \
	"Job $job_uid true"
expect "pod phase" "$(j .status.phase) $(j .spec.nodeName)" "Succeeded fake-node"
expect "pod terminated" "$(j '.status.containerStatuses[0].state.terminated.exitCode') $(j '.status.containerStatuses[0].state.terminated.reason')" \
	"0 Completed"
expect "termination message" "$(j '.status.containerStatuses[0].state.terminated.message')" "copied 16 bytes"
fk_api GET $NS/persistentvolumeclaims/block0 >/dev/null
file=$(j '.metadata.annotations["fake.ferry.dev/path"]')
expect "claim's file" "$file" "$FAKEKUBE_RUN_ROOT/jobs/_pvc/block0/disk.img"
expect "claim file keeps its size" "$(wc -c <"$file" | tr -d ' ')" 1048576
expect "bytes written at offset 4096" "$(dd if="$file" bs=4096 skip=1 count=1 2>/dev/null | head -c 16)" \
	ferry-bytes-0123
expect "bytes before are zero" "$(head -c 4096 "$file" | tr -d '\0' | wc -c | tr -d ' ')" 0
expect "filesystem claim data" "$(cat "$FAKEKUBE_RUN_ROOT/jobs/_pvc/fs0/disk.img")" "filesystem data"
fk_api GET $NS/pods/"$pod"/log >"$dir/log"
expect "pod log" "$(cat "$dir/log")" "device size 1048576
password s3cret
cwd $FAKEKUBE_RUN_ROOT/jobs/$pod"
expect "pod log tailLines" "$(fk_api GET "$NS/pods/$pod/log?tailLines=1")" "cwd $FAKEKUBE_RUN_ROOT/jobs/$pod"
fk_api GET "$NS/events?fieldSelector=involvedObject.name%3D$pod" >/dev/null
expect "pod events" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
print(" ".join(sorted(e["reason"] for e in json.load(open(sys.argv[1]))["items"])))' "$FAKEKUBE_DIR/last.body")" \
	"Created Pulled Scheduled Started"
fk_api GET "$NS/events?fieldSelector=involvedObject.kind%3DJob,involvedObject.name%3Dcopy" >/dev/null
expect "Job events" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
print(" ".join(sorted(e["reason"] for e in json.load(open(sys.argv[1]))["items"])))' "$FAKEKUBE_DIR/last.body")" \
	"Completed SuccessfulCreate"

# --- a failing Job: exit 3, message from the log tail, backoff exhausted
job fail 0 'echo "about to fail"; echo "boom" >&2; exit 3'
fk_wait 10 cond fail Failed || fail "Job fail not Failed"
fk_api GET $JOBS/fail >/dev/null
expect "failed Job" "$(j .status.failed) $(j .status.succeeded || echo 0) $(j .status.completionTime || echo none)" "1 0 none"
expect "Failed reason" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
print([c["reason"] for c in json.load(open(sys.argv[1]))["status"]["conditions"] if c["type"] == "Failed"][0])' "$FAKEKUBE_DIR/last.body")" \
	BackoffLimitExceeded
pod=$(pods fail)
fk_api GET $NS/pods/"$pod" >/dev/null
expect "failed pod" "$(j .status.phase) $(j '.status.containerStatuses[0].state.terminated.exitCode') $(j '.status.containerStatuses[0].state.terminated.reason')" \
	"Failed 3 Error"
expect "FallbackToLogsOnError message" "$(j '.status.containerStatuses[0].state.terminated.message')" "about to fail
boom"

# --- retries: backoffLimit 1 makes two pods, each failing
job retry 1 'exit 1'
fk_wait 10 cond retry Failed || fail "Job retry not Failed"
fk_api GET $JOBS/retry >/dev/null
expect "retried Job: failed count" "$(j .status.failed)" 2
expect "retried Job: two pods" "$(pods retry | wc -l | tr -d ' ')" 2

# --- a deadline: activeDeadlineSeconds kills the pod
job slow 0 'sleep 30' '{"activeDeadlineSeconds": 1}'
fk_wait 10 cond slow Failed || fail "Job slow not Failed"
fk_api GET $JOBS/slow >/dev/null
expect "deadline" "$(j '.status.conditions[-1].reason')" DeadlineExceeded

# --- deleting a running Job (Background) kills its process and pods
# ($$ in command and args is Kubernetes' escape for $: the shell sees $$.)
job sleeper 0 'echo $$$$ > /data/sleeper.pid; exec sleep 30'
pidf=$FAKEKUBE_RUN_ROOT/jobs/_pvc/fs0/sleeper.pid
fk_wait 10 test -s "$pidf" || fail "sleeper did not start"
pid=$(cat "$pidf")
kill -0 "$pid" || fail "sleeper not running"
pod=$(pods sleeper)
fk_api GET $NS/pods/"$pod" >/dev/null
expect "running pod" "$(j .status.phase) $(j '.status.containerStatuses[0].ready')" "Running true"
fk_api DELETE "$JOBS/sleeper?propagationPolicy=Background" >/dev/null || fail "delete sleeper"
gone() { ! kill -0 "$pid" 2>/dev/null; }
fk_wait 5 gone || fail "process $pid survived its Job"
expect "pods deleted with the Job" "$(pods sleeper)" ""
# The batch/v1 API's default for Jobs is to orphan their pods.
fk_api DELETE $JOBS/copy >/dev/null || fail "delete copy"
expect "default delete orphans the pods" "$(pods copy | wc -l | tr -d ' ')" 1
fk_api GET $NS/pods/"$(pods copy)" >/dev/null
j '.metadata.ownerReferences' >/dev/null && fail "orphan still owned"
echo "ok - orphaned pod lost its owner reference"

# --- a claim that comes after its Job: the pod waits (Pending) for it
job late 0 'printf late | dd of=$DEVICE conv=notrunc 2>/dev/null' '{"claim": "late0"}'
waiting() {
	fk_api GET "$NS/events?fieldSelector=reason%3DFailedScheduling" >/dev/null &&
		grep -q 'persistentvolumeclaim \\"late0\\" not found' "$FAKEKUBE_DIR/last.body"
}
fk_wait 10 waiting || fail "no FailedScheduling event"
fk_api GET $NS/pods/"$(pods late)" >/dev/null
expect "pod Pending without its claim" "$(j .status.phase) $(j .spec.nodeName || echo unscheduled)" "Pending unscheduled"
pvc late0 Block 64Ki
fk_wait 10 cond late Complete || fail "late Job not Complete"
expect "late claim written" "$(head -c 4 "$FAKEKUBE_RUN_ROOT/jobs/_pvc/late0/disk.img")" late

# --- WaitForFirstConsumer: the blank DataVolume waits for the Job's pod
create /apis/cdi.kubevirt.io/v1beta1/namespaces/jobs/datavolumes '{"apiVersion":"cdi.kubevirt.io/v1beta1","kind":"DataVolume","metadata":{"name":"dv0"},"spec":{"source":{"blank":{}},"storage":{"volumeMode":"Block","storageClassName":"wffc","resources":{"requests":{"storage":"128Ki"}}}}}'
dvphase() {
	fk_api GET /apis/cdi.kubevirt.io/v1beta1/namespaces/jobs/datavolumes/dv0 >/dev/null &&
		[ "$(j .status.phase)" = "$1" ]
}
fk_wait 10 dvphase WaitForFirstConsumer || fail "DataVolume not WaitForFirstConsumer"
fk_api GET $NS/persistentvolumeclaims/dv0 >/dev/null
expect "claim waits for its consumer" "$(j .status.phase)" Pending
job fill 0 'printf dv | dd of=$DEVICE conv=notrunc 2>/dev/null' '{"claim": "dv0"}'
fk_wait 10 cond fill Complete || fail "fill Job not Complete"
fk_wait 10 dvphase Succeeded || fail "DataVolume not Succeeded"
expect "DataVolume's claim written" "$(head -c 2 "$FAKEKUBE_RUN_ROOT/jobs/_pvc/dv0/disk.img")" dv
expect "claim sized from the request" "$(wc -c <"$FAKEKUBE_RUN_ROOT/jobs/_pvc/dv0/disk.img" | tr -d ' ')" 131072

# --- the fake kills what it started when it stops
job last 0 'echo $$$$ > /data/last.pid; exec sleep 30'
pidf=$FAKEKUBE_RUN_ROOT/jobs/_pvc/fs0/last.pid
fk_wait 10 test -s "$pidf" || fail "last did not start"
pid=$(cat "$pidf")
fakekube_stop
fk_wait 5 gone || fail "process $pid survived the fake"
echo "ok - SIGTERM to the fake kills its Job processes"
