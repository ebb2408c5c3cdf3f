/*
** The worker pool (workers.h): slots of worker processes, checked out by
** the calling thread for one execution at a time.
**
** A worker is spawned with clone(CLONE_VM | CLONE_VFORK | CLONE_NEWPID)
** when the kernel allows it (else without CLONE_NEWPID), and the child
** only resets signal handlers, moves its socket to fd 3 and execs this
** binary again (/proc/self/exe as resolved at pool creation) with an
** empty environment: nothing of the server's memory (keys, database
** handles, other tenants' data) is in a worker.
**
** With cfg.standby, a helper thread keeps one spare worker spawned ahead
** and reaps retired ones: a worker recycled (or killed at its deadline)
** is replaced by the spare at once, so no request waits for a fork, an
** exec, confinement and a HELLO, nor for the kernel to tear the old
** process down. Only when recycling outpaces the helper does a request
** spawn a worker itself (the slot is left empty, as without standby).
**
** With cfg.homes_root, each worker process gets a home of its own
** (homes_root/w-XXXXXX, made before its spawn) and Landlock confines it to
** that home: a run's directory is moved into the home of the worker that
** takes the run (wg_workers_calls.place), so a worker cannot reach the
** directory of a run in another worker, even through ".." of its own
** directory fd. A home goes with its worker; one still holding a run's
** directory then (a worker killed mid-run) is removed later, once the
** caller has removed that directory.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/worker_int.h"

#define HELLO_TIMEOUT_MS 10000u
#define MAX_ARGS (24 + 2 * WG_WORKERS_MAX_FILE_DIRS)

typedef struct wslot {
  pid_t pid;                    /* 0: none (spawned on checkout) */
  int sock;
  uint32_t runs;
  bool busy;
  char home[PATH_MAX];          /* the worker's home, or "" */
} wslot;

#define WSLOT_EMPTY {.pid = 0, .sock = -1}

struct wg_workers {
  wg_workers_config cfg;
  char exe[PATH_MAX];
  char empty_dir[PATH_MAX];
  char *argv[MAX_ARGS];
  char argbuf[MAX_ARGS][32];
  char *beneath;                /* cfg.files_beneath, NUL-separated */
  size_t beneath_size;
  char homes_root[PATH_MAX];    /* cfg.homes_root, or "" */
  char **old_homes;             /* of gone workers, not yet empty (lock) */
  uint32_t nold, oldcap;
  pthread_mutex_t lock;
  pthread_cond_t freed;
  wslot *slots;
  unsigned features;            /* of the first worker */
  bool clone_newpid;            /* still worth trying */
  char describe[512];
  wg_workers_stats stats;
  /* cfg.standby: the helper thread and what it looks after (under lock) */
  wslot standby;                /* the spare (pid 0: none yet) */
  pid_t *zombies;               /* retired workers not reaped yet */
  uint32_t nzombies, zcap;
  pthread_cond_t wake;          /* work for the helper, or stop */
  pthread_t helper;
  bool helper_on, stop;
};

/* ------------------------------------------------------------------ */
/* Spawning                                                            */

typedef struct child_arg {
  int sock;
  const char *exe;
  char *const *argv;
  sigset_t mask;                /* the spawning thread's, restored at exec */
} child_arg;

/* Runs in the new process, on the spawning thread's memory (CLONE_VM)
** while that thread waits (CLONE_VFORK): only async-signal-safe calls,
** nothing written but its own stack (and errno). The handler table is
** the child's own copy (no CLONE_SIGHAND): signals the caller handles
** are reset to their default before the mask is restored, so that no
** handler of the server can run here before the exec. Not instrumented
** by AddressSanitizer: its stack frames would poison the shadow of the
** caller's stack array, shared memory, and leave it poisoned. */
__attribute__((no_sanitize_address)) static int child_main(void *p) {
  const child_arg *a = p;
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigaction(sig, NULL, &sa) != 0) continue;
    if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
      sa.sa_handler = SIG_DFL;
      sa.sa_flags = 0;
      sigaction(sig, &sa, NULL);
    }
  }
  if (a->sock == 3) {
    fcntl(3, F_SETFD, 0);
  } else if (dup2(a->sock, 3) < 0) {
    _exit(126);
  }
  sigprocmask(SIG_SETMASK, &a->mask, NULL);
  char *const envp[] = {NULL};
  execve(a->exe, a->argv, envp);
  _exit(127);
}

