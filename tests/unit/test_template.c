/* Forklift name templates: Go text/template + Sprig semantics, errors with
 * positions, referenced fields and limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/strbuf.h"
#include "schema/template.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(n, v)                                                                                    \
	{                                                                                          \
		.name = (n), .kind = FERRY_TVAL_STRING, .s = (v)                                   \
	}
#define I(n, v)                                                                                    \
	{                                                                                          \
		.name = (n), .kind = FERRY_TVAL_INT, .i = (v)                                      \
	}
#define F(n, v)                                                                                    \
	{                                                                                          \
		.name = (n), .kind = FERRY_TVAL_FLOAT, .f = (v)                                    \
	}
#define B(n, v)                                                                                    \
	{                                                                                          \
		.name = (n), .kind = FERRY_TVAL_BOOL, .b = (v)                                     \
	}
#define NV(a) (sizeof(a) / sizeof((a)[0]))

static const struct ferry_tmpl_var dv[] = {
	S("VmName", "Web-01"), I("DiskIndex", 3), I("Zero", 0),	  F("F", 2.5),
	F("FZero", 0.0),       B("Shared", true), B("No", false), S("Empty", ""),
};

static char *run(const char *src, const struct ferry_tmpl_var *v, size_t n, struct ferry_err *err,
		 bool *parsed)
{
	struct ferry_tmpl *t = NULL;
	char *out = NULL;

	*parsed = ferry_tmpl_parse(src, &t, err) == 0;
	if (!*parsed) {
		assert_null(t);
		return NULL;
	}
	if (ferry_tmpl_exec(t, v, n, &out, err))
		assert_null(out);
	ferry_tmpl_free(t);
	return out;
}

static void check_out_v(const char *src, const struct ferry_tmpl_var *v, size_t n, const char *want)
{
	struct ferry_err err = FERRY_ERR_INIT;
	bool parsed;
	char *out = run(src, v, n, &err, &parsed);

	if (!out) {
		print_error("%s: %s failed at %d:%d: %s\n", src, parsed ? "exec" : "parse",
			    err.line, err.col, err.msg);
		fail();
	}
	if (strcmp(out, want)) {
		print_error("%s: got [%s] want [%s]\n", src, out, want);
		free(out);
		fail();
	}
	free(out);
}

#define OUT(src, want) check_out_v((src), dv, NV(dv), (want))

static void check_err(const char *src, const struct ferry_tmpl_var *v, size_t n, bool at_parse,
		      enum ferry_errcode code, int line, int col, const char *msg)
{
	struct ferry_err err = FERRY_ERR_INIT;
	bool parsed;
	char *out = run(src, v, n, &err, &parsed);

	if (out || parsed == at_parse || err.code != code || err.line != line || err.col != col ||
	    !strstr(err.msg, msg)) {
		print_error("%s: got %s %s %d:%d \"%s\" out=[%s]; want %s %s %d:%d \"%s\"\n", src,
			    parsed ? "exec" : "parse", ferry_errcode_name(err.code), err.line,
			    err.col, err.msg, out ? out : "(null)", at_parse ? "parse" : "exec",
			    ferry_errcode_name(code), line, col, msg);
		free(out);
		fail();
	}
	assert_string_equal(err.file, "");
}

#define PARSE_ERR(src, line, col, msg)                                                             \
	check_err((src), dv, NV(dv), true, FERRY_E_INVALID, (line), (col), (msg))
#define EXEC_ERR(src, line, col, msg)                                                              \
	check_err((src), dv, NV(dv), false, FERRY_E_INVALID, (line), (col), (msg))

/* The examples in Forklift's documentation. */
static void test_forklift_examples(void **state)
{
	const struct ferry_tmpl_var net2[] = {I("NetworkIndex", 2)};
	const struct ferry_tmpl_var pod[] = {S("NetworkType", "pod"), I("NetworkIndex", 0)};
	const struct ferry_tmpl_var multus[] = {S("NetworkType", "multus"), I("NetworkIndex", 1)};
	const struct ferry_tmpl_var disk[] = {S("VmName", "web-01"), I("DiskIndex", 0)};
	const struct ferry_tmpl_var root0[] = {I("DiskIndex", 0), I("RootDiskIndex", 0)};
	const struct ferry_tmpl_var data1[] = {I("DiskIndex", 1), I("RootDiskIndex", 0)};
	const struct ferry_tmpl_var sh[] = {B("Shared", true), S("VmName", "vm1"),
					    I("DiskIndex", 3)};
	const struct ferry_tmpl_var nosh[] = {B("Shared", false), S("VmName", "vm1"),
					      I("DiskIndex", 3)};
	const struct ferry_tmpl_var vol[] = {I("VolumeIndex", 1)};
	const struct ferry_tmpl_var pvc[] = {S("PVCName", "data-pvc")};
	const char *net =
		"{{if eq .NetworkType \"pod\"}}pod{{else}}multus-{{.NetworkIndex}}{{end}}";
	const char *rootdata = "{{if eq .DiskIndex .RootDiskIndex}}root{{else}}data{{end}}-"
			       "{{.DiskIndex}}";
	const char *shared = "{{if .Shared}}shared-{{end}}{{.VmName}}-{{.DiskIndex}}";

	(void)state;
	check_out_v("net-{{.NetworkIndex}}", net2, NV(net2), "net-2");
	check_out_v(net, pod, NV(pod), "pod");
	check_out_v(net, multus, NV(multus), "multus-1");
	check_out_v("{{.VmName}}-disk-{{.DiskIndex}}", disk, NV(disk), "web-01-disk-0");
	check_out_v(rootdata, root0, NV(root0), "root-0");
	check_out_v(rootdata, data1, NV(data1), "data-1");
	check_out_v(shared, sh, NV(sh), "shared-vm1-3");
	check_out_v(shared, nosh, NV(nosh), "vm1-3");
	check_out_v("disk-{{.VolumeIndex}}", vol, NV(vol), "disk-1");
	check_out_v("pvc-{{.PVCName}}", pvc, NV(pvc), "pvc-data-pvc");
}

