# The fake Kubernetes API server (fakekube.py, README.md) for sh tests.
# Source it:   . "$(dirname "$0")/lib.sh"     (POSIX sh; paths without
# spaces or quotes; globals this file uses start with _fk_). Functions:
#
# fakekube_require [kubectl]
#     Exits 77 (skip) when python3 or openssl (or, with "kubectl", kubectl)
#     is missing. Sets FAKEKUBE_PYTHON (default /usr/bin/python3, else the
#     python3 on PATH) unless already set.
# fakekube_start DIR [FLAGS...]
#     Starts fakekube.py ($FAKEKUBE_PY; default: fakekube.py next to the
#     script that sources this file, $0) on 127.0.0.1, port 0, in the background, with
#     scratch directory DIR (absolute or relative; made if missing): a
#     self-signed server certificate DIR/fakekube.pem (+ fakekube-key.pem,
#     made with openssl once), --kubeconfig-out DIR/kubeconfig, --log
#     DIR/requests.jsonl, --run-root DIR/run, then FLAGS (fakekube.py -h:
#     e.g. --http, --server-version v1.29.0, --inject 'GET /pods$ 429 2 1',
#     --client-ca F, --seed F). Waits (FAKEKUBE_START_TIMEOUT s, default
#     20) for the ready line and exports FAKEKUBE_URL (https://127.0.0.1:
#     PORT), FAKEKUBE_PORT, FAKEKUBE_KUBECONFIG, FAKEKUBE_PID, FAKEKUBE_LOG
#     (the request log), FAKEKUBE_RUN_ROOT, FAKEKUBE_CACERT (the server
#     certificate, its own CA; empty with --http), FAKEKUBE_TOKEN and
#     FAKEKUBE_DIR. The server's stderr goes to DIR/fakekube.err. One
#     fake at a time; never call it in $(...).
# fakekube_stop
#     SIGTERM (the fake kills the Job processes it started), SIGKILL after
#     5 s, waits. Leaves DIR alone. Safe to call twice.
# fakekube_client_cert DIR CN
#     Makes a client CA DIR/client-ca.pem and a client certificate
#     DIR/client.pem (+ DIR/client-key.pem) with common name CN, for
#     --client-ca DIR/client-ca.pem [--kubeconfig-client-cert
#     DIR/client.pem --kubeconfig-client-key DIR/client-key.pem].
#
# fk_kubectl ARGS...
#     kubectl ($FAKEKUBE_KUBECTL, default kubectl) with --kubeconfig
#     $FAKEKUBE_KUBECONFIG and a cache directory in $FAKEKUBE_DIR (so runs
#     never share discovery or OpenAPI caches).
# fk_api METHOD PATH [BODY [CONTENT_TYPE]]
#     One API request with curl (bearer token, CA $FAKEKUBE_CACERT). BODY
#     is a string, or @FILE; CONTENT_TYPE defaults to application/json
#     (PATCH: application/merge-patch+json). Prints the response body
#     (also kept in $FAKEKUBE_DIR/last.body; headers in last.headers) and
#     sets FK_STATUS to the HTTP status. Returns 0 for 2xx, 1 otherwise, 2
#     when curl fails. FK_CURL_ARGS adds curl options (e.g. "-H X:y").
# fk_control METHOD PATH [JSON]
#     A request to a /_fake/ control endpoint (no authentication).
# fk_json EXPR [FILE]
#     Prints a field of a JSON document (FILE or stdin): EXPR is a path
#     like .status.phase, .items[0].metadata.name, .conditions[-1].type,
#     .items.length (a list's length) or .metadata.labels["a/b"]; strings
#     raw, others as JSON (sorted keys, ", " and ": " separators);
#     nothing (and status 1) when absent.
# fk_wait TIMEOUT CMD...
#     Retries CMD every 0.1 s until it succeeds (0) or TIMEOUT seconds
#     pass (1).
# fk_log_requests [FILTER]
#     Prints the request log as "STATUS METHOD PATH?QUERY CONTENT-TYPE"
#     lines; FILTER is a python expression over the record r (e.g.
#     "r['method']=='PATCH'").

# shellcheck disable=SC2034,SC2119,SC2120  # a library: its globals are for the tests
_fk_pid=

