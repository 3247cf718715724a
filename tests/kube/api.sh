#!/bin/sh
# integration.kube.api: the fake's REST conventions, checked with curl:
# authentication (token, client certificate, plain HTTP), Status bodies
# (401, 404, 409 AlreadyExists and Conflict, 422, 415), generateName,
# resourceVersion, the status subresource, merge/JSON/strategic patches,
# label and field selectors, limit/continue paging, watch streams and
# their expiry (410), deletes, injected 429/5xx and the request log.
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
status() { # status CODE REASON MESSAGE: the last response is that Status
	expect "$3: HTTP" "$FK_STATUS" "$1"
	expect "$3: Status" "$(j .kind) $(j .apiVersion) $(j .status) $(j .reason) $(j .code)" \
		"Status v1 Failure $2 $1"
	expect "$3: message" "$(j .message)" "$3"
}

fakekube_start "$dir/fk" --inject 'DELETE /secrets/s1$ 503 1'
NS=/api/v1/namespaces

# --- authentication
FK_STATUS=$(curl -sS --cacert "$FAKEKUBE_CACERT" -o "$FAKEKUBE_DIR/last.body" -w '%{http_code}' \
	"$FAKEKUBE_URL/api/v1/namespaces")
status 401 Unauthorized Unauthorized
FK_STATUS=$(curl -sS --cacert "$FAKEKUBE_CACERT" -o "$FAKEKUBE_DIR/last.body" -w '%{http_code}' \
	-H 'Authorization: Bearer wrong' "$FAKEKUBE_URL/version")
expect "wrong token: 401 even for /version" "$FK_STATUS" 401
FK_STATUS=$(curl -sS --cacert "$FAKEKUBE_CACERT" -o "$FAKEKUBE_DIR/last.body" -w '%{http_code}' \
	"$FAKEKUBE_URL/version")
expect "anonymous /version" "$FK_STATUS $(j .gitVersion)" "200 v1.31.0"
fk_api GET /api >/dev/null
expect "/api" "$(j .versions)" '["v1"]'
fk_api GET /apis/kubevirt.io/v1 >/dev/null
expect "APIResourceList" "$("$FAKEKUBE_PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
vm = [r for r in d["resources"] if r["name"] == "virtualmachines"][0]
print(d["groupVersion"], vm["kind"], vm["namespaced"], ",".join(vm["shortNames"]), ",".join(vm["verbs"]),
      [r["name"] for r in d["resources"]].count("virtualmachines/status"))' "$FAKEKUBE_DIR/last.body")" \
	"kubevirt.io/v1 VirtualMachine True vm,vms create,delete,deletecollection,get,list,patch,update,watch 1"
fk_api GET /apis/nope.example.com/v1 >/dev/null && fail "unknown group served"
expect "unknown group: 404 page" "$FK_STATUS $(cat "$FAKEKUBE_DIR/last.body")" "404 404 page not found"

# --- create, generateName, AlreadyExists, missing namespace, Invalid
fk_api POST $NS '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t1"}}' >/dev/null ||
	fail "create namespace"
expect "namespace created" "$FK_STATUS $(j .status.phase)" "201 Active"
vm='{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"vm1","labels":{"env":"a"}},"spec":{"runStrategy":"Halted","template":{"spec":{"domain":{"devices":{}}}}}}'
VMS=/apis/kubevirt.io/v1/namespaces/t1/virtualmachines
fk_api POST $VMS "$vm" >/dev/null || fail "create VM"
rv1=$(j .metadata.resourceVersion)
expect "VM created" "$FK_STATUS $(j .metadata.namespace) $(j .metadata.generation)" "201 t1 1"
case $rv1 in '' | *[!0-9]*) fail "resourceVersion [$rv1] is not a decimal string" ;; esac
[ "$(j .metadata.uid | wc -c)" -eq 37 ] || fail "uid"
j .metadata.creationTimestamp | grep -q '^20[0-9-]*T[0-9:]*Z$' || fail "creationTimestamp"
fk_api POST $VMS "$vm" >/dev/null && fail "second create succeeded"
status 409 AlreadyExists 'virtualmachines.kubevirt.io "vm1" already exists'
expect "AlreadyExists details" "$(j .details)" '{"group": "kubevirt.io", "kind": "virtualmachines", "name": "vm1"}'
fk_api POST /apis/kubevirt.io/v1/namespaces/nope/virtualmachines "$vm" >/dev/null && fail "create in a missing namespace"
status 404 NotFound 'namespaces "nope" not found'
expect "missing namespace details" "$(j .details)" '{"kind": "namespaces", "name": "nope"}'
fk_api GET $NS/t1/persistentvolumeclaims/none >/dev/null && fail "GET of a missing PVC"
status 404 NotFound 'persistentvolumeclaims "none" not found'
expect "NotFound details (core group: no group)" "$(j .details)" '{"kind": "persistentvolumeclaims", "name": "none"}'
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-"},"data":{"a":"1"}}' >/dev/null ||
	fail "generateName"
