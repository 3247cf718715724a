#include "schema/template.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h> /* classification macros only: ferry does not link libm */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/alloc.h"
#include "common/strbuf.h"

/* ---- data ---------------------------------------------------------------- */

/* Go tells int from int64: Sprig's arithmetic returns int64, which a
 * parameter declared int (trunc, repeat, substr) refuses. */
enum vkind { V_STR, V_INT, V_INT64, V_FLOAT, V_BOOL };

/* A number constant as Go's parse.NumberNode sees it: an integral float
 * constant can fill an int parameter, an integer constant a float one. */
struct num {
	bool is_int, is_float;
	bool floaty; /* spelled like a float: an untyped parameter gets float64 */
	int64_t i;
	double f;
};

enum tkind {
	TK_EOF,
	TK_ERROR,
	TK_TEXT,
	TK_LEFT,
	TK_RIGHT,
	TK_IDENT,
	TK_FIELD,
	TK_DOT,
	TK_VAR,
	TK_STRING,
	TK_NUMBER,
	TK_LPAREN,
	TK_RPAREN,
	TK_PIPE,
	TK_CHAR, /* any other printable character: always unexpected */
};

struct tok {
	enum tkind kind;
	int line, col;
	bool space; /* preceded by white space inside the action */
	const char *p;
	size_t n;
	char *str; /* TK_STRING: decoded value, owned until the parser takes it */
	size_t slen;
	struct num num;
};

struct lexer {
	const char *src;
	size_t len, pos;
	size_t lpos, lstart; /* line/col cache: offset reached, start of its line */
	int line;
	bool trim_next; /* the last action ended in " -}}" */
	struct tok *v;
	size_t n, cap;
	struct ferry_err err; /* what the TK_ERROR token stands for */
};

enum op_kind { OP_FIELD, OP_STRING, OP_NUMBER, OP_BOOL, OP_PIPE };

struct pipe;

struct operand {
	enum op_kind kind;
	int line, col;
	char *s; /* OP_FIELD: variable name; OP_STRING: value; OP_NUMBER: its text */
	size_t len;
	char *sub; /* OP_FIELD: the first chained field of .A.B, or NULL */
	struct num num;
	bool b;
	struct pipe *pipe;
};

struct func;

struct cmd {
	int line, col;
	const struct func *fn; /* NULL: a lone operand in args[0] */
	struct operand *args;
	size_t nargs, cap;
};

struct pipe {
	struct cmd *cmds;
	size_t n, cap;
};

enum node_kind { ND_TEXT, ND_ACTION, ND_IF };

struct node;

struct list {
	struct node *v;
	size_t n, cap;
};

struct node {
	enum node_kind kind;
	int line, col;
	char *text;
	size_t len;
	struct pipe *pipe; /* action, or the condition of an if */
	struct list then, els;
	bool elif; /* els is exactly one ND_IF written as {{else if}} */
};

struct tfield {
	char *name;
	int line, col;
};

struct ferry_tmpl {
	struct list root;
	struct tfield *fields;
	size_t nfields, cap;
};

struct val {
	enum vkind k;
	char *s; /* V_STR: owned, NUL-terminated */
	size_t len;
	int64_t i;
	double f;
	bool b;
	const struct operand *lit; /* a literal written as a direct argument */
};

struct ectx {
	const struct ferry_tmpl_var *vars;
	size_t nvars;
	struct ferry_err *err;
};

typedef int (*fn_impl)(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		       struct val *out);

enum fn_special { F_PLAIN, F_AND, F_OR };

struct func {
	const char *name;
	int min_args, max_args; /* max -1: variadic */
	/* Parameter kinds, s string, i int, f float64, a anything; the last one
	 * repeats for variadic functions. */
	const char *types;
	fn_impl impl;
	enum fn_special special; /* and/or evaluate their arguments lazily */
};

static const struct func *find_func(const char *name, size_t n);

/* ---- small helpers ------------------------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Identifiers may hold Unicode letters in Go; any non-ASCII byte is let
 * through here and fails later as an unknown function or variable. */
static bool is_ident(char c)
{
	return is_alpha(c) || is_digit(c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Like Go's utf8.DecodeRune: invalid input decodes as U+FFFD of width 1. */
static int32_t utf8_decode(const char *str, size_t n, size_t *w)
{
	const unsigned char *s = (const unsigned char *)str;
	int32_t r, min;
	size_t need;

	*w = 1;
	if (n == 0)
		return 0xFFFD;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 2;
		r = s[0] & 0x1F;
		min = 0x80;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 3;
		r = s[0] & 0x0F;
		min = 0x800;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 4;
		r = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0xFFFD;
	}
	if (n < need)
		return 0xFFFD;
	for (size_t k = 1; k < need; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0xFFFD;
		r = (r << 6) | (s[k] & 0x3F);
	}
	if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		return 0xFFFD;
	*w = need;
	return r;
}

/* The rune ending at s[n-1], as Go's utf8.DecodeLastRune. */
static int32_t utf8_decode_last(const char *s, size_t n, size_t *w)
{
	size_t start = n, lim = n >= 4 ? n - 4 : 0;
	int32_t r;

	*w = 1;
	if (n == 0)
		return 0xFFFD;
	if ((unsigned char)s[n - 1] < 0x80)
		return (unsigned char)s[n - 1];
	while (start > lim && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
		start--;
	if (start > 0)
		start--;
	r = utf8_decode(s + start, n - start, w);
	if (start + *w != n) {
		*w = 1;
		return 0xFFFD;
	}
	return r;
}

static size_t utf8_encode(int32_t r, char *out)
{
	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = 0xFFFD;
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

/* Go's unicode.IsSpace. */
static bool is_uspace(int32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000: return true;
	default: return r >= 0x2000 && r <= 0x200A;
	}
}

/* ---- freeing ------------------------------------------------------------- */

static void free_pipe(struct pipe *p);
static void free_list(struct list *l);

static void free_operand(struct operand *o)
{
	free(o->s);
	free(o->sub);
	free_pipe(o->pipe);
}

static void free_pipe(struct pipe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->cmds[i].nargs; j++)
			free_operand(&p->cmds[i].args[j]);
		free(p->cmds[i].args);
	}
	free(p->cmds);
	free(p);
}

/* Frees what nd owns, not nd itself. An {{else if}} chain can be as long as
 * the source allows, so it is walked in a loop rather than recursively. */
static void free_node(struct node *nd)
{
	struct node *arr = NULL; /* the array holding nd, owned by the previous link */

	for (;;) {
		struct node *next = NULL;

		free(nd->text);
		free_pipe(nd->pipe);
		free_list(&nd->then);
		if (nd->elif)
			next = nd->els.v;
		else
			free_list(&nd->els);
		free(arr);
		if (!next)
			break;
		arr = next;
		nd = next;
	}
}

