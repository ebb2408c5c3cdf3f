/*
** The worker process (workers.h): `wasmgate __worker [options]`, started
** by the pool with its socket as fd 3. It confines itself, says HELLO,
** then serves RUN frames until the socket closes.
**
** Confinement, in order (each step that the kernel refuses is skipped and
** left out of the features it reports, except no_new_privs and seccomp,
** without which it refuses to serve):
**   1. close every fd above 3; PR_SET_PDEATHSIG SIGKILL
**   2. namespaces: a user namespace first when not root (mapping only its
**      own uid and gid), then net, mount, ipc, uts, each on its own;
**      pid comes from the pool's clone(CLONE_NEWPID)
**   3. chroot into the pool's empty directory (root, or a user namespace)
**   3b. with --uid/--gid (the server runs as root): drop every
**      supplementary group, then switch real, effective and saved gid and
**      uid; a step that fails, or a way back to uid 0 that still works,
**      stops the worker (a root worker could write wherever a directory
**      fd's ".." leads)
**   4. rlimits: core 0, open files, file size, CPU seconds, address space
**      (not under ASan, whose shadow memory needs terabytes of it)
**   5. start the deadline watchdog thread (no thread is created later)
**   6. PR_SET_NO_NEW_PRIVS, then Landlock when the kernel has it
**      (landlock.c): files only beneath the --files-beneath directories
**      (opened before step 2), then the seccomp allowlist (seccomp.c)
**
** The test hook (only when built with WG_TEST_HOOKS and started with
** --test-hook, which the server passes only when its own environment has
** WASMGATE_TEST_WORKER_HOOK=1): a RUN whose first env entry is
** WASMGATE_TEST_FORBIDDEN=<open|socket|execve|fork> makes the worker
** itself make that call, which the filter must punish by death; =spin
** makes it spin without answering, for the pool's deadline kill; =nn_garbage
** makes it send a malformed WASI-NN call (NN_CALL), as a compromised worker
** could, which the server must punish by killing it; =huge_frame makes it
** announce a 512 MiB result and send nothing more, which the server must
** refuse at the header (kill, no buffer) rather than wait for. A guest
** cannot reach this code, and a request reaches it only on a server that
** was compiled with the hook and started with the variable.
** WASMGATE_TEST_PROBE=privileges instead of running the guest answers
** with stdout "uid=U gid=G escape=E inside=I given=F outside=O\n": the
** ids the worker runs with, what creating a file in the parent of the
** first directory (E) and in that directory itself (I) gave ("created" or
** the errno name), what opening its file "given.txt" for writing gave (F:
** "writable" or the errno name), and what opening the file
** "wasmgate-probe-outside.txt" in the parent for reading gave (O:
** "readable" or the errno name).
** WASMGATE_TEST_PROBE=neighbour:REL instead answers "neighbour=N\n": what
** opening REL for reading from one, two and three levels above the first
** directory gave (a file of another run, named from the scratch root):
** "readable" when one worked, else EACCES if one was refused, else the
** last errno name.
*/
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <grp.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/worker_int.h"

#define SOCK 3
#define CACHE_SLOTS 32

typedef struct wopts {
  uint64_t as, fsize, nofile, cpu;
  uint64_t uid, gid;            /* uid > 0: switch to them */
  const char *root;
  const char *beneath[WG_WORKERS_MAX_FILE_DIRS];  /* --files-beneath */
  size_t nbeneath;
  bool test_hook;
  long ppid;
} wopts;

typedef struct centry {
  char key[WGW_KEY_MAX];
  wg_module *m;
  uint64_t used;
} centry;

typedef struct worker {
  int sock;
  unsigned features;
  bool test_hook;
  unsigned uid, gid;            /* in force once confined */
  centry cache[CACHE_SLOTS];
  uint64_t tick;
  wg_buf in, out;
  wg_buf mod;                   /* MODULE frames (in holds the RUN) */
  wg_buf call, reply;           /* NN_CALL / NN_REPLY frames */
} worker;

static const wg_worker_remote *remote;   /* wg_worker_set_remote */

void wg_worker_set_remote(const wg_worker_remote *r) { remote = r; }

