/* ferry.ini: the daemon's and CLI's configuration (inih).
 *
 * Every key is documented in docs/ferry.ini.5.md. Unknown sections and keys
 * are errors that name the file and line (and suggest the nearest key).
 * Strings are owned by the struct; NULL means "not set" where no default
 * applies.
 */
#ifndef FERRY_RECONCILER_CONFIG_H
#define FERRY_RECONCILER_CONFIG_H

#include "common/err.h"

#include <stddef.h>

enum ferry_status_mode {
	FERRY_STATUS_BRANCH, /* status/ on its own branch (default ferry/status) */
	FERRY_STATUS_PATH,   /* status/ on the watched branch */
};

enum ferry_sig_require {
	FERRY_SIG_NONE,	   /* no signature required (default) */
	FERRY_SIG_ANY,	   /* an SSH or an OpenPGP signature from an allowed signer */
	FERRY_SIG_SSH,	   /* an SSH signature (gpg.format=ssh) */
	FERRY_SIG_OPENPGP, /* an OpenPGP signature */
};

enum ferry_target_type {
	FERRY_TARGET_LOCAL,    /* disks and manifests in a directory */
	FERRY_TARGET_KUBEVIRT, /* a Kubernetes cluster with KubeVirt and CDI */
};

struct ferry_provider_limit {
	char *provider; /* "namespace/name" */
	unsigned disks; /* its per-host budget */
};

struct ferry_config {
	char *path; /* the file read, or "<string>" */
	struct {
		char *url;    /* required: file://, path, git://, http(s)://, ssh://, scp-like */
		char *branch; /* "main" */
		char *root;   /* "" = repository root; no leading or trailing slash */
		char *status_branch; /* "ferry/status" */
		enum ferry_status_mode status_mode;
		unsigned status_interval_ms; /* 10000 */
		char *credentials;	     /* "NAMESPACE/NAME" of a secret, or NULL */
		char *committer_name;	     /* "ferry" */
		char *committer_email;	     /* "ferry@localhost" */
		char *proxy;		     /* proxy URL, or NULL (environment) */
		char *ca_file;		     /* CA bundle for https, or NULL (system) */
		char *known_hosts; /* SSH known_hosts file, or NULL (~/.ssh/known_hosts) */
	} repo;
	struct {
		char *data_dir;		   /* "/var/lib/ferry" */
		unsigned poll_interval_ms; /* 15000 */
		char *listen;		   /* "127.0.0.1:8080" */
		char *webhook_secret;	   /* "NAMESPACE/NAME" (key token), or NULL */
	} daemon;
	struct {
		unsigned max_vm_inflight; /* disks copied at once per source host: 20 */
		/* warm: how long a precopy round waits after the last before it
		 * takes the next snapshot (Forklift's controller_precopy_interval) */
		unsigned precopy_interval_ms; /* 60 min */
		/* how long a guest may take to shut down before the source VM is
		 * powered off */
		unsigned guest_shutdown_ms; /* 5 min */
		struct ferry_provider_limit *providers;
		size_t nproviders;
	} limits;
	struct {
		enum ferry_target_type type; /* local */
		char *dir;		     /* local: output directory; NULL: DATA_DIR/target */
		/* kubevirt (see struct ferry_target_config); NULL: not set */
		char *kubeconfig, *context;
		char *volumes; /* "datavolume" or "pvc"; NULL: datavolume */
		char *worker_image, *worker_service_account;
		char **worker_node_selector; /* "key=value" each */
		size_t nworker_node_selector;
		char *worker_cpu, *worker_memory;
		/* where transfer Jobs reach the relays that serve source disks:
		 * the address they connect to (NULL: $POD_IP, else none), the
		 * local address relays listen on (NULL: transfer_address when it
		 * is an IP address, else all), the ports they take (0: any) */
		char *transfer_address, *transfer_bind;
		unsigned transfer_port_min, transfer_port_max;
	} target;
	struct {
		char *vddk_lib_dir; /* VDDK's directory (holds lib64/), or NULL: read over HTTPS */
	} vsphere;
	struct {
		char *dir; /* "/etc/ferry/secrets" */
	} secrets;
	struct {
		enum ferry_sig_require signature;
		char *allowed_signers; /* SSH allowed-signers file, or NULL */
		char *openpgp_keys;    /* armored OpenPGP public keys file, or NULL */
		unsigned approvals;    /* approvals required; 0 = none */
		char **approvers;      /* names/emails allowed to approve */
		size_t napprovers;
		char **approval_trailers; /* default {"Approved-by", "Reviewed-by"} */
		size_t ntrailers;
	} gate;
};

/* Fill c with every default (no url). */
void ferry_config_defaults(struct ferry_config *c);

/* Read path over the defaults. Relative paths inside the file
 * (data_dir, secrets dir, ca_file, ...) are resolved against the file's
 * directory. On error c is released and err says FILE:LINE: what.
 * c holds defaults (ferry_config_defaults), an earlier load (the file's keys
 * replace its values), or all zeros; whatever is unset gets its default.
 * repo.url may stay NULL: commands that need it check. */
int ferry_config_load(struct ferry_config *c, const char *path, struct ferry_err *err);

/* The same from a string (name used in messages; relative paths resolve
 * against the current directory). */
int ferry_config_load_string(struct ferry_config *c, const char *name, const char *text,
			     struct ferry_err *err);

void ferry_config_release(struct ferry_config *c);

#endif
