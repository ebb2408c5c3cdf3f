/*
** The worker's system call allowlist (libseccomp). Anything not listed
** kills the whole worker process (SECCOMP_RET_KILL_PROCESS); the server
** sees it die by SIGSYS, answers that request 500 and spawns a new one.
**
** The list is what the interpreter, WASI and the worker loop use after
** start-up, taken from strace of workers running the WASI test programs
** and the integration suite:
**   - I/O on fds the worker already holds: read/write and their vector and
**     positional forms, lseek, fstat, getdents64, ftruncate, fallocate,
**     fsync/fdatasync, fcntl, close, dup; recvmsg/sendmsg on its socket;
**     ioctl(FIONREAD) only (poll_oneoff on a host stdin)
**   - paths only relative to a directory fd: openat, newfstatat, statx,
**     readlinkat, mkdirat, unlinkat, linkat, symlinkat, renameat(2),
**     utimensat, faccessat(2) with the directory fd argument(s) not
**     AT_FDCWD (so no absolute or cwd-relative path through AT_FDCWD);
**     openat2 (its resolve flags sit in a struct seccomp cannot read; the
**     worker's root is an empty directory when chroot is available)
**   - memory: mmap and mprotect without PROT_EXEC, munmap, mremap,
**     madvise, brk; mincore (src/wasm/mapcache.c: which pages of a
**     released linear memory to zero)
**   - time and threads: clock_gettime/clock_getres/clock_nanosleep,
**     nanosleep, gettimeofday, futex, sched_yield, ppoll/poll, getrandom,
**     rt_sigreturn, rt_sigprocmask, getrusage, exit, exit_group
**   - clone only with CLONE_THREAD (threads, never processes); clone3
**     answers ENOSYS so that glibc falls back to clone
** Killed, for example: open (any), openat/stat of AT_FDCWD, socket,
** connect, execve(at), ptrace, fork/vfork/clone of a process, mount,
** kill, prctl, setuid, any other ioctl, bpf, keyctl, unshare, chroot.
**
** Under WG_SANITIZE the sanitizer runtime needs a few more (sigaltstack,
** prctl, getpid, gettid, sched_getaffinity, readlink, rt_sigaction,...);
** they are added there only. Its reports open /proc/self/maps, which
** stays forbidden: a sanitizer report in a worker shows as SIGSYS.
*/
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "sandbox/sandbox_int.h"

#define ALLOW(name) rule(ctx, SCMP_SYS(name), #name, 0, NULL)

static int rule(scmp_filter_ctx ctx, int nr, const char *name, unsigned n,
                const struct scmp_arg_cmp *a) {
  int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);
  /* a name this architecture lacks is not an error */
  if (r == -EDOM || r == -EFAULT) return 0;
  if (r) fprintf(stderr, "wasmgate worker: seccomp rule %s: %d\n", name, r);
  return r;
}

/* Allows a *at call whose directory fd arguments (at indexes a, b; b < 0
** for one) are not AT_FDCWD. */
static int at_rule(scmp_filter_ctx ctx, int nr, const char *name, int a,
                   int b) {
  /* fd arguments are ints: compare their low 32 bits only */
  struct scmp_arg_cmp c[2] = {
      SCMP_CMP32((unsigned)a, SCMP_CMP_NE, (uint32_t)AT_FDCWD),
      SCMP_CMP32((unsigned)(b < 0 ? 0 : b), SCMP_CMP_NE, (uint32_t)AT_FDCWD),
  };
  return rule(ctx, nr, name, b < 0 ? 1 : 2, c);
}

#define AT(name, a, b) at_rule(ctx, SCMP_SYS(name), #name, a, b)

