/* reconciler/config (ferry.ini) and reconciler/secrets (the secrets
 * directory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reconciler/config.h"
#include "reconciler/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA	 FERRY_TEST_DATA "/config"
#define MAN_PAGE FERRY_TEST_DATA "/../../../docs/ferry.ini.5.md"

/* ---- helpers ---------------------------------------------------------- */

static void load_ok(struct ferry_config *c, const char *text)
{
	struct ferry_err err = FERRY_ERR_INIT;

	ferry_config_defaults(c);
	if (ferry_config_load_string(c, "t.ini", text, &err) < 0)
		fail_msg("load failed: t.ini:%d:%d: %s\n--- text:\n%s", err.line, err.col, err.msg,
			 text);
	assert_int_equal(err.code, FERRY_OK);
}

static void assert_released(const struct ferry_config *c)
{
	static const struct ferry_config zero;

	assert_memory_equal(c, &zero, sizeof zero);
}

/* Loading text fails at line with exactly msg (code FERRY_E_INVALID), and
 * leaves the struct released. */
static void load_bad(const char *text, int line, const char *msg)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;

	ferry_config_defaults(&c);
	if (ferry_config_load_string(&c, "t.ini", text, &err) == 0)
		fail_msg("load succeeded\n--- text:\n%s", text);
	if (err.line != line || strcmp(err.msg, msg) != 0)
		fail_msg("got t.ini:%d: %s\nwant t.ini:%d: %s\n--- text:\n%s", err.line, err.msg,
			 line, msg, text);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_string_equal(err.file, "t.ini");
	assert_released(&c);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(text);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* A new empty directory for one test; rm_tree() removes it. */
static char *make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *dir = xasprintf("%s/ferry-test-config-XXXXXX", t && *t ? t : "/tmp");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rm_tree(char *dir)
{
	assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
}

/* ---- defaults ---------------------------------------------------------- */

static void check_defaults(const struct ferry_config *c)
{
	assert_null(c->repo.url);
	assert_string_equal(c->repo.branch, "main");
	assert_string_equal(c->repo.root, "");
	assert_string_equal(c->repo.status_branch, "ferry/status");
	assert_int_equal(c->repo.status_mode, FERRY_STATUS_BRANCH);
	assert_int_equal(c->repo.status_interval_ms, 10000);
	assert_null(c->repo.credentials);
	assert_string_equal(c->repo.committer_name, "ferry");
	assert_string_equal(c->repo.committer_email, "ferry@localhost");
	assert_null(c->repo.proxy);
	assert_null(c->repo.ca_file);
	assert_null(c->repo.known_hosts);
	assert_string_equal(c->daemon.data_dir, "/var/lib/ferry");
	assert_int_equal(c->daemon.poll_interval_ms, 15000);
	assert_string_equal(c->daemon.listen, "127.0.0.1:8080");
	assert_string_equal(c->secrets.dir, "/etc/ferry/secrets");
	assert_int_equal(c->gate.signature, FERRY_SIG_NONE);
	assert_null(c->gate.allowed_signers);
	assert_null(c->gate.openpgp_keys);
	assert_int_equal(c->gate.approvals, 0);
	assert_int_equal(c->gate.napprovers, 0);
	assert_null(c->gate.approvers);
	assert_int_equal(c->gate.ntrailers, 2);
	assert_string_equal(c->gate.approval_trailers[0], "Approved-by");
	assert_string_equal(c->gate.approval_trailers[1], "Reviewed-by");
	assert_int_equal(c->target.type, FERRY_TARGET_LOCAL);
	assert_null(c->target.dir);
	assert_null(c->target.kubeconfig);
	assert_null(c->target.context);
	assert_null(c->target.volumes);
	assert_null(c->target.worker_image);
	assert_null(c->target.worker_service_account);
	assert_null(c->target.worker_node_selector);
	assert_int_equal(c->target.nworker_node_selector, 0);
	assert_null(c->target.worker_cpu);
	assert_null(c->target.worker_memory);
	assert_null(c->target.transfer_address);
	assert_null(c->target.transfer_bind);
	assert_int_equal(c->target.transfer_port_min, 0);
	assert_int_equal(c->target.transfer_port_max, 0);
	assert_null(c->vsphere.vddk_lib_dir);
}

static void test_defaults(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;

	(void)state;
	ferry_config_defaults(&c);
	check_defaults(&c);
	assert_null(c.path);
	ferry_config_release(&c);
	assert_released(&c);
	ferry_config_release(&c); /* twice is harmless */

	/* Only comments and empty sections: still the defaults. */
	load_ok(&c, "; ferry.ini\n# nothing set\n\n[repository]\n[daemon]\n[secrets]\n[gate]\n");
	check_defaults(&c);
	assert_string_equal(c.path, "t.ini");
	ferry_config_release(&c);

	/* A zeroed struct gets the defaults too. */
	memset(&c, 0, sizeof c);
	assert_int_equal(ferry_config_load_string(&c, NULL, "", &err), 0);
	check_defaults(&c);
	assert_string_equal(c.path, "<string>");
	ferry_config_release(&c);
}

/* ---- every key ---------------------------------------------------------- */

static const char every_key[] =
	"[repository]\n"
	"url = https://git.example.com/infra/migrations.git\n"
	"branch = release/2024\n"
	"root = /clusters//prod/./vms/\n"
	"status_branch = ferry/status-prod\n"
	"status_mode = path\n"
	"status_interval = 1m30s\n"
	"credentials = ferry-system/git-deploy\n"
	"committer = Ferry Bot <ferry-bot@example.com>\n"
	"proxy = http://proxy.example.com:3128\n"
	"ca_file = /etc/ssl/certs/corp.pem\n"
	"known_hosts = /etc/ferry/known_hosts\n"
	"\n"
	"[daemon]\n"
	"data_dir = /srv/ferry\n"
	"poll_interval = 2m\n"
	"listen = [::1]:9090\n"
	"webhook_secret = ferry-system/webhook\n"
	"\n"
	"[limits]\n"
	"max_vm_inflight = 8\n"
	"migrations/vcenter-east = 30\n"
	"migrations/ova-share = 2\n"
	"\n"
	"[target]\n"
	"type = kubevirt\n"
	"dir = /srv/ferry/out\n"
	"kubeconfig = /etc/ferry/kubeconfig\n"
	"context = prod-admin\n"
	"volumes = pvc\n"
	"worker_image = quay.io/ferry/ferry:1.0\n"
	"worker_service_account = ferry-worker\n"
	"worker_node_selector = kubernetes.io/arch=amd64, node-role.example.com/"
	"migration = \n"
	"worker_cpu = 500m\n"
	"worker_memory = 1Gi\n"
	"transfer_address = ferry.migrations.svc\n"
	"transfer_bind = ::\n"
	"transfer_ports = 10809-10909\n"
	"\n"
	"[vsphere]\n"
	"vddk_lib_dir = /opt/vmware-vix-disklib-distrib\n"
	"\n"
	"[secrets]\n"
	"dir = /srv/ferry/secrets\n"
	"\n"
	"[gate]\n"
	"signature = any\n"
	"allowed_signers = /etc/ferry/allowed_signers\n"
	"openpgp_keys = /etc/ferry/keys.asc\n"
	"approvals = 2\n"
	"approvers = Alice Example <alice@example.com>, bob@example.com,"
	" Carol <carol@example.org>\n"
	"approval_trailers = Approved-by, Signed-off-by, Acked-by\n";

