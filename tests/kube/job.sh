#!/bin/sh
# integration.kube.job: the fake runs batch/v1 Jobs as local processes on
# local files standing in for the claims (README.md, "Job runner"): a Job
# writes known bytes into its volumeDevices devicePath and a termination
# message; its pod log, pod status, Job conditions and events are what
# ferry follows; a failing Job fails with the exit code and the log tail;
# retries, deadlines, deletion (graceful: SIGTERM, the pod stays until its
# process ends or its grace period is over), a claim created late and a
# WaitForFirstConsumer DataVolume behave as on a cluster.
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
# EXTRA's "container", "claim" and "template_spec" change those; the rest
# goes into the Job's spec.
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
spec["template"]["spec"].update(extra.pop("template_spec", {}))
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
nopods() { [ -z "$(pods "$1")" ]; }
fk_wait 5 nopods sleeper || fail "pod of sleeper outlived its process"
echo "ok - pods deleted with the Job"

# --- graceful deletion: the pod stays, Running, with deletionTimestamp and
# deletionGracePeriodSeconds (from terminationGracePeriodSeconds) while its
# process, sent SIGTERM, finishes; then it goes
podjson() { # podjson POD: GET it into $dir/pod.json; fails when it is gone
	fk_api GET "$NS/pods/$1" >"$dir/pod.json"
}
running_job() { # running_job NAME BACKOFF SCRIPT [EXTRA]: a Job whose
	# script writes its pid to /data/NAME.pid first; waits for it; sets pid, pod
	job "$1" "$2" "echo \$\$\$\$ > /data/$1.pid; $3" ${4:+"$4"}
	pidf=$FAKEKUBE_RUN_ROOT/jobs/_pvc/fs0/$1.pid
	fk_wait 10 test -s "$pidf" || fail "$1 did not start"
	pid=$(cat "$pidf")
	pod=$(pods "$1")
}
in_future() { # in_future TIMESTAMP MIN MAX: TIMESTAMP is MIN..MAX s from now
	"$FAKEKUBE_PYTHON" -c '
import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
d = (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
sys.exit(0 if float(sys.argv[2]) <= d <= float(sys.argv[3]) else 1)' "$@"
}
term='trap "echo got SIGTERM; sleep 2; echo bye; exit 0" TERM; while :; do sleep 0.1; done'
running_job graceful 0 "$term" '{"template_spec": {"terminationGracePeriodSeconds": 20}}'
fk_api DELETE "$JOBS/graceful?propagationPolicy=Background" >/dev/null || fail "delete graceful"
podjson "$pod" || fail "pod $pod went at once"
expect "deleted pod stays, Running" "$(j .status.phase) $(j .metadata.deletionGracePeriodSeconds)" \
	"Running 20"
in_future "$(j .metadata.deletionTimestamp)" 17 21 ||
	fail "deletionTimestamp $(j .metadata.deletionTimestamp) is not 20 s ahead"
echo "ok - deletionTimestamp is when the grace period ends"
log=$FAKEKUBE_RUN_ROOT/jobs/$pod/main.log
termed() { grep -q "got SIGTERM" "$log"; }
fk_wait 5 termed || fail "no SIGTERM seen: $(cat "$log")"
podjson "$pod" || fail "pod $pod went before its process"
kill -0 "$pid" || fail "process ended before its SIGTERM handler did"
expect "pod listed while its process ends" "$(j .status.phase) $(pods graceful)" "Running $pod"
fk_wait 10 nopods graceful || fail "pod $pod stayed after its process ended"
expect "process ended by itself" "$(tail -n 1 "$log")" bye
fk_api GET "$NS/events?fieldSelector=involvedObject.name%3D$pod,reason%3DKilling" >/dev/null
expect "Killing event" "$(j '.items[0].message')" "Stopping container main"

# --- a process that ignores SIGTERM: SIGKILL when the grace period ends;
# a second DELETE may only shorten it (here to 1 s; the kubelet waits at
# least 2 s). A deleted pod counts as a failure at once; from 1.31 the
# Job's Failed condition waits until its pod is gone (FailureTarget first).
running_job stubborn 0 'trap "" TERM; while :; do sleep 0.1; done'
fk_api DELETE "$NS/pods/$pod" >/dev/null || fail "delete $pod"
expect "grace period from the pod spec (default)" "$(j .metadata.deletionGracePeriodSeconds)" 30
fk_api DELETE "$NS/pods/$pod" '{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":60}' >/dev/null
expect "a longer grace period is ignored" "$(j .metadata.deletionGracePeriodSeconds)" 30
t0=$(date +%s)
fk_api DELETE "$NS/pods/$pod?gracePeriodSeconds=1" >/dev/null || fail "shorten $pod"
expect "a shorter one is taken" "$(j .metadata.deletionGracePeriodSeconds)" 1
fk_wait 5 cond stubborn FailureTarget || fail "no FailureTarget"
fk_api GET $JOBS/stubborn >/dev/null
expect "Job while its pod terminates" "$(j .status.failed) $(j .status.terminating) $(j .status.active || echo none)" \
	"1 1 none"
cond stubborn Failed && fail "Failed before the pod is gone"
fk_wait 10 gone || fail "process $pid not killed"
fk_wait 5 nopods stubborn || fail "pod $pod not removed after SIGKILL"
t1=$(date +%s)
if [ $((t1 - t0)) -lt 1 ] || [ $((t1 - t0)) -gt 5 ]; then
	fail "SIGKILL after $((t1 - t0)) s, not about 2"
fi
echo "ok - SIGKILL about 2 s after the shortened grace period"
fk_wait 5 cond stubborn Failed || fail "Job stubborn not Failed after its pod went"
fk_api GET $JOBS/stubborn >/dev/null
expect "Failed once the pod is gone" "$(j .status.terminating)" 0
fk_api DELETE "$NS/pods/x?gracePeriodSeconds=soon" >/dev/null && fail "bad gracePeriodSeconds accepted"
expect "bad gracePeriodSeconds" "$FK_STATUS $(j .reason)" "400 BadRequest"

# --- podReplacementPolicy TerminatingOrFailed (the default): a pod being
# deleted is replaced at once, and both run for a while;
# gracePeriodSeconds=0 removes a pod at once
running_job twice 1 "$term"
first=$pod
fk_api DELETE "$NS/pods/$first" >/dev/null || fail "delete $first"
two() { [ "$(pods twice | wc -l | tr -d ' ')" = 2 ]; }
fk_wait 5 two || fail "no replacement pod while $first terminates"
second=$(pods twice | grep -v "^$first\$")
podjson "$first" || fail "$first gone"
expect "the first still terminating" "$(j .status.phase) $(j .metadata.deletionGracePeriodSeconds)" "Running 30"
fk_api GET $JOBS/twice >/dev/null
expect "Job counts the terminating pod as failed" "$(j .status.failed) $(j .status.terminating)" "1 1"
started() { podjson "$second" && [ "$(j .status.phase)" = Running ]; }
fk_wait 10 started || fail "replacement $second not Running"
fk_api DELETE "$NS/pods/$second?gracePeriodSeconds=0" >/dev/null || fail "force delete $second"
podjson "$second" && fail "$second not removed at once"
expect "gracePeriodSeconds=0: gone at once" "$FK_STATUS" 404
fk_wait 10 nopods twice || fail "$first not removed"
fk_wait 5 cond twice Failed || fail "Job twice not Failed"

# --- Foreground: the Job stays (finalizer foregroundDeletion) until its pod
# has ended
running_job fg 0 "$term"
fk_api DELETE "$JOBS/fg" '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}' >/dev/null ||
	fail "delete fg"
fk_api GET $JOBS/fg >/dev/null || fail "Job fg went before its pod"
expect "Job waits for its pod" "$(j '.metadata.finalizers[0]')" foregroundDeletion
j .metadata.deletionTimestamp >/dev/null || fail "Job fg has no deletionTimestamp"
podjson "$pod" || fail "pod $pod went at once"
j .metadata.deletionTimestamp >/dev/null || fail "pod $pod not being deleted"
jobgone() { ! fk_api GET "$JOBS/$1" >/dev/null; }
fk_wait 10 jobgone fg || fail "Job fg stayed after its pod"
nopods fg || fail "Job fg went before its pod"
echo "ok - Foreground: the Job went after its pod"

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
