/* reconciler/sigverify: SSH signatures against allowed-signers files, and
 * OpenPGP signatures with gpgme. The fixtures in data/sig/ were made by
 * ssh-keygen and gpg (make-fixtures.sh); expected fingerprints are read from
 * what those tools printed, never typed in here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"
#include "reconciler/sigverify.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIGDATA FERRY_TEST_DATA "/sig/"

/* ---- fixtures ------------------------------------------------------------ */

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	long n = 0;
	char *buf;

	snprintf(path, sizeof path, SIGDATA "%s", name);
	fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET))
		fail_msg("cannot size %s", path);
	buf = ferry_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

/* Field 2 of the line of file whose field 1 (or, for ssh-keygen -l output,
 * field 3) is who: a fingerprint as the tools printed it. */
static void fixture_fpr(const char *file, const char *who, char *out, size_t n)
{
	char *text = slurp(file, NULL), *save = NULL;

	out[0] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char a[128], b[128], c[128];
		int got = sscanf(line, "%127s %127s %127s", a, b, c);

		if (got == 3 && strcmp(c, who) == 0)
			snprintf(out, n, "%s", b);
		else if (got == 2 && strcmp(a, who) == 0)
			snprintf(out, n, "%s", b);
	}
	free(text);
	if (!out[0])
		fail_msg("%s has no line for %s", file, who);
}

static void ssh_fpr(const char *name, char *out, size_t n)
{
	char who[64];

	snprintf(who, sizeof who, "%s@example.com", name);
	fixture_fpr("fingerprints.txt", who, out, n);
	assert_true(strncmp(out, "SHA256:", 7) == 0);
}

/* "principal keytype base64" of name.pub, for building allowed signers */
static char *pubkey_line(const char *principals, const char *options, const char *name)
{
	char file[64], type[64], key[1024];
	char *pub;
	char *line;

	snprintf(file, sizeof file, "%s.pub", name);
	pub = slurp(file, NULL);
	assert_int_equal(sscanf(pub, "%63s %1023s", type, key), 2);
	line = ferry_xasprintf("%s%s%s %s %s\n", principals, options ? " " : "",
			       options ? options : "", type, key);
	free(pub);
	return line;
}

/* ---- SSH ------------------------------------------------------------------ */

/* Verify data against the signature fixture; the call itself must succeed. */
static void ssh_run(const char *sigtext, size_t siglen, const char *data, size_t len,
		    const char *allowed, const char *ns, struct ferry_sig_result *r)
{
	struct ferry_err err = FERRY_ERR_INIT;

	if (ferry_sshsig_verify(sigtext, siglen, data, len, allowed, ns, r, &err) != 0)
		fail_msg("ferry_sshsig_verify failed: %s", err.msg);
	if (r->valid && r->reason[0])
		fail_msg("valid, yet a reason: %s", r->reason);
	if (!r->valid && !r->reason[0])
		fail_msg("invalid without a reason");
	if (!r->valid && r->signer[0])
		fail_msg("invalid, yet a signer: %s", r->signer);
}

static void ssh_file(const char *sigfile, const char *allowed, const char *ns,
		     struct ferry_sig_result *r)
{
	size_t siglen, len;
	char *sig = slurp(sigfile, &siglen), *data = slurp("commit.txt", &len);
	char *as = allowed ? NULL : slurp("allowed_signers", NULL);

	ssh_run(sig, siglen, data, len, allowed ? allowed : as, ns, r);
	free(sig);
	free(data);
	free(as);
}

static void expect_valid(const char *sigfile, const char *allowed, const char *ns,
			 const char *signer, const char *keyname)
{
	struct ferry_sig_result r;
	char fpr[128];

	ssh_fpr(keyname, fpr, sizeof fpr);
	ssh_file(sigfile, allowed, ns, &r);
	if (!r.valid)
		fail_msg("%s: invalid: %s", sigfile, r.reason);
	assert_string_equal(r.signer, signer);
	assert_string_equal(r.key, fpr);
}

static void expect_invalid(const char *sigfile, const char *allowed, const char *ns,
			   const char *part)
{
	struct ferry_sig_result r;

	ssh_file(sigfile, allowed, ns, &r);
	if (r.valid)
		fail_msg("%s: valid (signer %s), want \"%s\"", sigfile, r.signer, part);
	if (!strstr(r.reason, part))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", sigfile, r.reason, part);
}