gen=$(j .metadata.name)
case $gen in gen-?????) echo "ok - generateName: $gen" ;; *) fail "generateName gave [$gen]" ;; esac
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}' >/dev/null &&
	fail "invalid name accepted"
expect "invalid name: 422 Invalid" "$FK_STATUS $(j .reason) $(j '.details.causes[0].field')" "422 Invalid metadata.name"
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}' >/dev/null &&
	fail "nameless object accepted"
expect "no name" "$(j .message)" 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c0","namespace":"other"}}' >/dev/null &&
	fail "namespace mismatch accepted"
status 400 BadRequest "the namespace of the provided object does not match the namespace sent on the request"

# --- PUT: resourceVersion conflicts, status subresource, generation
fk_api GET $VMS/vm1 >"$dir/vm.json"
sed 's/"Halted"/"Always"/' "$dir/vm.json" >"$dir/vm2.json"
fk_api PUT $VMS/vm1 @"$dir/vm2.json" >/dev/null || fail "PUT with the current resourceVersion"
rv2=$(j .metadata.resourceVersion)
expect "PUT bumps generation" "$(j .spec.runStrategy) $(j .metadata.generation)" "Always 2"
[ "$rv2" -gt "$rv1" ] || fail "resourceVersion did not grow: $rv1 -> $rv2"
fk_api PUT $VMS/vm1 @"$dir/vm2.json" >/dev/null && fail "PUT with a stale resourceVersion"
status 409 Conflict 'Operation cannot be fulfilled on virtualmachines.kubevirt.io "vm1": the object has been modified; please apply your changes to the latest version and try again'
"$FAKEKUBE_PYTHON" -c '
import json, sys
o = json.load(open(sys.argv[1])); del o["metadata"]["resourceVersion"]
print(json.dumps(o))' "$dir/vm2.json" >"$dir/vm3.json"
fk_api PUT $VMS/vm1 @"$dir/vm3.json" >/dev/null && fail "PUT of a CR without resourceVersion"
expect "CR PUT needs a resourceVersion" "$FK_STATUS $(j .reason)" "422 Invalid"
fk_api GET $VMS/vm1 >"$dir/vm.json"
"$FAKEKUBE_PYTHON" -c '
import json, sys
o = json.load(open(sys.argv[1])); o["status"] = {"printableStatus": "Fake"}
print(json.dumps(o))' "$dir/vm.json" >"$dir/vm-status.json"
fk_api PUT $VMS/vm1 @"$dir/vm-status.json" >/dev/null || fail "PUT with a status"
fk_api GET $VMS/vm1 >"$dir/vm.json"
[ "$(j .status.printableStatus)" != Fake ] || fail "main resource PUT changed status"
echo "ok - main resource PUT ignores status"
"$FAKEKUBE_PYTHON" -c '
import json, sys
o = json.load(open(sys.argv[1])); o["status"] = {"printableStatus": "Fake"}; o["spec"]["runStrategy"] = "Manual"
print(json.dumps(o))' "$dir/vm.json" >"$dir/vm-status.json"
fk_api PUT $VMS/vm1/status @"$dir/vm-status.json" >/dev/null || fail "PUT /status"
expect "/status changes status only" "$(j .status.printableStatus) $(j .spec.runStrategy)" "Fake Always"
fk_api PATCH $VMS/vm1/status '{"status":{"printableStatus":"Patched"}}' >/dev/null || fail "PATCH /status"
expect "PATCH /status" "$(j .status.printableStatus)" Patched

