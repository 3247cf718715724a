#include "reconciler/webhook.h"

#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string.h>
#include <strings.h>

/* Does hex (exactly 64 hex digits, either case) encode mac? Constant time
 * over the digits once the length is right. */
static bool hex_mac_equal(const char *hex, const unsigned char mac[32])
{
	unsigned char got[32];
	int bad = 0;

	if (strlen(hex) != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = ferry_hexval(hex[2 * i]), lo = ferry_hexval(hex[2 * i + 1]);
		bad |= (hi < 0) | (lo < 0);
		got[i] = (unsigned char)(((hi & 0xf) << 4) | (lo & 0xf));
	}
	return !bad && CRYPTO_memcmp(got, mac, 32) == 0;
}

enum ferry_webhook_verdict ferry_webhook_verify(const char *secret, const void *body, size_t len,
						ferry_header_fn header, void *arg,
						const char **scheme)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	const char *v;

	*scheme = NULL;
	if (!secret || !*secret)
		return FERRY_WEBHOOK_BAD; /* never accept without a configured secret */
	if ((v = header("X-Gitlab-Token", arg))) {
		size_t a = strlen(v), b = strlen(secret);
		*scheme = "gitlab";
		/* compare the same number of bytes whatever the lengths */
		unsigned char pad[256] = {0};
		if (b >= sizeof pad)
			return FERRY_WEBHOOK_BAD;
		memcpy(pad, v, a < sizeof pad ? a : sizeof pad);
		return a == b && CRYPTO_memcmp(pad, secret, b) == 0 ? FERRY_WEBHOOK_OK
								    : FERRY_WEBHOOK_BAD;
	}
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &maclen) ||
	    maclen != 32)
		return FERRY_WEBHOOK_BAD;
	if ((v = header("X-Hub-Signature-256", arg))) {
		*scheme = "github";
		if (strncasecmp(v, "sha256=", 7))
			return FERRY_WEBHOOK_BAD;
		return hex_mac_equal(v + 7, mac) ? FERRY_WEBHOOK_OK : FERRY_WEBHOOK_BAD;
	}
	if ((v = header("X-Gitea-Signature", arg)) || (v = header("X-Forgejo-Signature", arg))) {
		*scheme = "gitea";
		return hex_mac_equal(v, mac) ? FERRY_WEBHOOK_OK : FERRY_WEBHOOK_BAD;
	}
	return FERRY_WEBHOOK_NO_SIGNATURE;
}