static const char *signame(int sig) {
  switch (sig) {
    case SIGSYS: return "SIGSYS: a forbidden system call";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGXCPU: return "SIGXCPU: CPU time limit";
    default: return "a signal";
  }
}

static void describe_status(int status, char *buf, size_t n) {
  if (WIFSIGNALED(status)) {
    snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(status),
             signame(WTERMSIG(status)));
  } else if (WIFEXITED(status)) {
    snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
  } else {
    snprintf(buf, n, "died");
  }
}

/* A home for the worker about to be spawned in s. */
static bool home_make(wg_workers *p, wslot *s, char *why, size_t whysize) {
  s->home[0] = 0;
  if (!p->homes_root[0]) return true;
  if (snprintf(s->home, sizeof s->home, "%s/w-XXXXXX", p->homes_root) >=
          (int)sizeof s->home || !mkdtemp(s->home)) {
    snprintf(why, whysize, "cannot make a worker's home in %.200s: %s",
             p->homes_root, strerror(errno));
    s->home[0] = 0;
    return false;
  }
  return true;
}

/* Under lock: removes the homes of gone workers that are empty now. */
static void old_homes_sweep(wg_workers *p) {
  for (uint32_t i = 0; i < p->nold;) {
    if (rmdir(p->old_homes[i]) == 0 || errno == ENOENT) {
      wg_free(p->old_homes[i], strlen(p->old_homes[i]) + 1);
      p->old_homes[i] = p->old_homes[--p->nold];
    } else {
      i++;
    }
  }
}

/* The worker of s is gone: so is its home, now or (still holding a run's
** directory) at a later sweep. */
static void home_drop(wg_workers *p, wslot *s) {
  if (!s->home[0]) return;
  if (rmdir(s->home) != 0 && errno != ENOENT) {
    size_t n = strlen(s->home) + 1;
    char *copy = wg_realloc_(NULL, 0, n);
    pthread_mutex_lock(&p->lock);
    if (copy && p->nold == p->oldcap) {
      uint32_t cap = p->oldcap ? 2 * p->oldcap : 8;
      char **a = wg_realloc_(p->old_homes, p->oldcap * sizeof *a,
                             cap * sizeof *a);
      if (a) {
        p->old_homes = a;
        p->oldcap = cap;
      }
    }
    if (copy && p->nold < p->oldcap) {
      memcpy(copy, s->home, n);
      p->old_homes[p->nold++] = copy;
    } else if (copy) {
      wg_free(copy, n);           /* out of memory: left for a restart */
    }
    pthread_mutex_unlock(&p->lock);
  }
  s->home[0] = 0;
}