static void free_list(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free_node(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void ferry_tmpl_free(struct ferry_tmpl *t)
{
	if (!t)
		return;
	free_list(&t->root);
	for (size_t i = 0; i < t->nfields; i++)
		free(t->fields[i].name);
	free(t->fields);
	free(t);
}

size_t ferry_tmpl_field_count(const struct ferry_tmpl *t)
{
	return t->nfields;
}

const char *ferry_tmpl_field(const struct ferry_tmpl *t, size_t i, int *line, int *col)
{
	if (line)
		*line = t->fields[i].line;
	if (col)
		*col = t->fields[i].col;
	return t->fields[i].name;
}

/* ---- lexer --------------------------------------------------------------- */

static void lx_pos(struct lexer *lx, size_t off, int *line, int *col)
{
	/* Offsets normally come in increasing order, so one pass suffices. */
	if (off < lx->lpos) {
		lx->lpos = 0;
		lx->lstart = 0;
		lx->line = 1;
	}
	for (; lx->lpos < off; lx->lpos++) {
		if (lx->src[lx->lpos] == '\n') {
			lx->line++;
			lx->lstart = lx->lpos + 1;
		}
	}
	*line = lx->line;
	*col = (int)(off - lx->lstart) + 1;
}

static struct tok *lx_push(struct lexer *lx, enum tkind kind, size_t off, size_t n, bool space)
{
	struct tok *t = FERRY_PUSH(lx->v, lx->n, lx->cap);

	t->kind = kind;
	t->p = lx->src + off;
	t->n = n;
	t->space = space;
	lx_pos(lx, off, &t->line, &t->col);
	return t;
}

/* The lexer stops at its first error and leaves a TK_ERROR token, so the
 * parser reports whichever problem comes first in the source. */
static int lx_fail(struct lexer *lx, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int lx_fail(struct lexer *lx, int line, int col, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;
	struct tok *t;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ferry_err_set_at(&lx->err, FERRY_E_INVALID, "", line, col, "%s", msg);
	t = FERRY_PUSH(lx->v, lx->n, lx->cap);
	t->kind = TK_ERROR;
	t->line = line;
	t->col = col;
	t->p = "";
	return -1;
}

static int lx_fail_at(struct lexer *lx, size_t off, const char *msg)
{
	int line, col;

	lx_pos(lx, off, &line, &col);
	return lx_fail(lx, line, col, "%s", msg);
}

/* "U+0022 '"'", as Go's %#U. */
static const char *char_desc(char *buf, size_t n, const char *s, size_t avail)
{
	size_t w;
	int32_t r = utf8_decode(s, avail, &w);

	if (r >= 0x20 && r != 0x7F && !(r >= 0x80 && r < 0xA0) && r != 0xFFFD)
		snprintf(buf, n, "U+%04" PRIX32 " '%.*s'", (uint32_t)r, (int)w, s);
	else
		snprintf(buf, n, "U+%04" PRIX32, (uint32_t)r);
	return buf;
}

/* Go's atTerminator: what may directly follow an identifier or field. */
static bool at_terminator(const char *s)
{
	return *s == '\0' || is_space(*s) || strchr(".,|:()", *s) || (s[0] == '}' && s[1] == '}');
}

static int lx_check_term(struct lexer *lx, size_t off)
{
	char buf[32], msg[64];

	if (at_terminator(lx->src + off))
		return 0;
	snprintf(msg, sizeof msg, "bad character %s",
		 char_desc(buf, sizeof buf, lx->src + off, lx->len - off));
	return lx_fail_at(lx, off, msg);
}

/* One Go escape, s just after the backslash. A \x or octal escape is a byte
 * inside a string but a code point in a character constant. Returns the
 * bytes consumed, 0 if the escape is invalid. */
static size_t go_escape(const char *s, char quote, int32_t *r, bool *is_byte)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
	const char *m;
	int digits = 0, v;

	*is_byte = false;
	if (*s == '\0')
		return 0;
	if (*s == quote) {
		*r = quote;
		return 1;
	}
	for (m = simple; *m; m += 2) {
		if (*m == *s) {
			*r = (unsigned char)m[1];
			return 1;
		}
	}
	switch (*s) {
	case 'x':
		digits = 2;
		*is_byte = true;
		break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default:
		if (*s >= '0' && *s <= '7') {
			*r = 0;
			for (int k = 0; k < 3; k++) {
				if (s[k] < '0' || s[k] > '7')
					return 0;
				*r = *r * 8 + (s[k] - '0');
			}
			*is_byte = true;
			return *r > 255 ? 0 : 3;
		}
		return 0;
	}
	*r = 0;
	for (int k = 1; k <= digits; k++) {
		v = ferry_hexval(s[k]);
		if (v < 0)
			return 0;
		*r = (int32_t)(((uint32_t)*r << 4) | (uint32_t)v);
	}
	if (!*is_byte && (*r < 0 || *r > 0x10FFFF || (*r >= 0xD800 && *r <= 0xDFFF)))
		return 0;
	return (size_t)digits + 1;
}

static int lex_quote(struct lexer *lx, bool space)
{
	size_t start = lx->pos, p = start + 1;
	const char *s = lx->src;
	struct ferry_sb sb = FERRY_SB_INIT;
	struct tok *t;
	int line, col;

	lx_pos(lx, start, &line, &col);
	for (; s[p] != '"'; p++) {
		if (s[p] == '\\' && s[p + 1] != '\0' && s[p + 1] != '\n')
			p++;
		else if (s[p] == '\0' || s[p] == '\n')
			return lx_fail(lx, line, col, "unterminated quoted string");
	}
	for (size_t q = start + 1; q < p;) {
		int32_t r;
		bool is_byte;
		size_t used;
		char enc[4];

		if (s[q] != '\\') {
			ferry_sb_addc(&sb, s[q++]);
			continue;
		}
		used = go_escape(s + q + 1, '"', &r, &is_byte);
		if (!used) {
			ferry_sb_release(&sb);
			return lx_fail(lx, line, col, "invalid escape sequence \\%c in string",
				       s[q + 1]);
		}
		if (r == 0) {
			ferry_sb_release(&sb);
			return lx_fail(lx, line, col, "NUL bytes in strings are not supported");
		}
		if (is_byte)
			ferry_sb_addc(&sb, (char)r);
		else
			ferry_sb_add(&sb, enc, utf8_encode(r, enc));
		q += used + 1;
	}
	t = lx_push(lx, TK_STRING, start, p + 1 - start, space);
	t->slen = sb.len;
	t->str = ferry_sb_detach(&sb);
	lx->pos = p + 1;
	return 0;
}

static int lex_raw(struct lexer *lx, bool space)
{
	size_t start = lx->pos;
	const char *end = strchr(lx->src + start + 1, '`');
	struct ferry_sb sb = FERRY_SB_INIT;
	struct tok *t;
	int line, col;

	lx_pos(lx, start, &line, &col);
	if (!end)
		return lx_fail(lx, line, col, "unterminated raw quoted string");
	/* Go drops carriage returns from raw strings. */
	for (const char *q = lx->src + start + 1; q < end; q++)
		if (*q != '\r')
			ferry_sb_addc(&sb, *q);
	t = lx_push(lx, TK_STRING, start, (size_t)(end - lx->src) + 1 - start, space);
	t->slen = sb.len;
	t->str = ferry_sb_detach(&sb);
	lx->pos = (size_t)(end - lx->src) + 1;
	return 0;
}

static int lex_char(struct lexer *lx, bool space)
{
	size_t start = lx->pos, p = start + 1, used;
	const char *s = lx->src;
	struct tok *t;
	int32_t r;
	bool is_byte;
	int line, col;

	lx_pos(lx, start, &line, &col);
	for (; s[p] != '\''; p++) {
		if (s[p] == '\\' && s[p + 1] != '\0' && s[p + 1] != '\n')
			p++;
		else if (s[p] == '\0' || s[p] == '\n')
			return lx_fail(lx, line, col, "unterminated character constant");
	}
	if (s[start + 1] == '\\') {
		used = go_escape(s + start + 2, '\'', &r, &is_byte);
		used = used ? used + 1 : 0;
	} else {
		r = utf8_decode(s + start + 1, p - start - 1, &used);
		if (r == 0xFFFD && used == 1)
			used = 0;
	}
	if (!used || start + 1 + used != p)
		return lx_fail(lx, line, col, "malformed character constant: %.*s",
			       (int)(p + 1 - start), s + start);
	t = lx_push(lx, TK_NUMBER, start, p + 1 - start, space);
	t->num.is_int = t->num.is_float = true;
	t->num.i = r;
	t->num.f = r;
	lx->pos = p + 1;
	return 0;
}

/* strconv's underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s, size_t n)
{
	char saw = '^';
	size_t i = 0;
	bool hex = false;

	if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	if (n >= 2 && s[0] == '0' && strchr("bBoOxX", s[1])) {
		i = 2;
		saw = '0';
		hex = s[1] == 'x' || s[1] == 'X';
	}
	for (; i < n; i++) {
		if (is_digit(s[i]) || (hex && ferry_hexval(s[i]) >= 0)) {
			saw = '0';
			continue;
		}
		if (s[i] == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* Go's ParseInt(text, 0, 64): 1 parsed, 0 not integer syntax, -1 overflow. */
static int parse_int(const char *s, size_t n, int64_t *out)
{
	bool neg = false;
	unsigned base = 10;
	uint64_t u = 0, lim;
	size_t i = 0, ndig = 0;

	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (n - i >= 2 && s[i] == '0') {
		switch (s[i + 1]) {
		case 'x':
		case 'X':
			base = 16;
			i += 2;
			break;
		case 'o':
		case 'O':
			base = 8;
			i += 2;
			break;
		case 'b':
		case 'B':
			base = 2;
			i += 2;
			break;
		default:
			base = 8;
			i += 1;
			ndig = 1;
			break;
		}
	}
	lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
	for (; i < n; i++) {
		int d = s[i] == '_' ? -2 : ferry_hexval(s[i]);

		if (d == -2)
			continue;
		if (d < 0 || (unsigned)d >= base)
			return 0;
		if (u > (lim - (unsigned)d) / base)
			return -1;
		u = u * base + (unsigned)d;
		ndig++;
	}
	if (!ndig)
		return 0;
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 1;
}

/* Go's parse.newNumber, without complex and unsigned numbers. */
static int parse_number(const char *s, size_t n, struct num *num, const char **why)
{
	char buf[128];
	size_t k = 0;
	char *end;
	bool hex;
	int rc;

	memset(num, 0, sizeof *num);
	*why = "bad number syntax";
	if (!underscore_ok(s, n))
		return -1;
	rc = parse_int(s, n, &num->i);
	if (rc < 0) {
		*why = "integer overflow";
		return -1;
	}
	if (rc > 0) {
		num->is_int = num->is_float = true;
		num->f = (double)num->i;
		return 0;
	}
	if (n >= sizeof buf)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '_')
			buf[k++] = s[i];
	buf[k] = '\0';
	hex = strstr(buf, "0x") || strstr(buf, "0X");
	if (strpbrk(buf, "oObB") || (hex && !strpbrk(buf, "pP")) || !strpbrk(buf, ".eEpP"))
		return -1;
	errno = 0;
	num->f = strtod(buf, &end);
	if (end != buf + k || (errno == ERANGE && isinf(num->f)))
		return -1;
	num->is_float = num->floaty = true;
	if (num->f >= -9223372036854775808.0 && num->f < 9223372036854775808.0 &&
	    (double)(int64_t)num->f == num->f) {
		num->is_int = true;
		num->i = (int64_t)num->f;
	}
	return 0;
}

static void accept_run(const char *s, size_t *p, const char *set)
{
	while (s[*p] && strchr(set, s[*p]))
		(*p)++;
}

/* Go's scanNumber: decides the extent, parse_number the meaning. */
static int lex_number(struct lexer *lx, bool space)
{
	const char *s = lx->src, *digits = "0123456789_", *why;
	size_t start = lx->pos, p = start;
	struct tok *t;

	if (s[p] == '+' || s[p] == '-')
		p++;
	if (s[p] == '0') {
		p++;
		if (s[p] && strchr("xX", s[p])) {
			p++;
			digits = "0123456789abcdefABCDEF_";
		} else if (s[p] && strchr("oO", s[p])) {
			p++;
			digits = "01234567_";
		} else if (s[p] && strchr("bB", s[p])) {
			p++;
			digits = "01_";
		}
	}
	accept_run(s, &p, digits);
	if (s[p] == '.') {
		p++;
		accept_run(s, &p, digits);
	}
	if (strlen(digits) == 11 && s[p] && strchr("eE", s[p])) {
		p++;
		accept_run(s, &p, "+-");
		accept_run(s, &p, "0123456789_");
	}
	if (strlen(digits) == 23 && s[p] && strchr("pP", s[p])) {
		p++;
		accept_run(s, &p, "+-");
		accept_run(s, &p, "0123456789_");
	}
	t = lx_push(lx, TK_NUMBER, start, p - start, space);
	if (is_ident(s[p])) {
		size_t w;

		utf8_decode(s + p, lx->len - p, &w);
		return lx_fail(lx, t->line, t->col, "bad number syntax: \"%.*s\"",
			       (int)(p + w - start), s + start);
	}
	if (parse_number(s + start, p - start, &t->num, &why) < 0)
		return lx_fail(lx, t->line, t->col, "%s: \"%.*s\"", why, (int)(p - start),
			       s + start);
	lx->pos = p;
	return lx_check_term(lx, p);
}

static int lex_ident(struct lexer *lx, enum tkind kind, bool space)
{
	size_t start = lx->pos, p = start + 1;

	while (is_ident(lx->src[p]))
		p++;
	lx_push(lx, kind, start, p - start, space);
	lx->pos = p;
	return lx_check_term(lx, p);
}

/* .Field, chained fields .A.B (one token), or a lone dot. */
static int lex_field(struct lexer *lx, bool space)
{
	const char *s = lx->src;
	size_t start = lx->pos, p = start;

	if (!is_ident(s[p + 1]) || is_digit(s[p + 1])) {
		lx->pos = p + 1;
		if (!at_terminator(s + p + 1))
			return lx_check_term(lx, p + 1);
		lx_push(lx, TK_DOT, start, 1, space);
		return 0;
	}
	while (s[p] == '.' && is_ident(s[p + 1]) && !is_digit(s[p + 1])) {
		p++;
		while (is_ident(s[p]))
			p++;
	}
	lx_push(lx, TK_FIELD, start, p - start, space);
	lx->pos = p;
	return lx_check_term(lx, p);
}

static bool at_right_trim(const char *s)
{
	return is_space(s[0]) && s[1] == '-' && s[2] == '}' && s[3] == '}';
}

/* From "{{" to the end of its "}}"; comments produce no tokens. */
static int lex_action(struct lexer *lx)
{
	const char *s = lx->src;
	size_t start = lx->pos, p = start + 2;
	bool space = false;
	int line, col;

	lx_pos(lx, start, &line, &col);
	if (s[p] == '-' && is_space(s[p + 1]))
		p += 2;
	if (s[p] == '/' && s[p + 1] == '*') {
		const char *end = strstr(s + p + 2, "*/");

		if (!end)
			return lx_fail(lx, line, col, "unclosed comment");
		p = (size_t)(end - s) + 2;
		if (at_right_trim(s + p)) {
			lx->trim_next = true;
			p += 4;
		} else if (s[p] == '}' && s[p + 1] == '}') {
			p += 2;
		} else {
			return lx_fail_at(lx, p, "comment ends before closing delimiter");
		}
		lx->pos = p;
		return 0;
	}
	lx_push(lx, TK_LEFT, start, 2, false);
	lx->pos = p;
	for (;;) {
		char c = s[lx->pos];
		char buf[32], msg[80];
		int rc = 0;

		if (lx->pos >= lx->len)
			return lx_fail(lx, line, col, "unclosed action");
		if (at_right_trim(s + lx->pos)) {
			lx_push(lx, TK_RIGHT, lx->pos + 1, 3, true);
			lx->pos += 4;
			lx->trim_next = true;
			return 0;
		}
		if (c == '}' && s[lx->pos + 1] == '}') {
			lx_push(lx, TK_RIGHT, lx->pos, 2, space);
			lx->pos += 2;
			return 0;
		}
		if (is_space(c)) {
			space = true;
			lx->pos++;
			continue;
		}
		if (c == '"') {
			rc = lex_quote(lx, space);
		} else if (c == '`') {
			rc = lex_raw(lx, space);
		} else if (c == '\'') {
			rc = lex_char(lx, space);
		} else if (c == '.' && !is_digit(s[lx->pos + 1])) {
			rc = lex_field(lx, space);
		} else if (c == '.' || c == '+' || c == '-' || is_digit(c)) {
			rc = lex_number(lx, space);
		} else if (c == '$') {
			rc = lex_ident(lx, TK_VAR, space);
		} else if (is_ident(c)) {
			rc = lex_ident(lx, TK_IDENT, space);
		} else if (c == '(' || c == ')' || c == '|') {
			lx_push(lx,
				c == '('   ? TK_LPAREN
				: c == ')' ? TK_RPAREN
					   : TK_PIPE,
				lx->pos, 1, space);
			lx->pos++;
		} else if (c > ' ' && c < 0x7F) {
			lx_push(lx, TK_CHAR, lx->pos, 1, space);
			lx->pos++;
		} else {
			snprintf(msg, sizeof msg, "unrecognized character in action: %s",
				 char_desc(buf, sizeof buf, s + lx->pos, lx->len - lx->pos));
			return lx_fail_at(lx, lx->pos, msg);
		}
		if (rc < 0)
			return -1;
		space = false;
	}
}

static void lex_text(struct lexer *lx, size_t n, bool trim_right)
{
	size_t start = lx->pos;

	if (lx->trim_next) {
		while (n && is_space(lx->src[start])) {
			start++;
			n--;
		}
		lx->trim_next = false;
	}
	if (trim_right)
		while (n && is_space(lx->src[start + n - 1]))
			n--;
	if (n)
		lx_push(lx, TK_TEXT, start, n, false);
}

static void lex(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		const char *open = strstr(lx->src + lx->pos, "{{");
		size_t n = open ? (size_t)(open - lx->src) - lx->pos : lx->len - lx->pos;

		lex_text(lx, n, open && open[2] == '-' && is_space(open[3]));
		lx->pos += n;
		if (open && lex_action(lx) < 0)
			return;
	}
	lx_push(lx, TK_EOF, lx->len, 0, false);
}

/* ---- parser -------------------------------------------------------------- */

struct parser {
	struct lexer *lx;
	size_t i;
	int depth;
	struct ferry_tmpl *t;
	struct ferry_err *err;
};

static struct tok *peek(struct parser *ps)
{
	return &ps->lx->v[ps->i];
}

static struct tok *next(struct parser *ps)
{
	struct tok *t = &ps->lx->v[ps->i];

	if (t->kind != TK_EOF && t->kind != TK_ERROR)
		ps->i++;
	return t;
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->kind == TK_IDENT && t->n == strlen(word) && !memcmp(t->p, word, t->n);
}

static bool tok_keyword(const struct tok *t)
{
	static const char *const kw[] = {"if",	     "else",  "end",   "range",	   "with", "define",
					 "template", "block", "break", "continue", "nil",  NULL};

	for (size_t i = 0; kw[i]; i++)
		if (tok_is(t, kw[i]))
			return true;
	return false;
}

