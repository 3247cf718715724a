/* Authenticating `POST /hooks/git`: a forge's push notification is
 * accepted only when it proves it knows the shared secret.
 *
 *   GitHub  X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
 *   Gitea   X-Gitea-Signature:   <hex HMAC-SHA256(secret, body)>
 *           (Forgejo sends the same as X-Forgejo-Signature)
 *   GitLab  X-Gitlab-Token:      <the secret itself>
 *
 * Every comparison takes the same time whatever the input (CRYPTO_memcmp),
 * so the secret cannot be guessed byte by byte. Pure: no I/O.
 */
#ifndef FERRY_RECONCILER_WEBHOOK_H
#define FERRY_RECONCILER_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

/* Header lookup: the value of a request header (case-insensitive name), or
 * NULL. */
typedef const char *(*ferry_header_fn)(const char *name, void *arg);

enum ferry_webhook_verdict {
	FERRY_WEBHOOK_OK,
	FERRY_WEBHOOK_NO_SIGNATURE, /* none of the headers above */
	FERRY_WEBHOOK_BAD,	    /* a signature or token that does not match */
};

/* Check a request's body against secret. *scheme is set to "github",
 * "gitea" or "gitlab" when a header was found. */
enum ferry_webhook_verdict ferry_webhook_verify(const char *secret, const void *body, size_t len,
						ferry_header_fn header, void *arg,
						const char **scheme);

#endif
