/* The `vsphere` source driver: vCenter or ESXi over the vim25 SOAP API
 * (docs/ferry-provider-vsphere.7.md is the user's page).
 *
 * Configuration (struct ferry_source_config):
 *   url       https://HOST[:PORT][/sdk]
 *   secret    user, password (required); cacert (PEM), thumbprint (SHA-1 or
 *             SHA-256 of the server's certificate), insecureSkipVerify
 *             ("true"); at most one of them decides how TLS is checked:
 *             a thumbprint pins the certificate (the CA is then not
 *             checked), insecureSkipVerify checks nothing (a warning is
 *             logged), cacert replaces the system CAs, else the system CAs.
 *   settings  sdkEndpoint ("vcenter" or "esxi": checked against what the
 *             server says it is), vddkLibDir (a directory holding VDDK's
 *             lib64/libvixDiskLib.so*), or vddkInitImage when it is an
 *             absolute path (an image name is of no use to a local data
 *             plane: a warning, and disks go over HTTPS).
 *   hosts     Host routes: id (moref) or name of an ESXi host, ip_address,
 *             secret user, password (required), thumbprint (SHA-1 or
 *             SHA-256; without it, vCenter's summary.config.sslThumbprint
 *             of the host, and without that the disk is refused).
 *
 * VM ids are managed object references ("vm-57"), as in Forklift's
 * inventory: unique within the vCenter, stable for the VM's life in it,
 * what Plans name in `vms[].id`. A VM's host (the budget key) is its
 * ESXi host's moref ("host-21"); host_name is the host's name. Templates
 * are left out of the inventory.
 *
 * Inventory: the first call walks everything (a ContainerView of the root
 * folder, RetrievePropertiesEx paged with ContinueRetrievePropertiesEx),
 * then creates a property filter over the same view; later calls apply
 * what WaitForUpdatesEx (maxWaitSeconds 0: never blocks) reports since
 * the last call. Any error there (a new session after a re-login, a
 * filter that is gone, a fault) falls back to a full walk.
 *
 * Disks are served read-only by an nbdkit the driver starts on a Unix
 * socket in the work directory (fork/exec, no shell; vs-PID-N.sock, .pid,
 * .log; stopped by disk_close or close, reaped by the next open when a
 * killed ferry left it; SIGTERM when the thread that started it exits):
 *  - without VDDK, `nbdkit curl` of the datastore's HTTPS file access
 *    (https://HOST/folder/PATH-flat.vmdk?dcPath=DC&dsName=DS), the session
 *    cookie handed over on a pipe (cookie=-FD: never on the command line),
 *    cainfo= for a cacert, sslverify=false when the certificate is pinned
 *    (the pin was checked by this session's own handshakes) or
 *    insecureSkipVerify is set; truncate= pads a short file to the disk's
 *    capacity. A disk with a parent (a snapshot's delta) cannot be read
 *    this way (FERRY_E_UNSUPPORTED), except through the snapshot itself
 *    (disk_open_snapshot reads the files the snapshot froze).
 *  - with VDDK, `nbdkit vddk` (server, user, password on a pipe, thumbprint,
 *    vm=moref=, snapshot=, file=, libdir=) under the cow, cacheextents and
 *    retry filters, one connection, as virt-v2v runs it.
 * A VM on a host that has a Host route is read from that host instead
 * (https://IP:443, a session of its own with the Host's credentials, the
 * certificate pinned): /folder with dcPath=ha-datacenter and that session's
 * cookie, or VDDK with server=IP, the Host's user and password, the SHA-1
 * the session checked, and the VM's and snapshot's morefs on the host
 * (FindByUuid of the VM's BIOS UUID; the snapshot of the same name).
 *
 * Not thread-safe: one thread at a time per source.
 */
#ifndef FERRY_PROVIDERS_VSPHERE_VSPHERE_H
#define FERRY_PROVIDERS_VSPHERE_VSPHERE_H

#include "providers/driver.h"

extern const struct ferry_source_ops ferry_vsphere_source_ops;

/* What a source did so far (for tests and metrics). */
struct ferry_vsphere_stats {
	unsigned long calls;   /* SOAP requests sent */
	unsigned logins;       /* Login calls that succeeded (1 + re-logins) */
	unsigned walks;	       /* full inventory walks */
	unsigned updates;      /* inventory calls answered from WaitForUpdatesEx */
	unsigned last_changes; /* object updates the last such call applied */
};

void ferry_vsphere_stats(const struct ferry_source *s, struct ferry_vsphere_stats *out);

/* The nbdkit command line for a disk through VDDK (exposed for tests).
 * Every string is borrowed; password_fd is the descriptor nbdkit reads the
 * password from. Returns a NULL-terminated vector the caller frees with
 * ferry_vsphere_argv_free(). */
struct ferry_vsphere_vddk {
	const char *nbdkit; /* the program's path */
	const char *socket, *pidfile;
	const char *server; /* vCenter or ESXi host */
	unsigned port;	    /* 0 or 443: not passed */
	const char *user;
	int password_fd;
	const char *thumbprint; /* SHA-1, AA:BB:... */
	const char *vm_moref;
	const char *snapshot; /* moref, or NULL */
	const char *file;     /* "[ds] path/disk.vmdk" */
	const char *libdir;
	const char *config; /* vddkConfig file, or NULL */
};

char **ferry_vsphere_vddk_argv(const struct ferry_vsphere_vddk *v);

/* The nbdkit command line for a disk through /folder (HTTPS). */
struct ferry_vsphere_curl {
	const char *nbdkit;
	const char *socket, *pidfile;
	const char *url;
	int cookie_fd;	    /* -1: no cookie */
	const char *cainfo; /* a CA file, or NULL */
	bool no_verify;	    /* sslverify=false */
	uint64_t size;	    /* truncate= (the disk's capacity); 0: none */
};

char **ferry_vsphere_curl_argv(const struct ferry_vsphere_curl *c);
void ferry_vsphere_argv_free(char **argv);

/* https://HOST:PORT/folder/PATH?dcPath=DC&dsName=DS for the data of disk
 * backing file "[DS] PATH" (X.vmdk read as X-flat.vmdk when flat), each
 * part percent-encoded; NULL when file is not "[DS] PATH". Caller frees. */
char *ferry_vsphere_folder_url(const char *base, const char *dc_path, const char *file, bool flat);

#endif