static void test_kind_of(void **state)
{
	static const struct {
		const char *text;
		enum ferry_sig_kind want;
	} cases[] = {
		{"", FERRY_SIGKIND_NONE},
		{" \n\t\r\n", FERRY_SIGKIND_NONE},
		{"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n",
		 FERRY_SIGKIND_SSH},
		{"-----BEGIN SSH SIGNATURE-----\r\n", FERRY_SIGKIND_SSH},
		{"\n-----BEGIN SSH SIGNATURE-----", FERRY_SIGKIND_SSH},
		{"-----BEGIN PGP SIGNATURE-----\n\niHUEABYKAB0WIQ\n-----END PGP SIGNATURE-----\n",
		 FERRY_SIGKIND_OPENPGP},
		{"-----BEGIN PGP MESSAGE-----\n", FERRY_SIGKIND_OPENPGP},
		{"-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n",
		 FERRY_SIGKIND_UNKNOWN},
		{"-----BEGIN SSH SIGNATURE-----X\n", FERRY_SIGKIND_UNKNOWN},
		{"-----BEGIN SSH SIGNATURE----", FERRY_SIGKIND_UNKNOWN},
		{"-----BEGIN PGP PUBLIC KEY BLOCK-----\n", FERRY_SIGKIND_UNKNOWN},
		{"hello", FERRY_SIGKIND_UNKNOWN},
	};
	char *sig;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (ferry_sig_kind_of(cases[i].text, strlen(cases[i].text)) != cases[i].want)
			fail_msg("case %zu (\"%s\"): got %d, want %d", i, cases[i].text,
				 (int)ferry_sig_kind_of(cases[i].text, strlen(cases[i].text)),
				 (int)cases[i].want);
	/* the length is what counts, not a NUL */
	assert_int_equal(ferry_sig_kind_of("-----BEGIN SSH SIGNATURE-----", 10),
			 FERRY_SIGKIND_UNKNOWN);
	assert_int_equal(ferry_sig_kind_of(NULL, 0), FERRY_SIGKIND_NONE);
	sig = slurp("alice.sig", &len);
	assert_int_equal(ferry_sig_kind_of(sig, len), FERRY_SIGKIND_SSH);
	free(sig);
	sig = slurp("commit.pgp-test.asc", &len);
	assert_int_equal(ferry_sig_kind_of(sig, len), FERRY_SIGKIND_OPENPGP);
	free(sig);
}

static void test_ssh_good_each_key_type(void **state)
{
	(void)state;
	expect_valid("alice.sig", NULL, "git", "alice@example.com", "alice");
	expect_valid("alice-sha256.sig", NULL, "git", "alice@example.com", "alice");
	expect_valid("bob.sig", NULL, "git", "bob@example.com,robert@example.com", "bob");
	expect_valid("bob-rsa256.sig", NULL, "git", "bob@example.com,robert@example.com", "bob");
	/* carol's line has namespaces="git,file" and a comment */
	expect_valid("carol.sig", NULL, "git", "carol@example.com", "carol");
	expect_valid("dave.sig", NULL, "git", "dave@example.com", "dave");
	expect_valid("erin.sig", NULL, "git", "erin@example.com", "erin");
}

/* Every signature stops verifying when one byte of the data changes. */
static void test_ssh_tampered_data(void **state)
{
	static const char *const sigs[] = {"alice.sig",	     "alice-sha256.sig", "bob.sig",
					   "bob-rsa256.sig", "carol.sig",	 "dave.sig",
					   "erin.sig"};
	char *allowed = slurp("allowed_signers", NULL);
	size_t len;
	char *data = slurp("commit.txt", &len);

	(void)state;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		size_t siglen;
		char *sig = slurp(sigs[i], &siglen);
		size_t at[] = {0, len / 2, len - 1};

		for (size_t j = 0; j < 3; j++) {
			struct ferry_sig_result r;

			data[at[j]] ^= 0x01;
			ssh_run(sig, siglen, data, len, allowed, "git", &r);
			data[at[j]] ^= 0x01;
			if (r.valid || strcmp(r.reason, "signature does not verify") != 0)
				fail_msg("%s, byte %zu flipped: valid %d, reason %s", sigs[i],
					 at[j], r.valid, r.reason);
		}
		{
			struct ferry_sig_result r;

			/* one byte fewer */
			ssh_run(sig, siglen, data, len - 1, allowed, "git", &r);
			assert_false(r.valid);
			assert_string_equal(r.reason, "signature does not verify");
			/* and the untouched data is still good */
			ssh_run(sig, siglen, data, len, allowed, "git", &r);
			assert_true(r.valid);
		}
		free(sig);
	}
	free(data);
	free(allowed);
}