# --- PATCH: merge, JSON, strategic (built-ins only), apply
fk_api PATCH $VMS/vm1 '{"metadata":{"labels":{"env":"b","tier":"web"}},"spec":{"runStrategy":"Halted"}}' >/dev/null ||
	fail "merge patch"
expect "merge patch" "$(j .metadata.labels.env) $(j .metadata.labels.tier) $(j .spec.runStrategy)" "b web Halted"
fk_api PATCH $VMS/vm1 '[{"op":"test","path":"/spec/runStrategy","value":"Halted"},{"op":"replace","path":"/metadata/labels/env","value":"a"},{"op":"remove","path":"/metadata/labels/tier"}]' \
	application/json-patch+json >/dev/null || fail "json patch"
expect "json patch" "$(j .metadata.labels)" '{"env": "a"}'
fk_api PATCH $VMS/vm1 '[{"op":"test","path":"/spec/runStrategy","value":"Always"}]' application/json-patch+json >/dev/null &&
	fail "failed json patch test applied"
expect "json patch test failure" "$FK_STATUS $(j .reason)" "422 Invalid"
fk_api PATCH $VMS/vm1 '{"metadata":{"labels":{"x":"y"}}}' application/strategic-merge-patch+json >/dev/null &&
	fail "strategic patch of a CR"
status 415 UnsupportedMediaType "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
fk_api PATCH $VMS/vm1 '{"metadata":{"resourceVersion":"1"},"spec":{"runStrategy":"Always"}}' >/dev/null &&
	fail "patch with a stale resourceVersion"
expect "patch precondition" "$FK_STATUS $(j .reason)" "409 Conflict"
pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"containers":[{"name":"a","image":"img:1"},{"name":"b","image":"img:1"}]}}'
fk_api POST $NS/t1/pods "$pod" >/dev/null || fail "create pod"
expect "pod defaults" "$(j .spec.restartPolicy) $(j '.spec.containers[0].terminationMessagePath') $(j .status.phase)" \
	"Always /dev/termination-log Pending"
fk_api PATCH $NS/t1/pods/p1 '{"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],"containers":[{"name":"b","image":"img:2"}]}}' \
	application/strategic-merge-patch+json >/dev/null || fail "strategic patch"
expect "strategic patch merges lists by key" \
	"$(j '.spec.containers[0].name'):$(j '.spec.containers[0].image') $(j '.spec.containers[1].name'):$(j '.spec.containers[1].image')" \
	"a:img:1 b:img:2"
fk_api PATCH $NS/t1/pods/p1 '{"spec":{"restartPolicy":"Never"}}' application/strategic-merge-patch+json >/dev/null &&
	fail "pod spec change accepted"
expect "pod spec immutable" "$FK_STATUS $(j .reason)" "422 Invalid"
cm='apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels:
    env: "c"
data:
  key: value # a comment
  multi: |
    line 1
    line 2
'
fk_api PATCH "$NS/t1/configmaps/applied?fieldManager=ferry" "$cm" application/apply-patch+yaml >/dev/null ||
	fail "server-side apply (create)"
expect "apply creates (YAML body)" "$FK_STATUS $(j .data.key) $(j .metadata.labels.env) $(j .metadata.managedFields[0].manager)/$(j .metadata.managedFields[0].operation)" \
	"201 value c ferry/Apply"
expect "apply: block scalar" "$(j .data.multi)" "line 1
line 2"
fk_api PATCH "$NS/t1/configmaps/applied?fieldManager=ferry" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied"},"data":{"key":"v2"}}' \
	application/apply-patch+yaml >/dev/null || fail "server-side apply (update)"
