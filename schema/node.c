#include "node.h"

#include "common/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct frame {
	struct ferry_node *node;
	size_t cap;
	struct ferry_node *key; /* mapping: key waiting for its value */
};

struct anchor {
	char *name;
	struct ferry_node *node;
};

struct builder {
	const char *file;
	struct ferry_doc *doc;
	struct frame *stack;
	size_t depth, stack_cap;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	size_t weight; /* expanded nodes in the current document */
	ferry_yaml_warn_fn warn;
	void *warn_arg;
	struct ferry_err *err;
};

static struct ferry_pos mark_pos(const struct builder *b, yaml_mark_t m)
{
	struct ferry_pos p = {b->file, (int)m.line + 1, (int)m.column + 1};
	return p;
}

static struct ferry_node *new_node(struct builder *b, enum ferry_node_kind kind, yaml_mark_t mark,
				   const yaml_char_t *tag)
{
	struct ferry_doc *d = b->doc;
	struct ferry_node *n = ferry_xcalloc(1, sizeof *n);

	n->kind = kind;
	n->pos = mark_pos(b, mark);
	n->tag = tag ? ferry_xstrdup((const char *)tag) : NULL;
	n->weight = 1;
	d->nodes = ferry_grow(d->nodes, &d->cap, d->nnodes + 1, sizeof *d->nodes);
	d->nodes[d->nnodes++] = n;
	return n;
}

static void clear_anchors(struct builder *b)
{
	for (size_t i = 0; i < b->nanchors; i++)
		free(b->anchors[i].name);
	b->nanchors = 0;
}

static void set_anchor(struct builder *b, const yaml_char_t *name, struct ferry_node *n)
{
	/* A later anchor of the same name replaces the earlier (YAML 1.2 §3.2.2.2). */
	for (size_t i = 0; i < b->nanchors; i++) {
		if (!strcmp(b->anchors[i].name, (const char *)name)) {
			b->anchors[i].node = n;
			return;
		}
	}
	b->anchors = ferry_grow(b->anchors, &b->anchors_cap, b->nanchors + 1, sizeof *b->anchors);
	b->anchors[b->nanchors].name = ferry_xstrdup((const char *)name);
	b->anchors[b->nanchors].node = n;
	b->nanchors++;
}

static struct ferry_node *find_anchor(struct builder *b, const yaml_char_t *name)
{
	for (size_t i = b->nanchors; i-- > 0;)
		if (!strcmp(b->anchors[i].name, (const char *)name))
			return b->anchors[i].node;
	return NULL;
}

static bool is_merge_key(const struct ferry_node *k)
{
	return k->kind == FERRY_NODE_SCALAR && k->u.scalar.style == FERRY_SCALAR_PLAIN && !k->tag &&
	       !strcmp(k->u.scalar.text, "<<");
}

static bool scalar_key_eq(const struct ferry_node *a, const struct ferry_node *b)
{
	return a->kind == FERRY_NODE_SCALAR && b->kind == FERRY_NODE_SCALAR &&
	       a->u.scalar.len == b->u.scalar.len &&
	       !memcmp(a->u.scalar.text, b->u.scalar.text, a->u.scalar.len);
}