static void test_ssh_key_not_listed(void **state)
{
	struct ferry_sig_result r;
	char fpr[128], want[256];

	(void)state;
	ssh_fpr("mallory", fpr, sizeof fpr);
	snprintf(want, sizeof want, "key %s is not in the allowed signers", fpr);
	ssh_file("mallory.sig", NULL, "git", &r);
	assert_false(r.valid);
	assert_string_equal(r.reason, want);
	/* the fingerprint is reported for an invalid signature too */
	assert_string_equal(r.key, fpr);
	/* nor does an empty file allow anyone */
	expect_invalid("alice.sig", "", "git",
		       "allowed signers have no usable line (no key lines)");
	expect_invalid("alice.sig", "# nobody\n\n", "git",
		       "allowed signers have no usable line (no key lines)");
}

static void test_ssh_namespace_mismatch(void **state)
{
	(void)state;
	expect_invalid("alice-file.sig", NULL, "git", "namespace 'file' is not 'git'");
	expect_invalid("alice.sig", NULL, "file", "namespace 'git' is not 'file'");
	/* signed for "file", checked as "file": alice's line allows any */
	expect_valid("alice-file.sig", NULL, "file", "alice@example.com", "alice");
}

static void test_ssh_namespaces_option(void **state)
{
	static const struct {
		const char *opt;
		bool ok;
	} cases[] = {
		{"namespaces=\"file\"", false},
		{"namespaces=\"file,git\"", true},
		{"namespaces=\"g?t\"", true},
		{"namespaces=\"*\"", true},
		{"namespaces=\"*,!git\"", false},
		{"namespaces=\"gi\"", false},
		{"NAMESPACES=\"git\"", true},
		{"namespaces=\"file\",valid-after=\"20200101\"", false},
		{"namespaces=\"gitx,xgit\"", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *line = pubkey_line("alice@example.com", cases[i].opt, "alice");

		if (cases[i].ok)
			expect_valid("alice.sig", line, "git", "alice@example.com", "alice");
		else
			expect_invalid("alice.sig", line, "git",
				       "may not sign namespace 'git' (allowed signers line 1");
		free(line);
	}
}

/* A namespaces= refusal is not the last word when a later line allows. */
static void test_ssh_second_line_allows(void **state)
{
	char *a = pubkey_line("alice@file", "namespaces=\"file\"", "alice");
	char *b = pubkey_line("alice@git", NULL, "alice");
	char *both = ferry_xasprintf("%s%s", a, b);

	(void)state;
	expect_valid("alice.sig", both, "git", "alice@git", "alice");
	free(a);
	free(b);
	free(both);
}

static void test_ssh_wildcard_principals(void **state)
{
	char *mallory = pubkey_line("mallory@example.com", NULL, "mallory");
	char *wild = pubkey_line("*@example.com,ali?e@*", NULL, "alice");
	char *both = ferry_xasprintf("# wildcards\n%s%s", mallory, wild);

	(void)state;
	/* the matching line's principals field, as ssh-keygen -Y find-principals
	 * prints it */
	expect_valid("alice.sig", both, "git", "*@example.com,ali?e@*", "alice");
	free(mallory);
	free(wild);
	free(both);
}

static void test_ssh_validity_window(void **state)
{
	static const struct {
		const char *opt;
		const char *want; /* NULL: valid */
	} cases[] = {
		{"valid-before=\"20200101\"", "is no longer valid"},
		{"valid-before=\"202001011200Z\"", "is no longer valid"},
		{"valid-after=\"29990101Z\"", "is not valid yet"},
		{"valid-after=\"20200101\",valid-before=\"29991231235959\"", NULL},
		{"valid-after=\"19700102Z\"", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *line = pubkey_line("alice@example.com", cases[i].opt, "alice");

		if (!cases[i].want)
			expect_valid("alice.sig", line, "git", "alice@example.com", "alice");
		else
			expect_invalid("alice.sig", line, "git", cases[i].want);
		free(line);
	}
}

static void test_ssh_rsa_sha1_refused(void **state)
{
	(void)state;
	expect_invalid("bob-sha1.sig", NULL, "git", "refused: ssh-rsa signature (RSA with SHA-1)");
}

static void test_ssh_cert_authority_skipped(void **state)
{
	char *ca = pubkey_line("*@example.com", "cert-authority", "alice");

	(void)state;
	expect_invalid("alice.sig", ca, "git",
		       "allowed signers have no usable line (0 malformed; 1 cert-authority: "
		       "certificates are not supported)");
	free(ca);
}

/* Lines ssh-keygen would not accept are skipped, not fatal. */
static void test_ssh_malformed_allowed_signers(void **state)
{
	static const char *const bad[] = {
		"alice@example.com\n",
		"alice@example.com ssh-ed25519\n",
		"alice@example.com bogus-option ssh-ed25519 AAAA\n",
		"alice@example.com namespaces=git ssh-ed25519 AAAA\n",
		"alice@example.com namespaces=\"git ssh-ed25519 AAAA\n",
		"alice@example.com valid-after=\"2020\" ssh-ed25519 AAAA\n",
		"alice@example.com valid-after=\"20201301\" ssh-ed25519 AAAA\n",
		"alice@example.com valid-after=\"20210101\",valid-before=\"20200101\" ssh-ed25519 "
		"A\n",
		"alice@example.com namespaces=\"a\",namespaces=\"b\" ssh-ed25519 AAAA\n",
		"alice@example.com ssh-ed25519 !!!notbase64\n",
		"alice@example.com ssh-foo AAAA\n",
		"\"alice@example.com ssh-ed25519 AAAA\n",
	};
	struct ferry_sb sb = FERRY_SB_INIT;
	char *good = pubkey_line("alice@example.com", NULL, "alice");
	char *rsa_for_ed = pubkey_line("alice@example.com", NULL, "bob");
	char *alice_pub = slurp("alice.pub", NULL);
	char *typo, *crlf;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[64];

		expect_invalid("alice.sig", bad[i], "git", "allowed signers have no usable line");
		ferry_sb_adds(&sb, bad[i]);
		snprintf(want, sizeof want, "(%zu malformed, first line 1:", i + 1);
		expect_invalid("alice.sig", sb.buf, "git", want);
	}
	/* ssh-rsa named, ssh-ed25519 key inside */
	typo = ferry_xasprintf("alice@example.com ssh-rsa %s", strchr(alice_pub, ' ') + 1);
	expect_invalid("alice.sig", typo, "git", "first line 1: bad key");
	/* a good line among them still counts; CRLF and blank space are fine */
	ferry_sb_adds(&sb, "   \t\n# comment\r\n\r\n");
	ferry_sb_adds(&sb, rsa_for_ed);
	crlf = ferry_xasprintf("  %.*s\r\n", (int)strlen(good) - 1, good);
	ferry_sb_adds(&sb, crlf);
	expect_valid("alice.sig", sb.buf, "git", "alice@example.com", "alice");
	/* without it: "not in the allowed signers", saying lines were skipped */
	expect_invalid("mallory.sig", sb.buf, "git", "is not in the allowed signers (12 malformed");
	free(good);
	free(rsa_for_ed);
	free(alice_pub);
	free(typo);
	free(crlf);
	ferry_sb_release(&sb);
}

/* The binary SSHSIG inside an armored fixture. */
static unsigned char *sig_blob(const char *name, size_t *n)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *text = slurp(name, NULL);
	char *body = strchr(text, '\n') + 1;
	char *end = strstr(body, "-----END");
	unsigned char *blob;

	if (ferry_base64_decode(body, (size_t)(end - body), &blob, n, &err))
		fail_msg("%s: %s", name, err.msg);
	free(text);
	return blob;
}

