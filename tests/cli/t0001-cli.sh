#!/bin/sh
# The `ferry` command line: help, version, suggestions, exit codes.
# Usage: t0001-cli.sh FERRY
set -u
ferry=$1
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_STATUS PATTERN -- ARGS...: run ferry ARGS, check the exit
# status and that stdout+stderr matches the grep pattern.
expect() {
	name=$1 want=$2 pattern=$3
	shift 4
	"$ferry" "$@" >"$tmp/out" 2>&1
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL $name: exit $got, expected $want"; cat "$tmp/out"; fails=$((fails + 1))
	elif ! grep -q -- "$pattern" "$tmp/out"; then
		echo "FAIL $name: output lacks '$pattern'"; cat "$tmp/out"; fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

expect no-args 2 "usage: ferry" --
expect help 0 "validate   check a tree" -- help
expect --help 0 "usage: ferry \[--version\]" -- --help
expect -h 0 "commands:" -- -h
expect version 0 "^ferry [0-9]" -- version
expect --version 0 "^ferry [0-9]" -- --version
expect help-validate 0 "usage: ferry validate" -- help validate
expect validate--help 0 "usage: ferry validate" -- validate --help
expect help-unknown 2 "'frob' is not a ferry command" -- help frob
expect suggest 2 "Did you mean 'validate'?" -- valdate
expect suggest-copy 2 "Did you mean 'copy'?" -- cpy
expect no-suggestion 2 "See 'ferry help'" -- frobnicate
expect bad-option 2 "unknown option '--frob'" -- --frob
expect not-implemented 2 "not implemented yet" -- get pods
expect not-implemented-help 0 "not implemented yet" -- help get
expect validate-usage 2 "usage: ferry validate" -- validate
expect validate-format 2 "unknown output format 'xml'" -- validate -o xml .
expect validate-missing 2 "no-such-dir" -- validate "$tmp/no-such-dir"

# a clean tree exits 0, a tree with an Error exits 1, with the location
mkdir -p "$tmp/ok" "$tmp/bad"
printf 'apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\nmetadata: {name: h, namespace: ns}\nspec: {image: quay.io/x/y}\n' >"$tmp/ok/h.yaml"
printf 'apiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\nmetadata: {name: h, namespace: ns}\nspec: {image: quay.io/x/y, deadline: -1}\n' >"$tmp/bad/h.yaml"
expect validate-ok 0 "1 file, 1 object: 0 critical, 0 errors" -- validate "$tmp/ok"
expect validate-bad 1 "bad/h.yaml:4:38: Error: Hook ns/h: deadline is a positive number of seconds \[hook.deadline.invalid\]" -- validate "$tmp/bad"
expect options-after-dir 1 '"id": "hook.deadline.invalid"' -- validate "$tmp/bad" -o json
expect validate-json 1 '"id": "hook.deadline.invalid"' -- validate -o json "$tmp/bad"

# links are not followed, deep trees and huge files are refused, with findings
mkdir -p "$tmp/limits"
cp "$tmp/ok/h.yaml" "$tmp/limits/real.yaml"
ln -s real.yaml "$tmp/limits/link.yaml"
deep="$tmp/limits"
for i in $(seq 1 34); do deep="$deep/d"; done
mkdir -p "$deep"
cp "$tmp/ok/h.yaml" "$deep/too-deep.yaml"
head -c 16777217 /dev/zero | tr '\0' '#' >"$tmp/limits/huge.yaml"
expect symlink 1 "link.yaml: Warning: symbolic link not followed" -- validate "$tmp/limits"
expect depth 1 "Warning: directories nested deeper than 32 levels are not read \[load.depth\]" -- validate "$tmp/limits"
expect size-limit 1 "huge.yaml: Error: file larger than 16777216 bytes \[yaml.limit\]" -- validate "$tmp/limits"
expect limits-rest 1 "1 object:" -- validate "$tmp/limits"

# an unreadable subdirectory is a finding, and the rest is still checked
# (root ignores permissions, so only run this as another user)
if [ "$(id -u)" -ne 0 ]; then
	mkdir -p "$tmp/sub/locked"
	cp "$tmp/bad/h.yaml" "$tmp/sub/h.yaml"
	chmod 000 "$tmp/sub/locked"
	expect unreadable-subdir 1 "sub/locked: Error: cannot read directory" -- validate "$tmp/sub"
	expect unreadable-subdir-rest 1 "hook.deadline.invalid" -- validate "$tmp/sub"
	chmod 755 "$tmp/sub/locked"
fi

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