static void test_every_key(void **state)
{
	struct ferry_config c;

	(void)state;
	load_ok(&c, every_key);
	assert_string_equal(c.repo.url, "https://git.example.com/infra/migrations.git");
	assert_string_equal(c.repo.branch, "release/2024");
	assert_string_equal(c.repo.root, "clusters/prod/vms");
	assert_string_equal(c.repo.status_branch, "ferry/status-prod");
	assert_int_equal(c.repo.status_mode, FERRY_STATUS_PATH);
	assert_int_equal(c.repo.status_interval_ms, 90000);
	assert_string_equal(c.repo.credentials, "ferry-system/git-deploy");
	assert_string_equal(c.repo.committer_name, "Ferry Bot");
	assert_string_equal(c.repo.committer_email, "ferry-bot@example.com");
	assert_string_equal(c.repo.proxy, "http://proxy.example.com:3128");
	assert_string_equal(c.repo.ca_file, "/etc/ssl/certs/corp.pem");
	assert_string_equal(c.repo.known_hosts, "/etc/ferry/known_hosts");
	assert_string_equal(c.daemon.data_dir, "/srv/ferry");
	assert_int_equal(c.daemon.poll_interval_ms, 120000);
	assert_string_equal(c.daemon.listen, "[::1]:9090");
	assert_string_equal(c.daemon.webhook_secret, "ferry-system/webhook");
	assert_int_equal(c.limits.max_vm_inflight, 8);
	assert_int_equal(c.limits.nproviders, 2);
	assert_string_equal(c.limits.providers[0].provider, "migrations/vcenter-east");
	assert_int_equal(c.limits.providers[0].disks, 30);
	assert_string_equal(c.limits.providers[1].provider, "migrations/ova-share");
	assert_int_equal(c.limits.providers[1].disks, 2);
	assert_int_equal(c.target.type, FERRY_TARGET_KUBEVIRT);
	assert_string_equal(c.target.dir, "/srv/ferry/out");
	assert_string_equal(c.target.kubeconfig, "/etc/ferry/kubeconfig");
	assert_string_equal(c.target.context, "prod-admin");
	assert_string_equal(c.target.volumes, "pvc");
	assert_string_equal(c.target.worker_image, "quay.io/ferry/ferry:1.0");
	assert_string_equal(c.target.worker_service_account, "ferry-worker");
	assert_int_equal(c.target.nworker_node_selector, 2);
	assert_string_equal(c.target.worker_node_selector[0], "kubernetes.io/arch=amd64");
	/* blanks around '=' dropped; an empty value is a value */
	assert_string_equal(c.target.worker_node_selector[1], "node-role.example.com/migration=");
	assert_string_equal(c.target.worker_cpu, "500m");
	assert_string_equal(c.target.worker_memory, "1Gi");
	assert_string_equal(c.target.transfer_address, "ferry.migrations.svc");
	assert_string_equal(c.target.transfer_bind, "::");
	assert_int_equal(c.target.transfer_port_min, 10809);
	assert_int_equal(c.target.transfer_port_max, 10909);
	assert_string_equal(c.vsphere.vddk_lib_dir, "/opt/vmware-vix-disklib-distrib");
	assert_string_equal(c.secrets.dir, "/srv/ferry/secrets");
	assert_int_equal(c.gate.signature, FERRY_SIG_ANY);
	assert_string_equal(c.gate.allowed_signers, "/etc/ferry/allowed_signers");
	assert_string_equal(c.gate.openpgp_keys, "/etc/ferry/keys.asc");
	assert_int_equal(c.gate.approvals, 2);
	assert_int_equal(c.gate.napprovers, 3);
	assert_string_equal(c.gate.approvers[0], "Alice Example <alice@example.com>");
	assert_string_equal(c.gate.approvers[1], "bob@example.com");
	assert_string_equal(c.gate.approvers[2], "Carol <carol@example.org>");
	assert_int_equal(c.gate.ntrailers, 3);
	assert_string_equal(c.gate.approval_trailers[0], "Approved-by");
	assert_string_equal(c.gate.approval_trailers[1], "Signed-off-by");
	assert_string_equal(c.gate.approval_trailers[2], "Acked-by");
	ferry_config_release(&c);
}

static void test_values(void **state)
{
	struct ferry_config c;

	(void)state;
	/* The enums' other values, root forms, a bare secret name, ':' as the
	 * separator, inline comments, indented keys, CRLF. */
	load_ok(&c, "[repository]\r\n"
		    "  url: git@github.com:example/gitops.git ; scp-like\r\n"
		    "  root = /\r\n"
		    "\tstatus_mode = branch\r\n"
		    "  credentials = git-deploy\r\n"
		    "[gate]\n"
		    "signature = openpgp\n"
		    "openpgp_keys = keys.asc\n");
	assert_string_equal(c.repo.url, "git@github.com:example/gitops.git");
	assert_string_equal(c.repo.root, "");
	assert_int_equal(c.repo.status_mode, FERRY_STATUS_BRANCH);
	assert_string_equal(c.repo.credentials, "git-deploy");
	assert_int_equal(c.gate.signature, FERRY_SIG_OPENPGP);
	/* load_string: relative paths stay relative (to the current directory) */
	assert_string_equal(c.gate.openpgp_keys, "keys.asc");
	ferry_config_release(&c);

	load_ok(&c, "[repository]\nroot = ./vms\n[gate]\nsignature = ssh\n"
		    "allowed_signers = signers\n");
	assert_string_equal(c.repo.root, "vms");
	assert_int_equal(c.gate.signature, FERRY_SIG_SSH);
	ferry_config_release(&c);

	load_ok(&c, "[repository]\nroot = a/b/\n[gate]\nsignature = none\n");
	assert_string_equal(c.repo.root, "a/b");
	assert_int_equal(c.gate.signature, FERRY_SIG_NONE);
	ferry_config_release(&c);

	/* status_mode = path may keep status on the watched branch */
	load_ok(&c, "[repository]\nstatus_mode = path\nstatus_branch = main\n");
	ferry_config_release(&c);

	/* A UTF-8 byte order mark is skipped. */
	load_ok(&c, "\xEF\xBB\xBF[repository]\nbranch = dev\n");
	assert_string_equal(c.repo.branch, "dev");
	ferry_config_release(&c);

	load_ok(&c, "[daemon]\nlisten = localhost:1\n");
	assert_string_equal(c.daemon.listen, "localhost:1");
	ferry_config_release(&c);
	load_ok(&c, "[daemon]\nlisten = 0.0.0.0:65535\n");
	assert_string_equal(c.daemon.listen, "0.0.0.0:65535");
	ferry_config_release(&c);
	load_ok(&c, "[daemon]\nlisten = [fe80::1%eth0]:8080\n");
	assert_string_equal(c.daemon.listen, "[fe80::1%eth0]:8080");
	ferry_config_release(&c);
}

static void test_lists(void **state)
{
	struct ferry_config c;

	(void)state;
	/* Entries are trimmed; a list continues on indented lines without '=';
	 * a comma may end a line; comments may sit between the lines; the next
	 * indented line with '=' is a key again. */
	load_ok(&c, "[gate]\n"
		    "approvals = 3\n"
		    "approvers = Alice <alice@example.com>,\n"
		    "            bob@example.com ,  Carol  <carol@example.org>\n"
		    "  # the on-call team\n"
		    "            dave@example.com ; inline comment\n"
		    "  approval_trailers = Approved-by\n"
		    "    LGTM-by,\n"
		    "    Tested-by\n");
	assert_int_equal(c.gate.napprovers, 4);
	assert_string_equal(c.gate.approvers[0], "Alice <alice@example.com>");
	assert_string_equal(c.gate.approvers[1], "bob@example.com");
	assert_string_equal(c.gate.approvers[2], "Carol  <carol@example.org>");
	assert_string_equal(c.gate.approvers[3], "dave@example.com");
	assert_int_equal(c.gate.ntrailers, 3);
	assert_string_equal(c.gate.approval_trailers[0], "Approved-by");
	assert_string_equal(c.gate.approval_trailers[1], "LGTM-by");
	assert_string_equal(c.gate.approval_trailers[2], "Tested-by");
	ferry_config_release(&c);

	/* An empty approvers list is allowed when no approval is needed. */
	load_ok(&c, "[gate]\napprovers =\n");
	assert_int_equal(c.gate.napprovers, 0);
	ferry_config_release(&c);

	/* worker_node_selector entries hold '=': an indented line continues the
	 * list unless what comes before its '=' is a key of ferry.ini. */
	load_ok(&c, "[target]\n"
		    "worker_node_selector = kubernetes.io/arch=amd64,\n"
		    "    topology.kubernetes.io/zone = zone-a ; the fast zone\n"
		    "  # a comment between\n"
		    "    example.com/tier=migration, disk=ssd\n"
		    "  worker_cpu = 2\n"
		    "  volumes = datavolume\n");
	assert_int_equal(c.target.nworker_node_selector, 4);
	assert_string_equal(c.target.worker_node_selector[0], "kubernetes.io/arch=amd64");
	assert_string_equal(c.target.worker_node_selector[1], "topology.kubernetes.io/zone=zone-a");
	assert_string_equal(c.target.worker_node_selector[2], "example.com/tier=migration");
	assert_string_equal(c.target.worker_node_selector[3], "disk=ssd");
	assert_string_equal(c.target.worker_cpu, "2");
	assert_string_equal(c.target.volumes, "datavolume");
	ferry_config_release(&c);

	/* An indented key right after a section is a key, not a continuation. */
	load_ok(&c, "[gate]\n  approvers = a@example.com\n  approvals = 1\n");
	assert_int_equal(c.gate.napprovers, 1);
	assert_int_equal(c.gate.approvals, 1);
	ferry_config_release(&c);
}