static char *armor(const unsigned char *blob, size_t n)
{
	char *b64 = ferry_base64_encode(blob, n);
	struct ferry_sb sb = FERRY_SB_INIT;
	size_t len = strlen(b64);

	ferry_sb_adds(&sb, "-----BEGIN SSH SIGNATURE-----\n");
	for (size_t i = 0; i < len; i += 70) {
		ferry_sb_add(&sb, b64 + i, len - i < 70 ? len - i : 70);
		ferry_sb_addc(&sb, '\n');
	}
	ferry_sb_adds(&sb, "-----END SSH SIGNATURE-----\n");
	free(b64);
	return ferry_sb_detach(&sb);
}

static void ssh_blob(const unsigned char *blob, size_t n, struct ferry_sig_result *r)
{
	char *text = armor(blob, n), *allowed = slurp("allowed_signers", NULL);
	size_t len;
	char *data = slurp("commit.txt", &len);

	ssh_run(text, strlen(text), data, len, allowed, "git", r);
	free(text);
	free(allowed);
	free(data);
}

static void expect_text_malformed(const char *text, const char *part)
{
	struct ferry_sig_result r;

	ssh_run(text, strlen(text), "x", 1, "", "git", &r);
	assert_false(r.valid);
	if (!strstr(r.reason, part))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", text, r.reason, part);
}

