/* libFuzzer target: SSH signature parsing and verification, allowed-signers
 * parsing. The input is the signature text, a NUL byte, then the
 * allowed-signers text (no NUL: all signature, no signers). The data is
 * fixed: the text the fixtures in tests/unit/data/sig were signed over, so
 * seeds made from them (signature, NUL, allowed_signers) reach the valid
 * path. */
#include "reconciler/sigverify.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tests/unit/data/sig/commit.txt */
static const char signed_text[] = "tree 9bd1a6f0b6e2c4e0f36fd5a0b1c0e7d0c4a3b2a1\n"
				  "parent 3f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b\n"
				  "author Alice Example <alice@example.com> 1700000000 +0000\n"
				  "committer Alice Example <alice@example.com> 1700000000 +0000\n"
				  "\n"
				  "plans: migrate web-01 to the kubevirt cluster\n"
				  "\n"
				  "Moves web-01 (2 disks, 80 GiB) in the Saturday window.\n";

static void check_field(const char *f, size_t n)
{
	if (!memchr(f, '\0', n))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t siglen = nul ? (size_t)(nul - in) : size;
	size_t rest = nul ? size - siglen - 1 : 0;
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_sig_result r;
	char *allowed = malloc(rest + 1);

	if (!allowed)
		return 0;
	if (rest)
		memcpy(allowed, nul + 1, rest);
	allowed[rest] = '\0';
	(void)ferry_sig_kind_of(in, siglen);
	/* hostile input is never an internal error */
	if (ferry_sshsig_verify(in, siglen, signed_text, sizeof signed_text - 1, allowed, "git", &r,
				&err) != 0)
		__builtin_trap();
	check_field(r.signer, sizeof r.signer);
	check_field(r.key, sizeof r.key);
	check_field(r.reason, sizeof r.reason);
	if (r.valid != (r.reason[0] == '\0') || r.valid != (r.signer[0] != '\0'))
		__builtin_trap();
	if (r.valid && strncmp(r.key, "SHA256:", 7) != 0)
		__builtin_trap();
	free(allowed);
	return 0;
}
