/* The `ova` source driver: a directory of .ova archives and extracted OVF
 * packages, scanned as Forklift scans its NFS share (.ova files in the root
 * and first-level folders, .ovf files down to second-level folders, one
 * .ovf per folder). The provider URL is file:///path or a plain path; an
 * NFS export (server:/path) must be mounted first.
 *
 * VM ids are UUIDs (version 8) derived from the SHA-256 of the .ova/.ovf
 * path inside the share and the VirtualSystem's ovf:id: the same on every
 * scan and every host that mounts the share.
 *
 * Disks are served read-only by a qemu-nbd the driver starts (fork/exec, no
 * shell) on a Unix socket in the work directory:
 *   qemu-nbd --read-only --persistent --shared=0 --socket=WORK/ova-PID-N.sock -- \
 *     'json:{"driver":"vmdk","backing":null,"file":{"driver":"raw","offset":O,
 *            "size":S,"file":{"driver":"file","filename":"X.ova","locking":"off"}}}'
 * (the raw node is the byte range of the disk's member of the .ova; raw
 * disks are that node alone; a Disk without a file is null-co of its
 * capacity). Disks that need another file (VMDK descriptors and delta
 * disks, qcow2 with a backing or data file) are refused. The driver waits
 * for the NBD handshake and reports the size the server exports;
 * disk_close, and close for whatever is still open, stop and reap the
 * server and remove its socket. A server also gets SIGTERM when the thread
 * that started it exits (PR_SET_PDEATHSIG), so that none outlives ferry:
 * call disk_open and disk_close from a thread that lives until then.
 */
#ifndef FERRY_PROVIDERS_OVA_OVA_H
#define FERRY_PROVIDERS_OVA_OVA_H

#include "providers/driver.h"

extern const struct ferry_source_ops ferry_ova_source_ops;

#endif