/* An error about token t; reaching the lexer's error token reports that. */
static int perr(struct parser *ps, const struct tok *t, enum ferry_errcode code, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
static int perr(struct parser *ps, const struct tok *t, enum ferry_errcode code, const char *fmt,
		...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	if (t->kind == TK_ERROR) {
		*ps->err = ps->lx->err;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ferry_err_set_at(ps->err, code, "", t->line, t->col, "%s", msg);
}

static int unexpected(struct parser *ps, const struct tok *t, const char *where)
{
	if (t->kind == TK_EOF)
		return perr(ps, t, FERRY_E_INVALID, "unexpected EOF in %s", where);
	if (t->kind == TK_RIGHT)
		return perr(ps, t, FERRY_E_INVALID, "unexpected \"}}\" in %s", where);
	return perr(ps, t, FERRY_E_INVALID, "unexpected \"%.*s\" in %s", t->n > 40 ? 40 : (int)t->n,
		    t->p, where);
}

static int deeper(struct parser *ps, const struct tok *t)
{
	if (++ps->depth > FERRY_TMPL_DEPTH_MAX)
		return perr(ps, t, FERRY_E_LIMIT, "nesting deeper than %d levels",
			    FERRY_TMPL_DEPTH_MAX);
	return 0;
}

static void record_field(struct parser *ps, const char *name, int line, int col)
{
	struct ferry_tmpl *t = ps->t;
	struct tfield *f;

	for (size_t i = 0; i < t->nfields; i++)
		if (!strcmp(t->fields[i].name, name))
			return;
	f = FERRY_PUSH(t->fields, t->nfields, t->cap);
	f->name = ferry_xstrdup(name);
	f->line = line;
	f->col = col;
}

static int check_arity(struct parser *ps, const struct cmd *c, bool piped)
{
	const struct func *f = c->fn;
	size_t n = c->nargs + piped;
	const char *name = f->name;
	struct tok at = {.line = c->line, .col = c->col};

	if (n >= (size_t)f->min_args && (f->max_args < 0 || n <= (size_t)f->max_args))
		return 0;
	if (f->min_args == f->max_args)
		return perr(ps, &at, FERRY_E_INVALID,
			    "wrong number of args for %s: want %d got %zu", name, f->min_args, n);
	if (f->max_args < 0)
		return perr(ps, &at, FERRY_E_INVALID,
			    "wrong number of args for %s: want at least %d got %zu", name,
			    f->min_args, n);
	return perr(ps, &at, FERRY_E_INVALID, "wrong number of args for %s: want %d to %d got %zu",
		    name, f->min_args, f->max_args, n);
}

static int lookup_func(struct parser *ps, const struct tok *t, const struct func **fn)
{
	if (tok_is(t, "nil"))
		return perr(ps, t, FERRY_E_INVALID, "nil is not supported");
	if (tok_keyword(t))
		return perr(ps, t, FERRY_E_INVALID, "unexpected keyword %.*s in command", (int)t->n,
			    t->p);
	*fn = find_func(t->p, t->n);
	if (!*fn)
		return perr(ps, t, FERRY_E_INVALID, "function \"%.*s\" not defined",
			    t->n > 64 ? 64 : (int)t->n, t->p);
	return 0;
}

static int parse_pipeline(struct parser *ps, struct pipe **out, enum tkind stop, const char *what);

static int parse_operand(struct parser *ps, struct operand *o)
{
	struct tok *t = next(ps);
	const char *dot, *end;

	o->line = t->line;
	o->col = t->col;
	switch (t->kind) {
	case TK_FIELD:
		o->kind = OP_FIELD;
		dot = memchr(t->p + 1, '.', t->n - 1);
		end = dot ? dot : t->p + t->n;
		o->s = ferry_xstrndup(t->p + 1, (size_t)(end - t->p - 1));
		o->len = strlen(o->s);
		if (dot) {
			const char *dot2 = memchr(dot + 1, '.', (size_t)(t->p + t->n - dot - 1));

			o->sub = ferry_xstrndup(dot + 1,
						(size_t)((dot2 ? dot2 : t->p + t->n) - dot - 1));
		}
		record_field(ps, o->s, t->line, t->col);
		return 0;
	case TK_STRING:
		o->kind = OP_STRING;
		o->s = t->str;
		o->len = t->slen;
		t->str = NULL;
		return 0;
	case TK_NUMBER:
		o->kind = OP_NUMBER;
		o->num = t->num;
		o->s = ferry_xstrndup(t->p, t->n);
		o->len = t->n;
		return 0;
	case TK_LPAREN:
		if (deeper(ps, t) < 0)
			return -1;
		o->kind = OP_PIPE;
		if (parse_pipeline(ps, &o->pipe, TK_RPAREN, "parenthesized pipeline") < 0)
			return -1;
		next(ps);
		ps->depth--;
		return 0;
	case TK_IDENT:
		if (tok_is(t, "true") || tok_is(t, "false")) {
			o->kind = OP_BOOL;
			o->b = tok_is(t, "true");
			return 0;
		}
		/* A bare function name as an argument is a call without arguments. */
		o->kind = OP_PIPE;
		o->pipe = ferry_xcalloc(1, sizeof *o->pipe);
		{
			struct cmd *c = FERRY_PUSH(o->pipe->cmds, o->pipe->n, o->pipe->cap);

			c->line = t->line;
			c->col = t->col;
			if (lookup_func(ps, t, &c->fn) < 0)
				return -1;
			return check_arity(ps, c, false);
		}
	case TK_DOT:
		return perr(ps, t, FERRY_E_INVALID, "{{.}} (dot) is not supported; use .Field");
	case TK_VAR:
		return perr(ps, t, FERRY_E_INVALID, "variables (%.*s) are not supported",
			    t->n > 40 ? 40 : (int)t->n, t->p);
	default: return unexpected(ps, t, "operand");
	}
}

static void operand_text(const struct operand *o, char *buf, size_t n)
{
	switch (o->kind) {
	case OP_FIELD: snprintf(buf, n, ".%s", o->s); break;
	case OP_NUMBER: snprintf(buf, n, "%s", o->s); break;
	case OP_BOOL: snprintf(buf, n, "%s", o->b ? "true" : "false"); break;
	case OP_STRING: snprintf(buf, n, "\"%s\"", o->s); break;
	case OP_PIPE: snprintf(buf, n, "(...)"); break;
	}
}

static int parse_command(struct parser *ps, struct cmd *c)
{
	struct tok *t = peek(ps);
	struct operand *o;

	c->line = t->line;
	c->col = t->col;
	if (t->kind == TK_IDENT && !tok_is(t, "true") && !tok_is(t, "false")) {
		if (lookup_func(ps, t, &c->fn) < 0)
			return -1;
		next(ps);
	} else {
		o = FERRY_PUSH(c->args, c->nargs, c->cap);
		if (parse_operand(ps, o) < 0)
			return -1;
	}
	for (;;) {
		t = peek(ps);
		if (t->kind == TK_PIPE || t->kind == TK_RIGHT || t->kind == TK_RPAREN)
			return 0;
		if (!t->space || !(t->kind == TK_FIELD || t->kind == TK_STRING ||
				   t->kind == TK_NUMBER || t->kind == TK_LPAREN ||
				   t->kind == TK_IDENT || t->kind == TK_DOT || t->kind == TK_VAR))
			return unexpected(ps, t, "operand");
		if (!c->fn) {
			char buf[80];

			operand_text(&c->args[0], buf, sizeof buf);
			return perr(ps, t, FERRY_E_INVALID,
				    "can't give argument to non-function %s", buf);
		}
		o = FERRY_PUSH(c->args, c->nargs, c->cap);
		if (parse_operand(ps, o) < 0)
			return -1;
	}
}

static int parse_pipeline(struct parser *ps, struct pipe **out, enum tkind stop, const char *what)
{
	struct pipe *p = ferry_xcalloc(1, sizeof *p);
	struct tok *t;
	int rc = -1;

	*out = p;
	for (;;) {
		struct cmd *c;

		t = peek(ps);
		if (t->kind == TK_PIPE || t->kind == TK_RIGHT || t->kind == TK_RPAREN) {
			if (t->kind == stop || t->kind == TK_PIPE)
				perr(ps, t, FERRY_E_INVALID, "missing value for %s", what);
			else
				unexpected(ps, t, what);
			goto out;
		}
		c = FERRY_PUSH(p->cmds, p->n, p->cap);
		if (parse_command(ps, c) < 0)
			goto out;
		if (p->n > 1 && !c->fn) {
			struct tok at = {.line = c->line, .col = c->col};

			perr(ps, &at, FERRY_E_INVALID,
			     "non executable command in pipeline stage %zu", p->n);
			goto out;
		}
		if (c->fn && check_arity(ps, c, p->n > 1) < 0)
			goto out;
		t = peek(ps);
		if (t->kind == TK_PIPE) {
			next(ps);
			continue;
		}
		if (t->kind == stop)
			break;
		if (t->kind == TK_RIGHT)
			perr(ps, t, FERRY_E_INVALID, "unclosed left paren");
		else
			perr(ps, t, FERRY_E_INVALID, "unexpected right paren");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

enum term { TERM_EOF, TERM_ELSE, TERM_END };

static int parse_list(struct parser *ps, struct list *l, enum term *term, const struct tok **kw);

static int expect_right(struct parser *ps, const char *what)
{
	struct tok *t = next(ps);

	if (t->kind == TK_RIGHT)
		return 0;
	return unexpected(ps, t, what);
}

/* {{if}} with its {{else if}} chain, which shares one {{end}} and is built
 * as a chain of nodes, iteratively. */
static int parse_if(struct parser *ps, struct list *l, const struct tok *left)
{
	struct node nd = {.kind = ND_IF, .line = left->line, .col = left->col};
	struct node *cur = &nd;
	const struct tok *kw;
	enum term term;

	if (deeper(ps, left) < 0)
		return -1;
	for (;;) {
		if (parse_pipeline(ps, &cur->pipe, TK_RIGHT, "if") < 0)
			goto fail;
		next(ps);
		if (parse_list(ps, &cur->then, &term, &kw) < 0)
			goto fail;
		if (term == TERM_END)
			break;
		if (term == TERM_EOF) {
			perr(ps, left, FERRY_E_INVALID, "unclosed {{if}}: missing {{end}}");
			goto fail;
		}
		if (tok_is(peek(ps), "if")) {
			struct node *child = FERRY_PUSH(cur->els.v, cur->els.n, cur->els.cap);

			next(ps);
			child->kind = ND_IF;
			child->line = kw->line;
			child->col = kw->col;
			cur->elif = true;
			cur = child;
			continue;
		}
		if (expect_right(ps, "{{else}}") < 0)
			goto fail;
		if (parse_list(ps, &cur->els, &term, &kw) < 0)
			goto fail;
		if (term == TERM_END)
			break;
		if (term == TERM_EOF)
			perr(ps, left, FERRY_E_INVALID, "unclosed {{if}}: missing {{end}}");
		else
			perr(ps, kw, FERRY_E_INVALID, "expected {{end}}; found {{else}}");
		goto fail;
	}
	if (expect_right(ps, "{{end}}") < 0)
		goto fail;
	ps->depth--;
	*FERRY_PUSH(l->v, l->n, l->cap) = nd;
	return 0;
fail:
	free_node(&nd);
	return -1;
}

static int parse_action(struct parser *ps, struct list *l, const struct tok *left)
{
	struct node *nd;
	struct pipe *p = NULL;

	if (parse_pipeline(ps, &p, TK_RIGHT, "command") < 0) {
		free_pipe(p);
		return -1;
	}
	next(ps);
	nd = FERRY_PUSH(l->v, l->n, l->cap);
	nd->kind = ND_ACTION;
	nd->line = left->line;
	nd->col = left->col;
	nd->pipe = p;
	return 0;
}

/* Nodes up to the end of input or an {{else}} / {{end}}, whose "{{" and
 * keyword are consumed and whose keyword token is left in *kw. */
static int parse_list(struct parser *ps, struct list *l, enum term *term, const struct tok **kw)
{
	for (;;) {
		struct tok *t = next(ps), *k;
		struct node *nd;

		switch (t->kind) {
		case TK_EOF: *term = TERM_EOF; return 0;
		case TK_TEXT:
			nd = FERRY_PUSH(l->v, l->n, l->cap);
			nd->kind = ND_TEXT;
			nd->line = t->line;
			nd->col = t->col;
			nd->text = ferry_xstrndup(t->p, t->n);
			nd->len = t->n;
			break;
		case TK_LEFT:
			k = peek(ps);
			if (tok_is(k, "else") || tok_is(k, "end")) {
				*term = tok_is(k, "else") ? TERM_ELSE : TERM_END;
				*kw = next(ps);
				return 0;
			}
			if (tok_is(k, "if")) {
				next(ps);
				if (parse_if(ps, l, t) < 0)
					return -1;
				break;
			}
			if (tok_keyword(k) && !tok_is(k, "nil"))
				return perr(ps, k, FERRY_E_INVALID, "{{%.*s}} is not supported",
					    (int)k->n, k->p);
			if (parse_action(ps, l, t) < 0)
				return -1;
			break;
		default: return unexpected(ps, t, "template");
		}
	}
}

/* ---- values -------------------------------------------------------------- */

static void val_free(struct val *v)
{
	if (v->k == V_STR)
		free(v->s);
	v->s = NULL;
	v->k = V_STR;
}

static void val_take_sb(struct val *v, struct ferry_sb *sb)
{
	v->k = V_STR;
	v->len = sb->len;
	v->s = ferry_sb_detach(sb);
}

static void val_str(struct val *v, const char *s, size_t n)
{
	v->k = V_STR;
	v->s = ferry_xmalloc(n + 1);
	memcpy(v->s, s, n);
	v->s[n] = '\0';
	v->len = n;
}

static void val_int(struct val *v, enum vkind k, int64_t i)
{
	v->k = k;
	v->i = i;
}

static void val_float(struct val *v, double f)
{
	v->k = V_FLOAT;
	v->f = f;
}

static void val_bool(struct val *v, bool b)
{
	v->k = V_BOOL;
	v->b = b;
}

static const char *type_name(enum vkind k)
{
	switch (k) {
	case V_STR: return "string";
	case V_INT: return "int";
	case V_INT64: return "int64";
	case V_FLOAT: return "float64";
	case V_BOOL: return "bool";
	}
	return "?";
}

/* Go's text/template truth: the zero value of its type is false. */
static bool truth(const struct val *v)
{
	switch (v->k) {
	case V_STR: return v->len > 0;
	case V_INT:
	case V_INT64: return v->i != 0;
	case V_FLOAT: return v->f != 0;
	case V_BOOL: return v->b;
	}
	return false;
}

/* Shortest decimal digits of v (finite, > 0) that read back as v, as
 * strconv does; *dp is the position of the decimal point. A correctly
 * rounded %.*e of the smallest precision that round-trips gives them. */
static void shortest_digits(double v, char *digs, int *nd, int *dp)
{
	char buf[40];
	const char *e;
	int n = 0;

	for (int prec = 0; prec < 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	e = strchr(buf, 'e');
	for (const char *q = buf; q < e; q++)
		if (is_digit(*q))
			digs[n++] = *q;
	while (n > 1 && digs[n - 1] == '0')
		n--;
	digs[n] = '\0';
	*nd = n;
	*dp = atoi(e + 1) + 1;
}

/* strconv.FormatFloat(f, 'g', -1, 64) of |v|, or 'G'. */
static void fmt_shortest(struct ferry_sb *sb, double v, bool upper)
{
	char digs[24];
	int nd, dp, x;

	if (v < 0)
		v = -v;
	if (v == 0) {
		ferry_sb_addc(sb, '0');
		return;
	}
	shortest_digits(v, digs, &nd, &dp);
	x = dp - 1;
	if (x < -4 || x >= 6) {
		ferry_sb_addc(sb, digs[0]);
		if (nd > 1) {
			ferry_sb_addc(sb, '.');
			ferry_sb_add(sb, digs + 1, (size_t)nd - 1);
		}
		ferry_sb_addf(sb, "%c%c%02d", upper ? 'E' : 'e', x < 0 ? '-' : '+', x < 0 ? -x : x);
		return;
	}
	if (dp <= 0) {
		ferry_sb_adds(sb, "0.");
		for (int k = dp; k < 0; k++)
			ferry_sb_addc(sb, '0');
		ferry_sb_add(sb, digs, (size_t)nd);
		return;
	}
	for (int k = 0; k < dp; k++)
		ferry_sb_addc(sb, k < nd ? digs[k] : '0');
	if (nd > dp) {
		ferry_sb_addc(sb, '.');
		ferry_sb_add(sb, digs + dp, (size_t)(nd - dp));
	}
}

/* fmt's %v of a float64. */
static void fmt_float_v(struct ferry_sb *sb, double f)
{
	if (isnan(f)) {
		ferry_sb_adds(sb, "NaN");
		return;
	}
	if (isinf(f)) {
		ferry_sb_adds(sb, f > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (signbit(f))
		ferry_sb_addc(sb, '-');
	fmt_shortest(sb, f, false);
}

/* How an action prints a value: fmt's %v. */
static void print_val(struct ferry_sb *sb, const struct val *v)
{
	switch (v->k) {
	case V_STR: ferry_sb_add(sb, v->s, v->len); break;
	case V_INT:
	case V_INT64: ferry_sb_addf(sb, "%" PRId64, v->i); break;
	case V_FLOAT: fmt_float_v(sb, v->f); break;
	case V_BOOL: ferry_sb_adds(sb, v->b ? "true" : "false"); break;
	}
}

static bool is_print_rune(int32_t r)
{
	if (r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0xA0) || r == 0xAD)
		return false;
	if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
	    (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF ||
	    (r >= 0xFFF9 && r <= 0xFFFB))
		return false;
	return true;
}

/* strconv.Quote / QuoteRune. Printability beyond ASCII is approximated:
 * control, format and space characters are escaped, the rest kept. */
static void go_quote(struct ferry_sb *sb, const char *s, size_t n, char q)
{
	ferry_sb_addc(sb, q);
	for (size_t i = 0; i < n;) {
		size_t w;
		int32_t r = utf8_decode(s + i, n - i, &w);
		unsigned char c = (unsigned char)s[i];

		if (r == 0xFFFD && w == 1) {
			ferry_sb_addf(sb, "\\x%02x", c);
		} else if (r == q || r == '\\') {
			ferry_sb_addc(sb, '\\');
			ferry_sb_addc(sb, (char)r);
		} else if (is_print_rune(r)) {
			ferry_sb_add(sb, s + i, w);
		} else {
			switch (r) {
			case '\a': ferry_sb_adds(sb, "\\a"); break;
			case '\b': ferry_sb_adds(sb, "\\b"); break;
			case '\f': ferry_sb_adds(sb, "\\f"); break;
			case '\n': ferry_sb_adds(sb, "\\n"); break;
			case '\r': ferry_sb_adds(sb, "\\r"); break;
			case '\t': ferry_sb_adds(sb, "\\t"); break;
			case '\v': ferry_sb_adds(sb, "\\v"); break;
			default:
				if (r < 0x20 || r == 0x7F)
					ferry_sb_addf(sb, "\\x%02" PRIx32, (uint32_t)r);
				else if (r < 0x10000)
					ferry_sb_addf(sb, "\\u%04" PRIx32, (uint32_t)r);
				else
					ferry_sb_addf(sb, "\\U%08" PRIx32, (uint32_t)r);
			}
		}
		i += w;
	}
	ferry_sb_addc(sb, q);
}

/* ---- printf -------------------------------------------------------------- */

struct pfmt {
	bool minus, plus, sharp, space, zero;
	bool wid_ok, prec_ok;
	int wid, prec;
};

static size_t rune_count(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xC0) != 0x80;
	return c;
}

static void add_fill(struct ferry_sb *sb, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ferry_sb_addc(sb, c);
}

/* Width counts runes; '0' pads numbers only (fmt ignores it for strings). */
static void fmt_pad(struct ferry_sb *sb, const struct pfmt *f, const char *s, size_t n)
{
	size_t w = rune_count(s, n);

	if (!f->wid_ok || w >= (size_t)f->wid) {
		ferry_sb_add(sb, s, n);
		return;
	}
	if (f->minus) {
		ferry_sb_add(sb, s, n);
		add_fill(sb, ' ', (size_t)f->wid - w);
	} else {
		add_fill(sb, ' ', (size_t)f->wid - w);
		ferry_sb_add(sb, s, n);
	}
}

static void fmt_str(struct ferry_sb *sb, const struct pfmt *f, const char *s, size_t n)
{
	if (f->prec_ok) {
		size_t i = 0, runes = 0;

		while (i < n && runes < (size_t)f->prec) {
			size_t w;

			utf8_decode(s + i, n - i, &w);
			i += w;
			runes++;
		}
		n = i;
	}
	fmt_pad(sb, f, s, n);
}

/* fmt.fmtInteger: precision or the '0' flag give leading zeros, the sign
 * goes before them and the prefix of '#' is not counted. */
static void fmt_int(struct ferry_sb *sb, const struct pfmt *f, int64_t v, char verb)
{
	const char *digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = 10;
	bool neg = v < 0;
	uint64_t u = neg ? 0 - (uint64_t)v : (uint64_t)v;
	char *buf;
	size_t i, size;
	int prec = 0, nd = 0;
	struct pfmt nf = *f;

	switch (verb) {
	case 'x':
	case 'X': base = 16; break;
	case 'o':
	case 'O': base = 8; break;
	case 'b': base = 2; break;
	}
	if (f->prec_ok) {
		prec = f->prec;
		if (prec == 0 && u == 0) {
			fmt_pad(sb, f, "", 0);
			return;
		}
	} else if (f->zero && !f->minus && f->wid_ok) {
		prec = f->wid;
		if (neg || f->plus || f->space)
			prec--;
	}
	/* More digits than the output limit fail anyway. */
	if (prec > FERRY_TMPL_OUT_MAX + 1)
		prec = FERRY_TMPL_OUT_MAX + 1;
	size = (size_t)prec + 80;
	buf = ferry_xmalloc(size);
	i = size;
	do {
		buf[--i] = digits[u % base];
		u /= base;
		nd++;
	} while (u);
	while (nd < prec) {
		buf[--i] = '0';
		nd++;
	}
	if (f->sharp) {
		if (base == 16) {
			buf[--i] = verb;
			buf[--i] = '0';
		} else if (base == 8 && buf[i] != '0') {
			buf[--i] = '0';
		} else if (base == 2) {
			buf[--i] = 'b';
			buf[--i] = '0';
		}
	}
	if (verb == 'O') {
		buf[--i] = 'o';
		buf[--i] = '0';
	}
	if (neg)
		buf[--i] = '-';
	else if (f->plus)
		buf[--i] = '+';
	else if (f->space)
		buf[--i] = ' ';
	nf.zero = false;
	fmt_pad(sb, &nf, buf + i, size - i);
	free(buf);
}

/* Go pads the exponent of %x floats to two digits; C does not. */
static void fix_hex_exponent(char *buf, size_t n)
{
	char *p = strpbrk(buf, "pP");
	size_t len = strlen(buf);

	if (!p || !(p[1] == '+' || p[1] == '-') || strlen(p + 2) != 1 || len + 2 > n)
		return;
	memmove(p + 3, p + 2, 2);
	p[2] = '0';
}

static void fmt_float(struct ferry_sb *sb, const struct pfmt *f, double v, char verb)
{
	struct ferry_sb num = FERRY_SB_INIT;
	char buf[128];
	int prec = f->prec_ok ? f->prec : 6;
	double a = v < 0 ? -v : v;
	char sign = 0;
	struct pfmt nf = *f;

	if (signbit(v) && !isnan(v))
		sign = '-';
	else if (f->plus)
		sign = '+';
	else if (f->space)
		sign = ' ';
	if (prec > FERRY_TMPL_OUT_MAX + 1)
		prec = FERRY_TMPL_OUT_MAX + 1;
	if (isnan(v) || isinf(v)) {
		if (isinf(v) && !sign)
			sign = '+';
		if (sign)
			ferry_sb_addc(&num, sign);
		ferry_sb_adds(&num, isnan(v) ? "NaN" : "Inf");
		nf.zero = false;
		fmt_pad(sb, &nf, num.buf, num.len);
		ferry_sb_release(&num);
		return;
	}
	switch (verb) {
	case 'v':
	case 'g':
	case 'G':
		if (!f->prec_ok) {
			fmt_shortest(&num, a, verb == 'G');
			break;
		}
		if (verb == 'G')
			ferry_sb_addf(&num, f->sharp ? "%#.*G" : "%.*G", prec, a);
		else
			ferry_sb_addf(&num, f->sharp ? "%#.*g" : "%.*g", prec, a);
		break;
	case 'e': ferry_sb_addf(&num, f->sharp ? "%#.*e" : "%.*e", prec, a); break;
	case 'E': ferry_sb_addf(&num, f->sharp ? "%#.*E" : "%.*E", prec, a); break;
	case 'f':
	case 'F': ferry_sb_addf(&num, f->sharp ? "%#.*f" : "%.*f", prec, a); break;
	case 'x':
		if (prec > 60)
			prec = 60;
		if (f->prec_ok)
			snprintf(buf, sizeof buf - 2, "%.*a", prec, a);
		else
			snprintf(buf, sizeof buf - 2, "%a", a);
		fix_hex_exponent(buf, sizeof buf);
		ferry_sb_adds(&num, buf);
		break;
	case 'X':
		if (prec > 60)
			prec = 60;
		if (f->prec_ok)
			snprintf(buf, sizeof buf - 2, "%.*A", prec, a);
		else
			snprintf(buf, sizeof buf - 2, "%A", a);
		fix_hex_exponent(buf, sizeof buf);
		ferry_sb_adds(&num, buf);
		break;
	}
	if (f->zero && !f->minus && f->wid_ok && (size_t)f->wid > num.len + (sign != 0)) {
		if (sign)
			ferry_sb_addc(sb, sign);
		add_fill(sb, '0', (size_t)f->wid - num.len - (sign != 0));
		ferry_sb_add(sb, num.buf, num.len);
	} else {
		struct ferry_sb all = FERRY_SB_INIT;

		if (sign)
			ferry_sb_addc(&all, sign);
		ferry_sb_add(&all, num.buf, num.len);
		fmt_pad(sb, f, all.buf, all.len);
		ferry_sb_release(&all);
	}
	ferry_sb_release(&num);
}

static void fmt_hex_str(struct ferry_sb *sb, const struct pfmt *f, const char *s, size_t n,
			char verb)
{
	struct ferry_sb tmp = FERRY_SB_INIT;
	const char *digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";

	if (f->prec_ok && n > (size_t)f->prec)
		n = (size_t)f->prec;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (f->space && i > 0)
			ferry_sb_addc(&tmp, ' ');
		if (f->sharp && (f->space || i == 0)) {
			ferry_sb_addc(&tmp, '0');
			ferry_sb_addc(&tmp, verb);
		}
		ferry_sb_addc(&tmp, digits[c >> 4]);
		ferry_sb_addc(&tmp, digits[c & 15]);
	}
	fmt_pad(sb, f, tmp.buf, tmp.len);
	ferry_sb_release(&tmp);
}

static void fmt_bad_verb(struct ferry_sb *sb, const struct pfmt *f, const struct val *v,
			 const char *verb, size_t vlen);

/* One verb applied to one value, as fmt's printArg. */
static void fmt_arg(struct ferry_sb *sb, const struct pfmt *f, const struct val *v,
		    const char *verb, size_t vlen)
{
	struct ferry_sb tmp = FERRY_SB_INIT;
	char c = vlen == 1 ? verb[0] : '?';
	char enc[4];

	if (c == 'T') {
		fmt_str(sb, f, type_name(v->k), strlen(type_name(v->k)));
		return;
	}
	switch (v->k) {
	case V_BOOL:
		if (c == 't' || c == 'v')
			fmt_pad(sb, f, v->b ? "true" : "false", v->b ? 4 : 5);
		else
			fmt_bad_verb(sb, f, v, verb, vlen);
		return;
	case V_INT:
	case V_INT64:
		if (c && strchr("vdboOxX", c)) {
			fmt_int(sb, f, v->i, c == 'v' ? 'd' : c);
		} else if (c == 'c') {
			fmt_pad(sb, f, enc,
				utf8_encode(v->i < 0 || v->i > 0x10FFFF ? 0xFFFD : (int32_t)v->i,
					    enc));
		} else if (c == 'q') {
			size_t w = utf8_encode(v->i < 0 || v->i > 0x10FFFF ? 0xFFFD : (int32_t)v->i,
					       enc);

			go_quote(&tmp, enc, w, '\'');
			fmt_pad(sb, f, tmp.buf, tmp.len);
		} else if (c == 'U') {
			ferry_sb_addf(&tmp, "U+%04" PRIX64, (uint64_t)v->i);
			if (f->sharp && v->i >= 0 && v->i <= 0x10FFFF &&
			    is_print_rune((int32_t)v->i)) {
				ferry_sb_adds(&tmp, " '");
				ferry_sb_add(&tmp, enc, utf8_encode((int32_t)v->i, enc));
				ferry_sb_addc(&tmp, '\'');
			}
			fmt_pad(sb, f, tmp.buf, tmp.len);
		} else {
			fmt_bad_verb(sb, f, v, verb, vlen);
		}
		break;
	case V_FLOAT:
		if (c && strchr("veEfFgGxX", c))
			fmt_float(sb, f, v->f, c);
		else
			fmt_bad_verb(sb, f, v, verb, vlen);
		break;
	case V_STR:
		if (c == 's' || (c == 'v' && !f->sharp)) {
			fmt_str(sb, f, v->s, v->len);
		} else if (c == 'q' || c == 'v') {
			go_quote(&tmp, v->s, v->len, '"');
			fmt_pad(sb, f, tmp.buf, tmp.len);
		} else if (c == 'x' || c == 'X') {
			fmt_hex_str(sb, f, v->s, v->len, c);
		} else {
			fmt_bad_verb(sb, f, v, verb, vlen);
		}
		break;
	}
	ferry_sb_release(&tmp);
}

static void fmt_bad_verb(struct ferry_sb *sb, const struct pfmt *f, const struct val *v,
			 const char *verb, size_t vlen)
{
	ferry_sb_adds(sb, "%!");
	ferry_sb_add(sb, verb, vlen);
	ferry_sb_addf(sb, "(%s=", type_name(v->k));
	fmt_arg(sb, f, v, "v", 1);
	ferry_sb_addc(sb, ')');
}

/* fmt's parsenum; Go treats absurd numbers as missing, so do we. */
static bool parse_width(const char *s, size_t n, size_t *i, int *out)
{
	int v = 0;
	bool any = false;

	while (*i < n && is_digit(s[*i])) {
		if (v > 1000000)
			return false;
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		any = true;
	}
	*out = v;
	return any;
}

/* fmt.Sprintf over template values. Stops early once the result is longer
 * than the output limit; the caller reports that. */
static void go_sprintf(struct ferry_sb *sb, const char *fs, size_t n, const struct val *a,
		       size_t na)
{
	size_t ai = 0;

	for (size_t i = 0; i < n && sb->len <= FERRY_TMPL_OUT_MAX;) {
		struct pfmt f = {0};
		size_t w;

		if (fs[i] != '%') {
			ferry_sb_addc(sb, fs[i++]);
			continue;
		}
		i++;
		for (; i < n; i++) {
			if (fs[i] == '-') {
				f.minus = true;
				f.zero = false;
			} else if (fs[i] == '+') {
				f.plus = true;
			} else if (fs[i] == '#') {
				f.sharp = true;
			} else if (fs[i] == ' ') {
				f.space = true;
			} else if (fs[i] == '0') {
				f.zero = !f.minus;
			} else {
				break;
			}
		}
		f.wid_ok = parse_width(fs, n, &i, &f.wid);
		if (i < n && fs[i] == '.') {
			i++;
			f.prec_ok = true;
			parse_width(fs, n, &i, &f.prec);
		}
		if (i >= n) {
			ferry_sb_adds(sb, "%!(NOVERB)");
			break;
		}
		utf8_decode(fs + i, n - i, &w);
		if (fs[i] == '%') {
			ferry_sb_addc(sb, '%');
		} else if (ai >= na) {
			ferry_sb_adds(sb, "%!");
			ferry_sb_add(sb, fs + i, w);
			ferry_sb_adds(sb, "(MISSING)");
		} else {
			fmt_arg(sb, &f, &a[ai++], fs + i, w);
		}
		i += w;
	}
	if (ai < na && sb->len <= FERRY_TMPL_OUT_MAX) {
		struct pfmt f = {0};

		ferry_sb_adds(sb, "%!(EXTRA ");
		for (; ai < na; ai++) {
			ferry_sb_addf(sb, "%s=", type_name(a[ai].k));
			fmt_arg(sb, &f, &a[ai], "v", 1);
			if (ai + 1 < na)
				ferry_sb_adds(sb, ", ");
		}
		ferry_sb_addc(sb, ')');
	}
}

/* ---- execution errors ---------------------------------------------------- */

static int eerr(struct ectx *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int eerr(struct ectx *c, int line, int col, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ferry_err_set_at(c->err, FERRY_E_INVALID, "", line, col, "%s", msg);
}

/* A function that failed: Go says "error calling NAME: why". */
static int ferr(struct ectx *c, const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ferr(struct ectx *c, const struct cmd *cmd, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return eerr(c, cmd->line, cmd->col, "error calling %s: %s", cmd->fn->name, msg);
}

static int too_long(struct ectx *c, const struct cmd *cmd)
{
	return ferr(c, cmd, "result longer than %d bytes", FERRY_TMPL_OUT_MAX);
}

/* ---- string functions ---------------------------------------------------- */

static bool has_prefix(const struct val *s, const struct val *pre)
{
	return s->len >= pre->len && !memcmp(s->s, pre->s, pre->len);
}

static bool has_suffix(const struct val *s, const struct val *suf)
{
	return s->len >= suf->len && !memcmp(s->s + s->len - suf->len, suf->s, suf->len);
}

static int fn_case(struct val *a, struct val *out, bool upper)
{
	val_str(out, a[0].s, a[0].len);
	for (size_t i = 0; i < out->len; i++) {
		char ch = out->s[i];

		if (upper && ch >= 'a' && ch <= 'z')
			out->s[i] = (char)(ch - 'a' + 'A');
		else if (!upper && ch >= 'A' && ch <= 'Z')
			out->s[i] = (char)(ch - 'A' + 'a');
	}
	return 0;
}

static int fn_lower(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	(void)c, (void)cmd, (void)n;
	return fn_case(a, out, false);
}

static int fn_upper(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	(void)c, (void)cmd, (void)n;
	return fn_case(a, out, true);
}

/* strings.Title: a letter after a separator is upper-cased. Letters, digits
 * and '_' are not separators, nor is non-ASCII text other than spaces. */
static int fn_title(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	bool sep = true;

	(void)c, (void)cmd, (void)n;
	val_str(out, a[0].s, a[0].len);
	for (size_t i = 0; i < out->len;) {
		size_t w;
		int32_t r = utf8_decode(out->s + i, out->len - i, &w);

		if (sep && r >= 'a' && r <= 'z')
			out->s[i] = (char)(r - 'a' + 'A');
		if (r < 0x80)
			sep = !(is_alpha((char)r) || is_digit((char)r) || r == '_');
		else
			sep = is_uspace(r);
		i += w;
	}
	return 0;
}

/* goutils.Uncapitalize: the first letter of each space-separated word. */
static int fn_untitle(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		      struct val *out)
{
	bool next = true;

	(void)c, (void)cmd, (void)n;
	val_str(out, a[0].s, a[0].len);
	for (size_t i = 0; i < out->len;) {
		size_t w;
		int32_t r = utf8_decode(out->s + i, out->len - i, &w);

		if (is_uspace(r)) {
			next = true;
		} else if (next) {
			if (r >= 'A' && r <= 'Z')
				out->s[i] = (char)(r - 'A' + 'a');
			next = false;
		}
		i += w;
	}
	return 0;
}

static int fn_repeat(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		     struct val *out)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	(void)n;
	if (a[0].i < 0)
		return ferr(c, cmd, "strings: negative Repeat count");
	if (a[1].len && (uint64_t)a[0].i > FERRY_TMPL_OUT_MAX / a[1].len)
		return too_long(c, cmd);
	for (int64_t k = 0; a[1].len && k < a[0].i; k++)
		ferry_sb_add(&sb, a[1].s, a[1].len);
	val_take_sb(out, &sb);
	return 0;
}

/* Sprig's substring, whose slicing panics where Go's would. */
static int fn_substr(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		     struct val *out)
{
	int64_t start = a[0].i, end = a[1].i, len = (int64_t)a[2].len;

	(void)n;
	if (start < 0) {
		if (end < 0)
			return ferr(c, cmd,
				    "runtime error: slice bounds out of range [:%" PRId64 "]", end);
		if (end > len)
			return ferr(c, cmd,
				    "runtime error: slice bounds out of range [:%" PRId64
				    "] with length %" PRId64,
				    end, len);
		start = 0;
	} else if (end < 0 || end > len) {
		if (start > len)
			return ferr(c, cmd,
				    "runtime error: slice bounds out of range [%" PRId64 ":%" PRId64
				    "]",
				    start, len);
		end = len;
	} else if (start > end) {
		return ferr(c, cmd,
			    "runtime error: slice bounds out of range [%" PRId64 ":%" PRId64 "]",
			    start, end);
	}
	val_str(out, a[2].s + start, (size_t)(end - start));
	return 0;
}

/* goutils.DeleteWhiteSpace works on bytes: it drops bytes that are spaces as
 * runes (including 0x85 and 0xA0) and re-encodes every other byte >= 0x80 as
 * a rune of its own, unless nothing was dropped. Forklift gets exactly that. */
static bool byte_space(unsigned char b)
{
	return is_uspace(b);
}

static int fn_nospace(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		      struct val *out)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	bool any = false;
	char enc[4];

	(void)c, (void)cmd, (void)n;
	for (size_t i = 0; i < a[0].len; i++)
		any |= byte_space((unsigned char)a[0].s[i]);
	if (!any) {
		val_str(out, a[0].s, a[0].len);
		return 0;
	}
	for (size_t i = 0; i < a[0].len; i++) {
		unsigned char b = (unsigned char)a[0].s[i];

		if (!byte_space(b))
			ferry_sb_add(&sb, enc, utf8_encode(b, enc));
	}
	val_take_sb(out, &sb);
	return 0;
}

/* goutils.Initials, byte-wise like nospace. */
static int fn_initials(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		       struct val *out)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	bool gap = true;
	char enc[4];

	(void)c, (void)cmd, (void)n;
	for (size_t i = 0; i < a[0].len; i++) {
		unsigned char b = (unsigned char)a[0].s[i];

		if (byte_space(b)) {
			gap = true;
		} else if (gap) {
			ferry_sb_add(&sb, enc, utf8_encode(b, enc));
			gap = false;
		}
	}
	val_take_sb(out, &sb);
	return 0;
}

static int fn_trunc(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	int64_t k = a[0].i, len = (int64_t)a[1].len;

	(void)c, (void)cmd, (void)n;
	if (k < 0 && len + k > 0)
		val_str(out, a[1].s + len + k, (size_t)-k);
	else if (k >= 0 && len > k)
		val_str(out, a[1].s, (size_t)k);
	else
		val_str(out, a[1].s, a[1].len);
	return 0;
}

static bool in_cutset(int32_t r, const struct val *cut)
{
	for (size_t i = 0; i < cut->len;) {
		size_t w;

		if (utf8_decode(cut->s + i, cut->len - i, &w) == r)
			return true;
		i += w;
	}
	return false;
}

/* strings.Trim (cut != NULL) or strings.TrimSpace. */
static void trim_runes(const struct val *s, const struct val *cut, struct val *out)
{
	size_t b = 0, e = s->len, w;

	while (b < e) {
		int32_t r = utf8_decode(s->s + b, e - b, &w);

		if (cut ? !in_cutset(r, cut) : !is_uspace(r))
			break;
		b += w;
	}
	while (e > b) {
		int32_t r = utf8_decode_last(s->s + b, e - b, &w);

		if (cut ? !in_cutset(r, cut) : !is_uspace(r))
			break;
		e -= w;
	}
	val_str(out, s->s + b, e - b);
}

static int fn_trim(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	(void)c, (void)cmd, (void)n;
	trim_runes(&a[0], NULL, out);
	return 0;
}

static int fn_trimall(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		      struct val *out)
{
	(void)c, (void)cmd, (void)n;
	if (!a[0].len)
		val_str(out, a[1].s, a[1].len);
	else
		trim_runes(&a[1], &a[0], out);
	return 0;
}

static int fn_trimsuffix(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
			 struct val *out)
{
	(void)c, (void)cmd, (void)n;
	val_str(out, a[1].s, has_suffix(&a[1], &a[0]) ? a[1].len - a[0].len : a[1].len);
	return 0;
}

static int fn_trimprefix(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
			 struct val *out)
{
	size_t skip = has_prefix(&a[1], &a[0]) ? a[0].len : 0;

	(void)c, (void)cmd, (void)n;
	val_str(out, a[1].s + skip, a[1].len - skip);
	return 0;
}

static int fn_contains(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		       struct val *out)
{
	(void)c, (void)cmd, (void)n;
	val_bool(out, !a[0].len || memmem(a[1].s, a[1].len, a[0].s, a[0].len) != NULL);
	return 0;
}

static int fn_hasprefix(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
			struct val *out)
{
	(void)c, (void)cmd, (void)n;
	val_bool(out, has_prefix(&a[1], &a[0]));
	return 0;
}

static int fn_hassuffix(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
			struct val *out)
{
	(void)c, (void)cmd, (void)n;
	val_bool(out, has_suffix(&a[1], &a[0]));
	return 0;
}

/* strings.Replace(s, old, new, -1); an empty old matches before every rune
 * and at the end. */
static int fn_replace(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		      struct val *out)
{
	const struct val *old = &a[0], *rep = &a[1], *s = &a[2];
	struct ferry_sb sb = FERRY_SB_INIT;
	size_t i = 0;

	(void)n;
	while (i <= s->len) {
		const char *hit;
		size_t w;

		if (sb.len > FERRY_TMPL_OUT_MAX) {
			ferry_sb_release(&sb);
			return too_long(c, cmd);
		}
		if (!old->len) {
			ferry_sb_add(&sb, rep->s, rep->len);
			if (i == s->len)
				break;
			utf8_decode(s->s + i, s->len - i, &w);
			ferry_sb_add(&sb, s->s + i, w);
			i += w;
			continue;
		}
		hit = memmem(s->s + i, s->len - i, old->s, old->len);
		if (!hit) {
			ferry_sb_add(&sb, s->s + i, s->len - i);
			break;
		}
		ferry_sb_add(&sb, s->s + i, (size_t)(hit - s->s) - i);
		ferry_sb_add(&sb, rep->s, rep->len);
		i = (size_t)(hit - s->s) + old->len;
	}
	val_take_sb(out, &sb);
	return 0;
}

static int fn_len(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	(void)n;
	if (a[0].k != V_STR)
		return ferr(c, cmd, "len of type %s", type_name(a[0].k));
	val_int(out, V_INT, (int64_t)a[0].len);
	return 0;
}

static int fn_print(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	(void)c, (void)cmd;
	/* fmt.Sprint puts a space between operands when neither is a string. */
	for (size_t i = 0; i < n && sb.len <= FERRY_TMPL_OUT_MAX; i++) {
		if (i > 0 && a[i].k != V_STR && a[i - 1].k != V_STR)
			ferry_sb_addc(&sb, ' ');
		print_val(&sb, &a[i]);
	}
	val_take_sb(out, &sb);
	return 0;
}

static int fn_printf(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
		     struct val *out)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	(void)c, (void)cmd;
	go_sprintf(&sb, a[0].s, a[0].len, a + 1, n - 1);
	val_take_sb(out, &sb);
	return 0;
}

/* ---- numbers and comparisons --------------------------------------------- */

/* Go's int64(f) where x86-64 gives the "integer indefinite" value for NaN
 * and out-of-range inputs; C leaves those undefined. */
static int64_t f2i(double f)
{
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

/* Sprig's toInt64 / toFloat64, except that a string is refused instead of
 * quietly becoming 0. */
static int to_i64(struct ectx *c, const struct cmd *cmd, const struct val *v, int64_t *out)
{
	*out = 0;
	switch (v->k) {
	case V_INT:
	case V_INT64: *out = v->i; return 0;
	case V_FLOAT: *out = f2i(v->f); return 0;
	case V_BOOL: *out = v->b; return 0;
	case V_STR: break;
	}
	return ferr(c, cmd, "wrong type for value; expected a number; got string");
}

static int to_f64(struct ectx *c, const struct cmd *cmd, const struct val *v, double *out)
{
	*out = 0;
	switch (v->k) {
	case V_INT:
	case V_INT64: *out = (double)v->i; return 0;
	case V_FLOAT: *out = v->f; return 0;
	case V_BOOL: *out = v->b; return 0;
	case V_STR: break;
	}
	return ferr(c, cmd, "wrong type for value; expected a number; got string");
}

/* Go integers wrap; C's signed ones may not overflow, so do it unsigned. */
static int64_t wrap(uint64_t u)
{
	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

enum arith { AR_ADD, AR_SUB, AR_MUL, AR_DIV, AR_MOD, AR_MAX, AR_MIN };

static int arith(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out,
		 enum arith op)
{
	int64_t acc = 0, x;

	for (size_t i = 0; i < n; i++) {
		if (to_i64(c, cmd, &a[i], &x) < 0)
			return -1;
		if (i == 0 && op != AR_ADD) {
			acc = x;
			continue;
		}
		switch (op) {
		case AR_ADD: acc = wrap((uint64_t)acc + (uint64_t)x); break;
		case AR_SUB: acc = wrap((uint64_t)acc - (uint64_t)x); break;
		case AR_MUL: acc = wrap((uint64_t)acc * (uint64_t)x); break;
		case AR_DIV:
		case AR_MOD:
			if (x == 0)
				return ferr(c, cmd, "runtime error: integer divide by zero");
			if (x == -1)
				acc = op == AR_DIV ? wrap(0 - (uint64_t)acc) : 0;
			else
				acc = op == AR_DIV ? acc / x : acc % x;
			break;
		case AR_MAX: acc = x > acc ? x : acc; break;
		case AR_MIN: acc = x < acc ? x : acc; break;
		}
	}
	val_int(out, V_INT64, acc);
	return 0;
}

#define ARITH_FN(fname, op)                                                                        \
	static int fname(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,           \
			 struct val *out)                                                          \
	{                                                                                          \
		return arith(c, cmd, a, n, out, op);                                               \
	}

ARITH_FN(fn_add, AR_ADD)
ARITH_FN(fn_sub, AR_SUB)
ARITH_FN(fn_mul, AR_MUL)
ARITH_FN(fn_div, AR_DIV)
ARITH_FN(fn_mod, AR_MOD)
ARITH_FN(fn_max, AR_MAX)
ARITH_FN(fn_min, AR_MIN)

static int fn_add1(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	int64_t x;

	(void)n;
	if (to_i64(c, cmd, &a[0], &x) < 0)
		return -1;
	val_int(out, V_INT64, wrap((uint64_t)x + 1));
	return 0;
}

/* math.Trunc, Floor and Ceil without libm. Doubles of magnitude 2^52 and
 * above are integers already. */
static double trunc_f(double x)
{
	if (!isfinite(x) || x >= 4503599627370496.0 || x <= -4503599627370496.0)
		return x;
	return (double)(int64_t)x;
}

static double floor_f(double x)
{
	double t = trunc_f(x);

	if (x == 0)
		return x;
	return t > x ? t - 1 : t;
}

static double ceil_f(double x)
{
	double t = trunc_f(x);

	if (x == 0)
		return x;
	t = t < x ? t + 1 : t;
	return t == 0 && x < 0 ? -0.0 : t;
}

/* math.Pow(10, p) for integer p: Go squares and multiplies too, so small
 * powers are exact and negative ones are the reciprocal. */
static double pow10_i(int64_t p)
{
	double r = 1, x = 10;
	uint64_t e = p < 0 ? 0 - (uint64_t)p : (uint64_t)p;

	for (; e && r != INFINITY; e >>= 1) {
		if (e & 1)
			r *= x;
		x *= x;
	}
	return p < 0 ? 1 / r : r;
}

static int fn_floor(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	double x;

	(void)n;
	if (to_f64(c, cmd, &a[0], &x) < 0)
		return -1;
	val_float(out, floor_f(x));
	return 0;
}

static int fn_ceil(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	double x;

	(void)n;
	if (to_f64(c, cmd, &a[0], &x) < 0)
		return -1;
	val_float(out, ceil_f(x));
	return 0;
}

/* Sprig's round(a, places, roundOn = .5): ceil when the fraction of
 * a*10^places reaches roundOn, floor otherwise (so negatives round down). */
static int fn_round(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	double v, on = n > 2 ? a[2].f : 0.5, pow, digit;

	if (to_f64(c, cmd, &a[0], &v) < 0)
		return -1;
	pow = pow10_i(a[1].i);
	digit = pow * v;
	val_float(out, (digit - trunc_f(digit) >= on ? ceil_f(digit) : floor_f(digit)) / pow);
	return 0;
}

static int fn_not(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out)
{
	(void)c, (void)cmd, (void)n;
	val_bool(out, !truth(&a[0]));
	return 0;
}

/* Go's basicKind: int and int64 compare with each other, nothing else
 * mixes. */
static char basic_kind(const struct val *v)
{
	switch (v->k) {
	case V_STR: return 's';
	case V_INT:
	case V_INT64: return 'i';
	case V_FLOAT: return 'f';
	case V_BOOL: return 'b';
	}
	return '?';
}

static int str_cmp(const struct val *x, const struct val *y)
{
	size_t m = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->s, y->s, m);

	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int go_eq(struct ectx *c, const struct cmd *cmd, const struct val *a, size_t n, bool *res)
{
	*res = false;
	if (n < 2)
		return ferr(c, cmd, "missing argument for comparison");
	for (size_t i = 1; i < n; i++) {
		const struct val *x = &a[0], *y = &a[i];

		if (basic_kind(x) != basic_kind(y))
			return ferr(c, cmd, "incompatible types for comparison");
		switch (basic_kind(x)) {
		case 's': *res = str_cmp(x, y) == 0; break;
		case 'i': *res = x->i == y->i; break;
		case 'f': *res = x->f == y->f; break;
		case 'b': *res = x->b == y->b; break;
		}
		if (*res)
			return 0;
	}
	return 0;
}

static int go_lt(struct ectx *c, const struct cmd *cmd, const struct val *x, const struct val *y,
		 bool *res)
{
	*res = false;
	if (basic_kind(x) != basic_kind(y))
		return ferr(c, cmd, "incompatible types for comparison");
	switch (basic_kind(x)) {
	case 's': *res = str_cmp(x, y) < 0; break;
	case 'i': *res = x->i < y->i; break;
	case 'f': *res = x->f < y->f; break;
	default: return ferr(c, cmd, "invalid type for comparison");
	}
	return 0;
}

enum cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

static int compare(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n, struct val *out,
		   enum cmp op)
{
	bool r = false;
	int rc;

	switch (op) {
	case CMP_EQ: rc = go_eq(c, cmd, a, n, &r); break;
	case CMP_NE:
		rc = go_eq(c, cmd, a, n, &r);
		r = !r;
		break;
	case CMP_LT: rc = go_lt(c, cmd, &a[0], &a[1], &r); break;
	case CMP_GE:
		rc = go_lt(c, cmd, &a[0], &a[1], &r);
		r = !r;
		break;
	case CMP_LE:
	case CMP_GT:
		rc = go_lt(c, cmd, &a[0], &a[1], &r);
		if (rc == 0 && !r)
			rc = go_eq(c, cmd, a, 2, &r);
		if (op == CMP_GT)
			r = !r;
		break;
	}
	if (rc < 0)
		return -1;
	val_bool(out, r);
	return 0;
}

#define CMP_FN(fname, op)                                                                          \
	static int fname(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,           \
			 struct val *out)                                                          \
	{                                                                                          \
		return compare(c, cmd, a, n, out, op);                                             \
	}

CMP_FN(fn_eq, CMP_EQ)
CMP_FN(fn_ne, CMP_NE)
CMP_FN(fn_lt, CMP_LT)
CMP_FN(fn_le, CMP_LE)
CMP_FN(fn_gt, CMP_GT)
CMP_FN(fn_ge, CMP_GE)

/* ---- regular expressions ------------------------------------------------- */

/* Go (RE2) syntax is translated to a POSIX extended regex. Every group
 * becomes a POSIX group, so Go's group numbers are mapped. */
struct rx_group {
	int posix;
	char *name;
};

struct rx {
	struct ferry_sb out;
	struct rx_group *g;
	size_t ng, cap;
	int nposix;
	bool icase;
	char msg[200];
};

static int rx_fail(struct rx *rx, const char *what, const char *frag, size_t n)
{
	snprintf(rx->msg, sizeof rx->msg, "%s: `%.*s`", what, n > 60 ? 60 : (int)n, frag);
	return -1;
}

static void rx_release(struct rx *rx)
{
	ferry_sb_release(&rx->out);
	for (size_t i = 0; i < rx->ng; i++)
		free(rx->g[i].name);
	free(rx->g);
}

static void set_range(bool *set, int lo, int hi)
{
	for (int ch = lo; ch <= hi; ch++)
		if (ch > 0 && ch < 128)
			set[ch] = true;
}

/* \d \w \s and the ASCII [:name:] classes, as Go defines them. */
static bool named_set(const char *name, size_t n, bool *set)
{
	static const struct {
		const char *name;
		const char *ranges; /* pairs of bounds */
	} cls[] = {
		{"alnum", "09AZaz"},
		{"alpha", "AZaz"},
		{"ascii", "\x01\x7f"},
		{"blank", "\t\t  "},
		{"cntrl", "\x01\x1f\x7f\x7f"},
		{"digit", "09"},
		{"graph", "!~"},
		{"lower", "az"},
		{"print", " ~"},
		{"punct", "!/:@[`{~"},
		{"space", "\t\r  "},
		{"upper", "AZ"},
		{"word", "09AZaz__"},
		{"xdigit", "09AFaf"},
		{"d", "09"},
		{"w", "09AZaz__"},
		{"s", "\t\n\f\r  "},
	};

	for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++) {
		if (strlen(cls[i].name) != n || memcmp(cls[i].name, name, n))
			continue;
		for (const char *r = cls[i].ranges; *r; r += 2)
			set_range(set, (unsigned char)r[0], (unsigned char)r[1]);
		return true;
	}
	return false;
}

/* A POSIX bracket expression for set: ']' must come first, '-' first or
 * last, '^' anywhere but first. */
static void rx_emit_set(struct ferry_sb *sb, const bool *set, bool neg)
{
	bool dash_done = false;
	int count = 0;

	for (int ch = 1; ch < 128; ch++)
		count += set[ch];
	if (!neg && count == 1 && set['^']) {
		ferry_sb_adds(sb, "\\^");
		return;
	}
	ferry_sb_addc(sb, '[');
	if (neg)
		ferry_sb_addc(sb, '^');
	if (set[']']) {
		ferry_sb_addc(sb, ']');
	} else if (set['-']) {
		ferry_sb_addc(sb, '-');
		dash_done = true;
	}
	for (int ch = 1; ch < 128; ch++) {
		int end = ch;

		if (!set[ch] || ch == ']' || ch == '-' || ch == '^')
			continue;
		/* Runs inside 0-9, A-Z, a-z become ranges; their ends are safe. */
		if (is_alpha((char)ch) || is_digit((char)ch)) {
			while (end + 1 < 128 && set[end + 1] &&
			       ((is_digit((char)ch) && is_digit((char)(end + 1))) ||
				(ch >= 'a' && ch <= 'z' && end + 1 <= 'z') ||
				(ch >= 'A' && ch <= 'Z' && end + 1 <= 'Z')))
				end++;
		}
		if (end - ch >= 2) {
			ferry_sb_addf(sb, "%c-%c", ch, end);
			ch = end;
		} else {
			ferry_sb_addc(sb, (char)ch);
		}
	}
	if (set['^'])
		ferry_sb_addc(sb, '^');
	if (set['-'] && !dash_done)
		ferry_sb_addc(sb, '-');
	ferry_sb_addc(sb, ']');
}

/* Go's parseEscape for a literal; *p is at the backslash. Perl classes and
 * assertions are handled by the callers. */
static int rx_escape(struct rx *rx, const char **pp, int32_t *r)
{
	const char *p = *pp + 1;
	int v;

	switch (*p) {
	case 'a':
		*r = '\a';
		p++;
		break;
	case 'f':
		*r = '\f';
		p++;
		break;
	case 'n':
		*r = '\n';
		p++;
		break;
	case 'r':
		*r = '\r';
		p++;
		break;
	case 't':
		*r = '\t';
		p++;
		break;
	case 'v':
		*r = '\v';
		p++;
		break;
	case 'x':
		p++;
		*r = 0;
		if (*p == '{') {
			int nd = 0;

			for (p++; (v = ferry_hexval(*p)) >= 0; p++, nd++) {
				*r = *r * 16 + v;
				if (*r > 0x10FFFF)
					return rx_fail(rx, "invalid escape sequence", *pp,
						       (size_t)(p - *pp + 1));
			}
			if (*p != '}' || !nd)
				return rx_fail(rx, "invalid escape sequence", *pp,
					       (size_t)(p - *pp + (*p != 0)));
			p++;
			break;
		}
		for (int k = 0; k < 2; k++, p++) {
			v = ferry_hexval(*p);
			if (v < 0)
				return rx_fail(rx, "invalid escape sequence", *pp,
					       (size_t)(p - *pp + (*p != 0)));
			*r = *r * 16 + v;
		}
		break;
	default:
		if (*p >= '1' && *p <= '7' && !(p[1] >= '0' && p[1] <= '7'))
			return rx_fail(rx, "invalid escape sequence", *pp, 2);
		if (*p >= '0' && *p <= '7') {
			*r = 0;
			for (int k = 0; k < 3 && *p >= '0' && *p <= '7'; k++, p++)
				*r = *r * 8 + (*p - '0');
			break;
		}
		if (*p && (unsigned char)*p < 0x80 && !is_alpha(*p) && !is_digit(*p)) {
			*r = *p++;
			break;
		}
		return rx_fail(rx, "invalid escape sequence", *pp, *p ? 2 : 1);
	}
	if (*r == 0)
		return rx_fail(rx, "NUL is not supported", *pp, (size_t)(p - *pp));
	*pp = p;
	return 0;
}

/* One member of a class: a character, or a Perl class when *is_set. */
static int rx_class_atom(struct rx *rx, const char **pp, bool *set, bool *is_set, int32_t *r)
{
	const char *p = *pp;
	size_t w;

	*is_set = false;
	if (p[0] == '\\' && p[1] && strchr("dwsDWS", p[1])) {
		if (p[1] >= 'A' && p[1] <= 'Z')
			return rx_fail(rx, "negated Perl class inside [] is not supported", p, 2);
		named_set(p + 1, 1, set);
		*is_set = true;
		*pp = p + 2;
		return 0;
	}
	if (p[0] == '\\')
		return rx_escape(rx, pp, r) < 0 ? -1 : 0;
	*r = utf8_decode(p, strlen(p), &w);
	if (*r >= 0x80 || (*r == 0xFFFD && w == 1))
		return rx_fail(rx, "non-ASCII characters inside [] are not supported", p, w);
	*pp = p + w;
	return 0;
}

static int rx_class(struct rx *rx, const char **pp)
{
	const char *start = *pp, *p = *pp + 1;
	bool set[128] = {false}, neg = false, first = true, is_set;
	int32_t lo, hi;

	if (*p == '^') {
		neg = true;
		p++;
	}
	while (first || *p != ']') {
		first = false;
		if (!*p)
			return rx_fail(rx, "missing closing ]", start, (size_t)(p - start));
		if (p[0] == '[' && p[1] == ':') {
			const char *end = strstr(p + 2, ":]");

			if (end) {
				if (p[2] == '^')
					return rx_fail(rx,
						       "negated class inside [] is not supported",
						       p, (size_t)(end - p + 2));
				if (!named_set(p + 2, (size_t)(end - p - 2), set))
					return rx_fail(rx, "invalid character class range", p,
						       (size_t)(end - p + 2));
				p = end + 2;
				continue;
			}
		}
		if (rx_class_atom(rx, &p, set, &is_set, &lo) < 0)
			return -1;
		if (is_set)
			continue;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			const char *rs = p;

			p++;
			if (rx_class_atom(rx, &p, set, &is_set, &hi) < 0)
				return -1;
			if (is_set || hi < lo)
				return rx_fail(rx, "invalid character class range", rs - 1,
					       (size_t)(p - rs + 1));
			set_range(set, lo, hi);
		} else {
			set_range(set, lo, lo);
		}
	}
	rx_emit_set(&rx->out, set, neg);
	*pp = p + 1;
	return 0;
}

/* A POSIX group; capture says whether Go numbers it, name is taken over. */
static void rx_open(struct rx *rx, bool capture, char *name)
{
	ferry_sb_addc(&rx->out, '(');
	rx->nposix++;
	if (capture) {
		struct rx_group *g = FERRY_PUSH(rx->g, rx->ng, rx->cap);

		g->posix = rx->nposix;
		g->name = name;
	}
}

/* A literal rune; a multi-byte one is grouped so a quantifier applies to
 * all of its bytes. */
static void rx_literal(struct rx *rx, int32_t r, bool quantified)
{
	char enc[4];
	size_t n = utf8_encode(r, enc);

	if (n == 1) {
		if (strchr(".[]()*+?{}|^$\\", enc[0]))
			ferry_sb_addc(&rx->out, '\\');
		ferry_sb_addc(&rx->out, enc[0]);
		return;
	}
	if (quantified)
		rx_open(rx, false, NULL);
	ferry_sb_add(&rx->out, enc, n);
	if (quantified)
		ferry_sb_addc(&rx->out, ')');
}

/* {n}, {n,} or {n,m}: its length, 0 if this '{' is a literal, -1 on a
 * bad count. */
static int rx_repeat(struct rx *rx, const char *p, size_t *len)
{
	const char *q = p + 1;
	long lo = 0, hi = -1;
	bool comma = false;

	if (!is_digit(*q))
		return 0;
	while (is_digit(*q) && lo <= 1000)
		lo = lo * 10 + (*q++ - '0');
	if (*q == ',') {
		comma = true;
		q++;
		if (is_digit(*q)) {
			hi = 0;
			while (is_digit(*q) && hi <= 1000)
				hi = hi * 10 + (*q++ - '0');
		}
	}
	if (*q != '}')
		return 0;
	if (lo > 1000 || hi > 1000 || (comma && hi >= 0 && hi < lo))
		return rx_fail(rx, "invalid repeat count", p, (size_t)(q - p + 1));
	*len = (size_t)(q - p + 1);
	return 1;
}

static bool rx_quantifier(struct rx *rx, const char *p, size_t *len, int *rc)
{
	*rc = 0;
	if (*p == '*' || *p == '+' || *p == '?') {
		*len = 1;
		return true;
	}
	if (*p == '{') {
		*rc = rx_repeat(rx, p, len);
		return *rc != 0;
	}
	return false;
}

static int rx_group_open(struct rx *rx, const char **pp)
{
	const char *p = *pp;
	char *name = NULL;

	if (p[1] != '?') {
		rx_open(rx, true, NULL);
		*pp = p + 1;
		return 0;
	}
	if (p[2] == ':') {
		rx_open(rx, false, NULL);
		*pp = p + 3;
		return 0;
	}
	if ((p[2] == 'P' && p[3] == '<') || p[2] == '<') {
		const char *s = p + (p[2] == '<' ? 3 : 4), *e = s;

		while (is_alpha(*e) || is_digit(*e) || *e == '_')
			e++;
		if (*e != '>' || e == s)
			return rx_fail(rx, "invalid named capture", p, (size_t)(e - p + (*e != 0)));
		name = ferry_xstrndup(s, (size_t)(e - s));
		for (size_t i = 0; i < rx->ng; i++) {
			if (rx->g[i].name && !strcmp(rx->g[i].name, name)) {
				free(name);
				return rx_fail(rx, "duplicate capture group name", p,
					       (size_t)(e - p + 1));
			}
		}
		rx_open(rx, true, name);
		*pp = e + 1;
		return 0;
	}
	return rx_fail(rx, "unsupported group or flag syntax", p, strnlen(p, 4));
}

static int rx_translate(struct rx *rx, const char *re)
{
	const char *p = re;
	int depth = 0, rc;
	bool atom = false, quant = false;
	size_t qlen, w;

	if (!strncmp(p, "(?i)", 4)) {
		rx->icase = true;
		p += 4;
	}
	while (*p) {
		int32_t r;

		if (rx_quantifier(rx, p, &qlen, &rc)) {
			if (rc < 0)
				return -1;
			if (quant)
				return rx_fail(rx, "invalid nested repetition operator", p - 1,
					       qlen + 1);
			if (!atom)
				return rx_fail(rx, "missing argument to repetition operator", p,
					       qlen);
			if (p[qlen] == '?')
				return rx_fail(rx, "non-greedy repetition is not supported", p,
					       qlen + 1);
			ferry_sb_add(&rx->out, p, qlen);
			p += qlen;
			quant = true;
			atom = false;
			continue;
		}
		quant = false;
		switch (*p) {
		case '(':
			if (rx_group_open(rx, &p) < 0)
				return -1;
			depth++;
			atom = false;
			continue;
		case ')':
			if (!depth)
				return rx_fail(rx, "unexpected )", re, strlen(re));
			depth--;
			ferry_sb_addc(&rx->out, ')');
			p++;
			atom = true;
			continue;
		case '|':
		case '^':
		case '$':
			ferry_sb_addc(&rx->out, *p++);
			atom = false;
			continue;
		case '.':
			/* Go's '.' does not match a newline by default. */
			ferry_sb_adds(&rx->out, "[^\n]");
			p++;
			atom = true;
			continue;
		case '[':
			if (rx_class(rx, &p) < 0)
				return -1;
			atom = true;
			continue;
		case '\\':
			if (p[1] == 'A' || p[1] == 'z') {
				ferry_sb_addc(&rx->out, p[1] == 'A' ? '^' : '$');
				p += 2;
				atom = false;
				continue;
			}
			if (p[1] && strchr("dwsDWS", p[1])) {
				bool set[128] = {false};
				char lc = (char)(p[1] | 0x20);

				named_set(&lc, 1, set);
				rx_emit_set(&rx->out, set, p[1] != lc);
				p += 2;
				atom = true;
				continue;
			}
			if (p[1] && strchr("bBpPQECZ", p[1]))
				return rx_fail(rx, "unsupported escape", p, 2);
			if (rx_escape(rx, &p, &r) < 0)
				return -1;
			rx_literal(rx, r, rx_quantifier(rx, p, &qlen, &rc));
			atom = true;
			continue;
		default:
			r = utf8_decode(p, strlen(p), &w);
			if (r == 0xFFFD && w == 1)
				return rx_fail(rx, "invalid UTF-8", p, 1);
			p += w;
			rx_literal(rx, r, rx_quantifier(rx, p, &qlen, &rc));
			atom = true;
		}
	}
	if (depth)
		return rx_fail(rx, "missing closing )", re, strlen(re));
	return 0;
}

/* Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$; a name runs as far as
 * letters, digits and '_' go, so "$1x" names group "1x". */
static void rx_expand(struct ferry_sb *sb, const struct rx *rx, const char *src,
		      const regmatch_t *m, const char *tpl, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t s, e, after;
		bool brace;
		long num = 0;
		int posix = -1;

		if (tpl[i] != '$') {
			ferry_sb_addc(sb, tpl[i++]);
			continue;
		}
		if (i + 1 < n && tpl[i + 1] == '$') {
			ferry_sb_addc(sb, '$');
			i += 2;
			continue;
		}
		brace = i + 1 < n && tpl[i + 1] == '{';
		s = e = i + 1 + brace;
		while (e < n && (is_alpha(tpl[e]) || is_digit(tpl[e]) || tpl[e] == '_'))
			e++;
		after = e;
		if (brace) {
			if (e >= n || tpl[e] != '}')
				e = s;
			after = e + 1;
		}
		if (e == s) {
			ferry_sb_addc(sb, '$');
			i++;
			continue;
		}
		for (size_t k = s; k < e; k++) {
			if (!is_digit(tpl[k]) || num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (tpl[k] - '0');
		}
		if (tpl[s] == '0' && e - s > 1)
			num = -1;
		if (num == 0)
			posix = 0;
		else if (num > 0 && (size_t)num <= rx->ng)
			posix = rx->g[num - 1].posix;
		for (size_t g = 0; num < 0 && g < rx->ng; g++) {
			if (rx->g[g].name && strlen(rx->g[g].name) == e - s &&
			    !memcmp(rx->g[g].name, tpl + s, e - s)) {
				posix = rx->g[g].posix;
				break;
			}
		}
		if (posix >= 0 && m[posix].rm_so >= 0)
			ferry_sb_add(sb, src + m[posix].rm_so,
				     (size_t)(m[posix].rm_eo - m[posix].rm_so));
		i = after;
	}
}

/* Sprig's regexReplaceAll(regex, s, repl): Go's ReplaceAllString loop,
 * including its rule that an empty match right after a match is skipped. */
static int fn_regex_replace(struct ectx *c, const struct cmd *cmd, struct val *a, size_t n,
			    struct val *out)
{
	const struct val *re = &a[0], *s = &a[1], *repl = &a[2];
	struct rx rx = {.out = FERRY_SB_INIT};
	struct ferry_sb sb = FERRY_SB_INIT;
	regmatch_t *m = NULL;
	regex_t preg;
	bool compiled = false;
	size_t pos = 0, last = 0;
	int rc = -1, e;

	(void)n;
	if (re->len > FERRY_TMPL_REGEX_MAX) {
		ferr(c, cmd, "regular expression longer than %d bytes", FERRY_TMPL_REGEX_MAX);
		goto out;
	}
	if (memchr(re->s, 0, re->len) || memchr(s->s, 0, s->len)) {
		ferr(c, cmd, "NUL bytes are not supported");
		goto out;
	}
	if (rx_translate(&rx, re->s) < 0) {
		ferr(c, cmd, "error parsing regexp: %s", rx.msg);
		goto out;
	}
	e = regcomp(&preg, rx.out.buf, REG_EXTENDED | (rx.icase ? REG_ICASE : 0));
	if (e) {
		char why[128];

		regerror(e, &preg, why, sizeof why);
		ferr(c, cmd, "error parsing regexp: %s: `%.60s`", why, re->s);
		goto out;
	}
	compiled = true;
	m = ferry_xcalloc(preg.re_nsub + 1, sizeof *m);
	while (pos <= s->len) {
		size_t ms, me, w = 1;

		if (regexec(&preg, s->s + pos, preg.re_nsub + 1, m, pos ? REG_NOTBOL : 0))
			break;
		for (size_t k = 0; k <= preg.re_nsub; k++) {
			if (m[k].rm_so >= 0) {
				m[k].rm_so += (regoff_t)pos;
				m[k].rm_eo += (regoff_t)pos;
			}
		}
		ms = (size_t)m[0].rm_so;
		me = (size_t)m[0].rm_eo;
		ferry_sb_add(&sb, s->s + last, ms - last);
		if (me > last || ms == 0)
			rx_expand(&sb, &rx, s->s, m, repl->s, repl->len);
		last = me;
		if (pos < s->len)
			utf8_decode(s->s + pos, s->len - pos, &w);
		if (pos + w > me)
			pos += w;
		else if (pos + 1 > me)
			pos++;
		else
			pos = me;
		if (sb.len > FERRY_TMPL_OUT_MAX) {
			too_long(c, cmd);
			goto out;
		}
	}
	ferry_sb_add(&sb, s->s + last, s->len - last);
	val_take_sb(out, &sb);
	rc = 0;
out:
	if (compiled)
		regfree(&preg);
	free(m);
	rx_release(&rx);
	ferry_sb_release(&sb);
	return rc;
}

/* ---- the function table -------------------------------------------------- */

static const struct func funcs[] = {
	/* Go built-ins */
	{"and", 1, -1, "a", NULL, F_AND},
	{"or", 1, -1, "a", NULL, F_OR},
	{"not", 1, 1, "a", fn_not, F_PLAIN},
	{"eq", 1, -1, "a", fn_eq, F_PLAIN},
	{"ne", 2, 2, "aa", fn_ne, F_PLAIN},
	{"lt", 2, 2, "aa", fn_lt, F_PLAIN},
	{"le", 2, 2, "aa", fn_le, F_PLAIN},
	{"gt", 2, 2, "aa", fn_gt, F_PLAIN},
	{"ge", 2, 2, "aa", fn_ge, F_PLAIN},
	{"len", 1, 1, "a", fn_len, F_PLAIN},
	{"print", 0, -1, "a", fn_print, F_PLAIN},
	{"printf", 1, -1, "sa", fn_printf, F_PLAIN},
	/* Sprig strings */
	{"lower", 1, 1, "s", fn_lower, F_PLAIN},
	{"upper", 1, 1, "s", fn_upper, F_PLAIN},
	{"title", 1, 1, "s", fn_title, F_PLAIN},
	{"untitle", 1, 1, "s", fn_untitle, F_PLAIN},
	{"repeat", 2, 2, "is", fn_repeat, F_PLAIN},
	{"substr", 3, 3, "iis", fn_substr, F_PLAIN},
	{"nospace", 1, 1, "s", fn_nospace, F_PLAIN},
	{"trunc", 2, 2, "is", fn_trunc, F_PLAIN},
	{"trim", 1, 1, "s", fn_trim, F_PLAIN},
	{"trimAll", 2, 2, "ss", fn_trimall, F_PLAIN},
	{"trimSuffix", 2, 2, "ss", fn_trimsuffix, F_PLAIN},
	{"trimPrefix", 2, 2, "ss", fn_trimprefix, F_PLAIN},
	{"contains", 2, 2, "ss", fn_contains, F_PLAIN},
	{"hasPrefix", 2, 2, "ss", fn_hasprefix, F_PLAIN},
	{"hasSuffix", 2, 2, "ss", fn_hassuffix, F_PLAIN},
	{"replace", 3, 3, "sss", fn_replace, F_PLAIN},
	{"initials", 1, 1, "s", fn_initials, F_PLAIN},
	{"regexReplaceAll", 3, 3, "sss", fn_regex_replace, F_PLAIN},
	{"mustRegexReplaceAll", 3, 3, "sss", fn_regex_replace, F_PLAIN},
	/* Sprig math */
	{"add", 0, -1, "a", fn_add, F_PLAIN},
	{"add1", 1, 1, "a", fn_add1, F_PLAIN},
	{"sub", 2, 2, "aa", fn_sub, F_PLAIN},
	{"div", 2, 2, "aa", fn_div, F_PLAIN},
	{"mod", 2, 2, "aa", fn_mod, F_PLAIN},
	{"mul", 1, -1, "a", fn_mul, F_PLAIN},
	{"max", 1, -1, "a", fn_max, F_PLAIN},
	{"min", 1, -1, "a", fn_min, F_PLAIN},
	{"floor", 1, 1, "a", fn_floor, F_PLAIN},
	{"ceil", 1, 1, "a", fn_ceil, F_PLAIN},
	{"round", 2, -1, "aif", fn_round, F_PLAIN},
};

static const struct func *find_func(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
		if (strlen(funcs[i].name) == n && !memcmp(funcs[i].name, name, n))
			return &funcs[i];
	return NULL;
}

static char param_type(const struct func *f, size_t i)
{
	size_t n = strlen(f->types);

	return f->types[i < n ? i : n - 1];
}

/* ---- evaluation ---------------------------------------------------------- */

static int eval_pipe(struct ectx *c, const struct pipe *p, struct val *out);

static const struct ferry_tmpl_var *find_var(const struct ectx *c, const char *name)
{
	for (size_t i = 0; i < c->nvars; i++)
		if (!strcmp(c->vars[i].name, name))
			return &c->vars[i];
	return NULL;
}

/* as_arg: a literal written as a function argument keeps its constant
 * nature, which typed parameters treat specially (Go's evalArg). */
static int eval_operand(struct ectx *c, const struct operand *o, struct val *out, bool as_arg)
{
	const struct ferry_tmpl_var *var;

	memset(out, 0, sizeof *out);
	switch (o->kind) {
	case OP_FIELD:
		var = find_var(c, o->s);
		if (!var)
			return eerr(c, o->line, o->col, "map has no entry for key \"%s\"", o->s);
		switch (var->kind) {
		case FERRY_TVAL_STRING: val_str(out, var->s, strlen(var->s)); break;
		case FERRY_TVAL_INT: val_int(out, V_INT, var->i); break;
		case FERRY_TVAL_FLOAT: val_float(out, var->f); break;
		case FERRY_TVAL_BOOL: val_bool(out, var->b); break;
		}
		if (o->sub) {
			int rc = eerr(c, o->line, o->col, "can't evaluate field %s in type %s",
				      o->sub, type_name(out->k));

			val_free(out);
			return rc;
		}
		return 0;
	case OP_STRING: val_str(out, o->s, o->len); break;
	case OP_NUMBER:
		if (o->num.floaty)
			val_float(out, o->num.f);
		else
			val_int(out, V_INT, o->num.i);
		break;
	case OP_BOOL: val_bool(out, o->b); break;
	case OP_PIPE: return eval_pipe(c, o->pipe, out);
	}
	if (as_arg)
		out->lit = o;
	return 0;
}

/* Fit an argument to a typed parameter, as Go's evalArg / validateType. */
static int coerce(struct ectx *c, const struct cmd *cmd, char type, struct val *v)
{
	const struct operand *lit = v->lit;
	char text[80];

	if (type == 'a')
		return 0;
	if (lit) {
		operand_text(lit, text, sizeof text);
		switch (type) {
		case 's':
			if (lit->kind == OP_STRING)
				return 0;
			return eerr(c, cmd->line, cmd->col, "expected string; found %s", text);
		case 'i':
			if (lit->kind != OP_NUMBER || !lit->num.is_int)
				return eerr(c, cmd->line, cmd->col, "expected integer; found %s",
					    text);
			val_int(v, V_INT, lit->num.i);
			return 0;
		case 'f':
			if (lit->kind != OP_NUMBER || !lit->num.is_float)
				return eerr(c, cmd->line, cmd->col, "expected float; found %s",
					    text);
			val_float(v, lit->num.f);
			return 0;
		}
	}
	if ((type == 's' && v->k == V_STR) || (type == 'i' && v->k == V_INT) ||
	    (type == 'f' && v->k == V_FLOAT))
		return 0;
	return eerr(c, cmd->line, cmd->col, "wrong type for value; expected %s; got %s",
		    type == 's'	  ? "string"
		    : type == 'i' ? "int"
				  : "float64",
		    type_name(v->k));
}

/* and / or stop at the first operand that decides and return it. */
static int eval_lazy(struct ectx *c, const struct cmd *cmd, struct val *final, struct val *out)
{
	bool is_or = cmd->fn->special == F_OR;
	struct val v = {0};

	for (size_t i = 0; i < cmd->nargs; i++) {
		val_free(&v);
		if (eval_operand(c, &cmd->args[i], &v, false) < 0)
			return -1;
		if (truth(&v) == is_or) {
			*out = v;
			return 0;
		}
	}
	if (final) {
		val_free(&v);
		v = *final;
		final->k = V_STR;
		final->s = NULL;
	}
	*out = v;
	return 0;
}

/* final is the value piped in, passed as the last argument and taken over. */
static int eval_cmd(struct ectx *c, const struct cmd *cmd, struct val *final, struct val *out)
{
	const struct func *fn = cmd->fn;
	struct val *a;
	size_t n, i;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!fn)
		return eval_operand(c, &cmd->args[0], out, false);
	if (fn->special != F_PLAIN)
		return eval_lazy(c, cmd, final, out);
	n = cmd->nargs + (final != NULL);
	a = ferry_xcalloc(n ? n : 1, sizeof *a);
	for (i = 0; i < cmd->nargs; i++) {
		if (eval_operand(c, &cmd->args[i], &a[i], true) < 0)
			goto out;
		if (coerce(c, cmd, param_type(fn, i), &a[i]) < 0)
			goto out;
	}
	if (final) {
		a[i] = *final;
		final->k = V_STR;
		final->s = NULL;
		if (coerce(c, cmd, param_type(fn, i), &a[i]) < 0)
			goto out;
	}
	if (fn->impl(c, cmd, a, n, out) < 0)
		goto out;
	if (out->k == V_STR && out->len > FERRY_TMPL_OUT_MAX) {
		val_free(out);
		too_long(c, cmd);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		val_free(&a[i]);
	free(a);
	return rc;
}

static int eval_pipe(struct ectx *c, const struct pipe *p, struct val *out)
{
	struct val cur = {0};

	for (size_t i = 0; i < p->n; i++) {
		struct val nv;
		int rc = eval_cmd(c, &p->cmds[i], i ? &cur : NULL, &nv);

		val_free(&cur);
		if (rc < 0)
			return -1;
		cur = nv;
	}
	*out = cur;
	return 0;
}

static int exec_list(struct ectx *c, const struct list *l, struct ferry_sb *sb);

/* An {{else if}} chain is followed in a loop: it may be long. */
static int exec_if(struct ectx *c, const struct node *nd, struct ferry_sb *sb)
{
	for (;;) {
		struct val v;
		bool t;

		if (eval_pipe(c, nd->pipe, &v) < 0)
			return -1;
		t = truth(&v);
		val_free(&v);
		if (t)
			return exec_list(c, &nd->then, sb);
		if (!nd->elif)
			return exec_list(c, &nd->els, sb);
		nd = &nd->els.v[0];
	}
}

static int exec_list(struct ectx *c, const struct list *l, struct ferry_sb *sb)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct node *nd = &l->v[i];
		struct val v;

		switch (nd->kind) {
		case ND_TEXT: ferry_sb_add(sb, nd->text, nd->len); break;
		case ND_ACTION:
			if (eval_pipe(c, nd->pipe, &v) < 0)
				return -1;
			print_val(sb, &v);
			val_free(&v);
			break;
		case ND_IF:
			if (exec_if(c, nd, sb) < 0)
				return -1;
			break;
		}
		if (sb->len > FERRY_TMPL_OUT_MAX)
			return eerr(c, nd->line, nd->col, "output longer than %d bytes",
				    FERRY_TMPL_OUT_MAX);
	}
	return 0;
}