expect "apply merges (JSON body)" "$FK_STATUS $(j .data.key) $(j .data.multi)" "200 v2 line 1
line 2"
fk_api PATCH "$NS/t1/configmaps/applied" '{"apiVersion":"v1","kind":"ConfigMap"}' application/apply-patch+yaml >/dev/null &&
	fail "apply without fieldManager"
expect "apply needs fieldManager" "$FK_STATUS $(j .reason)" "400 BadRequest"

# --- selectors and paging
for i in 1 2 3 4 5; do
	case $i in 1 | 2) l='"env":"a","tier":"web"' ;; 3) l='"env":"b","tier":"db"' ;; 4) l='"env":"c"' ;; *) l='"other":"x"' ;; esac
	fk_api POST $NS/t1/secrets "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s$i\",\"labels\":{$l}},\"stringData\":{\"k\":\"v$i\"}}" >/dev/null ||
		fail "create secret s$i"
done
expect "stringData stored as data" "$(j .data.k) $(j .type)" "djU= Opaque"
names() { "$FAKEKUBE_PYTHON" -c '
import json, sys
print(" ".join(o["metadata"]["name"] for o in json.load(open(sys.argv[1]))["items"]))' "$FAKEKUBE_DIR/last.body"; }
sel() {
	fk_api GET "$NS/t1/secrets?labelSelector=$(printf '%s' "$1" | sed 's/ /%20/g; s/!/%21/g; s/(/%28/g; s/)/%29/g; s/,/%2C/g; s/=/%3D/g')" >/dev/null ||
		fail "labelSelector $1"
	expect "labelSelector $1" "$(names)" "$2"
}
sel 'env=a' "s1 s2"
sel 'env==b' "s3"
sel 'env!=a' "s3 s4 s5"
sel 'env in (a,c)' "s1 s2 s4"
sel 'env notin (a,c)' "s3 s5"
sel 'tier' "s1 s2 s3"
sel '!tier' "s4 s5"
sel 'env in (a,b),tier!=db' "s1 s2"
fk_api GET "$NS/t1/secrets?labelSelector=env%20in%20a" >/dev/null && fail "bad selector accepted"
expect "bad selector: 400" "$FK_STATUS $(j .reason)" "400 BadRequest"
fk_api GET "$NS/t1/secrets?fieldSelector=metadata.name%3Ds3" >/dev/null || fail "fieldSelector"
expect "fieldSelector metadata.name" "$(names)" "s3"
fk_api GET "/api/v1/secrets?fieldSelector=metadata.namespace%3Dt1,metadata.name!%3Ds1&labelSelector=tier" >/dev/null ||
	fail "fieldSelector across namespaces"
expect "fieldSelector metadata.namespace, !=" "$(names)" "s2 s3"
fk_api GET "$NS/t1/secrets?fieldSelector=spec.foo%3Dx" >/dev/null && fail "unknown field selector"
expect "unknown field selector: 400" "$FK_STATUS" 400
fk_api GET "$NS/t1/secrets?limit=2" >/dev/null || fail "limit"
expect "page 1" "$(names) $(j .metadata.remainingItemCount)" "s1 s2 3"
listrv=$(j .metadata.resourceVersion)
cont=$(j .metadata.continue)
fk_api GET "$NS/t1/secrets?limit=2&continue=$cont" >/dev/null || fail "continue"
expect "page 2" "$(names) $(j .metadata.resourceVersion)" "s3 s4 $listrv"
cont2=$(j .metadata.continue)
fk_api GET "$NS/t1/secrets?limit=2&continue=$cont2" >/dev/null || fail "continue 2"
expect "last page" "$(names) $(j .metadata.continue || echo none)" "s5 none"
expect "built-in list items carry no kind" "$(j '.items[0].kind' || echo none) $(j .kind)" "none SecretList"
fk_api GET $VMS >/dev/null
expect "custom resource list items keep kind" "$(j '.items[0].kind') $(j .kind)" "VirtualMachine VirtualMachineList"

# --- watch: events after create, patch, delete; then expiry (410)
fk_api GET $NS/t1/configmaps >/dev/null
wrv=$(j .metadata.resourceVersion)
curl -sS -N --cacert "$FAKEKUBE_CACERT" -H "Authorization: Bearer $FAKEKUBE_TOKEN" \
	"$FAKEKUBE_URL$NS/t1/configmaps?watch=1&resourceVersion=$wrv&timeoutSeconds=20&labelSelector=w" \
	>"$dir/watch.out" &
wpid=$!
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w1","labels":{"w":"1"}}}' >/dev/null
fk_api POST $NS/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"unwatched"}}' >/dev/null
fk_api PATCH $NS/t1/configmaps/w1 '{"data":{"a":"b"}}' >/dev/null
fk_api PATCH $NS/t1/configmaps/unwatched '{"metadata":{"labels":{"w":"2"}}}' >/dev/null
fk_api PATCH $NS/t1/configmaps/unwatched '{"metadata":{"labels":{"w":null}}}' >/dev/null
fk_api DELETE $NS/t1/configmaps/w1 >/dev/null
expect "DELETE of a built-in: Success Status" "$(j .kind) $(j .status) $(j .details.name) $(j .details.kind)" \
	"Status Success w1 configmaps"