fakekube_require() {
	if [ -z "${FAKEKUBE_PYTHON:-}" ]; then
		if [ -x /usr/bin/python3 ]; then
			FAKEKUBE_PYTHON=/usr/bin/python3
		else
			FAKEKUBE_PYTHON=$(command -v python3 2>/dev/null) || FAKEKUBE_PYTHON=
		fi
	fi
	[ -n "$FAKEKUBE_PYTHON" ] || { echo "python3 not installed: skipping"; exit 77; }
	command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skipping"; exit 77; }
	command -v curl >/dev/null 2>&1 || { echo "curl not installed: skipping"; exit 77; }
	if [ "${1:-}" = kubectl ]; then
		command -v kubectl >/dev/null 2>&1 || { echo "kubectl not installed: skipping"; exit 77; }
	fi
	export FAKEKUBE_PYTHON
}

# fakekube.py: $FAKEKUBE_PY, else next to the sourcing script ($0), as
# tests/kube's own tests are. Tests elsewhere set FAKEKUBE_PY.
_fk_py() {
	if [ -n "${FAKEKUBE_PY:-}" ]; then
		echo "$FAKEKUBE_PY"
	else
		echo "$(cd "$(dirname "$0")" && pwd)/fakekube.py"
	fi
}

_fk_selfsigned() {
	[ -s "$1/fakekube.pem" ] && [ -s "$1/fakekube-key.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/fakekube-key.pem" -out "$1/fakekube.pem" -days 7 -subj /CN=fakekube \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >/dev/null 2>&1 ||
		{ echo "openssl could not make the server certificate" >&2; return 1; }
}

fakekube_client_cert() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/client-ca-key.pem" -out "$1/client-ca.pem" -days 7 \
		-subj /CN=fakekube-client-ca >/dev/null 2>&1 || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1/client-key.pem" -out "$1/client.csr" -subj "/O=system:masters/CN=$2" \
		>/dev/null 2>&1 || return 1
	openssl x509 -req -in "$1/client.csr" -CA "$1/client-ca.pem" -CAkey "$1/client-ca-key.pem" \
		-CAcreateserial -out "$1/client.pem" -days 7 >/dev/null 2>&1
}