static void test_ssh_malformed_armor(void **state)
{
	(void)state;
	expect_text_malformed("", "malformed SSH signature: no BEGIN SSH SIGNATURE line");
	expect_text_malformed("-----BEGIN PGP SIGNATURE-----\n", "no BEGIN SSH SIGNATURE line");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\n", "no END SSH SIGNATURE line");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIG",
			      "no END SSH SIGNATURE line");
	expect_text_malformed(
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\nmore\n",
		"text after the END SSH SIGNATURE line");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\nU1NI*U0lH\n"
			      "-----END SSH SIGNATURE-----\n",
			      "malformed SSH signature: bad base64");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\nU1NIU0l\n"
			      "-----END SSH SIGNATURE-----\n",
			      "malformed SSH signature: bad base64");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\n\n-----END SSH SIGNATURE-----\n",
			      "malformed SSH signature: no SSHSIG magic");
	expect_text_malformed("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n"
			      "-----END SSH SIGNATURE-----\n",
			      "malformed SSH signature: truncated");
	{
		/* larger than any signature */
		size_t n = 70 * 1024;
		char *big = ferry_xmalloc(n + 1);

		memset(big, 'A', n);
		memcpy(big, "-----BEGIN SSH SIGNATURE-----\n", 30);
		big[n] = '\0';
		expect_text_malformed(big, "larger than 64 KiB");
		free(big);
	}
}

/* Each prefix of a good signature is malformed; each one-byte change is
 * invalid; neither crashes (the ASan build runs this too). */
static void test_ssh_truncated_and_flipped(void **state)
{
	static const char *const sigs[] = {"alice.sig", "bob.sig", "carol.sig", "erin.sig"};

	(void)state;
	for (size_t s = 0; s < sizeof sigs / sizeof sigs[0]; s++) {
		size_t n;
		unsigned char *blob = sig_blob(sigs[s], &n);
		struct ferry_sig_result r;

		ssh_blob(blob, n, &r);
		assert_true(r.valid);
		for (size_t cut = 0; cut < n; cut++) {
			ssh_blob(blob, cut, &r);
			if (r.valid || strncmp(r.reason, "malformed SSH signature: ", 25) != 0)
				fail_msg("%s cut to %zu bytes: %s", sigs[s], cut, r.reason);
		}
		for (size_t i = 0; i < n; i++) {
			for (unsigned bit = 0; bit < 8; bit += 7) {
				blob[i] ^= (unsigned char)(1u << bit);
				ssh_blob(blob, n, &r);
				blob[i] ^= (unsigned char)(1u << bit);
				if (r.valid)
					fail_msg("%s: byte %zu bit %u flipped, still valid",
						 sigs[s], i, bit);
			}
		}
		{
			/* trailing bytes */
			unsigned char *more = ferry_xmalloc(n + 1);

			memcpy(more, blob, n);
			more[n] = 0;
			ssh_blob(more, n + 1, &r);
			assert_false(r.valid);
			assert_string_equal(r.reason, "malformed SSH signature: trailing data");
			free(more);
		}
		free(blob);
	}
}

static void put_u32(struct ferry_sb *sb, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	ferry_sb_add(sb, b, 4);
}

static void put_str(struct ferry_sb *sb, const void *p, size_t n)
{
	put_u32(sb, (uint32_t)n);
	ferry_sb_add(sb, p, n);
}