/* Kills (when kill) and reaps slot's worker; status into *status. */
static void reap(wg_workers *p, wslot *s, bool kill_it, int *status) {
  int st = 0;
  if (s->pid > 0) {
    if (kill_it) kill(s->pid, SIGKILL);
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (s->sock >= 0) close(s->sock);
  s->sock = -1;
  s->pid = 0;
  s->runs = 0;
  home_drop(p, s);
  if (status) *status = st;
}

static wg_err spawn(wg_workers *p, wslot *s, unsigned *features, char *why,
                    size_t whysize) {
  if (!home_make(p, s, why, whysize)) return WG_EIO;
  /* The pool's arguments, and the worker's home as one more directory
  ** its files may be beneath. */
  char *argv[MAX_ARGS + 3];
  int n = 0;
  while (p->argv[n]) {
    argv[n] = p->argv[n];
    n++;
  }
  if (s->home[0]) {
    argv[n++] = (char *)"--files-beneath";
    argv[n++] = s->home;
  }
  argv[n] = NULL;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    snprintf(why, whysize, "socketpair: %s", strerror(errno));
    home_drop(p, s);
    return WG_EIO;
  }
  child_arg a = {sv[1], p->exe, argv, {{0}}};
  /* CLONE_VM | CLONE_VFORK, as posix_spawn does: the child borrows this
  ** process's memory until its exec, so no page table is copied. A fork
  ** copies the server's page tables under its mmap lock, stalling every
  ** thread that faults meanwhile, and then takes a copy-on-write fault on
  ** each page written before the child execs: that cost one latency spike
  ** per recycled worker. The stack below is this thread's, which waits.
  ** A local, not a thread-local: static TLS is zeroed in every thread at
  ** its start, the CLI's main thread included, which cost 32 KiB of
  ** resident memory to processes that never spawn a worker. */
  char stack[32768] __attribute__((aligned(16)));
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &a.mask);
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  pid_t pid = -1;
  if (p->clone_newpid) {
    pid = clone(child_main, stack + sizeof stack, flags | CLONE_NEWPID, &a);
    if (pid < 0) p->clone_newpid = false;   /* not allowed here: stop trying */
  }
  if (pid < 0) pid = clone(child_main, stack + sizeof stack, flags, &a);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &a.mask, NULL);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    snprintf(why, whysize, "clone: %s", strerror(saved));
    home_drop(p, s);
    return WG_EIO;
  }
  s->pid = pid;
  s->sock = sv[0];
  s->runs = 0;
  wg_buf b;
  wg_buf_init(&b, 4096);
  uint32_t type;
  size_t nfds;
  int fds[1];
  wg_err e = wgf_recv(s->sock, &b, &type, fds, 0, &nfds,
                      wgs_now_ns() + HELLO_TIMEOUT_MS * 1000000ull);
  wgf_reader r;
  wgf_reader_init(&r, b.data, b.len);
  uint32_t version = wgf_get_u32(&r);
  unsigned f = wgf_get_u32(&r);
  const char *detail = wgf_get_str(&r);
  if (e != WG_OK || type != WGW_HELLO || !wgf_done(&r) ||
      version != WGW_VERSION || !(f & WG_WORKER_SECCOMP)) {
    int st;
    char how[96] = "";
    reap(p, s, true, &st);
    if (e != WG_OK) describe_status(st, how, sizeof how);
    snprintf(why, whysize, "a worker process could not start: %s%s%s",
             detail && detail[0] ? detail : "no hello", how[0] ? ": it " : "",
             how);
    wg_buf_free(&b);
    return WG_EIO;
  }
  wg_buf_free(&b);
  *features = f;
  pthread_mutex_lock(&p->lock);
  p->stats.spawned++;
  pthread_mutex_unlock(&p->lock);
  return WG_OK;
}

/* Under lock: moves the standby worker, if there is one, into slot s
** (whose worker is gone); wakes the helper to make the next. */
static void take_standby(wg_workers *p, wslot *s) {
  if (p->standby.pid > 0) {
    *s = p->standby;
    s->busy = true;
    p->standby.pid = 0;
    p->standby.sock = -1;
    p->standby.home[0] = 0;     /* s's now */
    p->stats.standby_used++;
  }
  if (p->helper_on) pthread_cond_signal(&p->wake);
}

/* Ends slot s's worker (checked out by the caller) and puts the standby
** in its place: the kill is sent now, the reaping is the helper's. */
static void retire(wg_workers *p, wslot *s) {
  pid_t pid = s->pid;
  if (pid > 0) kill(pid, SIGKILL);
  if (s->sock >= 0) close(s->sock);
  s->pid = 0;
  s->sock = -1;
  s->runs = 0;
  home_drop(p, s);              /* holds the run's directory: a sweep's */
  pthread_mutex_lock(&p->lock);
  bool queued = pid > 0 && p->helper_on && p->nzombies < p->zcap;
  if (queued) p->zombies[p->nzombies++] = pid;
  take_standby(p, s);
  pthread_mutex_unlock(&p->lock);
  if (pid > 0 && !queued) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
}

