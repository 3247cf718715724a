#!/bin/sh
# Regenerates the commit-signature fixtures in this directory for
# tests/unit/test_sigverify.c. Not run by CI: its outputs are committed, and
# every run makes new keys, so the tests' expectations come from the files
# written here (fingerprints.txt, pgp-fingerprints.txt), never from constants.
#
# Needs ssh-keygen (OpenSSH >= 8.2), gpg (GnuPG >= 2.2), openssl and python3
# (standard library only). All keys are throwaway test keys made in a
# temporary directory; only public keys and signatures are kept.
#
# Usage: tests/unit/data/sig/make-fixtures.sh
set -eu

out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
cleanup()
{
	gpgconf --homedir "$GNUPGHOME" --kill all 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# The signed text: shaped like a commit object without its gpgsig header.
cat >"$out/commit.txt" <<'EOF'
tree 9bd1a6f0b6e2c4e0f36fd5a0b1c0e7d0c4a3b2a1
parent 3f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b
author Alice Example <alice@example.com> 1700000000 +0000
committer Alice Example <alice@example.com> 1700000000 +0000

plans: migrate web-01 to the kubevirt cluster

Moves web-01 (2 disks, 80 GiB) in the Saturday window.
EOF

# --- SSH -------------------------------------------------------------------
mkkey()
{ # name type bits
	ssh-keygen -q -t "$2" ${3:+-b "$3"} -N '' -C "$1@example.com" -f "$work/$1"
	cp "$work/$1.pub" "$out/$1.pub"
}
mkkey alice ed25519
mkkey bob rsa 3072
mkkey carol ecdsa 256
mkkey dave ecdsa 384
mkkey erin ecdsa 521
mkkey mallory ed25519

sshsign()
{ # key output [ssh-keygen options...]
	k=$1 o=$2
	shift 2
	ssh-keygen -q -Y sign -f "$work/$k" "$@" <"$out/commit.txt" >"$out/$o"
}
sshsign alice alice.sig -n git
sshsign alice alice-sha256.sig -n git -O hashalg=sha256
sshsign alice alice-file.sig -n file
sshsign bob bob.sig -n git
sshsign carol carol.sig -n git
sshsign dave dave.sig -n git
sshsign erin erin.sig -n git
sshsign mallory mallory.sig -n git

# ssh-keygen signs RSA with rsa-sha2-512 only; rsa-sha2-256 and the refused
# SHA-1 "ssh-rsa" signatures are assembled here (PROTOCOL.sshsig) and signed
# with openssl.
cp "$work/bob" "$work/bob.pem"
ssh-keygen -q -p -m PEM -N '' -P '' -f "$work/bob.pem" >/dev/null
python3 - "$work" "$out" <<'EOF'
import base64, hashlib, struct, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
def s(b): return struct.pack(">I", len(b)) + b
pub = base64.b64decode(open(out + "/bob.pub").read().split()[1])
msg = open(out + "/commit.txt", "rb").read()
for name, sigtype, dgst in (("bob-rsa256.sig", b"rsa-sha2-256", "-sha256"),
                            ("bob-sha1.sig", b"ssh-rsa", "-sha1")):
    tbs = b"SSHSIG" + s(b"git") + s(b"") + s(b"sha512") + s(hashlib.sha512(msg).digest())
    raw = subprocess.run(["openssl", "dgst", dgst, "-sign", work + "/bob.pem"],
                         input=tbs, stdout=subprocess.PIPE, check=True).stdout
    blob = (b"SSHSIG" + struct.pack(">I", 1) + s(pub) + s(b"git") + s(b"") + s(b"sha512")
            + s(s(sigtype) + s(raw)))
    b64 = base64.b64encode(blob).decode()
    with open(out + "/" + name, "w") as f:
        f.write("-----BEGIN SSH SIGNATURE-----\n")
        for i in range(0, len(b64), 70):
            f.write(b64[i:i + 70] + "\n")
        f.write("-----END SSH SIGNATURE-----\n")
EOF

# What ssh-keygen -l prints: the tests compare fingerprints with this.
: >"$out/fingerprints.txt"
for k in alice bob carol dave erin mallory; do
	ssh-keygen -lf "$out/$k.pub" >>"$out/fingerprints.txt"
done

keyof() { cut -d' ' -f1,2 "$out/$1.pub"; }
{
	echo "# Allowed signers for test_sigverify (test-only keys)."
	echo "alice@example.com $(keyof alice)"
	echo ""
	echo "bob@example.com,robert@example.com $(keyof bob)"
	echo "carol@example.com namespaces=\"git,file\" $(keyof carol) carol's laptop"
	echo "dave@example.com $(keyof dave)"
	echo "erin@example.com $(keyof erin)"
} >"$out/allowed_signers"

# The fixtures must verify with OpenSSH itself (rsa256 included).
for k in alice:alice.sig alice:alice-sha256.sig bob:bob.sig bob:bob-rsa256.sig \
	carol:carol.sig dave:dave.sig erin:erin.sig; do
	ssh-keygen -q -Y verify -f "$out/allowed_signers" -I "${k%%:*}@example.com" -n git \
		-s "$out/${k#*:}" <"$out/commit.txt" >/dev/null
done

# --- OpenPGP ----------------------------------------------------------------
mkdir -m 700 "$GNUPGHOME"
fpr_of() { gpg --batch --with-colons --list-keys "$1" | awk -F: '/^fpr:/ { print $10; exit }'; }
gpg -q --batch --passphrase '' --quick-gen-key 'Test <t@example.com>' ed25519 sign never
test_fpr=$(fpr_of t@example.com)
gpg -q --batch --passphrase '' --quick-add-key "$test_fpr" ed25519 sign never
sub_fpr=$(gpg --batch --with-colons --list-keys "$test_fpr" | awk -F: '/^fpr:/ { n++; if (n == 2) print $10 }')
gpg -q --batch --passphrase '' --quick-gen-key 'Other <o@example.com>' ed25519 sign never
other_fpr=$(fpr_of o@example.com)
# A key that expired in 2020: made and used with a faked clock.
old='--faked-system-time 20200101T000000'
gpg -q --batch $old --passphrase '' --quick-gen-key 'Old <old@example.com>' ed25519 sign 1d 2>/dev/null
old_fpr=$(fpr_of old@example.com)

gpg -q --batch --armor --export "$test_fpr" >"$out/pgp-test.asc"
gpg -q --batch --armor --export "$other_fpr" >"$out/pgp-other.asc"
gpg -q --batch --armor --export "$old_fpr" >"$out/pgp-old.asc"

pgpsign()
{ # signing-key output [gpg options...]
	k=$1 o=$2
	shift 2
	gpg -q --batch "$@" -u "$k!" --armor --detach-sign <"$out/commit.txt" >"$out/$o"
}
pgpsign "$test_fpr" commit.pgp-test.asc
pgpsign "$sub_fpr" commit.pgp-sub.asc
pgpsign "$other_fpr" commit.pgp-other.asc
pgpsign "$old_fpr" commit.pgp-old.asc $old 2>/dev/null
# Not detached signatures: the same text signed inline, and that message
# under a detached signature's armor line (gpg: "not a detached signature").
gpg -q --batch -u "$test_fpr!" --armor --sign <"$out/commit.txt" >"$out/commit.pgp-inline.asc"
sed 's/PGP MESSAGE/PGP SIGNATURE/' "$out/commit.pgp-inline.asc" >"$out/commit.pgp-relabeled.asc"

{
	echo "test $test_fpr"
	echo "sub $sub_fpr"
	echo "other $other_fpr"
	echo "old $old_fpr"
} >"$out/pgp-fingerprints.txt"

# Seeds for the fuzz target tests/fuzz/fuzz_sshsig.c: signature, NUL,
# allowed signers.
seeds="$out/../../../fuzz/corpus/sshsig"
mkdir -p "$seeds"
for s in alice alice-sha256 alice-file bob bob-rsa256 bob-sha1 carol dave erin mallory; do
	{ cat "$out/$s.sig"; printf '\0'; cat "$out/allowed_signers"; } >"$seeds/seed-$s"
done
{
	cat "$out/alice.sig"
	printf '\0# options\n'
	printf '*@example.com,!x@y namespaces="file,g?t",valid-after="20200101Z",valid-before="29991231235959" %s\n' "$(keyof alice)"
	printf '"quoted principal" cert-authority %s\n' "$(keyof bob)"
} >"$seeds/seed-alice-options"
cp "$out/alice.sig" "$seeds/seed-alice-nonul"

echo "fixtures written to $out"