/* ---- entry points -------------------------------------------------------- */

int ferry_tmpl_parse(const char *src, struct ferry_tmpl **out, struct ferry_err *err)
{
	struct lexer lx = {.src = src, .line = 1};
	struct parser ps = {.lx = &lx, .err = err};
	const struct tok *kw = NULL;
	enum term term;
	int rc = -1;

	*out = NULL;
	lx.len = strnlen(src, (size_t)FERRY_TMPL_SRC_MAX + 1);
	if (lx.len > FERRY_TMPL_SRC_MAX)
		return ferry_err_set(err, FERRY_E_LIMIT, "template longer than %d bytes",
				     FERRY_TMPL_SRC_MAX);
	lex(&lx);
	ps.t = ferry_xcalloc(1, sizeof *ps.t);
	if (parse_list(&ps, &ps.t->root, &term, &kw) < 0)
		goto out;
	if (term != TERM_EOF) {
		perr(&ps, kw, FERRY_E_INVALID, "unexpected {{%s}}",
		     term == TERM_ELSE ? "else" : "end");
		goto out;
	}
	*out = ps.t;
	ps.t = NULL;
	rc = 0;
out:
	ferry_tmpl_free(ps.t);
	for (size_t i = 0; i < lx.n; i++)
		free(lx.v[i].str);
	free(lx.v);
	return rc;
}

int ferry_tmpl_exec(const struct ferry_tmpl *t, const struct ferry_tmpl_var *vars, size_t nvars,
		    char **out, struct ferry_err *err)
{
	struct ectx c = {vars, nvars, err};
	struct ferry_sb sb = FERRY_SB_INIT;

	*out = NULL;
	if (exec_list(&c, &t->root, &sb) < 0) {
		ferry_sb_release(&sb);
		return -1;
	}
	/* %c of 0 is the only way to make one; a C string cannot carry it. */
	if (memchr(sb.buf, 0, sb.len)) {
		ferry_sb_release(&sb);
		return ferry_err_set(err, FERRY_E_INVALID, "output contains a NUL byte");
	}
	*out = ferry_sb_detach(&sb);
	return 0;
}
