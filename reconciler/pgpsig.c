/* OpenPGP detached signatures verified with gpgme, in a keyring of ferry's
 * own. The keyring outlives a call (keys imported before stay in it), so
 * "allowed" is decided by the fingerprints this call imported from `keys`,
 * never by what the keyring holds or by gpg's trust database. */
#include "reconciler/sigverify.h"

#include "common/alloc.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <gpgme.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* An allowed key or subkey fingerprint and its primary key's. */
struct allowed_fpr {
	char *fpr;
	char *primary;
};

struct allowed {
	struct allowed_fpr *v;
	size_t len, cap;
};

static void allowed_release(struct allowed *a)
{
	for (size_t i = 0; i < a->len; i++) {
		free(a->v[i].fpr);
		free(a->v[i].primary);
	}
	free(a->v);
	a->v = NULL;
	a->len = a->cap = 0;
}

/* The primary fingerprint that fpr (a key or subkey) belongs to, or NULL. */
static const char *allowed_owner(const struct allowed *a, const char *fpr)
{
	if (!fpr)
		return NULL;
	for (size_t i = 0; i < a->len; i++)
		if (strcasecmp(a->v[i].fpr, fpr) == 0)
			return a->v[i].primary;
	return NULL;
}

/* gpg --import starts gpg-agent (GnuPG 2.2 asks it about secret keys) and
 * the agent would outlive the call. Verifying needs no agent, so the
 * keyring's gpg.conf says not to start one. An existing gpg.conf is left as
 * it is: whoever wrote it chose. */
static const char gpg_conf[] = "# written by ferry: this keyring only verifies signatures\n"
			       "no-autostart\n"
			       "no-auto-key-retrieve\n";

static int make_homedir(const char *dir, struct ferry_err *err)
{
	struct stat st;
	char *conf;
	int fd, rc = 0;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return ferry_err_set(err, FERRY_E_IO, "creating %s: %s", dir, strerror(errno));
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return ferry_err_set(err, FERRY_E_IO, "%s is not a directory", dir);
	conf = ferry_path_join(dir, "gpg.conf");
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, gpg_conf, sizeof gpg_conf - 1) != (ssize_t)(sizeof gpg_conf - 1))
			rc = ferry_err_set(err, FERRY_E_IO, "writing %s: %s", conf,
					   strerror(errno));
		if (close(fd) && !rc)
			rc = ferry_err_set(err, FERRY_E_IO, "writing %s: %s", conf,
					   strerror(errno));
		if (rc)
			unlink(conf);
	} else if (errno != EEXIST) {
		rc = ferry_err_set(err, FERRY_E_IO, "creating %s: %s", conf, strerror(errno));
	}
	free(conf);
	return rc;
}

/* Add the key fpr and its subkeys, as the keyring now has them. */
static void allow_key(gpgme_ctx_t ctx, const char *fpr, struct allowed *a)
{
	gpgme_key_t key = NULL;

	if (gpgme_get_key(ctx, fpr, &key, 0) || !key || !key->subkeys || !key->subkeys->fpr) {
		gpgme_key_unref(key);
		return;
	}
	for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next) {
		struct allowed_fpr *e;

		if (!sk->fpr)
			continue;
		e = FERRY_PUSH(a->v, a->len, a->cap);
		e->fpr = ferry_xstrdup(sk->fpr);
		e->primary = ferry_xstrdup(key->subkeys->fpr);
	}
	gpgme_key_unref(key);
}

/* The reason one signature does not count. */
static void refuse(const gpgme_signature_t s, const char *owner, struct ferry_sig_result *r)
{
	const char *fpr = s->fpr ? s->fpr : "(unknown)";
	gpgme_err_code_t code = gpgme_err_code(s->status);

	if (code == GPG_ERR_BAD_SIGNATURE)
		ferry_sig_why(r, "no valid signature: bad signature (key %s)", fpr);
	else if (!owner || code == GPG_ERR_NO_PUBKEY)
		ferry_sig_why(r, "key %s is not among the allowed keys", fpr);
	else if (code == GPG_ERR_KEY_EXPIRED)
		ferry_sig_why(r, "key %s expired", fpr);
	else if (code == GPG_ERR_CERT_REVOKED)
		ferry_sig_why(r, "key %s is revoked", fpr);
	else if (code == GPG_ERR_SIG_EXPIRED)
		ferry_sig_why(r, "signature by key %s expired", fpr);
	else
		ferry_sig_why(r, "no valid signature: %s (key %s)", gpgme_strerror(s->status), fpr);
}

static void set_signer(gpgme_ctx_t ctx, const char *primary, struct ferry_sig_result *r)
{
	gpgme_key_t key = NULL;
	const char *uid = "";

	if (!gpgme_get_key(ctx, primary, &key, 0) && key && key->uids && key->uids->uid)
		uid = key->uids->uid;
	snprintf(r->key, sizeof r->key, "%s", primary);
	/* a long user ID is cut short: the fingerprint says who it is */
	snprintf(r->signer, sizeof r->signer, "%s %.*s", primary, 200, uid);
	gpgme_key_unref(key);
}

static bool detached_armor(const char *sig, size_t len)
{
	static const char begin[] = "-----BEGIN PGP SIGNATURE-----";
	size_t i = 0, n = sizeof begin - 1;

	while (i < len && (sig[i] == ' ' || sig[i] == '\t' || sig[i] == '\r' || sig[i] == '\n'))
		i++;
	return len - i > n && memcmp(sig + i, begin, n) == 0 &&
	       (sig[i + n] == '\n' || sig[i + n] == '\r');
}

