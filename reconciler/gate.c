#include "reconciler/gate.h"

#include "common/alloc.h"
#include "common/util.h"
#include "reconciler/sigverify.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEYFILE_MAX (1u << 20)

static const char *const default_trailers[] = {"Approved-by", "Reviewed-by"};

static struct ferry_gate *gate_new(struct ferry_gates *g)
{
	g->items = ferry_grow(g->items, &g->cap, g->len + 1, sizeof *g->items);
	memset(&g->items[g->len], 0, sizeof *g->items);
	return &g->items[g->len++];
}

static char **dup_list(const char *const *src, size_t n)
{
	char **out = ferry_xcalloc(n ? n : 1, sizeof *out);
	for (size_t i = 0; i < n; i++)
		out[i] = ferry_xstrdup(src[i]);
	return out;
}

static int read_keys(const char *path, char **out, struct ferry_err *err)
{
	size_t len;
	if (ferry_read_file(path, KEYFILE_MAX, out, &len))
		return ferry_err_set(err, FERRY_E_IO, "[gate] reading %s: %s", path,
				     strerror(errno));
	return 0;
}

int ferry_gates_add_config(struct ferry_gates *g, const struct ferry_config *c,
			   struct ferry_err *err)
{
	struct ferry_gate *x;

	if (c->gate.signature == FERRY_SIG_NONE && c->gate.approvals == 0)
		return 0;
	x = gate_new(g);
	x->source = ferry_xasprintf("%s [gate]", c->path ? c->path : "ferry.ini");
	x->signature = c->gate.signature;
	x->approvals = c->gate.approvals;
	x->approvers = dup_list((const char *const *)c->gate.approvers, c->gate.napprovers);
	x->napprovers = c->gate.napprovers;
	if (c->gate.ntrailers) {
		x->trailers =
			dup_list((const char *const *)c->gate.approval_trailers, c->gate.ntrailers);
		x->ntrailers = c->gate.ntrailers;
	}
	if (c->gate.allowed_signers && read_keys(c->gate.allowed_signers, &x->allowed_signers, err))
		return -1;
	if (c->gate.openpgp_keys && read_keys(c->gate.openpgp_keys, &x->openpgp_keys, err))
		return -1;
	return 0;
}

static char **str_list(const struct ferry_list *l, size_t *n)
{
	const struct ferry_str *s = l->items;
	char **out = ferry_xcalloc(l->len ? l->len : 1, sizeof *out);
	*n = 0;
	for (size_t i = 0; i < l->len; i++)
		if (s[i].v)
			out[(*n)++] = ferry_xstrdup(s[i].v);
	return out;
}