five() { [ "$(wc -l <"$dir/watch.out")" -ge 5 ]; }
fk_wait 10 five || fail "watch: $(cat "$dir/watch.out")"
kill "$wpid" 2>/dev/null || :
wait "$wpid" 2>/dev/null || :
events=$("$FAKEKUBE_PYTHON" -c '
import json, sys
rvs = []
out = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    out.append("%s:%s" % (e["type"], e["object"]["metadata"]["name"]))
    rvs.append(int(e["object"]["metadata"]["resourceVersion"]))
assert rvs == sorted(rvs) and rvs[0] > int(sys.argv[2]), rvs
print(" ".join(out))' "$dir/watch.out" "$wrv")
expect "watch events (label selector moves objects in and out)" "$events" \
	"ADDED:w1 MODIFIED:w1 ADDED:unwatched DELETED:unwatched DELETED:w1"
curl -sS -N --cacert "$FAKEKUBE_CACERT" -H "Authorization: Bearer $FAKEKUBE_TOKEN" -o "$dir/watch0.out" \
	"$FAKEKUBE_URL$NS/t1/configmaps?watch=1&resourceVersion=$wrv&timeoutSeconds=1&labelSelector=none" ||
	fail "a watch ending at timeoutSeconds did not end cleanly"
expect "watch ends at timeoutSeconds" "$(wc -c <"$dir/watch0.out" | tr -d ' ')" 0
fk_control POST /_fake/compact '{"keep":0}' >/dev/null || fail "compact"
curl -sS -N --cacert "$FAKEKUBE_CACERT" -H "Authorization: Bearer $FAKEKUBE_TOKEN" -o "$dir/watch410.out" \
	-w '%{http_code}' "$FAKEKUBE_URL$NS/t1/configmaps?watch=true&resourceVersion=$wrv" >"$dir/code"
expect "expired watch: HTTP 200 and one ERROR event" "$(cat "$dir/code") $(fk_json .type "$dir/watch410.out")" "200 ERROR"
expect "expired watch: Status" "$(fk_json .object.code "$dir/watch410.out") $(fk_json .object.reason "$dir/watch410.out")" "410 Expired"
fk_json .object.message "$dir/watch410.out" | grep -q "^too old resource version: $wrv (" || fail "410 message"
fk_api GET "$NS/t1/secrets?limit=2&continue=$cont" >/dev/null && fail "expired continue accepted"
expect "expired continue token" "$FK_STATUS $(j .reason)" "410 Expired"

# --- deletes: CR returns the object, namespace empties, injected 503
fk_api DELETE $VMS/vm1 '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}' >/dev/null ||
	fail "delete VM"
expect "DELETE of a CR returns it" "$(j .kind) $(j .metadata.name)" "VirtualMachine vm1"
fk_api DELETE $NS/t1/secrets/s1 >/dev/null && fail "injected 503 not seen"
status 503 ServiceUnavailable "The server is currently unable to handle the request"
fk_api DELETE $NS/t1/secrets/s1 >/dev/null || fail "delete after the injected 503"
fk_api DELETE "$NS/t1/secrets?labelSelector=tier" >/dev/null || fail "deletecollection"
expect "deletecollection" "$(names)" "s2 s3"
fk_api DELETE $NS/t1 >/dev/null || fail "delete namespace"
expect "namespace terminating" "$(j .status.phase)" Terminating
fk_api GET $NS/t1/configmaps >/dev/null
expect "namespace contents gone" "$(names)" ""

# --- injected 429 with Retry-After (control endpoint)
fk_control POST /_fake/inject '{"method":"GET","path":"/api/v1/namespaces$","code":429,"count":2,"retryAfter":3}' >/dev/null ||
	fail "inject"
fk_api GET $NS >/dev/null && fail "no 429"
status 429 TooManyRequests "Too many requests, please try again later."
expect "Retry-After" "$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$FAKEKUBE_DIR/last.headers") $(j .details.retryAfterSeconds)" "3 3"
fk_api GET $NS >/dev/null && fail "no second 429"
fk_api GET $NS >/dev/null || fail "third request refused"
echo "ok - 429 twice, then served"