/* Forklift's default VM disk PVC name template. */
static void test_forklift_default(void **state)
{
	const char *tpl = "{{trunc 15 .PlanName}}-{{trunc 15 .TargetVmName}}-disk-{{.DiskIndex}}";
	const struct ferry_tmpl_var longv[] = {S("PlanName", "migration-plan-production-2024"),
					       S("TargetVmName", "database-server-primary"),
					       I("DiskIndex", 1)};
	const struct ferry_tmpl_var shortv[] = {S("PlanName", "p1"), S("TargetVmName", "vm"),
						I("DiskIndex", 0)};

	(void)state;
	check_out_v(tpl, longv, NV(longv), "migration-plan--database-server-disk-1");
	check_out_v(tpl, shortv, NV(shortv), "p1-vm-disk-0");
}

static void test_fields(void **state)
{
	struct ferry_tmpl *t = NULL;
	struct ferry_err err = FERRY_ERR_INIT;
	int line = 0, col = 0;

	(void)state;
	assert_int_equal(ferry_tmpl_parse("{{.B}}-{{.A}}\n{{if .B}}{{.C | lower}}{{end}}"
					  "{{printf \"%s\" (trunc 3 .D.E)}}{{.A}}",
					  &t, &err),
			 0);
	assert_int_equal(ferry_tmpl_field_count(t), 4);
	assert_string_equal(ferry_tmpl_field(t, 0, &line, &col), "B");
	assert_int_equal(line, 1);
	assert_int_equal(col, 3);
	assert_string_equal(ferry_tmpl_field(t, 1, &line, &col), "A");
	assert_int_equal(line, 1);
	assert_int_equal(col, 10);
	assert_string_equal(ferry_tmpl_field(t, 2, &line, &col), "C");
	assert_int_equal(line, 2);
	assert_int_equal(col, 12);
	assert_string_equal(ferry_tmpl_field(t, 3, &line, &col), "D");
	assert_int_equal(line, 2);
	assert_int_equal(col, 54);
	assert_string_equal(ferry_tmpl_field(t, 3, NULL, NULL), "D");
	ferry_tmpl_free(t);

	assert_int_equal(ferry_tmpl_parse("plain text", &t, &err), 0);
	assert_int_equal(ferry_tmpl_field_count(t), 0);
	ferry_tmpl_free(t);
	ferry_tmpl_free(NULL);
}

static void test_text_trim_comments(void **state)
{
	const struct ferry_tmpl_var x[] = {S("X", "1"), B("Shared", true)};

	(void)state;
	OUT("", "");
	OUT("no actions } { }}", "no actions } { }}");
	check_out_v("a  {{- .X -}}  b", x, NV(x), "a1b");
	check_out_v("a \n{{- .X}} b", x, NV(x), "a1 b");
	check_out_v("a\n{{- if .Shared }}\n  yes\n{{- end }}\n", x, NV(x), "a\n  yes\n");
	OUT("a {{- /* comment */ -}} b", "ab");
	OUT("a {{/* comment */}} b", "a  b");
	OUT("{{/* a\nmulti-line {{ comment */}}x", "x");
	OUT("{{- 3}}", "3");
	OUT("x {{-3}}", "x -3");
	OUT("{{3 -}} \t\n y", "3y");
	PARSE_ERR("ab{{/* never closed", 1, 3, "unclosed comment");
	PARSE_ERR("{{/* c */ .X}}", 1, 10, "comment ends before closing delimiter");
}

static void test_literals(void **state)
{
	(void)state;
	OUT("{{\"a\\tb\\n\\\\\\\"\"}}", "a\tb\n\\\"");
	OUT("{{\"\\x41\\u00e9\\U0001F600\\101\\a\"}}", "A\xc3\xa9\xf0\x9f\x98\x80"
						       "A\a");
	OUT("{{`a\\n\"b\r\nc`}}", "a\\n\"b\nc");
	OUT("{{'a'}} {{'\\n'}} {{'\\''}} {{'\xc3\xa9'}} {{'\\x41'}}", "97 10 39 233 65");
	OUT("{{0x1F}} {{0X1f}} {{0o17}} {{017}} {{0b101}} {{1_000}} {{-5}} {{+5}} {{0}}",
	    "31 31 15 15 5 1000 -5 5 0");
	OUT("{{1.5}} {{1e3}} {{.5}} {{0x1p-2}} {{1.0}} {{-0.25}} {{1_0.5}}",
	    "1.5 1000 0.5 0.25 1 -0.25 10.5");
	OUT("{{true}} {{false}}", "true false");
	OUT("{{-9223372036854775808}} {{9223372036854775807}}",
	    "-9223372036854775808 9223372036854775807");
	PARSE_ERR("{{1__0}}", 1, 3, "bad number syntax");
	PARSE_ERR("{{0x}}", 1, 3, "bad number syntax");
	PARSE_ERR("{{3x}}", 1, 3, "bad number syntax: \"3x\"");
	PARSE_ERR("{{1.5e400}}", 1, 3, "bad number syntax");
	PARSE_ERR("{{9223372036854775808}}", 1, 3, "integer overflow");
	PARSE_ERR("{{'ab'}}", 1, 3, "malformed character constant");
	PARSE_ERR("{{''}}", 1, 3, "malformed character constant");
	PARSE_ERR("x {{\"\\q\"}}", 1, 5, "invalid escape sequence \\q");
	PARSE_ERR("{{\"\\'\"}}", 1, 3, "invalid escape sequence");
	PARSE_ERR("{{\"\\x00\"}}", 1, 3, "NUL bytes in strings are not supported");
	PARSE_ERR("x{{\"abc}}", 1, 4, "unterminated quoted string");
	PARSE_ERR("{{\"a\nb\"}}", 1, 3, "unterminated quoted string");
	PARSE_ERR("{{`abc}}", 1, 3, "unterminated raw quoted string");
	PARSE_ERR("{{'a}}", 1, 3, "unterminated character constant");
}