/* A second load replaces only what the second file sets. */
static void test_overlay(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;

	(void)state;
	load_ok(&c, "[repository]\nurl = /srv/a.git\nbranch = one\n[gate]\n"
		    "approvers = a@example.com, b@example.com\n");
	assert_int_equal(
		ferry_config_load_string(&c, "second.ini",
					 "[repository]\nbranch = two\n[gate]\n"
					 "approvers = c@example.com\napproval_trailers = Ok-by\n",
					 &err),
		0);
	assert_string_equal(c.path, "second.ini");
	assert_string_equal(c.repo.url, "/srv/a.git");
	assert_string_equal(c.repo.branch, "two");
	assert_int_equal(c.gate.napprovers, 1);
	assert_string_equal(c.gate.approvers[0], "c@example.com");
	assert_int_equal(c.gate.ntrailers, 1);
	assert_string_equal(c.gate.approval_trailers[0], "Ok-by");

	/* A failed load releases everything, also what the first load set. */
	assert_int_equal(
		ferry_config_load_string(&c, "third.ini", "[repository]\nbranch =\n", &err), -1);
	assert_released(&c);
}

/* ---- errors --------------------------------------------------------------- */

static const struct bad_case {
	const char *text;
	int line;
	const char *msg;
} bad_cases[] = {
	/* where the keys and sections are */
	{"[repository]\nurl = /srv/r.git\n\n; comment\nbranch = main\n\nbrnach = dev\n", 7,
	 "unknown key 'brnach' in [repository]; did you mean 'branch'?"},
	{"[repository]\nurl = x\n[gates]\napprovals = 1\n", 3,
	 "unknown section [gates]; did you mean [gate]?"},
	{"[repository]\n[Daemon]\n", 2, "unknown section [Daemon]; did you mean [daemon]?"},
	{"[repository]\n\n[quotas]\n", 3,
	 "unknown section [quotas] (ferry.ini has [repository], [daemon], [secrets], [gate], "
	 "[limits], [target] and [vsphere])"},
	{"[vSphere]\nvddk_lib_dir = /opt/vddk\n", 1,
	 "unknown section [vSphere]; did you mean [vsphere]?"},
	{"[target]\nvddk_lib_dir = /opt/vddk\n", 2,
	 "unknown key 'vddk_lib_dir' in [target]; it belongs in [vsphere]"},
	{"[target]\nworker_imag = x\n", 2,
	 "unknown key 'worker_imag' in [target]; did you mean 'worker_image'?"},
	{"[repository]\nurl = /r\n[limits]\nmax_vm_inflight = 0\n", 4,
	 "max_vm_inflight: must be 1 or more, got '0'"},
	{"[repository]\nurl = /r\n[limits]\nns/prov = 4\nns/prov = 5\n", 5,
	 "duplicate key 'ns/prov' in [limits]"},
	{"[repository]\nurl = /r\n[limits]\nns/prov = many\n", 4,
	 "ns/prov: expected a number of disks (1 or more), got 'many'"},
	{"[repository]\nurl = /r\n[limits]\nmax_inflight = 4\n", 4,
	 "unknown key 'max_inflight' in [limits]; did you mean 'max_vm_inflight'?"},
	{"[repository]\nurl = /r\n[target]\ntype = openstack\n", 4,
	 "type: expected local or kubevirt, got 'openstack'"},
	{"[repository]\nurl = /r\n[daemon]\nwebhook_secret = a/b/c\n", 4,
	 "webhook_secret: secret reference 'a/b/c': expected NAMESPACE/NAME or NAME"},
	{"[repository]\nfrobnicate = 1\n", 2, "unknown key 'frobnicate' in [repository]"},
	{"[daemon]\nurl = /srv/r.git\n", 2,
	 "unknown key 'url' in [daemon]; it belongs in [repository]"},
	{"url = /srv/r.git\n", 1, "key 'url' is outside a section; it belongs in [repository]"},
	{"# top\nfoo = 1\n", 2, "key 'foo' is outside a section"},
	{"[repository]\nbranch = a\nurl = x\nbranch = b\n", 4,
	 "duplicate key 'branch' in [repository] (first set on line 2)"},
	{"[gate]\napprovers = a@example.com\n[repository]\n[gate]\napprovers = b@example.com\n", 5,
	 "duplicate key 'approvers' in [gate] (first set on line 2)"},

	/* syntax */
	{"[repository]\nurl = x\nbranch\n", 3,
	 "syntax error (expected 'key = value' or '[section]')"},
	{"[repository\nurl = x\n", 1, "syntax error (expected 'key = value' or '[section]')"},
	{"[repository] url = x\n", 1, "syntax error (expected 'key = value' or '[section]')"},
	{"[repository]\n= x\n", 2, "syntax error (expected 'key = value' or '[section]')"},
	{"[repository]\nbranch = a\n  b\n", 3,
	 "syntax error (expected 'key = value' or '[section]')"},

	/* values */
	{"[repository]\nurl =\n", 2, "url: empty value"},
	{"[repository]\nstatus_mode = paths\n", 2,
	 "status_mode: expected branch or path, got 'paths'"},
	{"[gate]\nsignature = gpg\n", 2,
	 "signature: expected none, any, ssh or openpgp, got 'gpg'"},
	{"[repository]\nroot = vms/../../etc\n", 2,
	 "root: '..' is not allowed (the root is a directory inside the repository), got "
	 "'vms/../../etc'"},
	{"[repository]\nroot = ..\n", 2,
	 "root: '..' is not allowed (the root is a directory inside the repository), got '..'"},
	{"[repository]\nbranch = feature..x\n", 2,
	 "branch: 'feature..x' is not a valid branch name: it must not contain '..'"},
	{"[repository]\nbranch = refs/heads/main\n", 2,
	 "branch: 'refs/heads/main' is not a valid branch name: write the branch name without "
	 "refs/heads/"},
	{"[repository]\nstatus_branch = my status\n", 2,
	 "status_branch: 'my status' is not a valid branch name: it must not contain spaces"},
	{"[repository]\nbranch = -x\n", 2,
	 "branch: '-x' is not a valid branch name: it must not start with '-'"},
	{"[repository]\nbranch = a.lock\n", 2,
	 "branch: 'a.lock' is not a valid branch name: no part of it may end with '.lock'"},
	{"[repository]\nbranch = a/.b\n", 2,
	 "branch: 'a/.b' is not a valid branch name: no part of it may start with '.'"},
	{"[repository]\nbranch = a/\n", 2,
	 "branch: 'a/' is not a valid branch name: it must not start or end with '/' or contain "
	 "'//'"},
	{"[repository]\nbranch = a~1\n", 2,
	 "branch: 'a~1' is not a valid branch name: it must not contain ~ ^ : ? * [ or \\"},
	{"[repository]\nbranch = ferry/status\n", 2,
	 "status_branch 'ferry/status' is the watched branch; choose another, or set status_mode "
	 "= path to keep status/ on the watched branch"},
	{"[repository]\nbranch = x\nstatus_branch = x\n", 3,
	 "status_branch 'x' is the watched branch; choose another, or set status_mode = path to "
	 "keep status/ on the watched branch"},
	{"[repository]\ncredentials = a/b/c\n", 2,
	 "credentials: secret reference 'a/b/c': expected NAMESPACE/NAME or NAME"},
	{"[repository]\ncredentials = ../etc\n", 2,
	 "credentials: secret reference '../etc': namespace must consist of lower case "
	 "alphanumeric "
	 "characters or '-', and must start and end with an alphanumeric character"},
	{"[repository]\ncommitter = ferry\n", 2, "committer: expected 'Name <email>', got 'ferry'"},
	{"[repository]\ncommitter = <ferry@example.com>\n", 2,
	 "committer: expected 'Name <email>', got '<ferry@example.com>'"},
	{"[repository]\ncommitter = Ferry <ferry@example.com\n", 2,
	 "committer: expected 'Name <email>', got 'Ferry <ferry@example.com'"},
	{"[repository]\ncommitter = Ferry <>\n", 2,
	 "committer: expected 'Name <email>', got 'Ferry <>'"},
	{"[daemon]\nlisten = localhost\n", 2,
	 "listen: expected HOST:PORT or [ADDRESS]:PORT, got 'localhost'"},
	{"[daemon]\nlisten = :8080\n", 2,
	 "listen: expected HOST:PORT or [ADDRESS]:PORT, got ':8080'"},
	{"[daemon]\nlisten = [::1]8080\n", 2,
	 "listen: expected HOST:PORT or [ADDRESS]:PORT, got '[::1]8080'"},
	{"[daemon]\nlisten = ::1:8080\n", 2,
	 "listen: an IPv6 address goes in brackets, as in [::1]:8080; got '::1:8080'"},
	{"[daemon]\nlisten = 127.0.0.1:0\n", 2,
	 "listen: the port must be a number from 1 to 65535, got '127.0.0.1:0'"},
	{"[daemon]\nlisten = 127.0.0.1:65536\n", 2,
	 "listen: the port must be a number from 1 to 65535, got '127.0.0.1:65536'"},
	{"[daemon]\nlisten = [::]:http\n", 2,
	 "listen: the port must be a number from 1 to 65535, got '[::]:http'"},
	{"[daemon]\nlisten = host:\n", 2,
	 "listen: the port must be a number from 1 to 65535, got 'host:'"},
	{"[daemon]\ndata_dir =\n", 2, "data_dir: empty value"},
	{"[secrets]\ndir =\n", 2, "dir: empty value"},
	{"[gate]\napprovals = -1\n", 2, "approvals: expected a whole number (0 or more), got '-1'"},
	{"[gate]\napprovals = two\n", 2,
	 "approvals: expected a whole number (0 or more), got 'two'"},
	{"[gate]\napprovals = 99999999999\n", 2, "approvals: '99999999999' is too large"},
	{"[gate]\napprovers = a@example.com,,b@example.com\n", 2,
	 "approvers: empty entry (a comma with nothing before it)"},
	{"[gate]\napprovers = , a@example.com\n", 2,
	 "approvers: empty entry (a comma with nothing before it)"},
	{"[gate]\napprovers = a@example.com,\n  ,\n", 3,
	 "approvers: empty entry (a comma with nothing before it)"},
	{"[gate]\napprovers = a@example.com, bob\n", 2,
	 "approvers: expected 'Name <email>' or an email address, got 'bob'"},
	{"[gate]\napprovers = a@example.com,\n   Bob <bob>\n", 3,
	 "approvers: expected 'Name <email>' or an email address, got 'Bob <bob>'"},
	{"[gate]\napprovers = Bob Smith bob@example.com\n", 2,
	 "approvers: expected 'Name <email>' or an email address, got 'Bob Smith bob@example.com'"},
	{"[gate]\napproval_trailers = Approved-by:\n", 2,
	 "approval_trailers: 'Approved-by:' is not a trailer name (letters, digits and '-' only, "
	 "without ':')"},
	{"[gate]\napproval_trailers = Approved by\n", 2,
	 "approval_trailers: 'Approved by' is not a trailer name (letters, digits and '-' only, "
	 "without ':')"},

	/* checks across keys, at the line of the key that asks too much */
	{"[gate]\n\nsignature = ssh\nopenpgp_keys = k.asc\n", 3,
	 "signature = ssh needs allowed_signers (an SSH allowed-signers file)"},
	{"[gate]\nallowed_signers = s\nsignature = openpgp\n", 3,
	 "signature = openpgp needs openpgp_keys (a file of OpenPGP public keys)"},
	{"[gate]\nsignature = any\n", 2,
	 "signature = any needs allowed_signers, openpgp_keys or both"},
	{"[gate]\nsignature = none\n\n\napprovals = 2\n", 5,
	 "approvals = 2 needs approvers (the people who may approve)"},
	{"[gate]\napprovers = a@example.com, b@example.com\napprovals = 3\n", 3,
	 "approvals = 3, but only 2 approvers are listed, so the gate could never open"},
	{"[gate]\napproval_trailers =\n", 2, "approval_trailers: needs at least one trailer name"},

	/* [target] for kubevirt, [vsphere] */
	{"[target]\nvolumes = dv\n", 2, "volumes: expected datavolume or pvc, got 'dv'"},
	{"[target]\nvolumes = PVC\n", 2, "volumes: expected datavolume or pvc, got 'PVC'"},
	{"[target]\nkubeconfig =\n", 2, "kubeconfig: empty value"},
	{"[target]\ncontext =\n", 2, "context: empty value"},
	{"[vsphere]\nvddk_lib_dir =\n", 2, "vddk_lib_dir: empty value"},
	{"[target]\nworker_image =\n", 2, "worker_image: empty value"},
	{"[target]\ntransfer_address = ferry_host\n", 2,
	 "transfer_address: expected a host name or an IP address, got 'ferry_host'"},
	{"[target]\ntransfer_bind = ferry.example.com\n", 2,
	 "transfer_bind: expected an IPv4 or IPv6 address, got 'ferry.example.com'"},
	{"[target]\ntransfer_ports = 0\n", 2,
	 "transfer_ports: expected a port or a range LOW-HIGH of ports 1 to 65535, got '0'"},
	{"[target]\ntransfer_ports = 10909-10809\n", 2,
	 "transfer_ports: expected a port or a range LOW-HIGH of ports 1 to 65535, got "
	 "'10909-10809'"},
	{"[target]\ntransfer_ports = 10809-\n", 2,
	 "transfer_ports: expected a port or a range LOW-HIGH of ports 1 to 65535, got '10809-'"},
	{"[target]\ntransfer_ports = 70000\n", 2,
	 "transfer_ports: expected a port or a range LOW-HIGH of ports 1 to 65535, got '70000'"},
	{"[target]\nworker_image = quay.io/ferry ferry:1\n", 2,
	 "worker_image: an image reference has no blanks, got 'quay.io/ferry ferry:1'"},
	{"[target]\nworker_service_account = Ferry_Worker\n", 2,
	 "worker_service_account: 'Ferry_Worker' is not a valid name: name must consist of lower "
	 "case alphanumeric characters, '-' or '.', and each dot-separated part must start and "
	 "end with an alphanumeric character (uppercase letters are not allowed)"},
	{"[target]\nworker_cpu = lots\n", 2,
	 "worker_cpu: expected a Kubernetes quantity such as 500m or 2, got 'lots'"},
	{"[target]\nworker_cpu = 0\n", 2,
	 "worker_cpu: expected a Kubernetes quantity such as 500m or 2, got '0'"},
	{"[target]\nworker_cpu = -1\n", 2,
	 "worker_cpu: expected a Kubernetes quantity such as 500m or 2, got '-1'"},
	{"[target]\nworker_memory = 2GB\n", 2,
	 "worker_memory: expected a Kubernetes quantity such as 512Mi or 2Gi, got '2GB'"},
	{"[target]\nworker_node_selector = amd64\n", 2,
	 "worker_node_selector: expected LABEL=VALUE, got 'amd64'"},
	{"[target]\nworker_node_selector = a=b,,c=d\n", 2,
	 "worker_node_selector: empty entry (a comma with nothing before it)"},
	{"[target]\nworker_node_selector = a=b,\n  -bad=x\n", 3,
	 "worker_node_selector: '-bad' is not a label key ([PREFIX/]NAME, NAME at most 63 of A-Z "
	 "a-z 0-9 - _ . starting and ending alphanumeric)"},
	{"[target]\nworker_node_selector = =x\n", 2,
	 "worker_node_selector: '' is not a label key ([PREFIX/]NAME, NAME at most 63 of A-Z a-z "
	 "0-9 - _ . starting and ending alphanumeric)"},
	{"[target]\nworker_node_selector = zone=a b\n", 2,
	 "worker_node_selector: 'a b' is not a label value (at most 63 of A-Z a-z 0-9 - _ . "
	 "starting and ending alphanumeric)"},
	{"[target]\nworker_node_selector = zone=a,\n  zone = b\n", 3,
	 "worker_node_selector: label 'zone' is given twice"},
	{"[target]\nworker_node_selector = zone=a\n  worker_node_selector = zone=b\n", 3,
	 "duplicate key 'worker_node_selector' in [target] (first set on line 2)"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
		load_bad(bad_cases[i].text, bad_cases[i].line, bad_cases[i].msg);
}

/* Columns point at the key or at the bad part of the value. */
static void test_error_columns(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;
	char buf[FERRY_ERR_MSG_MAX + 64];

	(void)state;
	ferry_config_defaults(&c);
	assert_int_equal(
		ferry_config_load_string(&c, "t.ini", "[repository]\n  brnach = x\n", &err), -1);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.col, 3);
	ferry_err_format(&err, buf, sizeof buf);
	assert_string_equal(buf, "t.ini:2:3: unknown key 'brnach' in [repository]; did you mean "
				 "'branch'?");

	ferry_config_defaults(&c);
	assert_int_equal(ferry_config_load_string(&c, "t.ini",
						  "[gate]\napprovers = a@example.com, bob\n", &err),
			 -1);
	assert_int_equal(err.col, 28); /* 'bob' */

	/* a node selector entry: at the entry, or at its value */
	ferry_config_defaults(&c);
	assert_int_equal(
		ferry_config_load_string(&c, "t.ini",
					 "[target]\nworker_node_selector = a=b, zone=x y\n", &err),
		-1);
	assert_int_equal(err.col, 34); /* 'x y' */
	ferry_config_defaults(&c);
	assert_int_equal(ferry_config_load_string(&c, "t.ini",
						  "[target]\nworker_node_selector = a=b,\n"
						  "    nolabel\n",
						  &err),
			 -1);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.col, 5);

	ferry_config_defaults(&c);
	assert_int_equal(ferry_config_load_string(&c, "t.ini", "[daemon]\nlisten=h:0\n", &err), -1);
	assert_int_equal(err.col, 10); /* '0' */
}