/* An SSHSIG with the given fields (the signature field is junk). */
static void forged(uint32_t version, const char *keytype, const char *hashalg,
		   struct ferry_sig_result *r)
{
	struct ferry_sb key = FERRY_SB_INIT, sig = FERRY_SB_INIT, sb = FERRY_SB_INIT;
	unsigned char zero[32] = {0};

	put_str(&key, keytype, strlen(keytype));
	put_str(&key, zero, sizeof zero);
	put_str(&sig, keytype, strlen(keytype));
	put_str(&sig, zero, sizeof zero);
	ferry_sb_add(&sb, "SSHSIG", 6);
	put_u32(&sb, version);
	put_str(&sb, key.buf, key.len);
	put_str(&sb, "git", 3);
	put_str(&sb, "", 0);
	put_str(&sb, hashalg, strlen(hashalg));
	put_str(&sb, sig.buf, sig.len);
	ssh_blob((const unsigned char *)sb.buf, sb.len, r);
	ferry_sb_release(&key);
	ferry_sb_release(&sig);
	ferry_sb_release(&sb);
}

static void test_ssh_unsupported(void **state)
{
	struct ferry_sig_result r;

	(void)state;
	forged(1, "ssh-ed25519-cert-v01@openssh.com", "sha512", &r);
	assert_false(r.valid);
	assert_string_equal(r.reason, "unsupported key type ssh-ed25519-cert-v01@openssh.com: "
				      "certificates are not supported");
	assert_true(strncmp(r.key, "SHA256:", 7) == 0);
	forged(1, "ssh-dss", "sha512", &r);
	assert_string_equal(r.reason, "unsupported key type ssh-dss");
	forged(1, "sk-ssh-ed25519@openssh.com", "sha512", &r);
	assert_string_equal(r.reason, "unsupported key type sk-ssh-ed25519@openssh.com");
	forged(1, "ssh-\x01\xff", "sha512", &r);
	assert_string_equal(r.reason, "unsupported key type ssh-??");
	forged(2, "ssh-ed25519", "sha512", &r);
	assert_string_equal(r.reason, "malformed SSH signature: unsupported SSHSIG version 2");
	forged(1, "ssh-ed25519", "md5", &r);
	assert_string_equal(r.reason, "malformed SSH signature: unsupported hash algorithm 'md5'");
	/* right shape, wrong bytes */
	forged(1, "ssh-ed25519", "sha512", &r);
	assert_string_equal(r.reason, "malformed SSH signature: bad ssh-ed25519 signature length");
}

static void test_ssh_bad_arguments(void **state)
{
	struct ferry_sig_result r;
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	assert_int_equal(ferry_sshsig_verify("x", 1, "x", 1, "", NULL, &r, &err), -1);
	assert_false(r.valid);
	assert_int_equal(ferry_sshsig_verify("x", 1, "x", 1, "", "", &r, &err), -1);
	/* a NULL file is an empty one */
	ssh_file("alice.sig", NULL, "git", &r);
	assert_true(r.valid);
	{
		size_t siglen, len;
		char *sig = slurp("alice.sig", &siglen), *data = slurp("commit.txt", &len);

		assert_int_equal(ferry_sshsig_verify(sig, siglen, data, len, NULL, "git", &r, &err),
				 0);
		assert_false(r.valid);
		assert_non_null(strstr(r.reason, "no usable line"));
		free(sig);
		free(data);
	}
}

/* ---- OpenPGP ------------------------------------------------------------- */

struct gpg_state {
	char dir[64];	   /* mkdtemp */
	char homedir[128]; /* dir/gnupg: made by ferry_pgpsig_verify */
};