/* Actions print values as fmt's %v. */
static void test_print_values(void **state)
{
	const struct ferry_tmpl_var v[] = {F("Third", 1.0 / 3), F("Big", 1e21), F("Neg", -0.0),
					   F("Inf", INFINITY), I("Min", INT64_MIN)};

	(void)state;
	OUT("{{.VmName}}|{{.DiskIndex}}|{{.F}}|{{.Shared}}|{{.No}}|{{.Empty}}|{{.FZero}}",
	    "Web-01|3|2.5|true|false||0");
	OUT("{{1e6}} {{1e21}} {{123456.0}} {{1234567.0}} {{0.0001}} {{0.00001}} {{0.1}}",
	    "1e+06 1e+21 123456 1.234567e+06 0.0001 1e-05 0.1");
	OUT("{{100000.5}} {{1.5e-7}} {{-2.5e10}}", "100000.5 1.5e-07 -2.5e+10");
	check_out_v("{{.Third}} {{.Big}} {{.Neg}} {{.Inf}} {{.Min}}", v, NV(v),
		    "0.3333333333333333 1e+21 -0 +Inf -9223372036854775808");
}

static void test_pipelines(void **state)
{
	(void)state;
	OUT("{{.VmName | lower | trunc 5}}", "web-0");
	OUT("{{.VmName | replace \"-\" \"_\" | upper}}", "WEB_01");
	OUT("{{.VmName | printf \"%s!\"}}", "Web-01!");
	OUT("{{\"x\" | printf \"%s-%s\" \"a\"}}", "a-x");
	OUT("{{(lower .VmName)}}-{{trunc 2 (upper (lower .VmName))}}", "web-01-WE");
	OUT("{{add 1 2 | printf \"%T %v\"}}", "int64 %!v(MISSING)");
	OUT("{{add1 add}} {{print}}", "1 ");
	/* Sprig's argument order: the piped value is the replacement here. */
	OUT("{{.VmName | regexReplaceAll \"[0-9]\" \"a1\"}}", "aWeb-01");
	PARSE_ERR("{{.VmName | .DiskIndex}}", 1, 13, "non executable command in pipeline stage 2");
	PARSE_ERR("{{.VmName | \"x\"}}", 1, 13, "non executable command in pipeline stage 2");
	PARSE_ERR("{{1 2}}", 1, 5, "can't give argument to non-function 1");
	PARSE_ERR("{{.VmName |}}", 1, 12, "missing value for command");
	PARSE_ERR("{{lower .VmName .X}}", 1, 3, "wrong number of args for lower: want 1 got 2");
	PARSE_ERR("{{.VmName | trunc}}", 1, 13, "wrong number of args for trunc: want 2 got 1");
	PARSE_ERR("{{.VmName | lower 1}}", 1, 13, "wrong number of args for lower: want 1 got 2");
	PARSE_ERR("{{\"a\"\"b\"}}", 1, 6, "unexpected");
	PARSE_ERR("{{lower.VmName}}", 1, 8, "unexpected \".VmName\" in operand");
	PARSE_ERR("{{( .X }}", 1, 8, "unclosed left paren");
	PARSE_ERR("{{ .X ) }}", 1, 7, "unexpected right paren");
	PARSE_ERR("{{()}}", 1, 4, "missing value for parenthesized pipeline");
}

static void test_if(void **state)
{
	const char *chain = "{{if eq .DiskIndex 1}}one{{else if eq .DiskIndex 3}}three"
			    "{{else if .Shared}}sh{{else}}none{{end}}";
	const struct ferry_tmpl_var n5[] = {I("DiskIndex", 5), B("Shared", false)};

	(void)state;
	OUT("{{if 0}}a{{else}}b{{end}}{{if 0.0}}a{{else}}b{{end}}{{if \"\"}}a{{else}}b{{end}}"
	    "{{if false}}a{{else}}b{{end}}",
	    "bbbb");
	OUT("{{if 1}}a{{end}}{{if -1}}a{{end}}{{if 0.5}}a{{end}}{{if \"0\"}}a{{end}}"
	    "{{if true}}a{{end}}",
	    "aaaaa");
	OUT("{{if .Zero}}a{{else}}b{{end}}{{if .FZero}}a{{else}}b{{end}}{{if .Empty}}a{{else}}b"
	    "{{end}}{{if .No}}a{{else}}b{{end}}{{if .F}}c{{end}}{{if .VmName}}c{{end}}",
	    "bbbbcc");
	OUT(chain, "three");
	check_out_v(chain, n5, NV(n5), "none");
	OUT("{{if .Shared}}{{if eq .DiskIndex 0}}a{{else if eq .DiskIndex 3}}b{{else}}c{{end}}"
	    "{{else}}d{{end}}",
	    "b");
	OUT("{{if .No}}x{{end}}", "");
	OUT("{{if lt 1 2}}{{if gt 1 2}}x{{else}}y{{end}}z{{end}}", "yz");
	OUT("{{if eq .DiskIndex 1 2 3}}in{{end}}", "in");
	PARSE_ERR("{{if}}x{{end}}", 1, 5, "missing value for if");
	PARSE_ERR("{{if .X}}{{else}}{{else}}{{end}}", 1, 20, "expected {{end}}; found {{else}}");
	PARSE_ERR("{{if .X}}a{{else if}}b{{end}}", 1, 20, "missing value for if");
	PARSE_ERR("{{if .X}}a{{end .Y}}", 1, 17, "unexpected \".Y\" in {{end}}");
	PARSE_ERR("{{if .X}}a{{else .Y}}b{{end}}", 1, 18, "unexpected \".Y\" in {{else}}");
	PARSE_ERR("{{else}}", 1, 3, "unexpected {{else}}");
	PARSE_ERR("{{if 1}}{{end}}{{end}}", 1, 18, "unexpected {{end}}");
	PARSE_ERR("x\n  {{if .A}}{{else if .B}}\n", 2, 3, "unclosed {{if}}: missing {{end}}");
}