/* wg_worker_transport: one NN_CALL, its NN_REPLY. */
static wg_err nn_transport(void *user, const uint8_t *msg, size_t n,
                           const uint8_t **reply, size_t *reply_len) {
  worker *w = user;
  wgf_begin(&w->call, WGW_NN_CALL);
  wg_err e = wg_buf_append(&w->call, msg, n);
  if (!e) e = wgf_send(w->sock, &w->call, NULL, 0);
  uint32_t type;
  int fd;
  size_t nfds;
  if (!e) e = wgf_recv(w->sock, &w->reply, &type, &fd, 0, &nfds, 0);
  if (!e && type != WGW_NN_REPLY) e = WG_EIO;
  if (e) return e;
  *reply = w->reply.data;
  *reply_len = w->reply.len;
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Confinement                                                         */

static bool write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t n = strlen(text);
  bool ok = write(fd, text, n) == (ssize_t)n;
  close(fd);
  return ok;
}

static unsigned enter_namespaces(void) {
  unsigned f = 0;
  if (getpid() == 1) f |= WG_WORKER_PIDNS;
  if (geteuid() != 0) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) == 0) {
      char map[64];
      snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
      bool ok = write_file("/proc/self/uid_map", map);
      write_file("/proc/self/setgroups", "deny");
      snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
      ok = write_file("/proc/self/gid_map", map) && ok;
      if (ok) f |= WG_WORKER_USERNS;
    }
  }
  static const struct { int flag; unsigned bit; } ns[] = {
      {CLONE_NEWNET, WG_WORKER_NETNS}, {CLONE_NEWNS, WG_WORKER_MOUNTNS},
      {CLONE_NEWIPC, WG_WORKER_IPCNS}, {CLONE_NEWUTS, WG_WORKER_UTSNS}};
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    if (unshare(ns[i].flag) == 0) f |= ns[i].bit;
  return f;
}

static unsigned set_rlimits(const wopts *o) {
  unsigned f = WG_WORKER_RLIMITS;
  struct rlimit r = {0, 0};
  if (setrlimit(RLIMIT_CORE, &r)) f = 0;
  struct rlimit cur;
  r.rlim_cur = r.rlim_max = o->nofile;
  /* never above the hard limit we were given */
  if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_max < r.rlim_max)
    r.rlim_cur = r.rlim_max = cur.rlim_max;
  if (o->nofile && setrlimit(RLIMIT_NOFILE, &r)) f = 0;
  r.rlim_cur = r.rlim_max = o->fsize;
  if (o->fsize && setrlimit(RLIMIT_FSIZE, &r)) f = 0;
  r.rlim_cur = o->cpu;
  r.rlim_max = o->cpu + 5;     /* SIGXCPU at the soft limit, SIGKILL later */
  if (o->cpu && setrlimit(RLIMIT_CPU, &r)) f = 0;
#ifndef WG_SANITIZE
  r.rlim_cur = r.rlim_max = o->as;
  if (o->as && setrlimit(RLIMIT_AS, &r) == 0) f |= WG_WORKER_RLIMIT_AS;
#endif
  return f;
}

/* Switches to o's uid and gid for good (step 3b). */
static int drop_ids(const wopts *o, char *why, size_t whysize) {
  uid_t uid = (uid_t)o->uid;
  gid_t gid = (gid_t)o->gid;
  if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
      setresuid(uid, uid, uid) != 0) {
    snprintf(why, whysize, "cannot switch to uid %u gid %u: %s",
             (unsigned)uid, (unsigned)gid, strerror(errno));
    return -1;
  }
  uid_t r, e, sv;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &sv) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
      r != uid || e != uid || sv != uid || rg != gid || eg != gid ||
      sg != gid || setuid(0) == 0 || getgroups(0, NULL) != 0) {
    snprintf(why, whysize, "uid %u gid %u did not hold", (unsigned)uid,
             (unsigned)gid);
    return -1;
  }
  return 0;
}

