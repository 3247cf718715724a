#!/bin/sh
# Gates with real signatures and trailers: commits signed by `git commit -S`
# with ssh-keygen keys (gpg.format=ssh) and with a throwaway gpg home are
# accepted when the signer is allowed, refused when unsigned, signed by
# somebody else or tampered with; Approved-by/Reviewed-by trailers are
# counted from a Policy in the repository, and a refused commit never
# replaces the commit in force.
# usage: gates.sh FERRY
set -eu
FERRY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
. "$HERE/lib.sh"

command -v gpg >/dev/null || { echo "SKIP: gpg not installed"; exit 77; }
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ferry-git-gates.XXXXXX")
gitlab_init "$SCRATCH"
export GNUPGHOME="$SCRATCH/gnupg"
cleanup() {
	gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true
	gpgconf --homedir "$SCRATCH/data/gnupg" --kill all 2>/dev/null || true
	gitlab_cleanup
	rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
run_sync() {
	rc=0
	"$FERRY" sync -c "$SCRATCH/ferry.ini" >"$SCRATCH/out" 2>&1 || rc=$?
	{ echo "\$ ferry sync"; cat "$SCRATCH/out"; } >>"$SCRATCH/all-output.log"
}
in_force() {
	git --git-dir="$GL_DIR/srv/plans.git" show ferry/status:status/repository.yaml |
		sed -n 's/^inForce: //p'
}
W="$GL_DIR/human/plans"
# human SUBJECT TRAILERS [GIT-OPTIONS...]: commit a change to notes.yaml in
# the human clone (git run with GIT-OPTIONS, e.g. -c settings), with
# TRAILERS (may be empty) as the message's last paragraph; push; print the sha
human() {
	msg=$1
	[ -z "$2" ] || msg=$(printf '%s\n\n%s' "$1" "$2")
	git -C "$W" fetch -q origin && git -C "$W" reset -q --hard origin/main
	echo "# $1 $(date +%s%N)" >"$W/notes.yaml"
	shift 2
	git -C "$W" add -A
	git -C "$W" "$@" commit -q -m "$msg"
	git -C "$W" push -q origin HEAD:main
	git -C "$W" rev-parse HEAD
}

# ---- keys ----------------------------------------------------------------
mkdir -p "$SCRATCH/keys" "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$SCRATCH/keys/alice" >/dev/null
ssh-keygen -q -t ecdsa -N '' -C bob -f "$SCRATCH/keys/bob" >/dev/null
ssh-keygen -q -t ed25519 -N '' -C mallory -f "$SCRATCH/keys/mallory" >/dev/null
{
	echo "alice@example.com $(cut -d' ' -f1,2 "$SCRATCH/keys/alice.pub")"
	echo "bob@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$SCRATCH/keys/bob.pub")"
} >"$SCRATCH/allowed_signers"
gpg --batch --quiet --no-tty --passphrase '' --quick-gen-key 'Carol <carol@example.com>' ed25519 sign never 2>/dev/null
gpg --batch --quiet --no-tty --passphrase '' --quick-gen-key 'Eve <eve@example.com>' ed25519 sign never 2>/dev/null
carol=$(gpg --with-colons --list-keys carol@example.com | awk -F: '/^fpr/ { print $10; exit }')
eve=$(gpg --with-colons --list-keys eve@example.com | awk -F: '/^fpr/ { print $10; exit }')
gpg --armor --export "$carol" >"$SCRATCH/openpgp.asc"

gitlab_bare plans "$SRC/examples/quickstart"
git clone -q "$GL_DIR/srv/plans.git" "$W"
cat >"$SCRATCH/ferry.ini" <<EOF
[repository]
url = file://$GL_DIR/srv/plans.git
[daemon]
data_dir = $SCRATCH/data
[gate]
signature = any
allowed_signers = $SCRATCH/allowed_signers
openpgp_keys = $SCRATCH/openpgp.asc
EOF
sign_ssh() { echo "-c gpg.format=ssh -c user.signingkey=$SCRATCH/keys/$1.pub"; }

# the seed commit is unsigned: refused, nothing in force
run_sync
check "unsigned seed refused (rc=$rc)" sh -c "[ $rc = 1 ] && grep -q 'signature gate failed.*not signed' '$SCRATCH/out'"
check "nothing in force yet" sh -c "[ \"\$(git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | sed -n 's/^inForce: //p')\" = null ]"

# SSH: alice (ed25519) and bob (ecdsa) are allowed
a1=$(human "signed by alice" "" $(sign_ssh alice) -c commit.gpgsign=true)
run_sync
check "ssh ed25519 signature by an allowed signer accepted (rc=$rc)" \
	sh -c "[ $rc = 0 ] && grep -q 'signed by alice@example.com (SHA256:' '$SCRATCH/out'"
check "  ... and it is in force" [ "$(in_force)" = "$a1" ]
b1=$(human "signed by bob" "" $(sign_ssh bob) -c commit.gpgsign=true)
run_sync
check "ssh ecdsa signature by an allowed signer accepted" \
	sh -c "[ $rc = 0 ] && grep -q 'signed by bob@example.com' '$SCRATCH/out'"
m1=$(human "signed by mallory" "" $(sign_ssh mallory) -c commit.gpgsign=true)
run_sync
check "ssh signature by a key not allowed refused" \
	sh -c "[ $rc = 1 ] && grep -q 'not in the allowed signers' '$SCRATCH/out'"