static void test_and_or_not(void **state)
{
	(void)state;
	OUT("{{and 1 \"x\"}}|{{and 1 0 \"x\"}}|{{or 0 \"\" \"z\"}}|{{or 0 \"\"}}|{{or 2.5 0}}",
	    "x|0|z||2.5");
	OUT("{{not 0}} {{not \"a\"}} {{not .No}} {{not 0.0}}", "true false true true");
	/* Arguments are evaluated only as far as needed. */
	OUT("{{or .Shared (div 1 0)}} {{and .No (div 1 0)}}", "true false");
	OUT("{{0 | or 5}} {{\"\" | and 1}} {{7 | and 1}}", "5  7");
	OUT("{{if and .Shared (eq .DiskIndex 3)}}y{{end}}{{if or .No .Zero}}n{{end}}", "y");
	EXEC_ERR("{{and .Shared (div 1 0)}}", 1, 16, "error calling div");
	PARSE_ERR("{{not}}", 1, 3, "wrong number of args for not: want 1 got 0");
	PARSE_ERR("{{and}}", 1, 3, "wrong number of args for and: want at least 1 got 0");
}

static void test_comparisons(void **state)
{
	(void)state;
	OUT("{{eq \"a\" \"a\"}} {{eq 1 2 3 1}} {{eq 1 2}} {{eq true true}} {{eq 1.5 1.5}}",
	    "true true false true true");
	OUT("{{ne 1 2}} {{ne \"a\" \"a\"}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}",
	    "true false true true true false");
	OUT("{{lt 1.5 2.5}} {{lt \"ab\" \"abc\"}} {{gt 2 2}} {{ge 2 2}} {{le 3 2}}",
	    "true true false true false");
	/* int and Sprig's int64 compare; anything else mixed is refused. */
	OUT("{{eq .DiskIndex (add 1 2)}} {{lt .DiskIndex (add 2 2)}}", "true true");
	OUT("{{eq 1 1 \"x\"}}", "true");
	EXEC_ERR("{{eq 1 \"1\"}}", 1, 3, "error calling eq: incompatible types for comparison");
	EXEC_ERR("{{eq 1 2 \"x\"}}", 1, 3, "incompatible types for comparison");
	EXEC_ERR("{{eq .DiskIndex 3.0}}", 1, 3, "incompatible types for comparison");
	EXEC_ERR("{{lt true false}}", 1, 3, "error calling lt: invalid type for comparison");
	EXEC_ERR("{{gt 1 \"a\"}}", 1, 3, "error calling gt: incompatible types for comparison");
	EXEC_ERR("{{eq 1}}", 1, 3, "error calling eq: missing argument for comparison");
	PARSE_ERR("{{lt 1}}", 1, 3, "wrong number of args for lt: want 2 got 1");
}

static void test_printf(void **state)
{
	(void)state;
	OUT("{{printf \"%s-%03d\" .VmName .DiskIndex}}", "Web-01-003");
	OUT("{{printf \"%5s|%-5s|%.2s|%5.1s|\" \"ab\" \"ab\" \"abc\" \"xyz\"}}",
	    "   ab|ab   |ab|    x|");
	OUT("{{printf \"%05d|%-5d|%+d|% d|%5d|%.3d|%05s\" 42 42 5 5 -42 7 \"ab\"}}",
	    "00042|42   |+5| 5|  -42|007|   ab");
	OUT("{{printf \"%x %X %#x %o %#o %O %b %c %U %q\" 255 255 255 8 8 8 5 65 65 97}}",
	    "ff FF 0xff 10 010 0o10 101 A U+0041 'a'");
	OUT("{{printf \"%x|%05d|%x\" -255 -42 \"hi\"}}", "-ff|-0042|6869");
	OUT("{{printf \"%f|%.2f|%8.3f|%08.3f|%e|%E|%g|%v\" 2.5 3.14159 3.14159 -3.14159 1234.5678"
	    " 1234.5678 0.000012 2.5}}",
	    "2.500000|3.14|   3.142|-003.142|1.234568e+03|1.234568E+03|1.2e-05|2.5");
	OUT("{{printf \"%.3g|%g|%+.1f|%6.2v\" 1234.5678 1e21 2.25 3.14159}}",
	    "1.23e+03|1e+21|+2.2|   3.1");
	OUT("{{printf \"%v %v %v %t %q %v\" true 3 \"x\" false \"a\\\"b\\n\" .F}}",
	    "true 3 x false \"a\\\"b\\n\" 2.5");
	OUT("{{printf \"%d%%\" 50}}", "50%");
	OUT("{{printf \"%T %T %T %T %T\" 1 1.5 \"s\" true (add 1 1)}}",
	    "int float64 string bool int64");
	/* fmt's complaints are part of the output, not errors. */
	OUT("{{printf \"%d|%s|%f\" \"x\" 3 4}}", "%!d(string=x)|%!s(int=3)|%!f(int=4)");
	OUT("{{printf \"%s %s\" \"a\"}}", "a %!s(MISSING)");
	OUT("{{printf \"%s\" \"a\" \"b\" 3}}", "a%!(EXTRA string=b, int=3)");
	OUT("{{printf \"abc%\"}}", "abc%!(NOVERB)");
	OUT("{{printf \"%s\" (add 1 2)}}", "%!s(int64=3)");
	OUT("{{printf \"no verbs\"}}", "no verbs");
	EXEC_ERR("{{printf 3}}", 1, 3, "expected string; found 3");
	EXEC_ERR("{{printf .DiskIndex}}", 1, 3, "wrong type for value; expected string; got int");
	EXEC_ERR("{{printf \"%5000d\" 1}}", 1, 3, "error calling printf: result longer than");
	PARSE_ERR("{{printf}}", 1, 3, "wrong number of args for printf: want at least 1 got 0");
}