static int confine(const wopts *o, worker *w, unsigned *features, char *why,
                   size_t whysize) {
  close_range(SOCK + 1, ~0u, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* the server went away before the line above: nothing to serve */
  if (o->ppid && getppid() != (pid_t)o->ppid && getppid() != 0) return -1;
  signal(SIGXFSZ, SIG_IGN);    /* a write past RLIMIT_FSIZE fails (EFBIG) */
  signal(SIGPIPE, SIG_IGN);
  /* the Landlock rules' directories, opened while their paths still
  ** lead to them (before the chroot) */
  int beneath[WG_WORKERS_MAX_FILE_DIRS];
  for (size_t i = 0; i < o->nbeneath; i++) {
    beneath[i] = open(o->beneath[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (beneath[i] < 0) {
      snprintf(why, whysize, "cannot open %.100s: %s", o->beneath[i],
               strerror(errno));
      while (i > 0) close(beneath[--i]);
      return -1;
    }
  }
  unsigned f = enter_namespaces();
  if (o->root && chroot(o->root) == 0 && chdir("/") == 0) f |= WG_WORKER_CHROOT;
  if (o->uid && drop_ids(o, why, whysize) != 0) return -1;
  if (getuid() != 0 && geteuid() != 0) f |= WG_WORKER_NON_ROOT;
  w->uid = (unsigned)getuid();  /* getuid is not in the allowlist */
  w->gid = (unsigned)getgid();
  f |= set_rlimits(o);
  if (!wgs_watchdog_start()) {
    snprintf(why, whysize, "cannot start the watchdog thread");
    return -1;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    snprintf(why, whysize, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    return -1;
  }
  f |= WG_WORKER_NO_NEW_PRIVS;
  int ll = wgs_landlock_restrict(beneath, o->nbeneath, why, whysize);
  for (size_t i = 0; i < o->nbeneath; i++) close(beneath[i]);
  if (ll < 0) return -1;
  if (ll > 0) f |= WG_WORKER_LANDLOCK;
  if (wgs_seccomp_install(why, whysize) != WG_OK) return -1;
  f |= WG_WORKER_SECCOMP;
  *features = f;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Modules                                                             */

static centry *cache_find(worker *w, const char *key) {
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (w->cache[i].m && !strcmp(w->cache[i].key, key)) {
      w->cache[i].used = ++w->tick;
      return &w->cache[i];
    }
  return NULL;
}

static void cache_put(worker *w, const char *key, wg_module *m) {
  centry *victim = &w->cache[0];
  for (int i = 0; i < CACHE_SLOTS; i++) {
    if (!w->cache[i].m) {
      victim = &w->cache[i];
      break;
    }
    if (w->cache[i].used < victim->used) victim = &w->cache[i];
  }
  if (victim->m) wg_module_release(victim->m);
  snprintf(victim->key, sizeof victim->key, "%s", key);
  victim->m = m;
  victim->used = ++w->tick;
}

/* Asks the server for the module's bytes and loads them. */
static wg_module *fetch_module(worker *w, const char *key, wg_error *err) {
  wgf_begin(&w->out, WGW_NEED);
  if (wgf_put_str(&w->out, key) || wgf_send(w->sock, &w->out, NULL, 0)) {
    wg_error_set(err, WG_EIO, "worker: cannot ask for the module");
    return NULL;
  }
  uint32_t type;
  int fd = -1;
  size_t nfds;
  if (wgf_recv(w->sock, &w->mod, &type, &fd, 1, &nfds, 0) != WG_OK ||
      type != WGW_MODULE || nfds != 1) {
    if (nfds == 1) close(fd);
    wg_error_set(err, WG_EIO, "worker: no module bytes");
    return NULL;
  }
  wgf_reader r;
  wgf_reader_init(&r, w->mod.data, w->mod.len);
  const char *k = wgf_get_str(&r);
  uint64_t size = wgf_get_u64(&r);
  struct stat st;
  wg_module *m = NULL;
  if (!wgf_done(&r) || !k || strcmp(k, key) || fstat(fd, &st) ||
      (uint64_t)st.st_size < size || size == 0 || size > SIZE_MAX) {
    wg_error_set(err, WG_EIO, "worker: bad module frame");
  } else {
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      wg_error_set(err, WG_ENOMEM, "worker: cannot map the module");
    } else {
      m = wg_module_load(p, (size_t)size, err);
      munmap(p, (size_t)size);
    }
  }
  close(fd);
  if (m) cache_put(w, key, m);
  return m;
}

/* ------------------------------------------------------------------ */
/* Serving                                                             */

#ifdef WG_TEST_HOOKS
/* The test hook: makes the forbidden call named by the request. */
static void test_hook(worker *w, const wg_exec_request *q) {
  static const char pre[] = "WASMGATE_TEST_FORBIDDEN=";
  if (!q->envc || strncmp(q->env[0], pre, sizeof pre - 1)) return;
  const char *what = q->env[0] + sizeof pre - 1;
  if (!strcmp(what, "open")) {
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0) close(fd);
  } else if (!strcmp(what, "socket")) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) close(fd);
  } else if (!strcmp(what, "execve")) {
    char *const argv[] = {(char *)"/bin/true", NULL};
    execve("/bin/true", argv, argv + 1);
  } else if (!strcmp(what, "fork")) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
  } else if (!strcmp(what, "nn_garbage")) {
    /* a compromised worker: a malformed WASI-NN call, which the server
    ** must answer by killing it */
    wgf_begin(&w->call, WGW_NN_CALL);
    wg_buf_append(&w->call, "garbage", 7);
    if (wgf_send(w->sock, &w->call, NULL, 0) == WG_OK) {
      uint32_t type;
      int fd;
      size_t nfds;
      wgf_recv(w->sock, &w->reply, &type, &fd, 0, &nfds, 0);
    }
  } else if (!strcmp(what, "huge_frame")) {
    uint32_t h[2] = {512u << 20, WGW_RESULT};
    if (write(w->sock, h, sizeof h) == (ssize_t)sizeof h) {
      for (volatile int x = 0;; x++) {
      }                         /* the server must not wait for the rest */
    }
  } else if (!strcmp(what, "spin")) {
    /* not forbidden: a worker that never answers (the pool's own kill) */
    for (volatile int x = 0;; x++) {
    }
  }
  /* still alive: the caller reports it in the result */
}