/* The helper thread: reaps retired workers, keeps a standby spawned. */
static void *helper_main(void *arg) {
  wg_workers *p = arg;
  pthread_mutex_lock(&p->lock);
  while (!p->stop) {
    if (p->nzombies) {
      pid_t pid = p->zombies[--p->nzombies];
      pthread_mutex_unlock(&p->lock);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      pthread_mutex_lock(&p->lock);
      continue;
    }
    if (p->standby.pid <= 0) {
      pthread_mutex_unlock(&p->lock);
      static const wslot empty = WSLOT_EMPTY;
      wslot w = empty;
      unsigned f;
      char why[300];
      bool ok = spawn(p, &w, &f, why, sizeof why) == WG_OK;
      pthread_mutex_lock(&p->lock);
      if (ok && !p->stop) {
        p->standby = w;
        continue;
      }
      if (ok) {
        pthread_mutex_unlock(&p->lock);
        reap(p, &w, true, NULL);
        pthread_mutex_lock(&p->lock);
        break;
      }
      /* cannot spawn now (the requests will say why): retry in a second */
      struct timespec t;
      clock_gettime(CLOCK_REALTIME, &t);
      t.tv_sec += 1;
      pthread_cond_timedwait(&p->wake, &p->lock, &t);
      continue;
    }
    pthread_cond_wait(&p->wake, &p->lock);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static void set_arg(wg_workers *p, int *n, const char *flag, uint64_t v) {
  p->argv[(*n)++] = (char *)flag;
  snprintf(p->argbuf[*n], sizeof p->argbuf[*n], "%llu", (unsigned long long)v);
  p->argv[*n] = p->argbuf[*n];
  (*n)++;
}

void wg_workers_feature_names(unsigned features,
                              void (*fn)(void *user, const char *name),
                              void *user) {
#define WG__F(name, bit, text) \
  if (features & WG_WORKER_##name) fn(user, text);
  WG_WORKER_FEATURE_MAP(WG__F)
#undef WG__F
}

static void add_name(void *user, const char *name) {
  char *d = user;
  size_t n = strlen(d);
  snprintf(d + n, 512 - n, "%s%s", n ? " " : "", name);
}

wg_err wg_workers_new(const wg_workers_config *cfg, wg_workers **out,
                      wg_error *err) {
  if (!cfg->count) return wg_error_set(err, WG_EINVAL, "no workers");
  wg_workers *p = wg_new(wg_workers);
  if (!p) return wg_error_set(err, WG_ENOMEM, NULL);
  p->cfg = *cfg;
  p->slots = wg_new_array(wslot, cfg->count);
  if (!p->slots) {
    wg_free_obj(p);
    return wg_error_set(err, WG_ENOMEM, NULL);
  }
  for (uint32_t i = 0; i < cfg->count; i++) p->slots[i].sock = -1;
  p->standby.sock = -1;
  if (cfg->homes_root &&
      snprintf(p->homes_root, sizeof p->homes_root, "%s", cfg->homes_root) >=
          (int)sizeof p->homes_root - 16) {
    wg_free_array(p->slots, cfg->count);
    wg_free_obj(p);
    return wg_error_set(err, WG_ELIMIT, "the workers' homes root is too "
                        "long");
  }
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->freed, NULL);
  pthread_cond_init(&p->wake, NULL);
  p->clone_newpid = true;
  ssize_t n = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
  if (n <= 0) {
    wg_workers_free(p);
    return wg_error_set(err, WG_EIO, "cannot resolve /proc/self/exe");
  }
  p->exe[n] = 0;
  int a = 0;
  p->argv[a++] = (char *)"wasmgate";
  p->argv[a++] = (char *)WG_WORKER_ARGV1;
  set_arg(p, &a, "--as", cfg->address_space_bytes);
  set_arg(p, &a, "--fsize", cfg->file_size_bytes);
  set_arg(p, &a, "--nofile", WG_WASI_MAX_FDS + 2u * WGW_MAX_RUN_FDS + 64u);
  set_arg(p, &a, "--cpu", cfg->cpu_seconds);
  set_arg(p, &a, "--ppid", (uint64_t)getpid());
  if (cfg->empty_dir) {
    snprintf(p->empty_dir, sizeof p->empty_dir, "%s", cfg->empty_dir);
    p->argv[a++] = (char *)"--root";
    p->argv[a++] = p->empty_dir;
  }
  if (cfg->uid) {
    set_arg(p, &a, "--uid", cfg->uid);
    set_arg(p, &a, "--gid", cfg->gid);
  }
  if (cfg->nfiles_beneath + (cfg->homes_root != NULL) >
      WG_WORKERS_MAX_FILE_DIRS) {
    wg_workers_free(p);
    return wg_error_set(err, WG_ELIMIT, "more than %u directories for the "
                        "workers' files", WG_WORKERS_MAX_FILE_DIRS);
  }
  for (size_t i = 0; i < cfg->nfiles_beneath; i++)
    p->beneath_size += strlen(cfg->files_beneath[i]) + 1;
  p->beneath = p->beneath_size ? wg_alloc_array(p->beneath_size, 1) : NULL;
  if (p->beneath_size && !p->beneath) {
    wg_workers_free(p);
    return wg_error_set(err, WG_ENOMEM, NULL);
  }
  for (size_t i = 0, at = 0; i < cfg->nfiles_beneath; i++) {
    size_t len = strlen(cfg->files_beneath[i]) + 1;
    memcpy(p->beneath + at, cfg->files_beneath[i], len);
    p->argv[a++] = (char *)"--files-beneath";
    p->argv[a++] = p->beneath + at;
    at += len;
  }
  if (cfg->test_hook) p->argv[a++] = (char *)"--test-hook";
  p->argv[a] = NULL;
  char why[300];
  for (uint32_t i = 0; i < cfg->count; i++) {
    unsigned f;
    if (spawn(p, &p->slots[i], &f, why, sizeof why) != WG_OK) {
      wg_workers_free(p);
      return wg_error_set(err, WG_EIO, "%s", why);
    }
    if (i == 0) p->features = f;
    p->features &= f;
  }
  wg_workers_feature_names(p->features, add_name, p->describe);
  if (cfg->standby) {
    p->zcap = cfg->count + 2;
    p->zombies = wg_new_array(pid_t, p->zcap);
    p->helper_on = p->zombies &&
                   pthread_create(&p->helper, NULL, helper_main, p) == 0;
  }
  *out = p;
  return WG_OK;
}

void wg_workers_free(wg_workers *p) {
  if (!p) return;
  if (p->helper_on) {
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->helper, NULL);
  }
  for (uint32_t i = 0; i < p->nzombies; i++) {
    while (waitpid(p->zombies[i], NULL, 0) < 0 && errno == EINTR) {
    }
  }
  if (p->zombies) wg_free_array(p->zombies, p->zcap);
  reap(p, &p->standby, true, NULL);
  for (uint32_t i = 0; p->slots && i < p->cfg.count; i++)
    reap(p, &p->slots[i], true, NULL);
  old_homes_sweep(p);           /* what is left: the caller's to clear */
  for (uint32_t i = 0; i < p->nold; i++)
    wg_free(p->old_homes[i], strlen(p->old_homes[i]) + 1);
  if (p->old_homes) wg_free(p->old_homes, p->oldcap * sizeof *p->old_homes);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->freed);
  pthread_mutex_destroy(&p->lock);
  wg_free_array(p->slots, p->cfg.count);
  if (p->beneath) wg_free(p->beneath, p->beneath_size);
  wg_free_obj(p);
}