static void test_print_len(void **state)
{
	(void)state;
	OUT("{{print 1 2 \"a\" 3 true}}|{{print \"a\" \"b\"}}|{{print 1.5 2}}",
	    "1 2a3 true|ab|1.5 2");
	OUT("{{len \"h\xc3\xa9"
	    "llo\"}} {{len \"\"}} {{len .VmName}}",
	    "6 0 6");
	EXEC_ERR("{{len 3}}", 1, 3, "error calling len: len of type int");
}

static void test_string_funcs(void **state)
{
	(void)state;
	OUT("{{lower \"HeLLo\"}} {{upper \"HeLLo-1\"}} {{lower \"\xc3\x84"
	    "B\"}}",
	    "hello HELLO-1 \xc3\x84"
	    "b");
	OUT("{{title \"hello world-foo bar_baz 9a\"}}|{{title \"\"}}",
	    "Hello World-Foo Bar_baz 9a|");
	OUT("{{untitle \"Hello World FOO\"}}|{{untitle \"\"}}", "hello world fOO|");
	OUT("{{repeat 3 \"ab\"}}|{{repeat 0 \"x\"}}|{{repeat 1000000 \"\"}}", "ababab||");
	OUT("{{substr 1 3 \"hello\"}} {{substr -1 3 \"hello\"}} {{substr 2 -1 \"hello\"}} "
	    "{{substr 0 99 \"hi\"}} {{substr 2 2 \"hi\"}}|",
	    "el hel llo hi |");
	OUT("{{nospace \" a b\\tc\\n \"}}|{{nospace \"\"}}|{{nospace \"abc\"}}", "abc||abc");
	OUT("{{trunc 3 \"hello\"}} {{trunc -2 \"hello\"}} {{trunc 10 \"hi\"}} {{trunc -10 \"hi\"}} "
	    "{{trunc 0 \"hi\"}}|",
	    "hel lo hi hi |");
	OUT("{{trim \"  a b \\n\"}}|{{trim \"\"}}|{{trimAll \"-_\" \"-_a-b_-\"}}|{{trimAll \"\" \" "
	    "x\"}}",
	    "a b||a-b| x");
	OUT("{{trimSuffix \".img\" \"disk.img\"}} {{trimSuffix \"x\" \"disk\"}} "
	    "{{trimPrefix \"vm-\" \"vm-web\"}} {{trimPrefix \"x\" \"vm\"}}",
	    "disk disk web vm");
	OUT("{{contains \"eb\" \"web\"}} {{contains \"\" \"x\"}} {{contains \"z\" \"web\"}}",
	    "true true false");
	OUT("{{hasPrefix \"we\" \"web\"}} {{hasPrefix \"eb\" \"web\"}} {{hasSuffix \"eb\" "
	    "\"web\"}} "
	    "{{hasSuffix \"webs\" \"web\"}}",
	    "true false true false");
	OUT("{{replace \"_\" \"-\" \"a_b_c\"}} {{replace \"\" \".\" \"ab\"}} {{replace \"a\" "
	    "\"bb\" "
	    "\"banana\"}} {{replace \"x\" \"y\" \"\"}}|",
	    "a-b-c .a.b. bbbnbbnbb |");
	OUT("{{initials \"John Ronald  Reuel\"}}|{{initials \"\"}}|{{initials \" x\"}}", "JRR||x");
	OUT("{{.VmName | lower | nospace | trimPrefix \"web-\"}}", "01");
}

static void test_string_func_errors(void **state)
{
	(void)state;
	EXEC_ERR("{{lower .DiskIndex}}", 1, 3, "wrong type for value; expected string; got int");
	EXEC_ERR("x{{.DiskIndex | upper}}", 1, 17,
		 "wrong type for value; expected string; got int");
	EXEC_ERR("{{lower 5}}", 1, 3, "expected string; found 5");
	EXEC_ERR("{{lower true}}", 1, 3, "expected string; found true");
	EXEC_ERR("{{trunc (add 1 2) .VmName}}", 1, 3,
		 "wrong type for value; expected int; got int64");
	EXEC_ERR("{{trunc 1.5 .VmName}}", 1, 3, "expected integer; found 1.5");
	EXEC_ERR("{{trunc \"1\" .VmName}}", 1, 3, "expected integer; found \"1\"");
	EXEC_ERR("{{trunc .F .VmName}}", 1, 3, "wrong type for value; expected int; got float64");
	OUT("{{trunc 2.0 .VmName}}", "We");
	EXEC_ERR("{{repeat -1 \"x\"}}", 1, 3,
		 "error calling repeat: strings: negative Repeat count");
	EXEC_ERR("{{substr 3 1 \"hello\"}}", 1, 3,
		 "error calling substr: runtime error: slice bounds out of range [3:1]");
	EXEC_ERR("{{substr 5 9 \"hi\"}}", 1, 3, "slice bounds out of range [5:2]");
	EXEC_ERR("{{substr -1 9 \"hi\"}}", 1, 3, "slice bounds out of range [:9] with length 2");
	EXEC_ERR("{{substr -1 -1 \"hi\"}}", 1, 3, "slice bounds out of range [:-1]");
	EXEC_ERR("{{replace \"a\" .VmName 1}}", 1, 3, "expected string; found 1");
}