/* A probe's answer: text as the run's stdout. */
static bool answer_probe(const char *text, wg_exec_result *res) {
  size_t n = strlen(text);
  memset(res, 0, sizeof *res);
  res->out = wg_realloc_(NULL, 0, n + 1);
  res->err = wg_realloc_(NULL, 0, 1);
  if (!res->out || !res->err) {
    wg_exec_result_free(res);
    res->trap = WG_ENOMEM;
    return true;
  }
  memcpy(res->out, text, n + 1);
  res->out_len = n;
  res->err[0] = 0;
  return true;
}

static const char *create_probe(int dirfd, const char *name) {
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  0600);
  if (fd < 0) return strerrorname_np(errno);
  close(fd);
  unlinkat(dirfd, name, 0);
  return "created";
}

/* WASMGATE_TEST_PROBE=neighbour:REL (see the top) into text. */
static void neighbour_probe(const wg_exec_request *q, const char *rel,
                            char *text, size_t size) {
  const char *got = "no-dir";
  char path[1024] = "";
  for (int up = 1; up <= 3 && q->ndirs; up++) {
    size_t at = strlen(path);
    snprintf(path + at, sizeof path - at, "../");
    char full[2048];
    snprintf(full, sizeof full, "%s%s", path, rel);
    int fd = openat(q->dirs[0].host_fd, full, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      got = "readable";
      break;
    }
    if (strcmp(got, "EACCES")) got = strerrorname_np(errno);
  }
  snprintf(text, size, "neighbour=%s\n", got);
}

