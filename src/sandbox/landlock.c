/*
** Landlock in a worker (sandbox_int.h): after this, the process can reach
** files only beneath the directories it was given, whatever path or
** directory fd it uses, ".." included, and whatever its uid may do.
**
** Why on top of chroot, a dropped uid and seccomp: the filter cannot look
** at paths, so "openat(scratch_fd, "../..")" is allowed, and a chroot does
** not stop ".." walked from a directory fd opened outside it. A dropped
** uid (root servers) makes that walk harmless where file permissions say
** so; a server that is not root has no uid to drop to, and its workers
** could otherwise read what it can: the database, other tenants' module
** blobs. With Landlock they see only the scratch directories.
**
** The kernel ABI is used through its numbers (the headers of the build
** machine may predate the rights named here). Rights handled, by ABI:
** 1 the 13 basic file rights, 2 REFER (rename and link across
** directories; with ABI 1 those would always fail, so ABI 1 is not used),
** 3 TRUNCATE, 4 TCP bind/connect (denied: nothing of the kind is needed),
** 5 device ioctls (denied), 6 scoping of abstract unix sockets and
** signals to the worker's own domain.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

#define LL_CREATE_VERSION 1u          /* LANDLOCK_CREATE_RULESET_VERSION */
#define LL_RULE_PATH_BENEATH 1

/* access rights on files (LANDLOCK_ACCESS_FS_*) */
#define FS_EXECUTE (1ull << 0)
#define FS_WRITE_FILE (1ull << 1)
#define FS_READ_FILE (1ull << 2)
#define FS_READ_DIR (1ull << 3)
#define FS_REMOVE_DIR (1ull << 4)
#define FS_REMOVE_FILE (1ull << 5)
#define FS_MAKE_CHAR (1ull << 6)
#define FS_MAKE_DIR (1ull << 7)
#define FS_MAKE_REG (1ull << 8)
#define FS_MAKE_SOCK (1ull << 9)
#define FS_MAKE_FIFO (1ull << 10)
#define FS_MAKE_BLOCK (1ull << 11)
#define FS_MAKE_SYM (1ull << 12)
#define FS_REFER (1ull << 13)         /* ABI 2 */
#define FS_TRUNCATE (1ull << 14)      /* ABI 3 */
#define FS_IOCTL_DEV (1ull << 15)     /* ABI 5 */
#define NET_BIND_TCP (1ull << 0)      /* ABI 4 */
#define NET_CONNECT_TCP (1ull << 1)
#define SCOPE_ABSTRACT_UNIX (1ull << 0)   /* ABI 6 */
#define SCOPE_SIGNAL (1ull << 1)

/* struct landlock_ruleset_attr; its size tells the kernel which fields
** the caller knows. */
typedef struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
} ll_ruleset_attr;

typedef struct __attribute__((packed)) ll_path_beneath {
  uint64_t allowed_access;
  int32_t parent_fd;
} ll_path_beneath;

int wgs_landlock_abi(void) {
  long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);
  return v < 0 ? 0 : (int)v;
}

int wgs_landlock_restrict(const int *dirs, size_t ndirs, char *why,
                          size_t whysize) {
  int abi = wgs_landlock_abi();
  if (abi < 2) return 0;
  uint64_t fs = ((FS_MAKE_SYM << 1) - 1) | FS_REFER;
  if (abi >= 3) fs |= FS_TRUNCATE;
  if (abi >= 5) fs |= FS_IOCTL_DEV;
  ll_ruleset_attr attr = {fs, 0, 0};
  size_t size = sizeof attr.handled_access_fs;
  if (abi >= 4) {
    attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
    size += sizeof attr.handled_access_net;
  }
  if (abi >= 6) {
    attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
    size += sizeof attr.scoped;
  }
  int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0u);
  if (rs < 0) {
    snprintf(why, whysize, "landlock_create_ruleset: %s", strerror(errno));
    return -1;
  }
  /* what a guest's WASI calls need in its directories: no execution, no
  ** device, socket or fifo nodes, no device ioctls */
  uint64_t allowed = fs & ~(FS_EXECUTE | FS_MAKE_CHAR | FS_MAKE_BLOCK |
                            FS_MAKE_SOCK | FS_MAKE_FIFO | FS_IOCTL_DEV);
  for (size_t i = 0; i < ndirs; i++) {
    ll_path_beneath pb = {allowed, dirs[i]};
    if (syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0u)) {
      snprintf(why, whysize, "landlock_add_rule: %s", strerror(errno));
      close(rs);
      return -1;
    }
  }
  /* needs no_new_privs (or CAP_SYS_ADMIN): the caller has set it */
  if (syscall(SYS_landlock_restrict_self, rs, 0u)) {
    snprintf(why, whysize, "landlock_restrict_self: %s", strerror(errno));
    close(rs);
    return -1;
  }
  close(rs);
  return 1;
}