/* inih's lines are 200 bytes; longer ones are refused, not cut. */
static void test_long_line(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;
	char text[1024];
	char comment[400];

	(void)state;
	ferry_config_defaults(&c);
	snprintf(text, sizeof text, "[repository]\nurl = /%0300d\n", 0);
	assert_int_equal(ferry_config_load_string(&c, "t.ini", text, &err), -1);
	assert_int_equal(err.code, FERRY_E_LIMIT);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "line too long"));
	assert_released(&c);

	/* A value that just fits, and a long comment, are fine. */
	memset(comment, '-', 350);
	comment[350] = '\0';
	snprintf(text, sizeof text, "# %s\n[repository]\nurl = /%0190d\n", comment, 0);
	load_ok(&c, text);
	assert_int_equal(strlen(c.repo.url), 191);
	ferry_config_release(&c);
}

/* ---- durations ------------------------------------------------------------ */

static const struct {
	const char *text;
	unsigned ms;	 /* 0: refused with msg */
	const char *msg; /* after "KEY: " */
} durations[] = {
	{"15s", 15000, NULL},
	{"500ms", 500, NULL},
	{"10m", 600000, NULL},
	{"1h", 3600000, NULL},
	{"1h30m", 5400000, NULL},
	{"1m30s", 90000, NULL},
	{"1s500ms", 1500, NULL},
	{"2h1m1s1ms", 7261001, NULL},
	{"90", 90000, NULL},
	{"1", 1000, NULL},
	{"007s", 7000, NULL},
	{"1ms", 1, NULL},
	{"4294967295ms", 4294967295u, NULL},
	{"4294967s", 4294967000u, NULL},
	{"1193h", 4294800000u, NULL},
	{"4294967296ms", 0, "'4294967296ms' is too long (at most 4294967295ms, about 49 days)"},
	{"4294968", 0, "'4294968' is too long (at most 4294967295ms, about 49 days)"},
	{"1194h", 0, "'1194h' is too long (at most 4294967295ms, about 49 days)"},
	{"1193h3m", 0, "'1193h3m' is too long (at most 4294967295ms, about 49 days)"},
	{"99999999999999999999999h", 0,
	 "'99999999999999999999999h' is too long (at most 4294967295ms, about 49 days)"},
	{"0", 0, "must be more than 0, got '0'"},
	{"0s", 0, "must be more than 0, got '0s'"},
	{"0h0m", 0, "must be more than 0, got '0h0m'"},
	{"-5s", 0, NULL},
	{"-5", 0, NULL},
	{"+5", 0, NULL},
	{"5x", 0, NULL},
	{"s", 0, NULL},
	{"h1", 0, NULL},
	{"1.5h", 0, NULL},
	{"1 h", 0, NULL},
	{"10S", 0, NULL},
	{"1h1h", 0, NULL},
	{"30m1h", 0, NULL},
	{"1ms1s", 0, NULL},
	{"1h30", 0, NULL},
	{"1d", 0, NULL},
	{"fast", 0, NULL},
	{"", 0, NULL},
};