fakekube_start() {
	[ -z "$_fk_pid" ] || fakekube_stop
	FAKEKUBE_DIR=$1
	shift
	case $FAKEKUBE_DIR in /*) ;; *) FAKEKUBE_DIR=$(pwd)/$FAKEKUBE_DIR ;; esac
	mkdir -p "$FAKEKUBE_DIR"
	[ -n "${FAKEKUBE_PYTHON:-}" ] || fakekube_require
	_fk_tls="--cert $FAKEKUBE_DIR/fakekube.pem --key $FAKEKUBE_DIR/fakekube-key.pem"
	FAKEKUBE_CACERT=$FAKEKUBE_DIR/fakekube.pem
	for _fk_a in "$@"; do
		[ "$_fk_a" != --http ] || { _fk_tls=; FAKEKUBE_CACERT=; }
	done
	[ -z "$_fk_tls" ] || _fk_selfsigned "$FAKEKUBE_DIR" || return 1
	FAKEKUBE_TOKEN=fakekube-token
	_fk_prev=
	for _fk_a in "$@"; do
		[ "$_fk_prev" != --token ] || FAKEKUBE_TOKEN=$_fk_a
		[ "$_fk_a" != --no-token ] || FAKEKUBE_TOKEN=
		_fk_prev=$_fk_a
	done
	FAKEKUBE_KUBECONFIG=$FAKEKUBE_DIR/kubeconfig
	FAKEKUBE_LOG=$FAKEKUBE_DIR/requests.jsonl
	FAKEKUBE_RUN_ROOT=$FAKEKUBE_DIR/run
	: >"$FAKEKUBE_DIR/fakekube.out"
	# shellcheck disable=SC2086  # _fk_tls is two options or none
	"$FAKEKUBE_PYTHON" "$(_fk_py)" $_fk_tls --token "$FAKEKUBE_TOKEN" \
		--kubeconfig-out "$FAKEKUBE_KUBECONFIG" --log "$FAKEKUBE_LOG" \
		--run-root "$FAKEKUBE_RUN_ROOT" "$@" \
		>"$FAKEKUBE_DIR/fakekube.out" 2>>"$FAKEKUBE_DIR/fakekube.err" &
	_fk_pid=$!
	_fk_n=$((${FAKEKUBE_START_TIMEOUT:-20} * 10))
	while ! grep -q '^FAKEKUBE_URL=' "$FAKEKUBE_DIR/fakekube.out" 2>/dev/null; do
		if ! kill -0 "$_fk_pid" 2>/dev/null || [ "$_fk_n" -le 0 ]; then
			echo "fakekube did not start:" >&2
			tail -n 20 "$FAKEKUBE_DIR/fakekube.err" >&2
			fakekube_stop
			return 1
		fi
		_fk_n=$((_fk_n - 1))
		sleep 0.1
	done
	FAKEKUBE_URL=$(sed -n 's/^FAKEKUBE_URL=//p' "$FAKEKUBE_DIR/fakekube.out" | head -n 1)
	FAKEKUBE_PORT=${FAKEKUBE_URL##*:}
	FAKEKUBE_PID=$_fk_pid
	export FAKEKUBE_URL FAKEKUBE_PORT FAKEKUBE_KUBECONFIG FAKEKUBE_PID FAKEKUBE_LOG \
		FAKEKUBE_RUN_ROOT FAKEKUBE_CACERT FAKEKUBE_TOKEN FAKEKUBE_DIR
}

fakekube_stop() {
	[ -n "$_fk_pid" ] || return 0
	if kill -TERM "$_fk_pid" 2>/dev/null; then
		_fk_n=50
		while kill -0 "$_fk_pid" 2>/dev/null && [ "$_fk_n" -gt 0 ]; do
			sleep 0.1
			_fk_n=$((_fk_n - 1))
		done
		kill -KILL "$_fk_pid" 2>/dev/null || :
	fi
	wait "$_fk_pid" 2>/dev/null || :
	_fk_pid=
}

fk_kubectl() {
	"${FAKEKUBE_KUBECTL:-kubectl}" --kubeconfig "$FAKEKUBE_KUBECONFIG" --cache-dir "$FAKEKUBE_DIR/kube-cache" "$@"
}

fk_api() {
	_fk_m=$1 _fk_p=$2
	_fk_ct=${4:-}
	if [ -z "$_fk_ct" ]; then
		_fk_ct=application/json
		[ "$_fk_m" != PATCH ] || _fk_ct=application/merge-patch+json
	fi
	set -- -sS -X "$_fk_m" -o "$FAKEKUBE_DIR/last.body" -D "$FAKEKUBE_DIR/last.headers" \
		-w '%{http_code}' ${3:+--data-binary} ${3:+"$3"} ${3:+-H} ${3:+"Content-Type: $_fk_ct"}
	[ -z "$FAKEKUBE_TOKEN" ] || set -- "$@" -H "Authorization: Bearer $FAKEKUBE_TOKEN"
	if [ -n "$FAKEKUBE_CACERT" ]; then set -- "$@" --cacert "$FAKEKUBE_CACERT"; fi
	# shellcheck disable=SC2086  # FK_CURL_ARGS is a list of options
	FK_STATUS=$(curl "$@" ${FK_CURL_ARGS:-} "$FAKEKUBE_URL$_fk_p") || { FK_STATUS=000; return 2; }
	cat "$FAKEKUBE_DIR/last.body"
	case $FK_STATUS in 2??) return 0 ;; *) return 1 ;; esac
}

fk_control() {
	set -- -sS -X "$1" -o "$FAKEKUBE_DIR/last.body" -w '%{http_code}' \
		${3:+--data-binary} ${3:+"$3"} "$FAKEKUBE_URL$2"
	[ -z "$FAKEKUBE_CACERT" ] || set -- --cacert "$FAKEKUBE_CACERT" "$@"
	FK_STATUS=$(curl "$@") || return 2
	cat "$FAKEKUBE_DIR/last.body"
	[ "$FK_STATUS" = 200 ]
}

fk_json() {
	"$FAKEKUBE_PYTHON" -c '
import json, re, sys
expr = sys.argv[1]
doc = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
for m in re.finditer(r"\.([A-Za-z0-9_-]+)|\[(-?\d+)\]|\[\"([^\"]*)\"\]", expr):
    key, idx, q = m.groups()
    if key == "length" and isinstance(doc, (list, dict)):
        doc = len(doc)
    elif idx is not None and isinstance(doc, list) and -len(doc) <= int(idx) < len(doc):
        doc = doc[int(idx)]
    elif isinstance(doc, dict) and (key or q) in doc:
        doc = doc[key or q]
    else:
        sys.exit(1)
print(doc if isinstance(doc, str) else json.dumps(doc, sort_keys=True))
' "$@"
}

fk_wait() {
	_fk_w=$(($1 * 10))
	shift
	while [ "$_fk_w" -gt 0 ]; do
		"$@" && return 0
		_fk_w=$((_fk_w - 1))
		sleep 0.1
	done
	return 1
}

fk_log_requests() {
	"$FAKEKUBE_PYTHON" -c '
import json, sys
flt = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else "True"
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "mark" in r:
        print("--- " + r["mark"]); continue
    if eval(flt, {}, {"r": r}):
        q = "?" + r["query"] if r["query"] else ""
        print(r["status"], r["method"], r["path"] + q, r["content_type"] or "-")
' "$FAKEKUBE_LOG" "${1:-}"
}
