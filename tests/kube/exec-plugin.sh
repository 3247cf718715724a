#!/bin/sh
# A client-go exec credential plugin for exec-auth.sh. In a kubeconfig:
#   exec: {command: PATH, args: [API_VERSION], env: [{name: STATE, value: DIR}], ...}
# Each run adds one to DIR/runs and saves KUBERNETES_EXEC_INFO in
# DIR/info, then:
#   DIR/fail exists:          says why on standard error, exits 1;
#   DIR/cert and DIR/key:     answers that client certificate and key;
#   DIR/wrong holds N > 0:    answers a wrong token, and N - 1 in DIR/wrong;
#   else:                     answers the token in DIR/token.
set -eu
api=${1:?usage: exec-plugin.sh API_VERSION}
state=${STATE:?STATE is not set}
runs=$(cat "$state/runs" 2>/dev/null || echo 0)
echo $((runs + 1)) >"$state/runs"
printf '%s\n' "${KUBERNETES_EXEC_INFO:-}" >"$state/info"
if [ -e "$state/fail" ]; then
	echo "exec-plugin: no session: log in first" >&2
	exit 1
fi
# a PEM file as a JSON string's content (its newlines as \n)
pem() { awk '{ printf "%s\\n", $0 }' "$1"; }
if [ -e "$state/cert" ]; then
	status="\"clientCertificateData\":\"$(pem "$state/cert")\",\"clientKeyData\":\"$(pem "$state/key")\""
else
	token=$(cat "$state/token")
	wrong=$(cat "$state/wrong" 2>/dev/null || echo 0)
	if [ "$wrong" -gt 0 ]; then
		echo $((wrong - 1)) >"$state/wrong"
		token="wrong-token"
	fi
	status="\"token\":\"$token\""
fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{%s}}\n' "$api" "$status"