static int cmp_pair_keys(const void *pa, const void *pb)
{
	const struct ferry_pair *a = *(const struct ferry_pair *const *)pa;
	const struct ferry_pair *b = *(const struct ferry_pair *const *)pb;
	size_t la = a->key->u.scalar.len, lb = b->key->u.scalar.len;
	int c = memcmp(a->key->u.scalar.text, b->key->u.scalar.text, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	/* Same key: keep document order so the first occurrence wins. */
	return a < b ? -1 : (a > b);
}

/* Report and drop repeated scalar keys (the first occurrence is kept). Sorting
 * keeps this O(n log n) on a hostile mapping with many keys. */
static void drop_duplicate_keys(struct builder *b, struct ferry_node *map)
{
	size_t n = map->u.map.len, nscalar = 0, out = 0;
	struct ferry_pair **sorted;
	bool *dup;

	if (n < 2)
		return;
	sorted = ferry_xmalloc(n * sizeof *sorted);
	dup = ferry_xcalloc(n, sizeof *dup);
	for (size_t i = 0; i < n; i++)
		if (map->u.map.pairs[i].key->kind == FERRY_NODE_SCALAR)
			sorted[nscalar++] = &map->u.map.pairs[i];
	qsort(sorted, nscalar, sizeof *sorted, cmp_pair_keys);
	for (size_t i = 1; i < nscalar; i++) {
		size_t first = i - 1;
		while (first > 0 && dup[sorted[first] - map->u.map.pairs])
			first--;
		if (!scalar_key_eq(sorted[i]->key, sorted[i - 1]->key))
			continue;
		dup[sorted[i] - map->u.map.pairs] = true;
		if (b->warn) {
			char msg[256];
			snprintf(msg, sizeof msg, "duplicate key \"%.100s\" (first at line %d)",
				 sorted[i]->key->u.scalar.text, sorted[first]->key->pos.line);
			b->warn(b->warn_arg, &sorted[i]->key->pos, "yaml.duplicate-key", msg);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!dup[i])
			map->u.map.pairs[out++] = map->u.map.pairs[i];
	map->u.map.len = out;
	free(dup);
	free(sorted);
}

static bool map_has_key(const struct ferry_pair *pairs, size_t n, const struct ferry_node *key)
{
	for (size_t i = 0; i < n; i++)
		if (scalar_key_eq(pairs[i].key, key))
			return true;
	return false;
}

/* Expand `<<` merge keys: explicit keys first, then each merged mapping's
 * keys not already present (earlier mappings in a `<<: [*a, *b]` list win). */
static void expand_merges(struct builder *b, struct ferry_node *map)
{
	struct ferry_pair *out = NULL;
	size_t len = 0, cap = 0;
	bool any = false;

	for (size_t i = 0; i < map->u.map.len; i++)
		any |= is_merge_key(map->u.map.pairs[i].key);
	if (!any)
		return;
	for (size_t i = 0; i < map->u.map.len; i++) {
		if (is_merge_key(map->u.map.pairs[i].key))
			continue;
		out = ferry_grow(out, &cap, len + 1, sizeof *out);
		out[len++] = map->u.map.pairs[i];
	}
	for (size_t i = 0; i < map->u.map.len; i++) {
		struct ferry_node *v = map->u.map.pairs[i].value;
		struct ferry_node *const *srcs = &v;
		size_t nsrc = 1;

		if (!is_merge_key(map->u.map.pairs[i].key))
			continue;
		if (v->kind == FERRY_NODE_SEQ) {
			srcs = v->u.seq.items;
			nsrc = v->u.seq.len;
		}
		for (size_t s = 0; s < nsrc; s++) {
			const struct ferry_node *m = srcs[s];
			if (m->kind != FERRY_NODE_MAP) {
				if (b->warn)
					b->warn(b->warn_arg, &m->pos, "yaml.bad-merge",
						"a merge key (<<) takes a mapping or a list of "
						"mappings");
				continue;
			}
			for (size_t k = 0; k < m->u.map.len; k++) {
				if (map_has_key(out, len, m->u.map.pairs[k].key))
					continue;
				out = ferry_grow(out, &cap, len + 1, sizeof *out);
				out[len++] = m->u.map.pairs[k];
			}
		}
	}
	free(map->u.map.pairs);
	map->u.map.pairs = out;
	map->u.map.len = len;
}

static int limit_error(struct builder *b, const struct ferry_pos *p, const char *what)
{
	return ferry_err_set_at(b->err, FERRY_E_LIMIT, p->file, p->line, p->col, "%s", what);
}

/* Attach a finished node to its parent (or make it the document root). */
static int attach(struct builder *b, struct ferry_node *n)
{
	struct frame *f;

	if (b->depth == 0) {
		b->doc->root = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	f->node->weight += n->weight;
	if (f->node->kind == FERRY_NODE_SEQ) {
		f->node->u.seq.items =
			ferry_grow(f->node->u.seq.items, &f->cap, f->node->u.seq.len + 1,
				   sizeof(struct ferry_node *));
		f->node->u.seq.items[f->node->u.seq.len++] = n;
	} else if (!f->key) {
		f->key = n;
	} else {
		struct ferry_pair *p;
		f->node->u.map.pairs = ferry_grow(f->node->u.map.pairs, &f->cap,
						  f->node->u.map.len + 1, sizeof *p);
		p = &f->node->u.map.pairs[f->node->u.map.len++];
		p->key = f->key;
		p->value = n;
		f->key = NULL;
	}
	return 0;
}

static int count_weight(struct builder *b, size_t w, const struct ferry_pos *p)
{
	b->weight += w;
	if (b->weight > FERRY_YAML_MAX_NODES)
		return limit_error(
			b, p,
			"document too large: more than 1000000 nodes once aliases are expanded");
	return 0;
}

static int push(struct builder *b, struct ferry_node *n)
{
	if (b->depth >= FERRY_YAML_MAX_DEPTH)
		return limit_error(b, &n->pos, "nesting deeper than 64 levels");
	b->stack = ferry_grow(b->stack, &b->stack_cap, b->depth + 1, sizeof *b->stack);
	b->stack[b->depth].node = n;
	b->stack[b->depth].cap = 0;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 0;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	struct ferry_node *n;
	const yaml_char_t *anchor = NULL;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		/* libyaml reports a tag only when one was written (`!!str 1`). */
		n = new_node(b, FERRY_NODE_SCALAR, ev->start_mark, ev->data.scalar.tag);
		n->u.scalar.text =
			ferry_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		n->u.scalar.len = ev->data.scalar.length;
		switch (ev->data.scalar.style) {
		case YAML_PLAIN_SCALAR_STYLE:
		case YAML_ANY_SCALAR_STYLE: n->u.scalar.style = FERRY_SCALAR_PLAIN; break;
		case YAML_LITERAL_SCALAR_STYLE:
		case YAML_FOLDED_SCALAR_STYLE: n->u.scalar.style = FERRY_SCALAR_BLOCK; break;
		default: n->u.scalar.style = FERRY_SCALAR_QUOTED; break;
		}
		anchor = ev->data.scalar.anchor;
		if (count_weight(b, 1, &n->pos))
			return -1;
		if (anchor)
			set_anchor(b, anchor, n);
		return attach(b, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *tag =
			seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag;
		int implicit =
			seq ? ev->data.sequence_start.implicit : ev->data.mapping_start.implicit;

		n = new_node(b, seq ? FERRY_NODE_SEQ : FERRY_NODE_MAP, ev->start_mark,
			     implicit ? NULL : tag);
		if (count_weight(b, 1, &n->pos))
			return -1;
		return push(b, n);
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame *f = &b->stack[--b->depth];
		n = f->node;
		if (n->kind == FERRY_NODE_MAP) {
			expand_merges(b, n);
			drop_duplicate_keys(b, n);
		}
		return attach(b, n);
	}
	case YAML_ALIAS_EVENT: {
		struct ferry_pos p = mark_pos(b, ev->start_mark);
		n = find_anchor(b, ev->data.alias.anchor);
		if (!n)
			return ferry_err_set_at(
				b->err, FERRY_E_INVALID, p.file, p.line, p.col,
				"unknown anchor \"%s\" (an alias must follow its anchor "
				"in the same document)",
				(const char *)ev->data.alias.anchor);
		if (count_weight(b, n->weight, &p))
			return -1;
		return attach(b, n);
	}
	default: return 0;
	}
}

/* The anchor of a collection is known at its start event but the node is
 * complete only at its end; aliases inside it must not see it (that would
 * make a cycle), so collection anchors are registered at the end event. */
struct pending_anchor {
	size_t depth;
	char *name;
};

static void free_doc_partial(struct builder *b)
{
	if (b->doc) {
		ferry_doc_free(b->doc);
		b->doc = NULL;
	}
	b->depth = 0;
}

/* libyaml's reader errors (bad UTF-8, control characters) carry a byte
 * offset instead of a mark; turn it into a line and a character column. */
static void offset_pos(const char *data, size_t len, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (data[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

int ferry_yaml_parse(const char *file, const char *data, size_t len, struct ferry_doc ***docs,
		     size_t *ndocs, ferry_yaml_warn_fn warn, void *warn_arg, struct ferry_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct builder b = {0};
	struct pending_anchor *pend = NULL;
	size_t npend = 0, pend_cap = 0, docs_cap = 0;
	int rc = -1;
	bool done = false;

	*docs = NULL;
	*ndocs = 0;
	if (len > FERRY_YAML_MAX_BYTES)
		return ferry_err_set_at(err, FERRY_E_LIMIT, file, 0, 0, "file larger than %u bytes",
					FERRY_YAML_MAX_BYTES);
	b.file = file;
	b.warn = warn;
	b.warn_arg = warn_arg;
	b.err = err;
	if (!yaml_parser_initialize(&parser))
		return ferry_err_set(err, FERRY_E_INTERNAL, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			int line = (int)parser.problem_mark.line + 1;
			int col = (int)parser.problem_mark.column + 1;
			if (parser.error == YAML_READER_ERROR)
				offset_pos(data, len, parser.problem_offset, &line, &col);
			if (parser.context)
				ferry_err_set_at(err, FERRY_E_INVALID, file, line, col,
						 "YAML syntax: %s %s (line %d)", parser.problem,
						 parser.context, (int)parser.context_mark.line + 1);
			else
				ferry_err_set_at(err, FERRY_E_INVALID, file, line, col,
						 "YAML syntax: %s",
						 parser.problem ? parser.problem : "unknown error");
			goto out;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (*ndocs >= FERRY_YAML_MAX_DOCS) {
				ferry_err_set_at(
					err, FERRY_E_LIMIT, file, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1,
					"more than %u documents in one file", FERRY_YAML_MAX_DOCS);
				yaml_event_delete(&ev);
				goto out;
			}
			b.doc = ferry_xcalloc(1, sizeof *b.doc);
			b.doc->pos = mark_pos(&b, ev.start_mark);
			b.weight = 0;
			clear_anchors(&b);
			break;
		case YAML_DOCUMENT_END_EVENT:
			*docs = ferry_grow(*docs, &docs_cap, *ndocs + 1, sizeof **docs);
			(*docs)[(*ndocs)++] = b.doc;
			b.doc = NULL;
			break;
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			const yaml_char_t *a = ev.type == YAML_SEQUENCE_START_EVENT
						       ? ev.data.sequence_start.anchor
						       : ev.data.mapping_start.anchor;
			if (on_event(&b, &ev)) {
				yaml_event_delete(&ev);
				goto out;
			}
			if (a) {
				pend = ferry_grow(pend, &pend_cap, npend + 1, sizeof *pend);
				pend[npend].depth = b.depth;
				pend[npend].name = ferry_xstrdup((const char *)a);
				npend++;
			}
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			size_t depth = b.depth;
			struct ferry_node *closing = b.stack[depth - 1].node;
			if (on_event(&b, &ev)) {
				yaml_event_delete(&ev);
				goto out;
			}
			if (npend && pend[npend - 1].depth == depth) {
				set_anchor(&b, (const yaml_char_t *)pend[npend - 1].name, closing);
				free(pend[--npend].name);
			}
			break;
		}
		default:
			if (on_event(&b, &ev)) {
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
out:
	free_doc_partial(&b);
	for (size_t i = 0; i < npend; i++)
		free(pend[i].name);
	free(pend);
	clear_anchors(&b);
	free(b.anchors);
	free(b.stack);
	yaml_parser_delete(&parser);
	return rc;
}

void ferry_doc_free(struct ferry_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->nnodes; i++) {
		struct ferry_node *n = doc->nodes[i];
		free(n->tag);
		switch (n->kind) {
		case FERRY_NODE_SCALAR: free(n->u.scalar.text); break;
		case FERRY_NODE_SEQ: free(n->u.seq.items); break;
		case FERRY_NODE_MAP: free(n->u.map.pairs); break;
		}
		free(n);
	}
	free(doc->nodes);
	free(doc);
}

void ferry_docs_free(struct ferry_doc **docs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ferry_doc_free(docs[i]);
	free(docs);
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static const char *const yaml_true[] = {"true", "True", "TRUE", NULL};
static const char *const yaml_false[] = {"false", "False", "FALSE", NULL};
/* YAML 1.1 spellings that go-yaml v2 (and so Kubernetes) reads as booleans. */
static const char *const yaml11_true[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", NULL};
static const char *const yaml11_false[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", NULL};
static const char *const yaml_null[] = {"", "~", "null", "Null", "NULL", NULL};

#define TAG_PREFIX "tag:yaml.org,2002:"

bool ferry_scalar_int(const struct ferry_node *n, long long *out)
{
	char buf[72];
	const char *s;
	size_t j = 0;
	int base = 10;
	char *end;
	bool neg = false;

	if (!n || n->kind != FERRY_NODE_SCALAR || n->u.scalar.len == 0 || n->u.scalar.len > 64)
		return false;
	s = n->u.scalar.text;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		base = 8; /* YAML 1.1: a leading 0 means octal */
		s += 1;
	}
	if (neg)
		buf[j++] = '-';
	for (; *s; s++) {
		if (*s == '_')
			continue;
		buf[j++] = *s;
	}
	buf[j] = '\0';
	if (j == (size_t)neg)
		return false;
	if (buf[neg] == '-' || buf[neg] == '+' || buf[neg] == ' ')
		return false;
	errno = 0;
	*out = strtoll(buf, &end, base);
	return *end == '\0' && errno == 0;
}

static bool looks_float(const char *s)
{
	static const char *const special[] = {".inf",  ".Inf",	".INF",	 "+.inf", "+.Inf",
					      "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
					      ".NaN",  ".NAN",	NULL};
	bool digits = false, dot = false;

	if (in_list(s, special))
		return true;
	if (*s == '+' || *s == '-')
		s++;
	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s >= '0' && *s <= '9')
			digits = true;
		else if (*s == '.' && !dot)
			dot = true;
		else if (*s != '_')
			return false;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!*s)
			return false;
		for (; *s; s++)
			if (*s < '0' || *s > '9')
				return false;
		return true;
	}
	return dot;
}

enum ferry_scalar_type ferry_scalar_resolve(const struct ferry_node *n)
{
	const char *t;
	long long dummy;

	if (n->tag) {
		if (!strcmp(n->tag, TAG_PREFIX "str"))
			return FERRY_SCALAR_STR;
		if (!strcmp(n->tag, TAG_PREFIX "bool"))
			return FERRY_SCALAR_BOOL;
		if (!strcmp(n->tag, TAG_PREFIX "int"))
			return FERRY_SCALAR_INT;
		if (!strcmp(n->tag, TAG_PREFIX "float"))
			return FERRY_SCALAR_FLOAT;
		if (!strcmp(n->tag, TAG_PREFIX "null"))
			return FERRY_SCALAR_NULL;
	}
	if (n->u.scalar.style != FERRY_SCALAR_PLAIN)
		return FERRY_SCALAR_STR;
	t = n->u.scalar.text;
	if (in_list(t, yaml_null))
		return FERRY_SCALAR_NULL;
	if (in_list(t, yaml_true) || in_list(t, yaml_false) || in_list(t, yaml11_true) ||
	    in_list(t, yaml11_false))
		return FERRY_SCALAR_BOOL;
	if (ferry_scalar_int(n, &dummy))
		return FERRY_SCALAR_INT;
	if (looks_float(t))
		return FERRY_SCALAR_FLOAT;
	return FERRY_SCALAR_STR;
}

bool ferry_scalar_bool(const struct ferry_node *n, bool *out, bool *yaml11)
{
	const char *t;

	if (!n || n->kind != FERRY_NODE_SCALAR)
		return false;
	t = n->u.scalar.text;
	*yaml11 = false;
	if (in_list(t, yaml_true) || in_list(t, yaml_false)) {
		*out = in_list(t, yaml_true);
		return true;
	}
	if (in_list(t, yaml11_true) || in_list(t, yaml11_false)) {
		*out = in_list(t, yaml11_true);
		*yaml11 = true;
		return true;
	}
	return false;
}

const struct ferry_node *ferry_map_get(const struct ferry_node *map, const char *key)
{
	size_t klen = strlen(key);

	if (!map || map->kind != FERRY_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->u.map.len; i++) {
		const struct ferry_node *k = map->u.map.pairs[i].key;
		if (k->kind == FERRY_NODE_SCALAR && k->u.scalar.len == klen &&
		    !memcmp(k->u.scalar.text, key, klen))
			return map->u.map.pairs[i].value;
	}
	return NULL;
}

bool ferry_node_is_scalar(const struct ferry_node *n)
{
	return n && n->kind == FERRY_NODE_SCALAR;
}

bool ferry_node_is_null(const struct ferry_node *n)
{
	return !n || (n->kind == FERRY_NODE_SCALAR && ferry_scalar_resolve(n) == FERRY_SCALAR_NULL);
}

const char *ferry_node_kind_name(const struct ferry_node *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case FERRY_NODE_SEQ: return "a list";
	case FERRY_NODE_MAP: return "a mapping";
	case FERRY_NODE_SCALAR: break;
	}
	switch (ferry_scalar_resolve(n)) {
	case FERRY_SCALAR_NULL: return "null";
	case FERRY_SCALAR_BOOL: return "a boolean";
	case FERRY_SCALAR_INT: return "an integer";
	case FERRY_SCALAR_FLOAT: return "a number";
	case FERRY_SCALAR_STR: break;
	}
	return "a string";
}