# --- the request log
"$FAKEKUBE_PYTHON" -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = [r for r in recs if r.get("method") == "PATCH" and r["path"].endswith("/configmaps/applied")][0]
assert r["query"] == "fieldManager=ferry" and r["params"] == {"fieldManager": "ferry"}, r
assert r["content_type"] == "application/apply-patch+yaml" and r["body"]["data"]["key"] == "value", r
assert r["status"] == 201 and r["auth"] == "token", r
codes = [r["status"] for r in recs if r.get("path") == "/api/v1/namespaces" and r["method"] == "GET"]
assert codes[-3:] == [429, 429, 200], codes
' "$FAKEKUBE_LOG" || fail "request log"
echo "ok - request log"
fakekube_stop

# --- client certificates (mTLS, no token), expired watches as HTTP 410
fakekube_client_cert "$dir/mtls" ferry-test || fail "client certificate"
fakekube_start "$dir/mtls" --no-token --client-ca "$dir/mtls/client-ca.pem" \
	--kubeconfig-client-cert "$dir/mtls/client.pem" --kubeconfig-client-key "$dir/mtls/client-key.pem" \
	--watch-expired-http
FK_CURL_ARGS="--cert $dir/mtls/client.pem --key $dir/mtls/client-key.pem"
fk_api GET $NS/default >/dev/null || fail "client certificate refused"
expect "client certificate accepted" "$FK_STATUS" 200
FK_CURL_ARGS=
fk_api GET $NS/default >/dev/null && fail "no certificate, no token, accepted"
expect "no credentials" "$FK_STATUS" 401
FK_CURL_ARGS="--cert $dir/mtls/client.pem --key $dir/mtls/client-key.pem"
fk_control POST /_fake/compact '{"keep":0}' >/dev/null
fk_api GET "$NS?watch=1&resourceVersion=1" >/dev/null && fail "expired watch served"
expect "expired watch as HTTP 410" "$FK_STATUS $(j .reason)" "410 Expired"
j .message | grep -q '^too old resource version: 1 ([0-9]*)$' || fail "410 message"
expect "log: authenticated by certificate" "$(fk_log_requests "r['auth'] == 'cert:ferry-test'" | wc -l | tr -d ' ')" 2
if command -v kubectl >/dev/null 2>&1; then
	HOME=$dir
	export HOME
	expect "kubectl with a client certificate" "$(fk_kubectl get ns default -o name)" "namespace/default"
fi
FK_CURL_ARGS=
fakekube_stop

# --- plain HTTP
fakekube_start "$dir/http" --http
case $FAKEKUBE_URL in http://127.0.0.1:*) ;; *) fail "URL $FAKEKUBE_URL" ;; esac
fk_api GET $NS/default >/dev/null || fail "plain HTTP"
expect "plain HTTP" "$(j .metadata.name)" default
grep -q '^    server: http://127.0.0.1:' "$FAKEKUBE_KUBECONFIG" || fail "kubeconfig server"