unsigned wg_workers_features(const wg_workers *p) { return p->features; }
const char *wg_workers_describe(const wg_workers *p) { return p->describe; }

void wg_workers_get_stats(wg_workers *p, wg_workers_stats *out) {
  pthread_mutex_lock(&p->lock);
  *out = p->stats;
  out->count = p->cfg.count;
  pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

static wslot *checkout(wg_workers *p) {
  pthread_mutex_lock(&p->lock);
  for (;;) {
    wslot *idle = NULL;
    for (uint32_t i = 0; i < p->cfg.count; i++) {
      wslot *s = &p->slots[i];
      if (s->busy) continue;
      if (!idle || (s->pid > 0 && idle->pid <= 0)) idle = s;
      if (s->pid > 0) break;
    }
    if (idle) {
      idle->busy = true;
      pthread_mutex_unlock(&p->lock);
      return idle;
    }
    pthread_cond_wait(&p->freed, &p->lock);
  }
}

static void checkin(wg_workers *p, wslot *s) {
  pthread_mutex_lock(&p->lock);
  if (p->nold) old_homes_sweep(p);  /* the last run's directory is gone */
  s->busy = false;
  pthread_cond_signal(&p->freed);
  pthread_mutex_unlock(&p->lock);
}

static void count(wg_workers *p, uint64_t *field) {
  pthread_mutex_lock(&p->lock);
  (*field)++;
  pthread_mutex_unlock(&p->lock);
}

/* Sends the module's bytes as a sealed memfd. */
static wg_err send_module(int sock, const char *key, const wg_module *m,
                          wg_buf *b) {
  size_t n = wg_module_size(m);
  int fd = memfd_create("wasmgate-module", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return WG_EIO;
  wg_err e = WG_OK;
  const uint8_t *bytes = wg_module_bytes(m);
  for (size_t off = 0; off < n && e == WG_OK;) {
    ssize_t k = write(fd, bytes + off, n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) e = WG_EIO;
    else off += (size_t)k;
  }
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
                             F_SEAL_SEAL);
  if (e == WG_OK) {
    wgf_begin(b, WGW_MODULE);
    e = wgf_put_str(b, key);
    if (!e) e = wgf_put_u64(b, n);
    if (!e) e = wgf_send(sock, b, &fd, 1);
  }
  close(fd);
  return e;
}

static void empty_output(wg_exec_result *res) {
  res->out = wg_realloc_(NULL, 0, 1);
  res->err = wg_realloc_(NULL, 0, 1);
  if (res->out) res->out[0] = 0;
  if (res->err) res->err[0] = 0;
  if (!res->out || !res->err) wg_exec_result_free(res);
}

/* The peer of a host call: the worker, and the run's cancel token. */
typedef struct call_peer {
  int sock;
  const wg_exec_cancel *cancel;
} call_peer;

/* wg_workers_calls.gone: the worker's end of the socket hung up, or the
** run was cancelled (the worker is then killed). */
static bool peer_gone(void *peer) {
  const call_peer *cp = peer;
  if (wg_exec_cancel_fired(cp->cancel)) return true;
  struct pollfd pf = {cp->sock, POLLRDHUP, 0};
  return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLERR | POLLRDHUP));
}