/* WASMGATE_TEST_PROBE=privileges or neighbour:REL (see the top): true
** when it answered. */
static bool test_probe(worker *w, const wg_exec_request *q,
                       wg_exec_result *res) {
  static const char pre[] = "WASMGATE_TEST_PROBE=privileges";
  static const char near[] = "WASMGATE_TEST_PROBE=neighbour:";
  if (!q->envc) return false;
  char text[256];
  if (!strncmp(q->env[0], near, sizeof near - 1)) {
    neighbour_probe(q, q->env[0] + sizeof near - 1, text, sizeof text);
    return answer_probe(text, res);
  }
  if (strcmp(q->env[0], pre)) return false;
  const char *given = "no-dir", *outside = "no-dir";
  if (q->ndirs) {
    int fd = openat(q->dirs[0].host_fd, "given.txt",
                    O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    given = fd >= 0 ? "writable" : strerrorname_np(errno);
    if (fd >= 0) close(fd);
    fd = openat(q->dirs[0].host_fd, "../wasmgate-probe-outside.txt",
                O_RDONLY | O_CLOEXEC);
    outside = fd >= 0 ? "readable" : strerrorname_np(errno);
    if (fd >= 0) close(fd);
  }
  snprintf(text, sizeof text,
           "uid=%u gid=%u escape=%s inside=%s given=%s outside=%s\n",
           w->uid, w->gid,
           q->ndirs ? create_probe(q->dirs[0].host_fd,
                                   "../wasmgate-probe-escape")
                    : "no-dir",
           q->ndirs ? create_probe(q->dirs[0].host_fd, "wasmgate-probe-inside")
                    : "no-dir",
           given, outside);
  return answer_probe(text, res);
}
#endif

static uint64_t cpu_ns(const struct rusage *u) {
  return ((uint64_t)u->ru_utime.tv_sec + (uint64_t)u->ru_stime.tv_sec) *
             1000000000u +
         ((uint64_t)u->ru_utime.tv_usec + (uint64_t)u->ru_stime.tv_usec) *
             1000u;
}

/* One RUN: answers RESULT, or returns false when the link is broken. */
static bool serve_run(worker *w, const int *fds, size_t nfds) {
  wgw_run run;
  wg_exec_result res;
  memset(&res, 0, sizeof res);
  wg_err ret = wgw_decode_run(&w->in, fds, nfds, &run);
  if (ret != WG_OK) {
    res.trap = ret;
    snprintf(res.trap_message, sizeof res.trap_message,
             "worker: malformed request");
  } else {
    wg_error err;
    wg_error_clear(&err);
    centry *c = cache_find(w, run.key);
    wg_module *m = c ? c->m : fetch_module(w, run.key, &err);
    if (!m) {
      ret = res.trap = err.code ? err.code : WG_EIO;
      snprintf(res.trap_message, sizeof res.trap_message, "%s", err.message);
    } else if (run.nn && !remote) {
      ret = res.trap = WG_EINVAL;
      snprintf(res.trap_message, sizeof res.trap_message,
               "worker: WASI-NN is not linked in this worker");
    } else {
      run.req.module = m;
      wg_exec_host host;
      void *nn = run.nn ? remote->open(nn_transport, w, &host) : NULL;
      if (nn) run.req.host = &host;
#ifdef WG_TEST_HOOKS
      if (w->test_hook) test_hook(w, &run.req);
      if (w->test_hook && test_probe(w, &run.req, &res)) ret = WG_OK;
      else
#endif
      if (run.nn && !nn) {
        ret = res.trap = WG_ENOMEM;
        snprintf(res.trap_message, sizeof res.trap_message, "out of memory");
      } else {
        ret = wg_exec_run(&run.req, &res);
      }
      if (nn) remote->close(nn);
#ifdef WG_TEST_HOOKS
      if (w->test_hook && run.req.envc &&
          !strncmp(run.req.env[0], "WASMGATE_TEST_FORBIDDEN=", 24)) {
        snprintf(res.trap_message, sizeof res.trap_message,
                 "test hook: the forbidden call was allowed");
        res.exit_code = 99;
      }
#endif
    }
    wgw_run_free(&run);
  }
  for (size_t i = 0; i < nfds; i++) close(fds[i]);
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  wg_err e = wgw_encode_result(&w->out, ret, &res,
                               (uint64_t)u.ru_maxrss * 1024u, cpu_ns(&u));
  wg_exec_result_free(&res);
  if (e != WG_OK) {
    /* output too large for a frame: answer without it */
    memset(&res, 0, sizeof res);
    res.trap = e;
    snprintf(res.trap_message, sizeof res.trap_message,
             "worker: result too large");
    wgw_encode_result(&w->out, e, &res, (uint64_t)u.ru_maxrss * 1024u,
                      cpu_ns(&u));
  }
  bool ok = wgf_send(w->sock, &w->out, NULL, 0) == WG_OK;
  /* do not keep a large buffer's pages between runs */
  if (w->out.cap > (1u << 20)) {
    wg_buf_free(&w->out);
    wg_buf_init(&w->out, WGF_MAX_PAYLOAD + WGF_HEADER);
  }
  return ok;
}

static int serve(worker *w) {
  for (;;) {
    uint32_t type;
    int fds[WGF_MAX_FDS];
    size_t nfds;
    wg_err e = wgf_recv(w->sock, &w->in, &type, fds, WGW_MAX_RUN_FDS, &nfds,
                        0);
    if (e == WG_EEOF) return 0;
    if (e != WG_OK) return 1;
    if (type != WGW_RUN) {
      for (size_t i = 0; i < nfds; i++) close(fds[i]);
      return 1;
    }
    if (!serve_run(w, fds, nfds)) return 1;
    if (w->in.cap > (1u << 20)) {
      wg_buf_free(&w->in);
      wg_buf_init(&w->in, WGF_MAX_PAYLOAD);
    }
  }
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end) return false;
  *out = v;
  return true;
}

