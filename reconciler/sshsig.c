/* SSH signatures (OpenSSH PROTOCOL.sshsig, what git writes with
 * gpg.format=ssh) verified with OpenSSL, and the allowed-signers file of
 * ssh-keygen(1). The signature is untrusted input: every length is checked
 * against what is left before it is used, and nothing is allocated from a
 * length the input claims. */
#include "reconciler/sigverify.h"

#include "common/alloc.h"
#include "common/base64.h"
#include "common/strbuf.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* An armored signature is a few hundred bytes (about 2 KiB for a 16384-bit
 * RSA key); anything much larger is not one. */
#define SSHSIG_TEXT_MAX (64 * 1024)
#define RSA_MIN_BITS	1024 /* OpenSSH refuses smaller keys too */
#define RSA_MAX_BYTES	(16384 / 8)

static const char ssh_begin[] = "-----BEGIN SSH SIGNATURE-----";
static const char ssh_end[] = "-----END SSH SIGNATURE-----";
static const char cert_suffix[] = "-cert-v01@openssh.com";

/* ---- bounds-checked reading of SSH wire data ----------------------------- */

/* A view of untrusted bytes; reads consume from the front. */
struct rd {
	const unsigned char *p;
	size_t n;
};

static bool rd_u32(struct rd *r, uint32_t *v)
{
	if (r->n < 4)
		return false;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
	     (uint32_t)r->p[3];
	r->p += 4;
	r->n -= 4;
	return true;
}

/* string: uint32 length, then that many bytes (a view into r, not a copy). */
static bool rd_string(struct rd *r, struct rd *out)
{
	uint32_t len;
	struct rd save = *r;

	if (!rd_u32(r, &len) || len > r->n) {
		*r = save;
		return false;
	}
	out->p = r->p;
	out->n = len;
	r->p += len;
	r->n -= len;
	return true;
}

/* mpint: a non-negative two's-complement integer; out is its magnitude
 * without leading zeros, at most max bytes. */
static bool rd_mpint(struct rd *r, struct rd *out, size_t max)
{
	if (!rd_string(r, out))
		return false;
	if (out->n > 0 && (out->p[0] & 0x80))
		return false;
	while (out->n > 0 && out->p[0] == 0) {
		out->p++;
		out->n--;
	}
	return out->n <= max;
}