static int pgpsig_verify(gpgme_ctx_t ctx, const char *sig, size_t siglen, const char *data,
			 size_t len, const char *keys, struct ferry_sig_result *r,
			 struct ferry_err *err)
{
	gpgme_data_t kd = NULL, sd = NULL, dd = NULL;
	gpgme_import_result_t ir;
	gpgme_verify_result_t vr;
	gpgme_error_t ge;
	struct allowed allowed = {NULL, 0, 0};
	int rc = -1;

	/* importing a secret key would start gpg-agent, and a private key has
	 * no business in a list of allowed signers */
	if (strstr(keys, "PRIVATE KEY BLOCK")) {
		ferry_sig_why(
			r,
			"allowed keys contain a private key block; only public keys are accepted");
		return 0;
	}
	/* gpg --verify with an inline-signed message fails ("not a detached
	 * signature"); saying so up front keeps gpg errors for real trouble */
	if (!detached_armor(sig, siglen)) {
		ferry_sig_why(r, "malformed OpenPGP signature: not an armored detached signature "
				 "(-----BEGIN PGP SIGNATURE-----)");
		return 0;
	}
	ge = gpgme_data_new_from_mem(&kd, keys, strlen(keys), 0);
	if (!ge)
		ge = gpgme_op_import(ctx, kd);
	if (ge && gpgme_err_code(ge) != GPG_ERR_NO_DATA) {
		ferry_err_set(err, FERRY_E_IO, "gpgme: importing the allowed keys: %s",
			      gpgme_strerror(ge));
		goto out;
	}
	ir = ge ? NULL : gpgme_op_import_result(ctx);
	for (gpgme_import_status_t st = ir ? ir->imports : NULL; st; st = st->next)
		if (st->fpr && gpgme_err_code(st->result) == GPG_ERR_NO_ERROR)
			allow_key(ctx, st->fpr, &allowed);

	ge = gpgme_data_new_from_mem(&sd, sig, siglen, 0);
	if (!ge)
		ge = gpgme_data_new_from_mem(&dd, data, len, 0);
	if (ge) {
		ferry_err_set(err, FERRY_E_INTERNAL, "gpgme: %s", gpgme_strerror(ge));
		goto out;
	}
	ge = gpgme_op_verify(ctx, sd, dd, NULL);
	switch (gpgme_err_code(ge)) {
	case GPG_ERR_NO_ERROR: break;
	case GPG_ERR_NO_DATA:
	case GPG_ERR_BAD_DATA:
	case GPG_ERR_INV_VALUE:
	case GPG_ERR_INV_PACKET:
	case GPG_ERR_INV_ARMOR:
		ferry_sig_why(r, "malformed OpenPGP signature: %s", gpgme_strerror(ge));
		rc = 0;
		goto out;
	case GPG_ERR_GENERAL:
		/* gpg exited without a verdict; gpg's own environment was
		 * checked above, so the signature is what it could not read
		 * (a signed message under a signature's armor, say) */
		ferry_sig_why(r, "malformed OpenPGP signature: gpg refused it (%s)",
			      gpgme_strerror(ge));
		rc = 0;
		goto out;
	default:
		ferry_err_set(err, FERRY_E_IO, "gpgme: verifying: %s", gpgme_strerror(ge));
		goto out;
	}
	vr = gpgme_op_verify_result(ctx);
	rc = 0;
	if (!vr || !vr->signatures) {
		ferry_sig_why(r, "no valid signature: no OpenPGP signature found");
		goto out;
	}
	/* any good signature by an allowed key will do; otherwise the first
	 * signature's problem is the reason */
	for (gpgme_signature_t s = vr->signatures; s; s = s->next) {
		const char *owner = allowed_owner(&allowed, s->fpr);

		if (gpgme_err_code(s->status) == GPG_ERR_NO_ERROR && owner) {
			r->valid = true;
			r->reason[0] = '\0';
			set_signer(ctx, owner, r);
			goto out;
		}
		if (!r->reason[0])
			refuse(s, owner, r);
	}
out:
	gpgme_data_release(kd);
	gpgme_data_release(sd);
	gpgme_data_release(dd);
	allowed_release(&allowed);
	return rc;
}

int ferry_pgpsig_verify(const char *sig, size_t siglen, const char *data, size_t len,
			const char *keys, const char *homedir, struct ferry_sig_result *r,
			struct ferry_err *err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_error_t ge;
	int rc;

	memset(r, 0, sizeof *r);
	if ((!sig && siglen) || (!data && len) || !homedir || !*homedir)
		return ferry_err_set(err, FERRY_E_INTERNAL,
				     "ferry_pgpsig_verify: missing signature, data or homedir");
	if (!gpgme_check_version(NULL))
		return ferry_err_set(err, FERRY_E_INTERNAL, "gpgme: version check failed");
	ge = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
	if (ge)
		return ferry_err_set(err, FERRY_E_UNSUPPORTED, "gpgme: no usable gpg: %s",
				     gpgme_strerror(ge));
	if (make_homedir(homedir, err))
		return -1;
	ge = gpgme_new(&ctx);
	if (!ge)
		ge = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
	if (!ge)
		ge = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, homedir);
	if (ge) {
		gpgme_release(ctx);
		return ferry_err_set(err, FERRY_E_INTERNAL, "gpgme: %s", gpgme_strerror(ge));
	}
	/* no key servers, no WKD: only the keys we were given */
	gpgme_set_offline(ctx, 1);
	rc = pgpsig_verify(ctx, sig ? sig : "", siglen, data ? data : "", len, keys ? keys : "", r,
			   err);
	gpgme_release(ctx);
	if (rc)
		r->valid = false;
	return rc;
}