/* One NN_CALL (payload in b) answered with an NN_REPLY (built in b);
** the time it took is added to *served_ns. An error: a protocol violation
** (the caller kills the worker) or a broken link. */
static wg_err serve_call(wslot *s, const wg_workers_calls *calls, wg_buf *b,
                         size_t nfds, const wg_exec_cancel *cancel,
                         uint64_t *served_ns) {
  if (!calls || !calls->serve || nfds) return WG_EIO;
  uint64_t t0 = wgs_now_ns();
  const uint8_t *reply;
  size_t n;
  call_peer peer = {s->sock, cancel};
  wg_err e = calls->serve(calls->user, b->data, b->len, &reply, &n, peer_gone,
                          &peer);
  *served_ns += wgs_now_ns() - t0;
  if (e) return WG_EIO;
  wgf_begin(b, WGW_NN_REPLY);
  e = wg_buf_append(b, reply, n);
  return e ? e : wgf_send(s->sock, b, NULL, 0);
}

/* The exchange with one worker; returns the outcome. *unstarted: the
** worker died without reading all of the RUN frame (a send that found it
** gone, or ECONNRESET: a unix socket closed with unread data reports
** that to its peer, where a worker that had read everything gives EOF),
** so the run never began and may go to another worker. */
static wg_worker_outcome exchange(wg_workers *p, wslot *s, const char *key,
                                  const wg_exec_request *req,
                                  const wg_workers_calls *calls,
                                  wg_exec_result *res, wg_err *ret,
                                  bool *unstarted) {
  *unstarted = false;
  wg_buf b;
  wg_buf_init(&b, WGF_MAX_PAYLOAD + WGF_HEADER);
  int fds[WGW_MAX_RUN_FDS];
  wg_err e = wgw_encode_run_nn(&b, key, req, calls && calls->serve);
  size_t nfds = e == WG_OK ? wgw_run_fds(req, fds) : 0;
  if (e != WG_OK) {
    wg_buf_free(&b);
    *ret = res->trap = e;
    snprintf(res->trap_message, sizeof res->trap_message,
             e == WG_EINVAL ? "request not supported in a worker process"
                            : "request too large for a worker process");
    return WG_WORKER_RAN;
  }
  uint64_t deadline = 0;
  if (req->limits.timeout_ms)
    deadline = wgs_now_ns() +
               (req->limits.timeout_ms + p->cfg.grace_ms) * 1000000ull;
  wg_worker_outcome o = WG_WORKER_CRASHED;
  uint64_t served_ns = 0;        /* in host calls: the worker waited */
  e = wgf_send(s->sock, &b, fds, nfds);
  if (e != WG_OK) *unstarted = errno == EPIPE || errno == ECONNRESET;
  /* What a worker may send back: the result (two captured streams at
  ** most) or a call. A frame announced larger is a protocol violation
  ** (the worker is killed), not a reason to buffer up to 1 GiB. */
  wg_exec_limits dl;
  wg_exec_limits_default(&dl);
  uint64_t out = req->limits.max_output_bytes ? req->limits.max_output_bytes
                                              : dl.max_output_bytes;
  uint64_t cap = out < WGF_MAX_PAYLOAD / 4 ? 2 * out + 65536 : WGF_MAX_PAYLOAD;
  if (calls && calls->max_message > cap) cap = calls->max_message;
  b.max = cap < WGF_MAX_PAYLOAD ? (size_t)cap : WGF_MAX_PAYLOAD;
  if (e == WG_OK && calls && calls->started) calls->started(calls->user);
  bool heard = false;            /* a frame came from the worker */
  while (e == WG_OK) {
    uint32_t type;
    size_t nin;
    e = wgf_recv_until(s->sock, &b, &type, fds, 0, &nin,
                       deadline ? deadline + served_ns : 0,
                       wgs_cancel_fd(req->cancel));
    if (e == WG_TRAP_INTERRUPT) {
      o = wg_exec_cancel_fired(req->cancel) ? WG_WORKER_CANCELLED
                                            : WG_WORKER_KILLED_TIMEOUT;
      break;
    }
    if (e != WG_OK) {
      *unstarted = !heard && e == WG_EIO && errno == ECONNRESET;
      break;
    }
    heard = true;
    if (type == WGW_NEED) {
      e = send_module(s->sock, key, req->module, &b);
      continue;
    }
    if (type == WGW_NN_CALL) {
      e = serve_call(s, calls, &b, nin, req->cancel, &served_ns);
      if (e != WG_OK && wg_exec_cancel_fired(req->cancel)) {
        o = WG_WORKER_CANCELLED;     /* the call stopped for it */
        break;
      }
      continue;
    }
    uint64_t rss, cpu;
    if (type != WGW_RESULT ||
        wgw_decode_result(&b, ret, res, &rss, &cpu) != WG_OK) {
      e = WG_EIO;
      break;
    }
    o = WG_WORKER_RAN;
    s->runs++;
    if ((p->cfg.max_executions && s->runs >= p->cfg.max_executions) ||
        (p->cfg.max_rss_bytes && rss > p->cfg.max_rss_bytes) ||
        (p->cfg.cpu_seconds &&
         cpu / 1000000000u >= p->cfg.cpu_seconds / 2)) {
      retire(p, s);
      count(p, &p->stats.recycled);
    }
    break;
  }
  wg_buf_free(&b);
  if (o == WG_WORKER_CANCELLED) {
    retire(p, s);
    count(p, &p->stats.cancelled_killed);
    wgs_cancelled_result(res);
    *ret = WG_OK;
  } else if (o == WG_WORKER_KILLED_TIMEOUT) {
    retire(p, s);
    count(p, &p->stats.timeouts_killed);
    memset(res, 0, sizeof *res);
    empty_output(res);
    res->exit_code = 1;
    res->trap = WG_TRAP_INTERRUPT;
    res->limit = WG_LIMIT_TIMEOUT;
    res->wall_ns = (req->limits.timeout_ms + p->cfg.grace_ms) * 1000000ull;
    snprintf(res->trap_message, sizeof res->trap_message,
             "wall-clock timeout (the worker did not stop within %llu ms of "
             "the deadline and was killed)",
             (unsigned long long)p->cfg.grace_ms);
    *ret = WG_OK;
  } else if (o == WG_WORKER_CRASHED) {
    int st;
    char how[96];
    reap(p, s, true, &st);   /* a zombie keeps its status */
    describe_status(st, how, sizeof how);
    pthread_mutex_lock(&p->lock);
    p->stats.crashed++;
    take_standby(p, s);
    pthread_mutex_unlock(&p->lock);
    memset(res, 0, sizeof *res);
    *ret = res->trap = WG_EIO;
    snprintf(res->trap_message, sizeof res->trap_message,
             "the worker process running this execution %s", how);
  }
  return o;
}

