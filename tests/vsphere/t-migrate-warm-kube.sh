#!/bin/sh
# t-migrate-warm.sh into the fake Kubernetes API server (the kubevirt
# target): each round's copy is a transfer Job reading the snapshot through
# a TLS-PSK relay, with the changed areas in its Secret.
#   t-migrate-warm-kube.sh VCSIM CBT_PROXY VSDRV FERRY
FERRY_TEST_TARGET=kubevirt exec sh "$(dirname "$0")/t-migrate-warm.sh" "$@"