wg_err wgs_seccomp_install(char *why, size_t whysize) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (!ctx) {
    snprintf(why, whysize, "seccomp_init failed");
    return WG_ENOMEM;
  }
  /* a binary tree of syscall numbers instead of a linear scan */
  int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) ? 0 : 0;
  /* I/O on held fds */
  r |= ALLOW(read) | ALLOW(write) | ALLOW(readv) | ALLOW(writev);
  r |= ALLOW(pread64) | ALLOW(pwrite64) | ALLOW(preadv) | ALLOW(pwritev);
  r |= ALLOW(preadv2) | ALLOW(pwritev2) | ALLOW(lseek) | ALLOW(fstat);
  r |= ALLOW(getdents64) | ALLOW(ftruncate) | ALLOW(fallocate);
  r |= ALLOW(fsync) | ALLOW(fdatasync) | ALLOW(fcntl) | ALLOW(close);
  r |= ALLOW(dup) | ALLOW(recvmsg) | ALLOW(sendmsg) | ALLOW(recvfrom);
  r |= ALLOW(sendto) | ALLOW(fadvise64) | ALLOW(flock);
  /* poll_oneoff asks how many bytes a readable host fd holds (a host
  ** stdin, `wasmgate run --isolation process`); no other ioctl */
  struct scmp_arg_cmp fionread = SCMP_CMP(1, SCMP_CMP_EQ, FIONREAD);
  r |= rule(ctx, SCMP_SYS(ioctl), "ioctl", 1, &fionread);
  /* paths beneath directory fds */
  r |= AT(openat, 0, -1) | AT(newfstatat, 0, -1) | AT(statx, 0, -1);
  r |= AT(readlinkat, 0, -1) | AT(mkdirat, 0, -1) | AT(unlinkat, 0, -1);
  r |= AT(linkat, 0, 2) | AT(symlinkat, 1, -1) | AT(renameat, 0, 2);
  r |= AT(renameat2, 0, 2) | AT(utimensat, 0, -1) | AT(faccessat, 0, -1);
  r |= AT(faccessat2, 0, -1);
  r |= ALLOW(openat2);
  /* memory, never executable */
  struct scmp_arg_cmp noexec = SCMP_CMP(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
  r |= rule(ctx, SCMP_SYS(mmap), "mmap", 1, &noexec);
  r |= rule(ctx, SCMP_SYS(mprotect), "mprotect", 1, &noexec);
  r |= ALLOW(munmap) | ALLOW(mremap) | ALLOW(madvise) | ALLOW(brk);
  r |= ALLOW(mincore);
  /* time, threads, signals, exit */
  r |= ALLOW(clock_gettime) | ALLOW(clock_getres) | ALLOW(clock_nanosleep);
  r |= ALLOW(nanosleep) | ALLOW(gettimeofday) | ALLOW(futex);
  r |= ALLOW(sched_yield) | ALLOW(ppoll) | ALLOW(poll) | ALLOW(getrandom);
  r |= ALLOW(rt_sigreturn) | ALLOW(rt_sigprocmask) | ALLOW(getrusage);
  r |= ALLOW(exit) | ALLOW(exit_group) | ALLOW(set_robust_list) | ALLOW(rseq);
  struct scmp_arg_cmp thread = SCMP_CMP(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
                                        CLONE_THREAD);
  r |= rule(ctx, SCMP_SYS(clone), "clone", 1, &thread);
  if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) <
      0) {
    r |= 1;
  }
#ifdef WG_SANITIZE
  r |= ALLOW(sigaltstack) | ALLOW(prctl) | ALLOW(getpid) | ALLOW(gettid);
  r |= ALLOW(sched_getaffinity) | ALLOW(readlink) | ALLOW(tgkill);
  r |= ALLOW(rt_sigaction) | ALLOW(getrlimit) | ALLOW(prlimit64);
#endif
  if (r) {
    seccomp_release(ctx);
    snprintf(why, whysize, "building the seccomp filter failed");
    return WG_EINVAL;
  }
  int lr = seccomp_load(ctx);
  seccomp_release(ctx);
  if (lr < 0) {
    snprintf(why, whysize, "seccomp_load: error %d", -lr);
    return WG_EIO;
  }
  return WG_OK;
}