check "  ... and the previous commit stays in force" [ "$(in_force)" = "$b1" ]
check "  ... the status says which gate and why" \
	sh -c "git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -q 'failed: signature' && git --git-dir='$GL_DIR/srv/plans.git' show ferry/status:status/repository.yaml | grep -q 'reason: .*allowed signers'"
u1=$(human "unsigned" "" -c commit.gpgsign=false)
run_sync
check "unsigned commit refused" sh -c "[ $rc = 1 ] && grep -q 'not signed' '$SCRATCH/out'"
check "  ... previous stays in force" [ "$(in_force)" = "$b1" ]

# a signature copied onto other content does not verify: re-create alice's
# signed commit object with a changed message, keeping its gpgsig header
a2=$(human "signed by alice again" "" $(sign_ssh alice) -c commit.gpgsign=true)
git --git-dir="$GL_DIR/srv/plans.git" cat-file commit "$a2" | sed 's/^signed by alice again$/signed by alice, tampered/' >"$SCRATCH/forged"
forged=$(git --git-dir="$GL_DIR/srv/plans.git" hash-object -t commit -w "$SCRATCH/forged")
git --git-dir="$GL_DIR/srv/plans.git" update-ref refs/heads/main "$forged" "$a2"
run_sync
check "tampered commit with a copied signature refused" \
	sh -c "[ $rc = 1 ] && grep -q 'does not verify' '$SCRATCH/out'"
check "  ... previous stays in force" [ "$(in_force)" = "$b1" ]

# OpenPGP: carol is allowed, eve is not
c1=$(human "signed by carol" "" -c gpg.format=openpgp -c user.signingkey="$carol" -c commit.gpgsign=true)
run_sync
check "OpenPGP signature by an allowed key accepted (rc=$rc)" \
	sh -c "[ $rc = 0 ] && grep -q 'signed by.*carol@example.com' '$SCRATCH/out'"
check "  ... in force" [ "$(in_force)" = "$c1" ]
e1=$(human "signed by eve" "" -c gpg.format=openpgp -c user.signingkey="$eve" -c commit.gpgsign=true)
run_sync
check "OpenPGP signature by another key refused" \
	sh -c "[ $rc = 1 ] && grep -q 'not among the allowed keys' '$SCRATCH/out'"
check "  ... previous stays in force" [ "$(in_force)" = "$c1" ]

# ---- approvals from a Policy in the repository ------------------------------
cat >"$W/policy.yaml" <<'EOF'
apiVersion: ferry.dev/v1alpha1
kind: Policy
metadata:
  name: four-eyes
  namespace: quickstart
spec:
  gates:
    approvals:
      count: 2
      approvers:
        - Alice <alice@example.com>
        - bob@example.com
        - Carol <carol@example.com>
EOF
git -C "$W" fetch -q origin && git -C "$W" reset -q --soft origin/main
git -C "$W" add policy.yaml
git -C "$W" $(sign_ssh alice) commit -q -S -m "Require two approvals

Approved-by: Bob <bob@example.com>"
git -C "$W" push -q origin HEAD:main
run_sync
check "a commit adding a Policy must pass it: one approval is not enough" \
	sh -c "[ $rc = 1 ] && grep -q 'approvals gate failed (Policy quickstart/four-eyes' '$SCRATCH/out' && grep -q '1 of 2' '$SCRATCH/out'"
p2=$(human "wave 2" "Approved-by: Bob <bob@example.com>
Reviewed-by: carol@example.com" $(sign_ssh alice) -c commit.gpgsign=true)
run_sync
check "two approvals from listed approvers accepted (rc=$rc)" \
	sh -c "[ $rc = 0 ] && grep -q '2 approvals' '$SCRATCH/out'"
check "  ... in force" [ "$(in_force)" = "$p2" ]
p3=$(human "self-approved" "Approved-by: alice@example.com
Approved-by: Bob <bob@example.com>" $(sign_ssh alice) -c commit.gpgsign=true -c user.email=alice@example.com)
run_sync
check "the author's own approval does not count" \
	sh -c "[ $rc = 1 ] && grep -q '1 of 2' '$SCRATCH/out'"
# removing the Policy needs the Policy's approvals (it is in force)
git -C "$W" fetch -q origin && git -C "$W" reset -q --hard origin/main
git -C "$W" rm -q policy.yaml
git -C "$W" $(sign_ssh alice) commit -q -S -m "Drop the approval rule"
git -C "$W" push -q origin HEAD:main
run_sync
check "removing the Policy without its approvals is refused" \
	sh -c "[ $rc = 1 ] && grep -q 'approvals gate failed (Policy quickstart/four-eyes at $(echo "$p2" | cut -c1-12)' '$SCRATCH/out'"
check "  ... previous stays in force" [ "$(in_force)" = "$p2" ]

# history shows the refusals and acceptances in order, with their commits
"$FERRY" history -c "$SCRATCH/ferry.ini" >"$SCRATCH/history" 2>&1
check "history names every refused commit" \
	sh -c "grep -q 'acted on $(echo "$m1" | cut -c1-12) by .*: signed by mallory' '$SCRATCH/history' && grep -q 'acted on $(echo "$e1" | cut -c1-12)' '$SCRATCH/history'"
check "no private key material in ferry's output" \
	sh -c "! grep -q 'PRIVATE KEY' '$SCRATCH/all-output.log' '$SCRATCH/history'"

[ "$fails" = 0 ] || { echo "$fails check(s) failed"; cat "$SCRATCH/all-output.log"; exit 1; }
echo "all checks passed"
