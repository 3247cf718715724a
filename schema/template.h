/* Forklift name templates: the subset of Go's text/template that Forklift
 * evaluates for pvcNameTemplate, volumeNameTemplate, networkNameTemplate and
 * VM names, with the Sprig helpers Forklift registers.
 *
 * Language
 *   text, {{ pipeline }}, trim markers "{{- " and " -}}", comments (a
 *   slash-star ... star-slash pair filling the braces), {{if P}},
 *   {{else if P}}, {{else}}, {{end}}.
 *   Operands: .Field (a variable; .A.B parses but fails at run time since
 *   variables are scalars), "strings" with Go escapes, `raw strings`,
 *   'c' rune constants, integers (decimal, 0x, 0o, 0b, leading-0 octal,
 *   '_' separators; beyond int64 a parse error), floats, true, false,
 *   (parenthesized pipelines). A bare function name as an argument is a
 *   call without arguments, as in Go.
 *   Pipelines pass the left value as the LAST argument of the next function.
 *   Not supported (parse errors): {{.}}, $variables, range, with, define,
 *   template, block, break, continue, nil.
 *
 * Functions
 *   Go built-ins: eq ne lt le gt ge and or not len printf print.
 *   Sprig: lower upper title untitle repeat substr nospace trunc trim trimAll
 *   trimSuffix trimPrefix contains hasPrefix hasSuffix replace initials
 *   regexReplaceAll mustRegexReplaceAll add add1 sub div mod mul max min
 *   floor ceil round.
 *   Semantics follow Go and Sprig v3, including their argument types: a
 *   string parameter refuses an int (lower .DiskIndex is an error), an int
 *   parameter refuses Sprig's int64 results (trunc (add 1 2) .X is an
 *   error, as in Forklift), eq refuses to compare int with float, round
 *   needs its PLACES argument, substr and div fail where Go would panic,
 *   and/or evaluate their arguments lazily and return one of them.
 *   One deliberate difference: Sprig's arithmetic (add ... round) takes any
 *   number or bool like Sprig but refuses a string, which Sprig would
 *   quietly parse or turn into 0.
 *   printf is Go's fmt: flags - + # 0 space, width, precision, verbs
 *   v s d q x X o O b c U t e E f F g G T %% and the %!d(string=x),
 *   %!s(MISSING), %!(EXTRA ...) complaints; argument indexes (%[1]d), '*'
 *   widths, %b of floats and %+q / %#q are not supported; '0' pads numbers
 *   only, as in current Go. Output holding a NUL byte (%c of 0) is an error.
 *   Regular expressions are Go (RE2) syntax translated to POSIX extended
 *   regexes: literals and Go escapes (\n, \x41, \x{263a}, octal), . ^ $ |
 *   * + ? {n,m}, \A \z, \d \w \s (and \D \W \S outside brackets), ASCII
 *   [classes] with ranges, [:name:] and \d \w \s inside, (...), (?:...),
 *   (?P<name>...) / (?<name>...), a leading (?i), and $1 / ${1} / $name /
 *   ${name} / $$ in the replacement work as in Go ("$1x" names group "1x").
 *   Refused: non-greedy quantifiers, flags other than a leading (?i), \b \B,
 *   \p{..}, \Q..\E, backreferences, non-ASCII characters and negated classes
 *   (\D, [:^alpha:]) inside brackets. Matching is POSIX leftmost-longest
 *   rather than Go's leftmost-first, which differs only for alternations
 *   whose branches match at the same place (a|ab); '.' and negated classes
 *   match one byte, not one UTF-8 character.
 *   Case mapping (lower, upper, title, untitle) is ASCII only; %q escapes
 *   ASCII controls and common Unicode control/space characters only.
 *
 * Limits (untrusted input): source at most FERRY_TMPL_SRC_MAX bytes and
 * FERRY_TMPL_DEPTH_MAX nested {{if}}s and parentheses (FERRY_E_LIMIT; an
 * {{else if}} chain is not nesting);
 * output and any string built by a function (repeat, replace, printf, ...)
 * at most FERRY_TMPL_OUT_MAX bytes (FERRY_E_INVALID); regexes at most
 * FERRY_TMPL_REGEX_MAX bytes. Evaluation has no loops and no recursion
 * deeper than the nesting limit.
 *
 * Positions: err->line is 1-based and counts '\n' in the source, err->col is
 * the 1-based byte column on that line; err->file is left empty. A run-time
 * error points at the failing .Field, or at the function's name for a
 * failing call or a wrong argument type; output too long points at the
 * "{{" (or text) that crossed the limit.
 *
 * A parsed template is immutable: ferry_tmpl_exec() may run concurrently on
 * the same template from several threads.
 */
#ifndef FERRY_SCHEMA_TEMPLATE_H
#define FERRY_SCHEMA_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define FERRY_TMPL_SRC_MAX   (64 * 1024)
#define FERRY_TMPL_DEPTH_MAX 64
#define FERRY_TMPL_OUT_MAX   4096
#define FERRY_TMPL_REGEX_MAX 4096

struct ferry_tmpl; /* opaque parsed template */

enum ferry_tval_kind {
	FERRY_TVAL_STRING,
	FERRY_TVAL_INT, /* Go int */
	FERRY_TVAL_FLOAT,
	FERRY_TVAL_BOOL,
};

/* One variable (top-level field of the data), borrowed for the duration of
 * the call. Only the member matching kind is read; s must not be NULL for
 * FERRY_TVAL_STRING. */
struct ferry_tmpl_var {
	const char *name; /* without the dot: "VmName" */
	enum ferry_tval_kind kind;
	const char *s;
	int64_t i;
	double f;
	bool b;
};

/* Parse src (NUL-terminated). On success *out is a new template the caller
 * releases with ferry_tmpl_free(). On failure *out is NULL and err holds
 * FERRY_E_INVALID (syntax, unknown function "function \"foo\" not defined",
 * wrong argument count "wrong number of args for trunc: want 2 got 1") or
 * FERRY_E_LIMIT, with the position of the offending token; for an unclosed
 * action, comment or {{if}} that is the position of its opening "{{". */
int ferry_tmpl_parse(const char *src, struct ferry_tmpl **out, struct ferry_err *err);

/* NULL is allowed. */
void ferry_tmpl_free(struct ferry_tmpl *t);

/* The distinct .Field names the template references, in order of first
 * use, with the 1-based line/col of that first use (line, col may be NULL).
 * The string is owned by t. i must be < ferry_tmpl_field_count(t). */
size_t ferry_tmpl_field_count(const struct ferry_tmpl *t);
const char *ferry_tmpl_field(const struct ferry_tmpl *t, size_t i, int *line, int *col);

/* Evaluate t with the given variables. On success *out is a new
 * NUL-terminated string the caller frees. On failure *out is NULL and err
 * holds FERRY_E_INVALID with the position of the failing operand or function
 * call: an unknown variable ("map has no entry for key \"VMName\""), a type
 * error, a failing function ("error calling div: runtime error: integer
 * divide by zero"), or output longer than FERRY_TMPL_OUT_MAX bytes. */
int ferry_tmpl_exec(const struct ferry_tmpl *t, const struct ferry_tmpl_var *vars, size_t nvars,
		    char **out, struct ferry_err *err);

#endif