static int gpg_setup(void **state)
{
	struct gpg_state *g = ferry_xcalloc(1, sizeof *g);

	snprintf(g->dir, sizeof g->dir, "/tmp/ferry-sig-XXXXXX");
	if (!mkdtemp(g->dir))
		return -1;
	snprintf(g->homedir, sizeof g->homedir, "%s/gnupg", g->dir);
	*state = g;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int gpg_teardown(void **state)
{
	struct gpg_state *g = *state;
	char cmd[256], sock[192];
	int rc;

	/* verifying must not start gpg-agent (its socket would be here) */
	snprintf(sock, sizeof sock, "%s/S.gpg-agent", g->homedir);
	rc = access(sock, F_OK) == 0 ? -1 : 0;
	if (rc)
		fprintf(stderr, "gpg-agent was started in %s\n", g->homedir);
	/* in case one was: stop whatever runs there */
	snprintf(cmd, sizeof cmd, "gpgconf --homedir '%s' --kill all >/dev/null 2>&1", g->homedir);
	if (system(cmd) != 0)
		fprintf(stderr, "note: %s failed\n", cmd);
	if (nftw(g->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS))
		rc = -1;
	free(g);
	return rc;
}

/* Verify commit.txt (one byte flipped at flip, unless SIZE_MAX) against
 * sigfile with the keys files (concatenated). */
static void pgp_run(struct gpg_state *g, const char *sigfile, const char *keyfiles[], size_t flip,
		    struct ferry_sig_result *r)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_sb keys = FERRY_SB_INIT;
	size_t siglen, len;
	char *sig = slurp(sigfile, &siglen), *data = slurp("commit.txt", &len);

	for (size_t i = 0; keyfiles[i]; i++) {
		char *k = slurp(keyfiles[i], NULL);

		ferry_sb_adds(&keys, k);
		free(k);
	}
	if (flip != SIZE_MAX)
		data[flip] ^= 0x20;
	if (ferry_pgpsig_verify(sig, siglen, data, len, keys.buf, g->homedir, r, &err) != 0)
		fail_msg("ferry_pgpsig_verify failed: %s", err.msg);
	if (r->valid == !!r->reason[0])
		fail_msg("valid %d, reason \"%s\"", r->valid, r->reason);
	free(sig);
	free(data);
	ferry_sb_release(&keys);
}

static void pgp_fpr(const char *who, char *out, size_t n)
{
	fixture_fpr("pgp-fingerprints.txt", who, out, n);
	assert_int_equal(strlen(out), 40);
}

static void expect_pgp_invalid(struct gpg_state *g, const char *sigfile, const char *keyfiles[],
			       size_t flip, const char *part)
{
	struct ferry_sig_result r;

	pgp_run(g, sigfile, keyfiles, flip, &r);
	if (r.valid)
		fail_msg("%s: valid (%s), want \"%s\"", sigfile, r.signer, part);
	if (!strstr(r.reason, part))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", sigfile, r.reason, part);
}