static bool rd_eq(struct rd s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void sb_u32(struct ferry_sb *sb, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	ferry_sb_add(sb, b, sizeof b);
}

static void sb_string(struct ferry_sb *sb, const void *p, size_t n)
{
	sb_u32(sb, (uint32_t)n);
	ferry_sb_add(sb, p, n);
}

/* Untrusted text for a one-line reason: at most max bytes, anything but
 * printable ASCII shown as '?'. */
static void printable(char *dst, size_t dstlen, const unsigned char *s, size_t n, size_t max)
{
	size_t j = 0;

	for (size_t i = 0; i < n && i < max && j + 1 < dstlen; i++)
		dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (n > max && j + 4 < dstlen) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

/* snprintf, where cutting a long reason short is intended. */
static void bounded(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bounded(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

void ferry_sig_why(struct ferry_sig_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

/* ---- what kind of signature --------------------------------------------- */

/* The armor line at the start of s (after blank space), followed by a line
 * end or nothing. */
static bool armored_as(const char *s, size_t len, const char *line)
{
	size_t n = strlen(line);

	if (len < n || memcmp(s, line, n) != 0)
		return false;
	return len == n || s[n] == '\n' || s[n] == '\r';
}

enum ferry_sig_kind ferry_sig_kind_of(const char *sig, size_t len)
{
	size_t i = 0;

	while (i < len && (sig[i] == ' ' || sig[i] == '\t' || sig[i] == '\r' || sig[i] == '\n'))
		i++;
	if (i == len)
		return FERRY_SIGKIND_NONE;
	if (armored_as(sig + i, len - i, ssh_begin))
		return FERRY_SIGKIND_SSH;
	/* git counts both as OpenPGP (gpg-interface.c) */
	if (armored_as(sig + i, len - i, "-----BEGIN PGP SIGNATURE-----") ||
	    armored_as(sig + i, len - i, "-----BEGIN PGP MESSAGE-----"))
		return FERRY_SIGKIND_OPENPGP;
	/* x509 ("-----BEGIN SIGNED MESSAGE-----") and anything else */
	return FERRY_SIGKIND_UNKNOWN;
}

/* ---- keys and signatures ------------------------------------------------ */

enum key_kind {
	KEY_ED25519,
	KEY_RSA,
	KEY_ECDSA,
};

struct curve {
	const char *type;  /* SSH key and signature type */
	const char *id;	   /* curve identifier inside the key */
	const char *group; /* OpenSSL group name */
	size_t field;	   /* bytes per coordinate */
};

static const struct curve curves[] = {
	{"ecdsa-sha2-nistp256", "nistp256", "prime256v1", 32},
	{"ecdsa-sha2-nistp384", "nistp384", "secp384r1", 48},
	{"ecdsa-sha2-nistp521", "nistp521", "secp521r1", 66},
};

/* RFC 5656 section 6.2.1: the hash follows the curve size. */
static const EVP_MD *curve_md(const struct curve *c)
{
	return c->field == 32 ? EVP_sha256() : c->field == 48 ? EVP_sha384() : EVP_sha512();
}

/* A public key as views into the signature blob. */
struct pubkey {
	enum key_kind kind;
	const struct curve *curve; /* KEY_ECDSA */
	struct rd a;		   /* ed25519: the key; RSA: e; ECDSA: the point */
	struct rd b;		   /* RSA: n */
};

static bool malformed(struct ferry_sig_result *r, const char *what)
{
	ferry_sig_why(r, "malformed SSH signature: %s", what);
	return false;
}

static bool parse_pubkey(struct rd blob, struct pubkey *k, struct ferry_sig_result *r)
{
	struct rd type, id;
	char shown[80];

	if (!rd_string(&blob, &type))
		return malformed(r, "public key has no type");
	if (rd_eq(type, "ssh-ed25519")) {
		k->kind = KEY_ED25519;
		if (!rd_string(&blob, &k->a) || k->a.n != 32 || blob.n != 0)
			return malformed(r, "bad ssh-ed25519 public key");
		return true;
	}
	if (rd_eq(type, "ssh-rsa")) {
		size_t bits;

		k->kind = KEY_RSA;
		/* e is 65537 in practice; a short bound keeps hostile keys cheap */
		if (!rd_mpint(&blob, &k->a, 8) || k->a.n == 0 ||
		    !rd_mpint(&blob, &k->b, RSA_MAX_BYTES) || k->b.n == 0 || blob.n != 0)
			return malformed(r, "bad ssh-rsa public key");
		bits = (k->b.n - 1) * 8;
		for (unsigned c = k->b.p[0]; c; c >>= 1)
			bits++;
		if (bits < RSA_MIN_BITS) {
			ferry_sig_why(r,
				      "unsupported key: RSA key of %zu bits (at least %d needed)",
				      bits, RSA_MIN_BITS);
			return false;
		}
		return true;
	}
	for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
		const struct curve *c = &curves[i];

		if (!rd_eq(type, c->type))
			continue;
		k->kind = KEY_ECDSA;
		k->curve = c;
		/* only uncompressed points, as OpenSSH */
		if (!rd_string(&blob, &id) || !rd_eq(id, c->id) || !rd_string(&blob, &k->a) ||
		    k->a.n != 1 + 2 * c->field || k->a.p[0] != 4 || blob.n != 0)
			return malformed(r, "bad ECDSA public key");
		return true;
	}
	printable(shown, sizeof shown, type.p, type.n, 64);
	if (type.n >= strlen(cert_suffix) &&
	    memcmp(type.p + type.n - strlen(cert_suffix), cert_suffix, strlen(cert_suffix)) == 0)
		ferry_sig_why(r, "unsupported key type %s: certificates are not supported", shown);
	else
		ferry_sig_why(r, "unsupported key type %s", shown);
	return false;
}

int ferry_ssh_fingerprint(const void *blob, size_t n, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char *b64;
	size_t len;

	if (!EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL))
		return -1;
	b64 = ferry_base64_encode(md, mdlen);
	len = strlen(b64);
	while (len > 0 && b64[len - 1] == '=')
		b64[--len] = '\0';
	snprintf(out, outlen, "SHA256:%s", b64);
	free(b64);
	return 0;
}

/* The key as OpenSSL sees it, or NULL when OpenSSL refuses the parameters
 * (a point off the curve, say): that is the input's fault. */
static EVP_PKEY *make_pkey(const struct pubkey *k)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	BIGNUM *n = NULL, *e = NULL;

	if (k->kind == KEY_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->a.p, k->a.n);
	bld = OSSL_PARAM_BLD_new();
	if (!bld)
		goto out;
	if (k->kind == KEY_RSA) {
		n = BN_bin2bn(k->b.p, (int)k->b.n, NULL);
		e = BN_bin2bn(k->a.p, (int)k->a.n, NULL);
		if (!n || !e || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
						     k->curve->group, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, k->a.p, k->a.n))
			goto out;
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!ctx || !params || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/* ECDSA signature blob (mpint r, mpint s) as the DER ECDSA-Sig-Value that
 * OpenSSL verifies. Returns the length (0: malformed); *der is freed with
 * OPENSSL_free. */
static size_t ecdsa_der(struct rd blob, const struct curve *c, unsigned char **der)
{
	struct rd rr, ss;
	ECDSA_SIG *esig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	int len = 0;

	*der = NULL;
	if (!rd_mpint(&blob, &rr, c->field) || !rd_mpint(&blob, &ss, c->field) || blob.n != 0)
		return 0;
	esig = ECDSA_SIG_new();
	r = BN_bin2bn(rr.p, (int)rr.n, NULL);
	s = BN_bin2bn(ss.p, (int)ss.n, NULL);
	if (!esig || !r || !s || !ECDSA_SIG_set0(esig, r, s)) {
		BN_free(r);
		BN_free(s);
	} else {
		len = i2d_ECDSA_SIG(esig, der);
	}
	ECDSA_SIG_free(esig);
	return len > 0 ? (size_t)len : 0;
}

/* Check sig (string type, string blob) by key k over tbs. Returns 1 good,
 * 0 bad or malformed (reason set), -1 internal error (err set). */
static int verify_sig(const struct pubkey *k, EVP_PKEY *pkey, struct rd sig, struct rd tbs,
		      struct ferry_sig_result *r, struct ferry_err *err)
{
	struct rd type, blob;
	const EVP_MD *md = NULL;
	unsigned char *raw = NULL, *der = NULL;
	const unsigned char *s;
	size_t slen;
	EVP_MD_CTX *mctx = NULL;
	int rc = 0;
	char shown[80];

	if (!rd_string(&sig, &type) || !rd_string(&sig, &blob) || sig.n != 0)
		return malformed(r, "bad signature encoding");
	printable(shown, sizeof shown, type.p, type.n, 64);
	s = blob.p;
	slen = blob.n;
	switch (k->kind) {
	case KEY_ED25519:
		if (!rd_eq(type, "ssh-ed25519")) {
			ferry_sig_why(r,
				      "malformed SSH signature: %s signature by an ssh-ed25519 key",
				      shown);
			return 0;
		}
		if (blob.n != 64)
			return malformed(r, "bad ssh-ed25519 signature length");
		break;
	case KEY_RSA: {
		size_t size = (size_t)EVP_PKEY_get_size(pkey);

		if (rd_eq(type, "rsa-sha2-256")) {
			md = EVP_sha256();
		} else if (rd_eq(type, "rsa-sha2-512")) {
			md = EVP_sha512();
		} else if (rd_eq(type, "ssh-rsa")) {
			ferry_sig_why(r, "refused: ssh-rsa signature (RSA with SHA-1); "
					 "sign with rsa-sha2-256 or rsa-sha2-512");
			return 0;
		} else {
			ferry_sig_why(r, "malformed SSH signature: %s signature by an ssh-rsa key",
				      shown);
			return 0;
		}
		if (slen == 0 || slen > size) {
			ferry_sig_why(r, "signature does not verify (bad RSA signature length)");
			return 0;
		}
		/* OpenSSH may drop leading zero bytes; OpenSSL wants the
		 * modulus size */
		raw = ferry_xcalloc(1, size);
		memcpy(raw + size - slen, s, slen);
		s = raw;
		slen = size;
		break;
	}
	case KEY_ECDSA:
		if (!rd_eq(type, k->curve->type)) {
			ferry_sig_why(r, "malformed SSH signature: %s signature by an %s key",
				      shown, k->curve->type);
			return 0;
		}
		md = curve_md(k->curve);
		slen = ecdsa_der(blob, k->curve, &der);
		if (!slen) {
			OPENSSL_free(der);
			return malformed(r, "bad ECDSA signature");
		}
		s = der;
		break;
	}

	mctx = EVP_MD_CTX_new();
	if (!mctx || EVP_DigestVerifyInit(mctx, NULL, md, NULL, pkey) != 1) {
		rc = ferry_err_set(err, FERRY_E_INTERNAL, "OpenSSL: cannot start verification");
		goto out;
	}
	if (EVP_DigestVerify(mctx, s, slen, tbs.p, tbs.n) == 1)
		rc = 1;
	else
		ferry_sig_why(r, "signature does not verify");
out:
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	free(raw);
	return rc;
}

/* ---- allowed signers (ssh-keygen(1) ALLOWED SIGNERS) --------------------- */

/* s (n bytes) against a glob with * and ?. Backtracks only to the last
 * star, so hostile patterns cost O(n * m), never more. */
static bool glob_match(const char *s, size_t n, const char *pat, size_t m)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;

	while (i < n) {
		if (j < m && pat[j] == '*') {
			star = j++;
			mark = i;
		} else if (j < m && (pat[j] == '?' || pat[j] == s[i])) {
			i++;
			j++;
		} else if (star != SIZE_MAX) {
			j = star + 1;
			i = ++mark;
		} else {
			return false;
		}
	}
	while (j < m && pat[j] == '*')
		j++;
	return j == m;
}

/* A comma-separated pattern list, as OpenSSH's match_pattern_list(): 1 when
 * a pattern matches and no negated one ("!pat") does, -1 when a negated
 * one does, else 0. */
int ferry_ssh_match_list(const char *s, const char *list, size_t len)
{
	int got = 0;
	size_t i = 0;

	while (i <= len) {
		size_t start = i;
		bool neg;

		while (i < len && list[i] != ',')
			i++;
		neg = start < i && list[start] == '!';
		if (glob_match(s, strlen(s), list + start + neg, i - start - neg)) {
			if (neg)
				return -1;
			got = 1;
		}
		i++;
	}
	return got;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]: UTC with Z, else local time (as
 * ssh-keygen reads valid-after and valid-before). */
static unsigned digits(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	return v;
}

static bool parse_sigtime(const char *s, size_t n, int64_t *out)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool utc = n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z');
	unsigned y, mo, d, h, mi, sec;

	if (utc)
		n--;
	if (n != 8 && n != 12 && n != 14)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	y = digits(s, 4);
	mo = digits(s + 4, 2);
	d = digits(s + 6, 2);
	h = n > 8 ? digits(s + 8, 2) : 0;
	mi = n > 8 ? digits(s + 10, 2) : 0;
	sec = n > 12 ? digits(s + 12, 2) : 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	if (utc) {
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	} else {
		struct tm tm = {0};
		time_t t;

		tm.tm_year = (int)y - 1900;
		tm.tm_mon = (int)mo - 1;
		tm.tm_mday = (int)d;
		tm.tm_hour = (int)h;
		tm.tm_min = (int)mi;
		tm.tm_sec = (int)sec;
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1)
			return false;
		*out = (int64_t)t;
	}
	return true;
}