static void test_math(void **state)
{
	(void)state;
	OUT("{{add 1 2 3}} {{add}} {{add 1 2.7}} {{add true 1}} {{add1 .DiskIndex}} {{add1 -1}}",
	    "6 0 3 2 4 0");
	OUT("{{sub 10 3}} {{sub 1 3}} {{div 7 2}} {{div -7 2}} {{mod -7 3}} {{mod 7 3}}",
	    "7 -2 3 -3 -1 1");
	OUT("{{mul 2 3 4}} {{mul 5}} {{max 1 5 3}} {{max -1}} {{min 4 2 9}} {{min .DiskIndex 7}}",
	    "24 5 5 -1 2 3");
	OUT("{{floor 2.7}} {{floor -2.5}} {{floor 3}} {{ceil 2.1}} {{ceil 2}} {{ceil -0.5}}",
	    "2 -3 3 3 2 -0");
	OUT("{{round 3.14159 2}} {{round 2.5 0}} {{round -2.5 0}} {{round 1.25 1 0.2}} {{round "
	    "1234 -2}}",
	    "3.14 3 -3 1.3 1200");
	OUT("{{add .F 1}} {{floor .F}} {{round .DiskIndex 0}}", "3 2 3");
	/* Go's integers wrap around. */
	OUT("{{div -9223372036854775808 -1}} {{mod -9223372036854775808 -1}} "
	    "{{mul 9223372036854775807 2}} {{add 9223372036854775807 1}}",
	    "-9223372036854775808 0 -2 -9223372036854775808");
	EXEC_ERR("{{div .DiskIndex 0}}", 1, 3,
		 "error calling div: runtime error: integer divide by zero");
	EXEC_ERR("{{mod 1 0}}", 1, 3, "error calling mod: runtime error: integer divide by zero");
	EXEC_ERR("{{add \"1\" 2}}", 1, 3, "error calling add: wrong type for value");
	EXEC_ERR("{{floor .VmName}}", 1, 3, "error calling floor: wrong type for value");
	EXEC_ERR("{{round 1.5 \"a\"}}", 1, 3, "expected integer; found \"a\"");
	EXEC_ERR("{{round 1.5 1 \"a\"}}", 1, 3, "expected float; found \"a\"");
	PARSE_ERR("{{round 1.5}}", 1, 3, "wrong number of args for round: want at least 2 got 1");
	PARSE_ERR("{{sub 1}}", 1, 3, "wrong number of args for sub: want 2 got 1");
}

static void test_regex(void **state)
{
	(void)state;
	OUT("{{regexReplaceAll \"[^a-z0-9-]\" \"My_VM.01\" \"-\"}}", "-y----01");
	OUT("{{regexReplaceAll \"(?i)[^a-z0-9-]\" \"My_VM.01\" \"-\"}}", "My-VM-01");
	OUT("{{regexReplaceAll \"(\\\\w+)-(\\\\d+)\" \"web-01\" \"${2}_${1}\"}}", "01_web");
	OUT("{{regexReplaceAll \"(\\\\w+)-(\\\\d+)\" \"web-01\" \"$2_$1|$1x|$$|$\"}}", "web||$|$");
	OUT("{{regexReplaceAll \"(?P<num>\\\\d+)\" \"a12b3\" \"<${num}>\"}}", "a<12>b<3>");
	OUT("{{regexReplaceAll \"(?:ab)+(c)\" \"xababc\" \"[$1]\"}}", "x[c]");
	OUT("{{regexReplaceAll \"a*\" \"baaac\" \"x\"}}", "xbxcx");
	OUT("{{regexReplaceAll \"b*\" \"abc\" \"-\"}}", "-a-c-");
	OUT("{{regexReplaceAll \"^web\" \"webweb\" \"x\"}}|{{regexReplaceAll \"b$\" \"bab\" "
	    "\"x\"}}",
	    "xweb|bax");
	OUT("{{regexReplaceAll \".\" \"a\\nb\" \"x\"}}", "x\nx");
	OUT("{{regexReplaceAll \"x{2,3}\" \"xxxxx\" \"y\"}}|{{regexReplaceAll \"a{\" \"a{\" "
	    "\"y\"}}",
	    "yy|y");
	OUT("{{regexReplaceAll \"[\\\\d.]+\" \"v1.2.3-x\" \"N\"}}|"
	    "{{regexReplaceAll \"[]a-]\" \"a]-b\" \"x\"}}|"
	    "{{regexReplaceAll \"[[:upper:]^]\" \"A^b\" \"x\"}}",
	    "vN-x|xxxb|xxb");
	OUT("{{regexReplaceAll \"\\\\s+\" \"a \\t b\" \"_\"}}|{{regexReplaceAll \"\\\\W\" \"a.b\" "
	    "\"\"}}"
	    "|{{regexReplaceAll \"\\\\.\" \"a.b\" \"\\\\\"}}",
	    "a_b|ab|a\\b");
	OUT("{{regexReplaceAll \"(a)|b\" \"ab\" \"[$1]\"}}", "[a][]");
	OUT("{{regexReplaceAll \"\xc3\xa9+\" \"a\xc3\xa9\xc3\xa9"
	    "b\" \"e\"}}",
	    "aeb");
	OUT("{{mustRegexReplaceAll \"-+\" \"a--b\" \"-\"}}", "a-b");
	OUT("{{regexReplaceAll \"z\" \"\" \"y\"}}|{{regexReplaceAll \"\" \"ab\" \"-\"}}", "|-a-b-");
	EXEC_ERR("{{regexReplaceAll \"(\" \"a\" \"b\"}}", 1, 3,
		 "error calling regexReplaceAll: error parsing regexp: missing closing ): `(`");
	EXEC_ERR("{{mustRegexReplaceAll \"a+?\" \"a\" \"b\"}}", 1, 3,
		 "error calling mustRegexReplaceAll: error parsing regexp: non-greedy");
	EXEC_ERR("{{regexReplaceAll \"\\\\bx\" \"a\" \"b\"}}", 1, 3, "unsupported escape");
	EXEC_ERR("{{regexReplaceAll \"*a\" \"a\" \"b\"}}", 1, 3,
		 "missing argument to repetition operator");
	EXEC_ERR("{{regexReplaceAll \"a**\" \"a\" \"b\"}}", 1, 3, "invalid nested repetition");
	EXEC_ERR("{{regexReplaceAll \"a{1001}\" \"a\" \"b\"}}", 1, 3, "invalid repeat count");
	EXEC_ERR("{{regexReplaceAll \"[z-a]\" \"a\" \"b\"}}", 1, 3,
		 "invalid character class range");
	EXEC_ERR("{{regexReplaceAll \"\\\\1\" \"a\" \"b\"}}", 1, 3, "invalid escape sequence");
	EXEC_ERR("{{regexReplaceAll \"(?s).\" \"a\" \"b\"}}", 1, 3, "unsupported group or flag");
	EXEC_ERR("{{regexReplaceAll \"[\xc3\xa9]\" \"a\" \"b\"}}", 1, 3, "non-ASCII");
	EXEC_ERR("{{regexReplaceAll \"a\" \"aaaa\" (repeat 2000 \"bb\")}}", 1, 3,
		 "error calling regexReplaceAll: result longer than 4096 bytes");
	EXEC_ERR("{{regexReplaceAll 1 \"a\" \"b\"}}", 1, 3, "expected string; found 1");
}

