/* reconciler/webhook: GitHub, Gitea and GitLab webhook authentication. The
 * GitHub vector is the one GitHub's documentation gives ("Validating webhook
 * deliveries"); the others were computed with
 * `printf BODY | openssl dgst -sha256 -hmac SECRET`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/webhook.h"

#include <string.h>
#include <strings.h>

struct hdr {
	const char *name, *value;
};

static const char *lookup(const char *name, void *arg)
{
	for (const struct hdr *h = arg; h->name; h++)
		if (!strcasecmp(h->name, name))
			return h->value;
	return NULL;
}

static const char secret[] = "It's a Secret to Everybody";

static enum ferry_webhook_verdict check(const char *body, struct hdr *h, const char **scheme)
{
	return ferry_webhook_verify(secret, body, strlen(body), lookup, h, scheme);
}

static void test_github(void **state)
{
	struct hdr ok[] = {{"x-hub-signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d"
						   "7586c22c46f4379c8b043e17"},
			   {NULL, NULL}};
	struct hdr upper[] = {{"X-Hub-Signature-256",
			       "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D"
			       "7586C22C46F4379C8B043E17"},
			      {NULL, NULL}};
	struct hdr flipped[] = {{"X-Hub-Signature-256",
				 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d"
				 "7586c22c46f4379c8b043e18"},
				{NULL, NULL}};
	struct hdr sha1[] = {
		{"X-Hub-Signature-256", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d"},
		{NULL, NULL}};
	const char *scheme;
	(void)state;

	assert_int_equal(check("Hello, World!", ok, &scheme), FERRY_WEBHOOK_OK);
	assert_string_equal(scheme, "github");
	assert_int_equal(check("Hello, World!", upper, &scheme), FERRY_WEBHOOK_OK);
	assert_int_equal(check("Hello, World?", ok, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check("Hello, World!", flipped, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check("Hello, World!", sha1, &scheme), FERRY_WEBHOOK_BAD);
	/* another secret */
	assert_int_equal(ferry_webhook_verify("other", "Hello, World!", 13, lookup, ok, &scheme),
			 FERRY_WEBHOOK_BAD);
	/* no secret configured: never accepted */
	assert_int_equal(ferry_webhook_verify("", "Hello, World!", 13, lookup, ok, &scheme),
			 FERRY_WEBHOOK_BAD);
}

static void test_gitea_gitlab_none(void **state)
{
	const char *body = "{\"ref\":\"refs/heads/main\"}";
	struct hdr gitea[] = {{"X-Gitea-Signature",
			       "6a42699496d8c4fb346af1c930df527931a321e28ada69dbc5ee82f438517fd2"},
			      {NULL, NULL}};
	struct hdr forgejo[] = {
		{"X-Forgejo-Signature",
		 "6a42699496d8c4fb346af1c930df527931a321e28ada69dbc5ee82f438517fd2"},
		{NULL, NULL}};
	struct hdr gitea_short[] = {{"X-Gitea-Signature", "6a42"}, {NULL, NULL}};
	struct hdr gitlab[] = {{"X-Gitlab-Token", secret}, {NULL, NULL}};
	struct hdr gitlab_bad[] = {{"X-Gitlab-Token", "It's a Secret to Everybodz"}, {NULL, NULL}};
	struct hdr gitlab_prefix[] = {{"X-Gitlab-Token", "It's a Secret"}, {NULL, NULL}};
	struct hdr none[] = {{"Content-Type", "application/json"}, {NULL, NULL}};
	const char *scheme;
	(void)state;

	assert_int_equal(check(body, gitea, &scheme), FERRY_WEBHOOK_OK);
	assert_string_equal(scheme, "gitea");
	assert_int_equal(check(body, forgejo, &scheme), FERRY_WEBHOOK_OK);
	assert_int_equal(check(body, gitea_short, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check("{}", gitea, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check(body, gitlab, &scheme), FERRY_WEBHOOK_OK);
	assert_string_equal(scheme, "gitlab");
	assert_int_equal(check(body, gitlab_bad, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check(body, gitlab_prefix, &scheme), FERRY_WEBHOOK_BAD);
	assert_int_equal(check(body, none, &scheme), FERRY_WEBHOOK_NO_SIGNATURE);
	assert_null(scheme);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github),
		cmocka_unit_test(test_gitea_gitlab_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
