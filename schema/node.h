/* A YAML document as a tree of positioned nodes.
 *
 * libyaml's events stay inside node.c: every other module sees only these
 * structs. Each node remembers the file, line and column it started at, so
 * a finding about any value can point at it.
 *
 * Anchors and aliases: an alias is the anchored node itself (shared, not
 * copied). Merge keys (`<<: *base`) are expanded into the mapping that holds
 * them, keys written in the mapping taking precedence. Because aliases share
 * nodes, a walker can see a node more than once; the loader bounds the total
 * expanded size so that a "billion laughs" document is refused up front.
 *
 * Ownership: a struct ferry_doc owns all of its nodes (one arena per
 * document); nodes are valid until ferry_doc_free(). The file name is owned
 * by the caller and must outlive the document.
 */
#ifndef FERRY_SCHEMA_NODE_H
#define FERRY_SCHEMA_NODE_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>

enum ferry_node_kind {
	FERRY_NODE_SCALAR,
	FERRY_NODE_SEQ,
	FERRY_NODE_MAP,
};

/* How a scalar was written: plain scalars are subject to type resolution
 * (true, 42, null); quoted and block scalars are always strings. */
enum ferry_scalar_style {
	FERRY_SCALAR_PLAIN,
	FERRY_SCALAR_QUOTED,
	FERRY_SCALAR_BLOCK,
};

/* What a scalar means under the YAML rules Kubernetes applies (go-yaml v2,
 * i.e. YAML 1.1 booleans: yes/no/on/off are booleans). */
enum ferry_scalar_type {
	FERRY_SCALAR_NULL,
	FERRY_SCALAR_BOOL,
	FERRY_SCALAR_INT,
	FERRY_SCALAR_FLOAT,
	FERRY_SCALAR_STR,
};

struct ferry_pos {
	const char *file;
	int line; /* 1-based */
	int col;  /* 1-based, in characters */
};

struct ferry_node;

struct ferry_pair {
	struct ferry_node *key;
	struct ferry_node *value;
};

struct ferry_node {
	enum ferry_node_kind kind;
	struct ferry_pos pos;
	char *tag;     /* explicit tag (`!!str`), or NULL */
	size_t weight; /* nodes in this subtree with aliases expanded */
	union {
		struct {
			char *text; /* NUL-terminated; may contain NULs only via len */
			size_t len;
			enum ferry_scalar_style style;
		} scalar;
		struct {
			struct ferry_node **items;
			size_t len;
		} seq;
		struct {
			struct ferry_pair *pairs;
			size_t len;
		} map;
	} u;
};

struct ferry_doc {
	struct ferry_node *root; /* NULL for an empty document */
	struct ferry_pos pos;	 /* where the document starts */
	/* arena */
	struct ferry_node **nodes;
	size_t nnodes, cap;
};

/* Limits on untrusted input. */
#define FERRY_YAML_MAX_BYTES (16u << 20) /* one file */
#define FERRY_YAML_MAX_DEPTH 64		 /* nesting of collections */
#define FERRY_YAML_MAX_NODES 1000000u	 /* per document, aliases expanded */
#define FERRY_YAML_MAX_DOCS  10000u	 /* per file */

/* A parse problem that is not fatal to the rest of the file (duplicate key,
 * bad merge). Reported through a callback so that the caller turns it into
 * a finding. */
typedef void (*ferry_yaml_warn_fn)(void *arg, const struct ferry_pos *pos, const char *id,
				   const char *msg);

/* Parse every document of a YAML stream. On success *docs and *ndocs receive an
 * array the caller frees with ferry_docs_free(). On a syntax error or a
 * limit, returns -1 with err located (file:line:col) and *docs holds the
 * documents that parsed completely before the error (caller frees them). */
int ferry_yaml_parse(const char *file, const char *data, size_t len, struct ferry_doc ***docs,
		     size_t *ndocs, ferry_yaml_warn_fn warn, void *warn_arg, struct ferry_err *err);

void ferry_doc_free(struct ferry_doc *doc);
void ferry_docs_free(struct ferry_doc **docs, size_t n);

/* The type of a scalar, resolved from its text, style and tag. */
enum ferry_scalar_type ferry_scalar_resolve(const struct ferry_node *n);

/* Convenience readers; NULL/false when the node is absent or of another kind. */
const struct ferry_node *ferry_map_get(const struct ferry_node *map, const char *key);
bool ferry_node_is_scalar(const struct ferry_node *n);
bool ferry_node_is_null(const struct ferry_node *n);	      /* absent or `~`/`null`/empty */
const char *ferry_node_kind_name(const struct ferry_node *n); /* "mapping", "string", ... */

/* Parse a resolved bool/int scalar. Return false when the text is not one. */
bool ferry_scalar_bool(const struct ferry_node *n, bool *out, bool *yaml11);
bool ferry_scalar_int(const struct ferry_node *n, long long *out);

#endif