static void test_regex_limit(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;

	(void)state;
	ferry_sb_adds(&sb, "{{regexReplaceAll \"");
	for (int i = 0; i < FERRY_TMPL_REGEX_MAX; i++)
		ferry_sb_addc(&sb, 'a');
	ferry_sb_adds(&sb, "\" \"b\" \"c\"}}");
	OUT(sb.buf, "b");
	ferry_sb_reset(&sb);
	ferry_sb_adds(&sb, "{{regexReplaceAll \"");
	for (int i = 0; i <= FERRY_TMPL_REGEX_MAX; i++)
		ferry_sb_addc(&sb, 'a');
	ferry_sb_adds(&sb, "\" \"b\" \"c\"}}");
	EXEC_ERR(sb.buf, 1, 3, "regular expression longer than 4096 bytes");
	ferry_sb_release(&sb);
}

static void test_exec_errors(void **state)
{
	char *s3000 = malloc(3001);
	struct ferry_tmpl_var bigv[1];

	(void)state;
	EXEC_ERR("vm-{{.VMName}}", 1, 6, "map has no entry for key \"VMName\"");
	EXEC_ERR("a\n{{if .Shared}}\n  {{.Nope | lower}}{{end}}", 3, 5,
		 "map has no entry for key \"Nope\"");
	EXEC_ERR("{{.VmName.Foo}}", 1, 3, "can't evaluate field Foo in type string");
	EXEC_ERR("{{repeat 4097 \"a\"}}", 1, 3, "error calling repeat: result longer than 4096");
	OUT("{{repeat 4096 \"a\" | len}}", "4096");
	EXEC_ERR("{{printf \"%s%s\" (repeat 4000 \"a\") (repeat 100 \"b\")}}", 1, 3,
		 "error calling printf: result longer than 4096");
	memset(s3000, 'x', 3000);
	s3000[3000] = '\0';
	bigv[0] = (struct ferry_tmpl_var)S("S", s3000);
	check_out_v("{{.S}}", bigv, 1, s3000);
	check_err("{{.S}}-{{.S}}", bigv, 1, false, FERRY_E_INVALID, 1, 8,
		  "output longer than 4096 bytes");
	check_out_v("{{.S | trunc 3}}", bigv, 1, "xxx");
	free(s3000);
}

/* The errors the brief asks for, with exact positions. */
static void test_parse_errors(void **state)
{
	(void)state;
	PARSE_ERR("{{.VmName", 1, 1, "unclosed action");
	PARSE_ERR("ab\ncd {{ .VmName | lower", 2, 4, "unclosed action");
	PARSE_ERR("{{if .X}}a", 1, 1, "unclosed {{if}}: missing {{end}}");
	PARSE_ERR("x {{if .X}}{{if .Y}}a{{end}}", 1, 3, "unclosed {{if}}");
	PARSE_ERR("{{frob .X}}", 1, 3, "function \"frob\" not defined");
	PARSE_ERR("{{.X | frob}}", 1, 8, "function \"frob\" not defined");
	PARSE_ERR("{{trunc 5}}", 1, 3, "wrong number of args for trunc: want 2 got 1");
	PARSE_ERR("{{end}}", 1, 3, "unexpected {{end}}");
	PARSE_ERR("name: {{.VmName}}\nsecond {{lower .X | frob}}", 2, 21,
		  "function \"frob\" not defined");
	PARSE_ERR("a\n\n{{if .X}}\n{{else}}\n{{.Y", 5, 1, "unclosed action");
	PARSE_ERR("{{}}", 1, 3, "missing value for command");
	PARSE_ERR("{{.X @}}", 1, 6, "unexpected \"@\"");
	PARSE_ERR("{{.X = 1}}", 1, 6, "unexpected \"=\"");
	PARSE_ERR("{{\x01}}", 1, 3, "unrecognized character in action: U+0001");
	PARSE_ERR("{{lower\"a\"}}", 1, 8, "bad character U+0022 '\"'");
	/* The first problem in the source wins. */
	PARSE_ERR("{{frob}} {{.X", 1, 3, "function \"frob\" not defined");
	PARSE_ERR("{{.X}}\n{{\"abc}}{{frob}}", 2, 3, "unterminated quoted string");
}

