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

/* What the signature is: from its armor line. */
enum ferry_sig_kind ferry_sig_kind_of(const char *sig, size_t len);

struct ferry_sig_result {
	bool valid;	  /* good signature by an allowed key */
	char signer[256]; /* principal (SSH) or "fingerprint uid" (OpenPGP) */
	char key[128];	  /* "SHA256:..." (SSH) or the key fingerprint (OpenPGP) */
	char reason[256]; /* why not valid, one line, no secrets */
};

/* Verify an SSH signature over data. allowed_signers is the file's text.
 * Returns 0 with r->valid set either way; -1 only on internal errors
 * (allocation, OpenSSL failures unrelated to the input). */
int ferry_sshsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *allowed_signers, const char *namespace_,
			struct ferry_sig_result *r, struct ferry_err *err);

/* Verify an OpenPGP detached signature over data against the armored public
 * keys in keys (one or more blocks). homedir is a private directory gpgme
 * may use (created 0700 if missing). Same return convention. */
int ferry_pgpsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *keys, const char *homedir, struct ferry_sig_result *r,
			struct ferry_err *err);

#endif