void ferry_gates_add_model(struct ferry_gates *g, const struct ferry_model *m, const char *commit)
{
	for (size_t i = 0; i < ferry_model_count(m, FERRY_KIND_POLICY); i++) {
		const struct ferry_policy *p = &ferry_model_policies(m)[i];
		const char *req = p->spec.gates.signature.require.v;
		struct ferry_gate *x;

		if (!p->spec.gates.set)
			continue;
		x = gate_new(g);
		x->source = ferry_xasprintf("Policy %s/%s at %.12s", p->obj.ns, p->obj.name,
					    commit ? commit : "?");
		x->signature = !req			 ? FERRY_SIG_NONE
			       : !strcmp(req, "any")	 ? FERRY_SIG_ANY
			       : !strcmp(req, "ssh")	 ? FERRY_SIG_SSH
			       : !strcmp(req, "openpgp") ? FERRY_SIG_OPENPGP
							 : FERRY_SIG_NONE;
		if (p->spec.gates.signature.allowed_signers.v)
			x->allowed_signers =
				ferry_xstrdup(p->spec.gates.signature.allowed_signers.v);
		if (p->spec.gates.signature.openpgp_keys.v)
			x->openpgp_keys = ferry_xstrdup(p->spec.gates.signature.openpgp_keys.v);
		if (p->spec.gates.approvals.count.v > 0)
			x->approvals = (unsigned)p->spec.gates.approvals.count.v;
		x->approvers = str_list(&p->spec.gates.approvals.approvers, &x->napprovers);
		if (p->spec.gates.approvals.trailers.len)
			x->trailers = str_list(&p->spec.gates.approvals.trailers, &x->ntrailers);
	}
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void ferry_gates_release(struct ferry_gates *g)
{
	for (size_t i = 0; i < g->len; i++) {
		struct ferry_gate *x = &g->items[i];
		free(x->source);
		free(x->allowed_signers);
		free(x->openpgp_keys);
		free_list(x->approvers, x->napprovers);
		free_list(x->trailers, x->ntrailers);
	}
	free(g->items);
	memset(g, 0, sizeof *g);
}

/* The e-mail in "Name <email>" or a bare "email"; NULL otherwise. The
 * result points into a static-free copy the caller frees. */
static char *email_of(const char *s)
{
	const char *lt = strrchr(s, '<'), *gt;
	if (lt && (gt = strchr(lt, '>')) && gt > lt + 1)
		return ferry_xstrndup(lt + 1, (size_t)(gt - lt - 1));
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (memchr(s, '@', n) && !memchr(s, ' ', n))
		return ferry_xstrndup(s, n);
	return NULL;
}

static bool same_person(const char *approver, const char *value)
{
	char *a = email_of(approver), *b = email_of(value);
	bool same;
	if (a || b) {
		same = a && b && !strcasecmp(a, b);
	} else {
		/* no e-mail on either side: the names must match exactly */
		same = !strcmp(approver, value);
	}
	free(a);
	free(b);
	return same;
}

unsigned ferry_gate_count_approvals(const struct ferry_gate *gate, const char *message,
				    const char *author_email)
{
	struct ferry_trailer *t = NULL;
	size_t nt = 0;
	const char *const *names =
		gate->trailers ? (const char *const *)gate->trailers : default_trailers;
	size_t nnames = gate->trailers ? gate->ntrailers : 2;
	bool *counted = ferry_xcalloc(gate->napprovers ? gate->napprovers : 1, sizeof *counted);
	unsigned n = 0;

	if (ferry_git_trailers(message, &t, &nt)) {
		free(counted);
		return 0;
	}
	for (size_t i = 0; i < nt; i++) {
		bool named = false;
		for (size_t k = 0; k < nnames; k++)
			named |= !strcasecmp(t[i].key, names[k]);
		if (!named)
			continue;
		for (size_t a = 0; a < gate->napprovers; a++) {
			if (counted[a] || !same_person(gate->approvers[a], t[i].value))
				continue;
			if (author_email && same_person(gate->approvers[a], author_email))
				continue; /* the author's own approval does not count */
			counted[a] = true;
			n++;
		}
	}
	ferry_git_trailers_free(t, nt);
	free(counted);
	return n;
}

/* What a gate asks for, as the end of "... is required". */
static const char *sig_required_text(enum ferry_sig_require r)
{
	switch (r) {
	case FERRY_SIG_SSH: return "an SSH signature";
	case FERRY_SIG_OPENPGP: return "an OpenPGP signature";
	default: return "an SSH or OpenPGP signature";
	}
}

static int check_signature(const struct ferry_gate *x, const struct ferry_git_commit_info *ci,
			   const char *gpg_home, struct ferry_sig_result *r, struct ferry_err *err)
{
	enum ferry_sig_kind kind = ferry_sig_kind_of(ci->signature, ci->signature_len);

	memset(r, 0, sizeof *r);
	if (kind == FERRY_SIGKIND_NONE) {
		snprintf(r->reason, sizeof r->reason, "commit is not signed (%s is required)",
			 sig_required_text(x->signature));
		return 0;
	}
	if (kind == FERRY_SIGKIND_SSH &&
	    (x->signature == FERRY_SIG_SSH || x->signature == FERRY_SIG_ANY)) {
		if (!x->allowed_signers) {
			snprintf(r->reason, sizeof r->reason,
				 "an SSH signature, but no allowed signers are configured");
			return 0;
		}
		return ferry_sshsig_verify(ci->signature, ci->signature_len, ci->signed_data,
					   ci->signed_data_len, x->allowed_signers, "git", r, err);
	}
	if (kind == FERRY_SIGKIND_OPENPGP &&
	    (x->signature == FERRY_SIG_OPENPGP || x->signature == FERRY_SIG_ANY)) {
		if (!x->openpgp_keys) {
			snprintf(r->reason, sizeof r->reason,
				 "an OpenPGP signature, but no OpenPGP keys are configured");
			return 0;
		}
		return ferry_pgpsig_verify(ci->signature, ci->signature_len, ci->signed_data,
					   ci->signed_data_len, x->openpgp_keys, gpg_home, r, err);
	}
	snprintf(r->reason, sizeof r->reason, "%s signature, but %s is required",
		 kind == FERRY_SIGKIND_SSH	 ? "an SSH"
		 : kind == FERRY_SIGKIND_OPENPGP ? "an OpenPGP"
						 : "an unsupported (X.509?)",
		 sig_required_text(x->signature));
	return 0;
}

int ferry_gate_check(const struct ferry_gates *g, const struct ferry_git_commit_info *ci,
		     const char *gpg_home, struct ferry_gate_verdict *v, struct ferry_err *err)
{
	memset(v, 0, sizeof *v);
	v->passed = true;
	for (size_t i = 0; i < g->len; i++) {
		const struct ferry_gate *x = &g->items[i];
		if (x->signature != FERRY_SIG_NONE) {
			struct ferry_sig_result r;
			if (check_signature(x, ci, gpg_home, &r, err))
				return -1;
			if (!r.valid) {
				v->passed = false;
				snprintf(v->gate, sizeof v->gate, "signature");
				snprintf(v->source, sizeof v->source, "%s", x->source);
				snprintf(v->reason, sizeof v->reason, "%s", r.reason);
				return 0;
			}
			snprintf(v->signer, sizeof v->signer, "%s (%s)", r.signer, r.key);
		}
		if (x->approvals) {
			unsigned n = ferry_gate_count_approvals(x, ci->message, ci->author_email);
			if (n > v->approvals)
				v->approvals = n;
			if (n < x->approvals) {
				v->passed = false;
				v->approvals = n;
				snprintf(v->gate, sizeof v->gate, "approvals");
				snprintf(v->source, sizeof v->source, "%s", x->source);
				snprintf(v->reason, sizeof v->reason,
					 "%u of %u required approvals (trailers from listed "
					 "approvers other than the author)",
					 n, x->approvals);
				return 0;
			}
		}
	}
	return 0;
}