static void test_unsupported(void **state)
{
	(void)state;
	PARSE_ERR("{{range .X}}{{end}}", 1, 3, "{{range}} is not supported");
	PARSE_ERR("{{with .X}}{{end}}", 1, 3, "{{with}} is not supported");
	PARSE_ERR("{{define \"x\"}}{{end}}", 1, 3, "{{define}} is not supported");
	PARSE_ERR("{{template \"x\"}}", 1, 3, "{{template}} is not supported");
	PARSE_ERR("{{block \"x\" .}}{{end}}", 1, 3, "{{block}} is not supported");
	PARSE_ERR("{{break}}", 1, 3, "{{break}} is not supported");
	PARSE_ERR("{{.}}", 1, 3, "{{.}} (dot) is not supported");
	PARSE_ERR("{{lower .}}", 1, 9, "{{.}} (dot) is not supported");
	PARSE_ERR("{{$x := 1}}", 1, 3, "variables ($x) are not supported");
	PARSE_ERR("{{nil}}", 1, 3, "nil is not supported");
	PARSE_ERR("{{lower if}}", 1, 9, "unexpected keyword if in command");
}

static void test_limits(void **state)
{
	struct ferry_sb sb = FERRY_SB_INIT;
	struct ferry_tmpl *t = NULL;
	struct ferry_err err = FERRY_ERR_INIT;
	char *big = malloc((size_t)FERRY_TMPL_SRC_MAX + 2);
	char *out = NULL;
	const struct ferry_tmpl_var n[] = {I("N", 1999)};

	(void)state;
	memset(big, 'a', (size_t)FERRY_TMPL_SRC_MAX + 1);
	big[FERRY_TMPL_SRC_MAX + 1] = '\0';
	assert_int_equal(ferry_tmpl_parse(big, &t, &err), -1);
	assert_null(t);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	big[FERRY_TMPL_SRC_MAX] = '\0';
	assert_int_equal(ferry_tmpl_parse(big, &t, &err), 0);
	assert_int_equal(ferry_tmpl_exec(t, NULL, 0, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.msg, "output longer than 4096 bytes");
	ferry_tmpl_free(t);
	free(big);

	/* Nested {{if}}s and parentheses share the depth limit. */
	for (int i = 0; i < FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_adds(&sb, "{{if 1}}");
	ferry_sb_addc(&sb, 'x');
	for (int i = 0; i < FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_adds(&sb, "{{end}}");
	OUT(sb.buf, "x");
	ferry_sb_reset(&sb);
	for (int i = 0; i < FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_adds(&sb, "{{if 1}}");
	ferry_sb_adds(&sb, "{{(1)}}");
	check_err(sb.buf, NULL, 0, true, FERRY_E_LIMIT, 1, FERRY_TMPL_DEPTH_MAX * 8 + 3,
		  "nesting deeper than 64 levels");
	ferry_sb_reset(&sb);
	ferry_sb_adds(&sb, "{{");
	for (int i = 0; i < FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_addc(&sb, '(');
	ferry_sb_addc(&sb, '7');
	for (int i = 0; i < FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_addc(&sb, ')');
	ferry_sb_adds(&sb, "}}");
	OUT(sb.buf, "7");
	ferry_sb_reset(&sb);
	ferry_sb_adds(&sb, "{{");
	for (int i = 0; i <= FERRY_TMPL_DEPTH_MAX; i++)
		ferry_sb_addc(&sb, '(');
	check_err(sb.buf, NULL, 0, true, FERRY_E_LIMIT, 1, FERRY_TMPL_DEPTH_MAX + 3, "nesting");

	/* A long {{else if}} chain is not nesting. */
	ferry_sb_reset(&sb);
	ferry_sb_adds(&sb, "{{if eq .N 0}}0");
	for (int i = 1; i < 2000; i++)
		ferry_sb_addf(&sb, "{{else if eq .N %d}}%d", i, i);
	ferry_sb_adds(&sb, "{{end}}");
	assert_true(sb.len < FERRY_TMPL_SRC_MAX);
	check_out_v(sb.buf, n, NV(n), "1999");
	ferry_sb_release(&sb);
}

/* A parsed template is reusable with other data. */
static void test_reuse(void **state)
{
	struct ferry_tmpl *t = NULL;
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_tmpl_var a[] = {S("VmName", "a"), I("DiskIndex", 1)};
	const struct ferry_tmpl_var b[] = {S("VmName", "b"), I("DiskIndex", 2)};
	char *out = NULL;

	(void)state;
	assert_int_equal(ferry_tmpl_parse("{{.VmName}}-{{.DiskIndex}}", &t, &err), 0);
	assert_int_equal(ferry_tmpl_exec(t, a, NV(a), &out, &err), 0);
	assert_string_equal(out, "a-1");
	free(out);
	assert_int_equal(ferry_tmpl_exec(t, b, NV(b), &out, &err), 0);
	assert_string_equal(out, "b-2");
	free(out);
	assert_int_equal(ferry_tmpl_exec(t, a, 1, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.line, 1);
	assert_int_equal(err.col, 15);
	ferry_tmpl_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forklift_examples),
		cmocka_unit_test(test_forklift_default),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_text_trim_comments),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_print_values),
		cmocka_unit_test(test_pipelines),
		cmocka_unit_test(test_if),
		cmocka_unit_test(test_and_or_not),
		cmocka_unit_test(test_comparisons),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_print_len),
		cmocka_unit_test(test_string_funcs),
		cmocka_unit_test(test_string_func_errors),
		cmocka_unit_test(test_math),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_limit),
		cmocka_unit_test(test_exec_errors),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