wg_err wg_workers_run(wg_workers *p, const char *module_key,
                      const wg_exec_request *req, wg_exec_result *res,
                      wg_worker_outcome *outcome) {
  return wg_workers_run_calls(p, module_key, req, NULL, res, outcome);
}

wg_err wg_workers_run_calls(wg_workers *p, const char *module_key,
                            const wg_exec_request *req,
                            const wg_workers_calls *calls, wg_exec_result *res,
                            wg_worker_outcome *outcome) {
  memset(res, 0, sizeof *res);
  *outcome = WG_WORKER_RAN;
  if (!req || !req->module) return WG_EINVAL;
  if (wg_exec_cancel_fired(req->cancel)) {   /* no worker needed */
    *outcome = WG_WORKER_CANCELLED;
    wgs_cancelled_result(res);
    return WG_OK;
  }
  wslot *s = checkout(p);
  wg_err ret = WG_OK;
  /* A worker killed from outside while idle must not cost the request:
  ** dead ones are replaced first; one killed but not dead yet is found
  ** by the exchange (the run never began): the next worker takes it. */
  for (int attempt = 0; attempt < 3; attempt++) {
    int st;
    while (s->pid > 0 && waitpid(s->pid, &st, WNOHANG) == s->pid) {
      s->pid = 0;
      reap(p, s, false, NULL);
      pthread_mutex_lock(&p->lock);
      p->stats.crashed++;
      take_standby(p, s);
      pthread_mutex_unlock(&p->lock);
    }
    if (s->pid <= 0) {
      unsigned f;
      char why[300];
      if (spawn(p, s, &f, why, sizeof why) != WG_OK) {
        checkin(p, s);
        memset(res, 0, sizeof *res);
        *outcome = WG_WORKER_CRASHED;
        res->trap = WG_EIO;
        snprintf(res->trap_message, sizeof res->trap_message, "%.200s", why);
        return WG_EIO;
      }
    }
    if (calls && calls->place && s->home[0] &&
        !calls->place(calls->place_user, s->home)) {
      memset(res, 0, sizeof *res);
      ret = res->trap = WG_EIO;
      snprintf(res->trap_message, sizeof res->trap_message,
               "cannot move the run's directory into its worker's home");
      break;
    }
    bool unstarted;
    ret = WG_OK;
    *outcome = exchange(p, s, module_key, req, calls, res, &ret, &unstarted);
    if (*outcome != WG_WORKER_CRASHED || !unstarted) break;
  }
  checkin(p, s);
  return ret;
}