static bool parse_opts(int argc, char **argv, wopts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    uint64_t v = 0;
    if (!strcmp(a, "--test-hook")) {
      o->test_hook = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char *val = argv[++i];
    if (!strcmp(a, "--root")) {
      o->root = val;
      continue;
    }
    if (!strcmp(a, "--files-beneath")) {
      if (o->nbeneath == WG_WORKERS_MAX_FILE_DIRS) return false;
      o->beneath[o->nbeneath++] = val;
      continue;
    }
    if (!parse_u64(val, &v)) return false;
    if (!strcmp(a, "--as")) o->as = v;
    else if (!strcmp(a, "--uid") && v <= UINT32_MAX - 1) o->uid = v;
    else if (!strcmp(a, "--gid") && v <= UINT32_MAX - 1) o->gid = v;
    else if (!strcmp(a, "--fsize")) o->fsize = v;
    else if (!strcmp(a, "--nofile")) o->nofile = v;
    else if (!strcmp(a, "--cpu")) o->cpu = v;
    else if (!strcmp(a, "--ppid")) o->ppid = (long)v;
    else return false;
  }
  return true;
}

int wg_worker_main(int argc, char **argv) {
  wopts o;
  if (!parse_opts(argc, argv, &o)) {
    fprintf(stderr, "wasmgate __worker: internal command (started by "
            "`wasmgate serve`), bad arguments\n");
    return 2;
  }
  struct stat st;
  if (fstat(SOCK, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    fprintf(stderr, "wasmgate __worker: fd 3 is not a socket\n");
    return 2;
  }
  /* as the server does (server.c): reuse large blocks from the heap
  ** instead of an mmap/munmap and fresh page faults per run */
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  static worker w;
  w.sock = SOCK;
  wg_buf_init(&w.in, WGF_MAX_PAYLOAD);
  wg_buf_init(&w.out, WGF_MAX_PAYLOAD + WGF_HEADER);
  wg_buf_init(&w.mod, 4096);
  wg_buf_init(&w.call, WGF_MAX_PAYLOAD + WGF_HEADER);
  wg_buf_init(&w.reply, WGF_MAX_PAYLOAD);
  char why[200] = "";
  unsigned f = 0;
  int rc = confine(&o, &w, &f, why, sizeof why);
#ifdef WG_TEST_HOOKS
  if (o.test_hook) {
    w.test_hook = true;
    f |= WG_WORKER_TEST_HOOK;
  }
#endif
  wgf_begin(&w.out, WGW_HELLO);
  wgf_put_u32(&w.out, WGW_VERSION);
  wgf_put_u32(&w.out, rc == 0 ? f : 0);
  wgf_put_str(&w.out, why);
  if (wgf_send(SOCK, &w.out, NULL, 0) != WG_OK || rc != 0) return 1;
  rc = serve(&w);
  for (int i = 0; i < CACHE_SLOTS; i++)
    if (w.cache[i].m) wg_module_release(w.cache[i].m);
  wg_buf_free(&w.in);
  wg_buf_free(&w.out);
  wg_buf_free(&w.mod);
  return rc;
}