static const char *const key_types[] = {
	/* what ferry verifies */
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	/* what else ssh-keygen writes; such lines never match */
	"ssh-dss",
	"sk-ssh-ed25519@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com",
	"ssh-ed25519-cert-v01@openssh.com",
	"ssh-rsa-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"ssh-dss-cert-v01@openssh.com",
	"sk-ssh-ed25519-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
};

static bool is_key_type(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof key_types / sizeof key_types[0]; i++)
		if (strlen(key_types[i]) == n && memcmp(key_types[i], s, n) == 0)
			return true;
	return false;
}

/* One parsed line; the pointers are into the file's text. */
struct signer_line {
	const char *principals;
	size_t principals_len;
	bool cert_authority;
	const char *namespaces; /* NULL: any namespace */
	size_t namespaces_len;
	bool has_after, has_before;
	int64_t after, before;
	const char *key; /* base64 */
	size_t key_len;
	const char *keytype;
	size_t keytype_len;
};

static size_t skip_blank(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* A field runs to blank space outside double quotes; false when a quote
 * is not closed. */
static bool next_field(const char *s, size_t n, size_t *i, const char **f, size_t *flen)
{
	size_t start = *i;
	bool quoted = false;

	while (*i < n && (quoted || (s[*i] != ' ' && s[*i] != '\t'))) {
		if (s[*i] == '"')
			quoted = !quoted;
		(*i)++;
	}
	*f = s + start;
	*flen = *i - start;
	return !quoted;
}

static bool opt_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

/* name[="value"],... Values must be double-quoted, as ssh-keygen wants. */
static bool parse_options(const char *s, size_t n, struct signer_line *l, const char **what)
{
	size_t i = 0;

	while (i < n) {
		const char *name = s + i, *val = NULL;
		size_t namelen, vallen = 0;
		int64_t *when = NULL;
		bool *has = NULL;

		while (i < n && s[i] != '=' && s[i] != ',')
			i++;
		namelen = (size_t)(s + i - name);
		if (i < n && s[i] == '=') {
			if (++i >= n || s[i] != '"') {
				*what = "option value not in double quotes";
				return false;
			}
			val = s + ++i;
			while (i < n && s[i] != '"')
				i++;
			if (i >= n) {
				*what = "unterminated quote";
				return false;
			}
			vallen = (size_t)(s + i - val);
			i++;
		}
		if (i < n && (s[i] != ',' || i + 1 == n)) {
			*what = "bad option list";
			return false;
		}
		i++;
		if (opt_is(name, namelen, "cert-authority") && !val) {
			l->cert_authority = true;
			continue;
		}
		if (opt_is(name, namelen, "namespaces") && val) {
			if (l->namespaces) {
				*what = "namespaces given twice";
				return false;
			}
			l->namespaces = val;
			l->namespaces_len = vallen;
			continue;
		}
		if (opt_is(name, namelen, "valid-after") && val) {
			when = &l->after;
			has = &l->has_after;
		} else if (opt_is(name, namelen, "valid-before") && val) {
			when = &l->before;
			has = &l->has_before;
		} else {
			*what = "unknown option";
			return false;
		}
		if (*has || !parse_sigtime(val, vallen, when)) {
			*what = *has ? "time option given twice"
				     : "bad time (YYYYMMDD[HHMM[SS]][Z])";
			return false;
		}
		*has = true;
	}
	if (l->has_after && l->has_before && l->before < l->after) {
		*what = "valid-before is earlier than valid-after";
		return false;
	}
	return true;
}

/* principals [options] keytype base64-key [comment]. Returns 1 parsed,
 * 0 blank or comment, -1 malformed with *what set. */
static int parse_line(const char *s, size_t n, struct signer_line *l, const char **what)
{
	size_t i = skip_blank(s, n, 0);
	const char *f;
	size_t flen;

	memset(l, 0, sizeof *l);
	if (i == n || s[i] == '#')
		return 0;
	if (!next_field(s, n, &i, &l->principals, &l->principals_len)) {
		*what = "unterminated quote";
		return -1;
	}
	if (l->principals_len >= 2 && l->principals[0] == '"') {
		l->principals++;
		l->principals_len -= 2;
	}
	if (l->principals_len == 0) {
		*what = "empty principals";
		return -1;
	}
	i = skip_blank(s, n, i);
	if (!next_field(s, n, &i, &f, &flen)) {
		*what = "unterminated quote";
		return -1;
	}
	if (flen > 0 && !is_key_type(f, flen)) {
		if (!parse_options(f, flen, l, what))
			return -1;
		i = skip_blank(s, n, i);
		next_field(s, n, &i, &f, &flen);
		if (!is_key_type(f, flen)) {
			*what = flen ? "unknown key type" : "no key";
			return -1;
		}
	}
	if (flen == 0) {
		*what = "no key";
		return -1;
	}
	l->keytype = f;
	l->keytype_len = flen;
	i = skip_blank(s, n, i);
	next_field(s, n, &i, &l->key, &l->key_len);
	if (l->key_len == 0) {
		*what = "no key";
		return -1;
	}
	return 1; /* the rest is a comment */
}

/* Does line l's key decode to exactly pub? Returns 1 yes, 0 no, -1 when the
 * key is not valid base64 of a key of the line's type. */
static int line_has_key(const struct signer_line *l, struct rd pub)
{
	unsigned char *blob = NULL;
	size_t len;
	struct rd b, type;
	int rc = -1;

	if (ferry_base64_decode(l->key, l->key_len, &blob, &len, NULL))
		return -1;
	b.p = blob;
	b.n = len;
	if (rd_string(&b, &type) && type.n == l->keytype_len &&
	    memcmp(type.p, l->keytype, type.n) == 0)
		rc = len == pub.n && memcmp(blob, pub.p, len) == 0;
	free(blob);
	return rc;
}

/* Find the line that allows key pub (fingerprint r->key) in namespace ns:
 * sets r->valid and r->signer, or r->reason. */
static void check_allowed(const char *text, struct rd pub, const char *ns,
			  struct ferry_sig_result *r)
{
	const char *p = text ? text : "";
	int lineno = 0, usable = 0, bad = 0, ca = 0;
	char first_bad[96] = "", refusal[sizeof r->reason] = "";
	int64_t now = (int64_t)time(NULL);

	while (*p) {
		const char *line = p, *nl = strchr(p, '\n'), *what = NULL;
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct signer_line l;
		char shown[64];
		int has;

		p += n + (nl != NULL);
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		switch (parse_line(line, n, &l, &what)) {
		case 0: continue;
		case 1: break;
		default:
			if (!bad++)
				bounded(first_bad, sizeof first_bad, "line %d: %s", lineno, what);
			continue;
		}
		if (l.cert_authority) {
			ca++;
			continue;
		}
		has = line_has_key(&l, pub);
		if (has < 0) {
			if (!bad++)
				bounded(first_bad, sizeof first_bad, "line %d: bad key", lineno);
			continue;
		}
		usable++;
		if (!has)
			continue;
		if (l.namespaces && ferry_ssh_match_list(ns, l.namespaces, l.namespaces_len) != 1) {
			printable(shown, sizeof shown, (const unsigned char *)l.namespaces,
				  l.namespaces_len, 40);
			if (!refusal[0])
				bounded(refusal, sizeof refusal,
					"key %s may not sign namespace '%s' "
					"(allowed signers line %d: namespaces=\"%s\")",
					r->key, ns, lineno, shown);
			continue;
		}
		if ((l.has_after && now < l.after) || (l.has_before && now > l.before)) {
			if (!refusal[0])
				bounded(refusal, sizeof refusal,
					"key %s is %s (allowed signers line %d)", r->key,
					l.has_after && now < l.after ? "not valid yet"
								     : "no longer valid",
					lineno);
			continue;
		}
		r->valid = true;
		/* the file is trusted: UTF-8 stays, control characters go */
		for (size_t i = 0; i < l.principals_len && i + 1 < sizeof r->signer; i++) {
			unsigned char c = (unsigned char)l.principals[i];
			r->signer[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
		return;
	}
	if (refusal[0])
		bounded(r->reason, sizeof r->reason, "%s", refusal);
	else if (!usable && !bad && !ca)
		ferry_sig_why(r, "allowed signers have no usable line (no key lines)");
	else if (!usable)
		ferry_sig_why(r,
			      "allowed signers have no usable line (%d malformed%s%s%s%d "
			      "cert-authority%s)",
			      bad, bad ? ", first " : "", first_bad, "; ", ca,
			      ca ? ": certificates are not supported" : "");
	else if (bad)
		ferry_sig_why(r,
			      "key %s is not in the allowed signers (%d malformed line%s skipped, "
			      "first %s)",
			      r->key, bad, bad == 1 ? "" : "s", first_bad);
	else
		ferry_sig_why(r, "key %s is not in the allowed signers", r->key);
}

/* ---- the whole check ---------------------------------------------------- */

/* The base64 body between the armor lines, decoded; false with a reason. */
static bool dearmor(const char *s, size_t n, unsigned char **blob, size_t *len,
		    struct ferry_sig_result *r)
{
	struct ferry_err e = FERRY_ERR_INIT;
	size_t i = 0;
	const char *body, *end;

	if (n > SSHSIG_TEXT_MAX)
		return malformed(r, "larger than 64 KiB");
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (!armored_as(s + i, n - i, ssh_begin))
		return malformed(r, "no BEGIN SSH SIGNATURE line");
	body = s + i + strlen(ssh_begin);
	end = memmem(body, (size_t)(s + n - body), ssh_end, strlen(ssh_end));
	if (!end)
		return malformed(r, "no END SSH SIGNATURE line");
	for (const char *t = end + strlen(ssh_end); t < s + n; t++)
		if (*t != ' ' && *t != '\t' && *t != '\r' && *t != '\n')
			return malformed(r, "text after the END SSH SIGNATURE line");
	if (ferry_base64_decode(body, (size_t)(end - body), blob, len, &e)) {
		ferry_sig_why(r, "malformed SSH signature: bad base64: %s", e.msg);
		return false;
	}
	return true;
}

static int sshsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			 const char *allowed_signers, const char *namespace_,
			 struct ferry_sig_result *r, struct ferry_err *err)
{
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	struct rd in, pub, ns, reserved, hashalg, sigfield, tbs;
	struct pubkey k;
	const EVP_MD *md;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	struct ferry_sb sb = FERRY_SB_INIT;
	EVP_PKEY *pkey = NULL;
	uint32_t version;
	char shown[80];
	int rc = 0;

	if (!dearmor(sig, siglen, &blob, &bloblen, r))
		goto out;
	in.p = blob;
	in.n = bloblen;
	if (in.n < 6 || memcmp(in.p, "SSHSIG", 6) != 0) {
		malformed(r, "no SSHSIG magic");
		goto out;
	}
	in.p += 6;
	in.n -= 6;
	if (!rd_u32(&in, &version)) {
		malformed(r, "truncated");
		goto out;
	}
	if (version != 1) {
		ferry_sig_why(r, "malformed SSH signature: unsupported SSHSIG version %u",
			      (unsigned)version);
		goto out;
	}
	if (!rd_string(&in, &pub) || !rd_string(&in, &ns) || !rd_string(&in, &reserved) ||
	    !rd_string(&in, &hashalg) || !rd_string(&in, &sigfield)) {
		malformed(r, "truncated");
		goto out;
	}
	if (in.n != 0) {
		malformed(r, "trailing data");
		goto out;
	}
	if (ferry_ssh_fingerprint(pub.p, pub.n, r->key, sizeof r->key)) {
		rc = ferry_err_set(err, FERRY_E_INTERNAL, "OpenSSL: SHA-256 failed");
		goto out;
	}
	if (!parse_pubkey(pub, &k, r))
		goto out;
	if (!rd_eq(ns, namespace_)) {
		printable(shown, sizeof shown, ns.p, ns.n, 64);
		ferry_sig_why(r, "namespace '%s' is not '%s'", shown, namespace_);
		goto out;
	}
	if (rd_eq(hashalg, "sha256")) {
		md = EVP_sha256();
	} else if (rd_eq(hashalg, "sha512")) {
		md = EVP_sha512();
	} else {
		printable(shown, sizeof shown, hashalg.p, hashalg.n, 64);
		ferry_sig_why(r, "malformed SSH signature: unsupported hash algorithm '%s'", shown);
		goto out;
	}
	if (!EVP_Digest(data, len, h, &hlen, md, NULL)) {
		rc = ferry_err_set(err, FERRY_E_INTERNAL, "OpenSSL: message digest failed");
		goto out;
	}
	/* PROTOCOL.sshsig: what the key signed */
	ferry_sb_add(&sb, "SSHSIG", 6);
	sb_string(&sb, ns.p, ns.n);
	sb_string(&sb, reserved.p, reserved.n);
	sb_string(&sb, hashalg.p, hashalg.n);
	sb_string(&sb, h, hlen);
	tbs.p = (const unsigned char *)sb.buf;
	tbs.n = sb.len;

	pkey = make_pkey(&k);
	if (!pkey) {
		malformed(r, "OpenSSL rejects the public key");
		goto out;
	}
	rc = verify_sig(&k, pkey, sigfield, tbs, r, err);
	if (rc != 1)
		goto out;
	rc = 0;
	check_allowed(allowed_signers, pub, namespace_, r);
out:
	EVP_PKEY_free(pkey);
	ferry_sb_release(&sb);
	free(blob);
	return rc;
}

int ferry_sshsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *allowed_signers, const char *namespace_,
			struct ferry_sig_result *r, struct ferry_err *err)
{
	int rc;

	memset(r, 0, sizeof *r);
	if ((!sig && siglen) || (!data && len) || !namespace_ || !*namespace_)
		return ferry_err_set(err, FERRY_E_INTERNAL,
				     "ferry_sshsig_verify: missing signature, data or namespace");
	if (!data)
		data = "";
	if (!sig)
		sig = "";
	/* OpenSSL reports refusals of hostile input on its error queue: leave
	 * the queue as the caller had it */
	ERR_set_mark();
	rc = sshsig_verify(sig, siglen, data, len, allowed_signers, namespace_, r, err);
	ERR_pop_to_mark();
	if (rc)
		r->valid = false;
	return rc;
}