static void test_durations(void **state)
{
	static const char *const keys[][2] = {{"repository", "status_interval"},
					      {"daemon", "poll_interval"}};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
			char *text = xasprintf("[%s]\n%s = %s\n", keys[k][0], keys[k][1],
					       durations[i].text);

			if (durations[i].ms) {
				struct ferry_config c;

				load_ok(&c, text);
				assert_int_equal(k ? c.daemon.poll_interval_ms
						   : c.repo.status_interval_ms,
						 durations[i].ms);
				ferry_config_release(&c);
			} else {
				char *msg =
					durations[i].msg
						? xasprintf("%s: %s", keys[k][1], durations[i].msg)
						: xasprintf("%s: expected a duration such as 15s, "
							    "500ms, 10m or 1h30m, or a number "
							    "of seconds; got '%s'",
							    keys[k][1], durations[i].text);

				load_bad(text, 2, msg);
				free(msg);
			}
			free(text);
		}
	}
}

/* ---- files and relative paths ------------------------------------------- */

/* tests/unit/data/config/ferry.ini has relative paths. */
static void check_fixture(const struct ferry_config *c, const char *dir)
{
	char *want;

	want = xasprintf("%s/../gitops", dir);
	assert_string_equal(c->repo.url, want);
	free(want);
	want = xasprintf("%s/certs/ca.pem", dir);
	assert_string_equal(c->repo.ca_file, want);
	free(want);
	want = xasprintf("%s/ssh/known_hosts", dir);
	assert_string_equal(c->repo.known_hosts, want);
	free(want);
	want = xasprintf("%s/state", dir);
	assert_string_equal(c->daemon.data_dir, want);
	free(want);
	want = xasprintf("%s/secrets", dir);
	assert_string_equal(c->secrets.dir, want);
	free(want);
	want = xasprintf("%s/allowed_signers", dir);
	assert_string_equal(c->gate.allowed_signers, want);
	free(want);
	/* absolute: unchanged */
	assert_string_equal(c->gate.openpgp_keys, "/etc/ferry/keys.asc");
	/* not a path: unchanged */
	assert_string_equal(c->repo.root, "clusters/prod");
	assert_string_equal(c->repo.credentials, "ferry/git");
}