static void test_pgp_good(void **state)
{
	struct gpg_state *g = *state;
	const char *keys[] = {"pgp-test.asc", NULL};
	struct ferry_sig_result r;
	char fpr[64], want[128];
	struct stat st;

	pgp_fpr("test", fpr, sizeof fpr);
	pgp_run(g, "commit.pgp-test.asc", keys, SIZE_MAX, &r);
	if (!r.valid)
		fail_msg("invalid: %s", r.reason);
	assert_string_equal(r.key, fpr);
	snprintf(want, sizeof want, "%s Test <t@example.com>", fpr);
	assert_string_equal(r.signer, want);
	/* the keyring was made private */
	assert_int_equal(stat(g->homedir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* and again, with the key already in the keyring */
	pgp_run(g, "commit.pgp-test.asc", keys, SIZE_MAX, &r);
	assert_true(r.valid);
	assert_string_equal(r.key, fpr);
}

/* A signature by a signing subkey counts for its primary key. */
static void test_pgp_subkey(void **state)
{
	const char *keys[] = {"pgp-other.asc", "pgp-test.asc", NULL};
	struct ferry_sig_result r;
	char fpr[64];

	pgp_fpr("test", fpr, sizeof fpr);
	pgp_run(*state, "commit.pgp-sub.asc", keys, SIZE_MAX, &r);
	if (!r.valid)
		fail_msg("invalid: %s", r.reason);
	assert_string_equal(r.key, fpr);
}

static void test_pgp_tampered(void **state)
{
	const char *keys[] = {"pgp-test.asc", NULL};

	expect_pgp_invalid(*state, "commit.pgp-test.asc", keys, 10,
			   "no valid signature: bad signature");
	expect_pgp_invalid(*state, "commit.pgp-sub.asc", keys, 0,
			   "no valid signature: bad signature");
}

static void test_pgp_other_key(void **state)
{
	struct gpg_state *g = *state;
	const char *test[] = {"pgp-test.asc", NULL}, *other[] = {"pgp-other.asc", NULL};
	char fpr[64], want[128];
	struct ferry_sig_result r;

	pgp_fpr("other", fpr, sizeof fpr);
	/* a keyring that never saw the key */
	expect_pgp_invalid(g, "commit.pgp-other.asc", test, SIZE_MAX,
			   "is not among the allowed keys");
	/* a keyring that holds it from an earlier call with other keys: still
	 * not allowed now */
	pgp_run(g, "commit.pgp-other.asc", other, SIZE_MAX, &r);
	assert_true(r.valid);
	snprintf(want, sizeof want, "key %s is not among the allowed keys", fpr);
	expect_pgp_invalid(g, "commit.pgp-other.asc", test, SIZE_MAX, want);
}

static void test_pgp_expired_key(void **state)
{
	const char *keys[] = {"pgp-old.asc", NULL};
	char fpr[64], want[128];

	pgp_fpr("old", fpr, sizeof fpr);
	snprintf(want, sizeof want, "key %s expired", fpr);
	expect_pgp_invalid(*state, "commit.pgp-old.asc", keys, SIZE_MAX, want);
}

static void test_pgp_malformed(void **state)
{
	struct gpg_state *g = *state;
	const char *keys[] = {"pgp-test.asc", NULL}, *none[] = {NULL};
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_sig_result r;
	static const char *const sigs[] = {
		"",
		"garbage",
		"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n",
		"-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n",
	};
	char *keytext = slurp("pgp-test.asc", NULL);

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		assert_int_equal(ferry_pgpsig_verify(sigs[i], strlen(sigs[i]), "x", 1, keytext,
						     g->homedir, &r, &err),
				 0);
		assert_false(r.valid);
		assert_true(r.reason[0] != '\0');
	}
	/* an SSH signature is not an OpenPGP one */
	expect_pgp_invalid(g, "alice.sig", keys, SIZE_MAX,
			   "malformed OpenPGP signature: not an armored detached signature");
	/* nor is a message signed inline by an allowed key, even of this very
	 * text, under either armor line */
	expect_pgp_invalid(g, "commit.pgp-inline.asc", keys, SIZE_MAX,
			   "malformed OpenPGP signature: not an armored detached signature");
	expect_pgp_invalid(g, "commit.pgp-relabeled.asc", keys, SIZE_MAX, "OpenPGP signature");
	/* no allowed keys at all */
	expect_pgp_invalid(g, "commit.pgp-test.asc", none, SIZE_MAX,
			   "is not among the allowed keys");
	/* a private key is refused, not imported */
	assert_int_equal(ferry_pgpsig_verify("x", 1, "x", 1,
					     "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
					     "-----END PGP PRIVATE KEY BLOCK-----\n",
					     g->homedir, &r, &err),
			 0);
	assert_false(r.valid);
	assert_non_null(strstr(r.reason, "private key"));
	free(keytext);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_of),
		cmocka_unit_test(test_ssh_good_each_key_type),
		cmocka_unit_test(test_ssh_tampered_data),
		cmocka_unit_test(test_ssh_key_not_listed),
		cmocka_unit_test(test_ssh_namespace_mismatch),
		cmocka_unit_test(test_ssh_namespaces_option),
		cmocka_unit_test(test_ssh_second_line_allows),
		cmocka_unit_test(test_ssh_wildcard_principals),
		cmocka_unit_test(test_ssh_validity_window),
		cmocka_unit_test(test_ssh_rsa_sha1_refused),
		cmocka_unit_test(test_ssh_cert_authority_skipped),
		cmocka_unit_test(test_ssh_malformed_allowed_signers),
		cmocka_unit_test(test_ssh_malformed_armor),
		cmocka_unit_test(test_ssh_truncated_and_flipped),
		cmocka_unit_test(test_ssh_unsupported),
		cmocka_unit_test(test_ssh_bad_arguments),
		cmocka_unit_test_setup_teardown(test_pgp_good, gpg_setup, gpg_teardown),
		cmocka_unit_test_setup_teardown(test_pgp_subkey, gpg_setup, gpg_teardown),
		cmocka_unit_test_setup_teardown(test_pgp_tampered, gpg_setup, gpg_teardown),
		cmocka_unit_test_setup_teardown(test_pgp_other_key, gpg_setup, gpg_teardown),
		cmocka_unit_test_setup_teardown(test_pgp_expired_key, gpg_setup, gpg_teardown),
		cmocka_unit_test_setup_teardown(test_pgp_malformed, gpg_setup, gpg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
