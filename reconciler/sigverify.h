/* Commit signature verification for the Git gates.
 *
 * SSH signatures (git's gpg.format=ssh: an armored SSHSIG over the commit
 * without its gpgsig header, namespace "git") are checked with OpenSSL
 * against an allowed-signers file (ssh-keygen(1) ALLOWED SIGNERS format).
 * OpenPGP signatures are checked with gpgme against a set of armored public
 * keys, in a private keyring: the user's ~/.gnupg is never read.
 */
#ifndef FERRY_RECONCILER_SIGVERIFY_H
#define FERRY_RECONCILER_SIGVERIFY_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

enum ferry_sig_kind {
	FERRY_SIGKIND_NONE,
	FERRY_SIGKIND_SSH,
	FERRY_SIGKIND_OPENPGP,
	FERRY_SIGKIND_UNKNOWN,
};

/* What the signature is: from its armor line (leading blank space and
 * line ends skipped). "-----BEGIN SSH SIGNATURE-----" is SSH; "-----BEGIN
 * PGP SIGNATURE-----" and "-----BEGIN PGP MESSAGE-----" are OpenPGP (as git
 * counts them); nothing but blank space is NONE; anything else, x509's
 * "-----BEGIN SIGNED MESSAGE-----" included, is UNKNOWN. */
enum ferry_sig_kind ferry_sig_kind_of(const char *sig, size_t len);

/* Filled in whole by each verify call (it starts by zeroing it). */
struct ferry_sig_result {
	bool valid;	  /* good signature by an allowed key */
	char signer[256]; /* principal (SSH) or "fingerprint uid" (OpenPGP);
			   * empty unless valid; cut short if longer */
	char key[128];	  /* "SHA256:..." (SSH) or the key fingerprint (OpenPGP);
			   * SSH: set as soon as the key could be read, so also
			   * for most invalid signatures */
	char reason[256]; /* why not valid, one line, no secrets; empty if valid */
};

/* Verify an SSH signature (PROTOCOL.sshsig, as `ssh-keygen -Y sign` and git
 * write it) over data. allowed_signers is the text of an ssh-keygen(1)
 * ALLOWED SIGNERS file (NULL: empty); namespace_ is what the signature must
 * be for ("git" for commits).
 *
 * Keys: ssh-ed25519, ssh-rsa (rsa-sha2-256 and rsa-sha2-512 signatures; the
 * SHA-1 "ssh-rsa" signature is refused; at least 1024 bits), ecdsa-sha2-
 * nistp256/384/521. Certificates and security keys (sk-*) are not supported.
 *
 * valid: the signature is for namespace_ and verifies, and a line of
 * allowed_signers has its key and allows namespace_ (namespaces="..."
 * pattern list) now (valid-after/valid-before are compared with the current
 * time: the signature carries none). r->signer is that line's principals
 * field as written (patterns included, as ssh-keygen -Y find-principals
 * prints it). Lines ssh-keygen would refuse (unknown option, unquoted value,
 * bad key...) and cert-authority lines are skipped.
 *
 * Reasons when not valid start with one of: "malformed SSH signature: ",
 * "unsupported key type ", "unsupported key: ", "refused: ssh-rsa signature",
 * "namespace 'X' is not 'Y'", "signature does not verify",
 * "key SHA256:... is not in the allowed signers", "key SHA256:... may not
 * sign namespace", "key SHA256:... is not valid yet" / "is no longer valid",
 * "allowed signers have no usable line".
 *
 * Returns 0 with r->valid set either way; -1 only on internal errors
 * (OpenSSL failures unrelated to the input) or a NULL/empty namespace_.
 * No I/O; OpenSSL's error queue is left as it was. Thread-safe. */
int ferry_sshsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *allowed_signers, const char *namespace_,
			struct ferry_sig_result *r, struct ferry_err *err);

/* Verify an OpenPGP detached signature over data against the armored public
 * keys in keys (one or more blocks). homedir is a private directory gpgme
 * may use (created 0700 if missing; its parent must exist). The keys are
 * imported into it and stay there, but only a good signature by a key or
 * subkey imported from this call's keys counts; gpg's trust database is not
 * consulted. Armored private key blocks in keys are refused.
 *
 * gpg --import would start a gpg-agent that outlives the call; to prevent
 * that, a gpg.conf with "no-autostart" is written into homedir when it has
 * none. No key is ever fetched from the network.
 *
 * r->key is the primary key's fingerprint, r->signer "<fingerprint> <first
 * user ID>". Reasons: "no valid signature: bad signature (key X)", "key X is
 * not among the allowed keys", "key X expired", "key X is revoked",
 * "signature by key X expired", "malformed OpenPGP signature: ...",
 * "no valid signature: ...".
 *
 * Returns 0 with r->valid set either way; -1 when gpg cannot be run or the
 * homedir cannot be made (FERRY_E_UNSUPPORTED, FERRY_E_IO). Runs gpg as a
 * child process. Call it once from the main thread before using it from
 * others (gpgme_check_version must first run single-threaded). */
int ferry_pgpsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *keys, const char *homedir, struct ferry_sig_result *r,
			struct ferry_err *err);

/* OpenSSH conventions shared by the signature check and known_hosts:
 * a comma-separated pattern list with * and ? wildcards and "!" negation,
 * as OpenSSH's match_pattern_list() (1 a pattern matches and no negated one
 * does, -1 a negated one matches, 0 none), and a key fingerprint as
 * `ssh-keygen -l` prints it ("SHA256:" and unpadded base64). */
int ferry_ssh_match_list(const char *s, const char *list, size_t len);
int ferry_ssh_fingerprint(const void *blob, size_t n, char *out, size_t outlen);

/* Set r->reason (printf-style); for the verifiers. */
void ferry_sig_why(struct ferry_sig_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