static void test_load_file(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;
	char cwd[PATH_MAX], data[PATH_MAX];

	(void)state;
	ferry_config_defaults(&c);
	if (ferry_config_load(&c, DATA "/ferry.ini", &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	assert_string_equal(c.path, DATA "/ferry.ini");
	check_fixture(&c, DATA);
	ferry_config_release(&c);

	/* A relative file name: the paths become absolute all the same. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(FERRY_TEST_DATA), 0);
	assert_non_null(getcwd(data, sizeof data));
	ferry_config_defaults(&c);
	if (ferry_config_load(&c, "config/ferry.ini", &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	strcat(data, "/config");
	check_fixture(&c, data);
	ferry_config_release(&c);
	assert_int_equal(chdir("config"), 0);
	ferry_config_defaults(&c);
	if (ferry_config_load(&c, "ferry.ini", &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	check_fixture(&c, data);
	ferry_config_release(&c);
	assert_int_equal(chdir(cwd), 0);

	/* A missing file. */
	ferry_config_defaults(&c);
	assert_int_equal(ferry_config_load(&c, DATA "/missing.ini", &err), -1);
	assert_int_equal(err.code, FERRY_E_NOT_FOUND);
	assert_string_equal(err.file, DATA "/missing.ini");
	assert_int_equal(err.line, 0);
	assert_released(&c);

	/* A NUL byte is refused, not taken for the end of the line. */
	{
		char *dir = make_tmpdir();
		char *file = xasprintf("%s/nul.ini", dir);
		int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		static const char nul[] = "[repository]\nbranch = a\0b\n";

		assert_true(fd >= 0);
		assert_int_equal(write(fd, nul, sizeof nul - 1), (ssize_t)(sizeof nul - 1));
		close(fd);
		ferry_config_defaults(&c);
		assert_int_equal(ferry_config_load(&c, file, &err), -1);
		assert_int_equal(err.line, 2);
		assert_int_equal(err.col, 11);
		assert_string_equal(err.msg, "NUL byte in the file");
		assert_released(&c);
		free(file);
		rm_tree(dir);
	}

	/* An error in a file names the file. */
	ferry_config_defaults(&c);
	assert_int_equal(ferry_config_load(&c, DATA "/typo.ini", &err), -1);
	assert_string_equal(err.file, DATA "/typo.ini");
	assert_int_equal(err.line, 7);
	assert_string_equal(err.msg,
			    "unknown key 'brnach' in [repository]; did you mean 'branch'?");
	assert_released(&c);
}

/* kubeconfig and vddk_lib_dir are paths: relative ones are taken from the
 * file's directory; a second file's node selector replaces the first's. */
static void test_kubevirt_keys(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_config c;
	char *dir = make_tmpdir();
	char *file = xasprintf("%s/ferry.ini", dir);
	char *want;

	(void)state;
	write_file(file,
		   "[target]\ntype = kubevirt\nkubeconfig = kube/config\n"
		   "worker_node_selector = a=1, b=2\n[vsphere]\nvddk_lib_dir = vddk\n",
		   0644);
	ferry_config_defaults(&c);
	if (ferry_config_load(&c, file, &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	want = xasprintf("%s/kube/config", dir);
	assert_string_equal(c.target.kubeconfig, want);
	free(want);
	want = xasprintf("%s/vddk", dir);
	assert_string_equal(c.vsphere.vddk_lib_dir, want);
	free(want);
	assert_int_equal(c.target.nworker_node_selector, 2);
	assert_int_equal(ferry_config_load_string(&c, "second.ini",
						  "[target]\nworker_node_selector = c=3\n", &err),
			 0);
	assert_int_equal(c.target.nworker_node_selector, 1);
	assert_string_equal(c.target.worker_node_selector[0], "c=3");
	assert_int_equal(c.target.type, FERRY_TARGET_KUBEVIRT); /* kept from the first */
	ferry_config_release(&c);

	/* absolute paths are kept; load_string leaves relative ones alone */
	load_ok(&c, "[target]\nkubeconfig = /root/.kube/config\n[vsphere]\nvddk_lib_dir = vddk\n");
	assert_string_equal(c.target.kubeconfig, "/root/.kube/config");
	assert_string_equal(c.vsphere.vddk_lib_dir, "vddk");
	ferry_config_release(&c);
	unlink(file);
	free(file);
	rm_tree(dir);
}

/* A url is resolved when it is a relative local path, as git tells them. */
static void test_url_resolution(void **state)
{
	static const struct {
		const char *url;
		bool resolved;
	} cases[] = {
		{"gitops", true},
		{"../gitops.git", true},
		{"./a:b", true},
		{"/srv/git/gitops.git", false},
		{"file:///srv/git/gitops.git", false},
		{"https://git.example.com/gitops.git", false},
		{"ssh://git@git.example.com/gitops.git", false},
		{"git@github.com:example/gitops.git", false},
		{"github.com:example/gitops.git", false},
	};
	char *dir = make_tmpdir();
	char *file = xasprintf("%s/ferry.ini", dir);

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_config c;
		char *text = xasprintf("[repository]\nurl = %s\n", cases[i].url);
		char *want = cases[i].resolved ? xasprintf("%s/%s", dir, cases[i].url)
					       : xasprintf("%s", cases[i].url);

		write_file(file, text, 0644);
		ferry_config_defaults(&c);
		if (ferry_config_load(&c, file, &err) < 0)
			fail_msg("%s: %s", cases[i].url, err.msg);
		assert_string_equal(c.repo.url, want);
		ferry_config_release(&c);
		/* from a string: never changed */
		load_ok(&c, text);
		assert_string_equal(c.repo.url, cases[i].url);
		ferry_config_release(&c);
		free(want);
		free(text);
	}
	free(file);
	rm_tree(dir);
}

/* ---- the manual page -------------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Every key has its own heading under its section's heading in
 * ferry.ini(5), and the complete example there loads. */
static void test_man_page(void **state)
{
	static const char *const keys[][2] = {
		{"repository", "url"},
		{"repository", "branch"},
		{"repository", "root"},
		{"repository", "status_branch"},
		{"repository", "status_mode"},
		{"repository", "status_interval"},
		{"repository", "credentials"},
		{"repository", "committer"},
		{"repository", "proxy"},
		{"repository", "ca_file"},
		{"repository", "known_hosts"},
		{"daemon", "data_dir"},
		{"daemon", "poll_interval"},
		{"daemon", "listen"},
		{"daemon", "webhook_secret"},
		{"limits", "max_vm_inflight"},
		{"target", "type"},
		{"target", "dir"},
		{"target", "kubeconfig"},
		{"target", "context"},
		{"target", "volumes"},
		{"target", "worker_image"},
		{"target", "worker_service_account"},
		{"target", "worker_node_selector"},
		{"target", "worker_cpu"},
		{"target", "worker_memory"},
		{"vsphere", "vddk_lib_dir"},
		{"secrets", "dir"},
		{"gate", "signature"},
		{"gate", "allowed_signers"},
		{"gate", "openpgp_keys"},
		{"gate", "approvals"},
		{"gate", "approvers"},
		{"gate", "approval_trailers"},
	};
	char *doc = slurp(MAN_PAGE);
	const char *example, *end;
	struct ferry_config c;
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *sec = xasprintf("\n### [%s]\n", keys[i][0]);
		char *key = xasprintf("\n#### `%s`\n", keys[i][1]);
		const char *s = strstr(doc, sec);
		const char *next, *k;
		char *probe;

		if (!s)
			fail_msg("%s: no heading ### [%s]", MAN_PAGE, keys[i][0]);
		next = strstr(s + 1, "\n### ");
		k = strstr(s, key);
		if (!k || (next && k > next))
			fail_msg("%s: no heading #### `%s` under [%s]", MAN_PAGE, keys[i][1],
				 keys[i][0]);
		/* and the key is one the parser knows in that section */
		probe = xasprintf("[%s]\n%s = 1\n", keys[i][0], keys[i][1]);
		{
			struct ferry_err err = FERRY_ERR_INIT;

			ferry_config_defaults(&c);
			if (ferry_config_load_string(&c, "t.ini", probe, &err) < 0)
				assert_null(strstr(err.msg, "unknown key"));
			ferry_config_release(&c);
		}
		free(probe);
		free(sec);
		free(key);
	}

	example = strstr(doc, "\n## EXAMPLES\n");
	assert_non_null(example);
	example = strstr(example, "\n```ini\n");
	assert_non_null(example);
	example += strlen("\n```ini\n");
	end = strstr(example, "\n```\n");
	assert_non_null(end);
	text = xasprintf("%.*s\n", (int)(end - example), example);
	load_ok(&c, text);
	assert_non_null(c.repo.url);
	assert_int_equal(c.gate.signature, FERRY_SIG_SSH);
	assert_true(c.gate.approvals > 0);
	ferry_config_release(&c);
	free(text);

	/* the kubevirt example loads too */
	example = strstr(example, "\n```ini\n[target]\ntype = kubevirt\n");
	assert_non_null(example);
	example += strlen("\n```ini\n");
	end = strstr(example, "\n```\n");
	assert_non_null(end);
	text = xasprintf("%.*s\n", (int)(end - example), example);
	load_ok(&c, text);
	assert_int_equal(c.target.type, FERRY_TARGET_KUBEVIRT);
	assert_int_equal(c.target.nworker_node_selector, 2);
	assert_non_null(c.vsphere.vddk_lib_dir);
	ferry_config_release(&c);
	free(text);
	free(doc);
}

/* ---- secrets ---------------------------------------------------------------- */

/* Write <dir>/<ns>/<name>.ini with mode; returns its path (caller frees). */
static char *put_secret(const char *dir, const char *ns, const char *name, const char *text,
			mode_t mode)
{
	char *nsdir = xasprintf("%s/%s", dir, ns);
	char *path = xasprintf("%s/%s.ini", nsdir, name);

	if (mkdir(nsdir, 0700) < 0 && errno != EEXIST)
		fail_msg("%s: %s", nsdir, strerror(errno));
	write_file(path, text, mode);
	free(nsdir);
	return path;
}

static void assert_empty_secret(const struct ferry_secret_data *s)
{
	assert_null(s->path);
	assert_null(s->keys);
	assert_null(s->values);
	assert_int_equal(s->n, 0);
}

static const char good_secret[] = "# vCenter credentials\n"
				  "[secret]\n"
				  "user = administrator@vsphere.local\n"
				  "password = p=ss ; w0rd # not a comment\n"
				  "  thumbprint=AA:BB:CC\n"
				  "insecureSkipVerify = false\n"
				  "\n"
				  "; empty values are values\n"
				  "token =\n"
				  "url = https://vcenter.example.com/sdk?x=1&y=2\n";

static void test_secret_good(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_secret_data s;
	char *dir = make_tmpdir();
	char *path = put_secret(dir, "migration", "vcenter", good_secret, 0600);

	(void)state;
	if (ferry_secret_load(&s, dir, "migration/vcenter", &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	assert_string_equal(s.path, path);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.keys[0], "user");
	assert_string_equal(ferry_secret_get(&s, "user"), "administrator@vsphere.local");
	/* '=' and ';' and '#' in a value are kept; only the ends are trimmed */
	assert_string_equal(ferry_secret_get(&s, "password"), "p=ss ; w0rd # not a comment");
	assert_string_equal(ferry_secret_get(&s, "thumbprint"), "AA:BB:CC");
	assert_string_equal(ferry_secret_get(&s, "insecureSkipVerify"), "false");
	assert_string_equal(ferry_secret_get(&s, "token"), "");
	assert_string_equal(ferry_secret_get(&s, "url"), "https://vcenter.example.com/sdk?x=1&y=2");
	/* keys as written: case matters */
	assert_null(ferry_secret_get(&s, "User"));
	assert_null(ferry_secret_get(&s, "cacert"));
	ferry_secret_release(&s);
	assert_empty_secret(&s);
	ferry_secret_release(&s); /* twice is harmless */
	free(path);

	/* "NAME" alone is in namespace default; 0400 is fine too. */
	path = put_secret(dir, "default", "git", "[secret]\ntoken = ghp_x\n", 0400);
	assert_int_equal(ferry_secret_load(&s, dir, "git", &err), 0);
	assert_string_equal(s.path, path);
	assert_string_equal(ferry_secret_get(&s, "token"), "ghp_x");
	ferry_secret_release(&s);
	free(path);
	rm_tree(dir);
}

static void test_secret_pem(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_secret_data s;
	char *dir = make_tmpdir();
	char *path;

	(void)state;
	/* A PEM value runs to its -----END line, and on through the blocks that
	 * follow it directly; indentation is dropped. */
	path = put_secret(dir, "ns", "ca",
			  "[secret]\n"
			  "cacert = -----BEGIN CERTIFICATE-----\n"
			  "  MIIBszCCAVmgAwIBAgIU\n"
			  "  b2RlPQ==\n"
			  "  -----END CERTIFICATE-----\n"
			  "  -----BEGIN CERTIFICATE-----\n"
			  "MIIC\n"
			  "-----END CERTIFICATE-----\n"
			  "user = admin\n"
			  "key = -----BEGIN X----- abc -----END X-----\n"
			  "password = secret\n",
			  0600);
	if (ferry_secret_load(&s, dir, "ns/ca", &err) < 0)
		fail_msg("%s:%d: %s", err.file, err.line, err.msg);
	assert_int_equal(s.n, 4);
	assert_string_equal(ferry_secret_get(&s, "cacert"), "-----BEGIN CERTIFICATE-----\n"
							    "MIIBszCCAVmgAwIBAgIU\n"
							    "b2RlPQ==\n"
							    "-----END CERTIFICATE-----\n"
							    "-----BEGIN CERTIFICATE-----\n"
							    "MIIC\n"
							    "-----END CERTIFICATE-----");
	assert_string_equal(ferry_secret_get(&s, "user"), "admin");
	assert_string_equal(ferry_secret_get(&s, "key"), "-----BEGIN X----- abc -----END X-----");
	assert_string_equal(ferry_secret_get(&s, "password"), "secret");
	ferry_secret_release(&s);
	free(path);

	/* The value may start on the next line. */
	path = put_secret(dir, "ns", "ca2",
			  "[secret]\ncacert =\n-----BEGIN C-----\nAAAA\n-----END C-----\n", 0600);
	assert_int_equal(ferry_secret_load(&s, dir, "ns/ca2", &err), 0);
	assert_string_equal(ferry_secret_get(&s, "cacert"),
			    "-----BEGIN C-----\nAAAA\n-----END C-----");
	ferry_secret_release(&s);
	free(path);

	/* No -----END: refused at the line that began the block. */
	path = put_secret(dir, "ns", "ca3",
			  "[secret]\nuser = a\ncacert = -----BEGIN C-----\nAAAA\nuser2 = b\n",
			  0600);
	assert_int_equal(ferry_secret_load(&s, dir, "ns/ca3", &err), -1);
	assert_int_equal(err.code, FERRY_E_INVALID);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "the value of 'cacert' starts a PEM block (-----BEGIN) that "
				     "has no -----END line");
	assert_empty_secret(&s);
	free(path);
	rm_tree(dir);
}

/* Loading ref from dir fails with code; the message contains part (if not
 * NULL) and never the word "hunter2" (every test value is that). */
static void secret_bad(const char *dir, const char *ref, enum ferry_errcode code, int line,
		       const char *part)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct ferry_secret_data s;

	memset(&s, 0x5a, sizeof s); /* the load must not read what was there */
	if (ferry_secret_load(&s, dir, ref, &err) == 0)
		fail_msg("secret %s loaded", ref);
	if (err.code != code || err.line != line || (part && !strstr(err.msg, part)))
		fail_msg("secret %s: got %s line %d: %s\nwant %s line %d: ...%s...", ref,
			 ferry_errcode_name(err.code), err.line, err.msg, ferry_errcode_name(code),
			 line, part ? part : "");
	assert_null(strstr(err.msg, "hunter2"));
	assert_empty_secret(&s);
}

static void test_secret_files(void **state)
{
	char *dir = make_tmpdir();
	char *path, *msg, *target, *link;

	(void)state;
	/* group or others may read or write: refused, with the fix */
	path = put_secret(dir, "ns", "open", "[secret]\npassword = hunter2\n", 0644);
	msg = xasprintf("group or others may access this secret file (mode 0644); run `chmod 600 "
			"%s`",
			path);
	secret_bad(dir, "ns/open", FERRY_E_INVALID, 0, msg);
	free(msg);
	free(path);
	path = put_secret(dir, "ns", "group", "[secret]\npassword = hunter2\n", 0640);
	secret_bad(dir, "ns/group", FERRY_E_INVALID, 0, "(mode 0640); run `chmod 600 ");
	free(path);
	path = put_secret(dir, "ns", "gw", "[secret]\npassword = hunter2\n", 0620);
	secret_bad(dir, "ns/gw", FERRY_E_INVALID, 0, "(mode 0620)");
	free(path);

	/* a symbolic link, even to a good file, is refused */
	target = put_secret(dir, "ns", "target", "[secret]\npassword = hunter2\n", 0600);
	link = xasprintf("%s/ns/link.ini", dir);
	assert_int_equal(symlink(target, link), 0);
	secret_bad(dir, "ns/link", FERRY_E_INVALID, 0, "is a symbolic link");
	free(link);
	link = xasprintf("%s/ns/dangling.ini", dir);
	assert_int_equal(symlink("/nonexistent/ferry", link), 0);
	secret_bad(dir, "ns/dangling", FERRY_E_INVALID, 0, "is a symbolic link");
	free(link);
	free(target);

	/* not a regular file */
	path = xasprintf("%s/ns/adir.ini", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	secret_bad(dir, "ns/adir", FERRY_E_INVALID, 0, "is not a regular file");
	free(path);
	path = xasprintf("%s/ns/fifo.ini", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	secret_bad(dir, "ns/fifo", FERRY_E_INVALID, 0, "is not a regular file");
	free(path);

	/* missing */
	secret_bad(dir, "ns/missing", FERRY_E_NOT_FOUND, 0, "secret 'ns/missing' not found");
	secret_bad(dir, "nons/missing", FERRY_E_NOT_FOUND, 0, NULL);
	secret_bad(dir, "missing", FERRY_E_NOT_FOUND, 0, "secret 'missing' not found");
	{
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_secret_data s;
		char *want = xasprintf("%s/default/missing.ini", dir);

		assert_int_equal(ferry_secret_load(&s, dir, "missing", &err), -1);
		assert_string_equal(err.file, want);
		free(want);
	}
	rm_tree(dir);
}

static void test_secret_refs(void **state)
{
	static const struct {
		const char *ref;
		const char *part;
	} bad[] = {
		{"../etc/passwd", "expected NAMESPACE/NAME or NAME"},
		{"ns/../../etc/passwd", "expected NAMESPACE/NAME or NAME"},
		{"..", "name must consist of"},
		{"../x", "namespace must consist of"},
		{"ns/..", "name must consist of"},
		{"ns/.hidden", "name must consist of"},
		{"/etc/passwd", "expected NAMESPACE/NAME or NAME"},
		{"/passwd", "namespace must not be empty"},
		{"ns/", "name must not be empty"},
		{"", "name must not be empty"},
		{"NS/name", "namespace must consist of lower case alphanumeric characters or '-', "
			    "and must start and end with an alphanumeric character (uppercase "
			    "letters are not allowed)"},
		{"ns/my.secret", "name must consist of"},
		{"ns/name.ini", "name must consist of"},
		{"ns/a b", "name must consist of"},
		{"ns\\x/y", "namespace must consist of"},
		{"ns/0123456789012345678901234567890123456789012345678901234567890123",
		 "name must be at most 63 characters"},
	};
	char *dir = make_tmpdir();
	char *path;

	(void)state;
	/* Plant a file where a traversal would land. */
	path = put_secret(dir, "ns", "x", "[secret]\npassword = hunter2\n", 0600);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ferry_err err = FERRY_ERR_INIT;
		char *want = xasprintf("secret reference '%s': ", bad[i].ref);

		secret_bad(dir, bad[i].ref, FERRY_E_INVALID, 0, bad[i].part);
		assert_int_equal(ferry_secret_ref_check(bad[i].ref, &err), -1);
		assert_int_equal(err.code, FERRY_E_INVALID);
		assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
		free(want);
	}
	{
		struct ferry_err err = FERRY_ERR_INIT;

		assert_int_equal(ferry_secret_ref_check("ns/x", &err), 0);
		assert_int_equal(ferry_secret_ref_check("x", &err), 0);
		assert_int_equal(ferry_secret_ref_check("a-1/b-2", &err), 0);
	}
	free(path);
	rm_tree(dir);
}

static void test_secret_syntax(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} bad[] = {
		{"[secret]\nuser = a\n[other]\npassword = hunter2\n", 3,
		 "unknown section [other]; a secret file has one section, [secret]"},
		{"password = hunter2\n[secret]\n", 1, "key 'password' is outside [secret]"},
		{"[secret]\npassword = hunter2\nuser = a\npassword = hunter2\n", 4,
		 "duplicate key 'password' (first on line 2)"},
		{"[secret]\nhunter2\n", 2, "syntax error (expected 'key = value' or '[secret]')"},
		{"[secret]\n= hunter2\n", 2, "syntax error (no key before '=')"},
		{"[secret\npassword = hunter2\n", 1,
		 "syntax error (expected 'key = value' or '[secret]')"},
		{"[secret] hunter2\n", 1, "syntax error (expected 'key = value' or '[secret]')"},
		{"[secret]\n  password = hunter2\n\tuser = a\n  cacert = -----BEGIN hunter2\n", 4,
		 "the value of 'cacert' starts a PEM block (-----BEGIN) that has no -----END line"},
	};
	char *dir = make_tmpdir();

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *name = xasprintf("s%zu", i);
		char *ref = xasprintf("ns/%s", name);
		char *path = put_secret(dir, "ns", name, bad[i].text, 0600);
		struct ferry_err err = FERRY_ERR_INIT;
		struct ferry_secret_data s;

		secret_bad(dir, ref, FERRY_E_INVALID, bad[i].line, bad[i].msg);
		assert_int_equal(ferry_secret_load(&s, dir, ref, &err), -1);
		assert_string_equal(err.file, path);
		assert_string_equal(err.msg, bad[i].msg);
		free(path);
		free(ref);
		free(name);
	}
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),       cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_values),	       cmocka_unit_test(test_lists),
		cmocka_unit_test(test_overlay),	       cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_columns),  cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_durations),      cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_url_resolution), cmocka_unit_test(test_kubevirt_keys),
		cmocka_unit_test(test_man_page),       cmocka_unit_test(test_secret_good),
		cmocka_unit_test(test_secret_pem),     cmocka_unit_test(test_secret_files),
		cmocka_unit_test(test_secret_refs),    cmocka_unit_test(test_secret_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
