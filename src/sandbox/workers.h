/*
** Worker processes: executions run in a pool of pre-spawned, confined
** processes instead of the calling thread (`isolation: process`).
**
** Each worker is this binary re-executed (`wasmgate __worker`, see
** worker.c): it closes every inherited fd but its socket, enters new
** namespaces where the kernel allows (user when not root, pid, net,
** mount, ipc, uts), chroots into an empty directory when it can, drops
** to an unprivileged uid/gid when started as root (wg_workers_config's
** uid and gid: the server's executor.worker_user, nobody by default), sets
** rlimits (address space, CPU, file size, open files, core 0), sets
** PR_SET_NO_NEW_PRIVS and installs a seccomp-bpf allowlist (seccomp.c)
** that kills it on any other system call. It then serves RUN frames
** (frame.h) one at a time, calling wg_exec_run itself. A RUN may carry
** host stdio fds (the CLI's), which the guest then reads and writes
** directly, as wg_exec_run would in the caller. Modules stay
** cached inside the worker by key (the server's content id): a worker
** that lacks one asks for it and gets a sealed memfd of its bytes.
** Preopened directories cross as open fds (SCM_RIGHTS).
**
** The pool (workerpool.c) enforces the deadline from outside too: a
** worker that does not answer by the request's timeout + grace is
** killed and replaced (the result is a timeout). A worker that dies
** mid-execution is replaced and the call returns WG_EIO with
** WG_WORKER_CRASHED. Workers are recycled after max_executions runs,
** when their peak RSS passes max_rss_bytes or their CPU time passes half
** of cpu_seconds. No state crosses executions: each run gets a fresh
** store and WASI context, the worker's fds are only its socket and the
** run's own, and guest code cannot reach the worker's memory.
*/
#ifndef WG_SANDBOX_WORKERS_H
#define WG_SANDBOX_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "wasmgate/sandbox.h"

/* Most directories in wg_workers_config.files_beneath. */
#define WG_WORKERS_MAX_FILE_DIRS 64u

/* What a worker has in force (bits of wg_workers_features). */
#define WG_WORKER_FEATURE_MAP(X)                                             \
  X(NO_NEW_PRIVS, 0, "no_new_privs")                                         \
  X(SECCOMP, 1, "seccomp")                                                   \
  X(RLIMITS, 2, "rlimits")                                                   \
  X(RLIMIT_AS, 3, "rlimit_as")                                               \
  X(USERNS, 4, "user_ns")                                                    \
  X(PIDNS, 5, "pid_ns")                                                      \
  X(NETNS, 6, "net_ns")                                                      \
  X(MOUNTNS, 7, "mount_ns")                                                  \
  X(IPCNS, 8, "ipc_ns")                                                      \
  X(UTSNS, 9, "uts_ns")                                                      \
  X(CHROOT, 10, "chroot")                                                    \
  X(TEST_HOOK, 11, "test_hook")                                              \
  X(NON_ROOT, 12, "non_root_user")                                           \
  X(LANDLOCK, 13, "landlock")

enum {
#define WG__F(name, bit, text) WG_WORKER_##name = 1u << bit,
  WG_WORKER_FEATURE_MAP(WG__F)
#undef WG__F
};

typedef struct wg_workers_config {
  uint32_t count;               /* workers (>= 1) */
  uint32_t max_executions;      /* recycle after this many runs; 0: never */
  uint64_t max_rss_bytes;       /* recycle when peak RSS passes; 0: never */
  uint64_t address_space_bytes; /* RLIMIT_AS; 0: none (and under ASan) */
  uint32_t cpu_seconds;         /* RLIMIT_CPU of a worker's life */
  uint64_t file_size_bytes;     /* RLIMIT_FSIZE */
  uint64_t grace_ms;            /* past a run's timeout before the kill */
  const char *empty_dir;        /* chroot target (an empty directory) or
                                   NULL: no chroot */
  uint32_t uid, gid;            /* uid > 0: the worker switches to uid
                                   and gid after its chroot (the caller
                                   must be root); 0: keeps the caller's */
  const char *const *files_beneath; /* with Landlock (kernel ABI >= 2)
                                   the workers reach files beneath these
                                   directories only (the directories of
                                   every run must be among them); none:
                                   no file at all. Copied. At most
                                   WG_WORKERS_MAX_FILE_DIRS. */
  size_t nfiles_beneath;
  const char *homes_root;       /* not NULL: each worker process gets a
                                   home beneath it, the one directory
                                   besides files_beneath it may reach
                                   (with Landlock); its runs' directories
                                   must be moved into it
                                   (wg_workers_calls.place) */
  bool test_hook;               /* only with WG_TEST_HOOKS: see worker.c */
  bool standby;                 /* keep a spare worker spawned ahead and
                                   reap retired ones in a helper thread
                                   (workerpool.c); off: the requests do */
} wg_workers_config;

typedef struct wg_workers wg_workers;

/* Spawns cfg->count workers and waits for each to report itself ready.
** Fails (message in err) when one cannot start or cannot confine itself
** (seccomp or no_new_privs refused). */
wg_err wg_workers_new(const wg_workers_config *cfg, wg_workers **out,
                      wg_error *err);
/* Kills and reaps every worker. NULL is a no-op. Calls must be over. */
void wg_workers_free(wg_workers *p);

/* The WG_WORKER_* bits every worker reported at start, and a one-line
** description ("seccomp no_new_privs rlimits(as=..)...") of them. */
unsigned wg_workers_features(const wg_workers *p);
const char *wg_workers_describe(const wg_workers *p);
void wg_workers_feature_names(unsigned features,
                              void (*fn)(void *user, const char *name),
                              void *user);

typedef struct wg_workers_stats {
  uint64_t spawned, recycled, crashed, timeouts_killed;
  uint64_t cancelled_killed;    /* workers stopped by a cancelled run */
  uint64_t standby_used;        /* replacements that found a spare ready */
  uint32_t count;
} wg_workers_stats;
void wg_workers_get_stats(wg_workers *p, wg_workers_stats *out);

/* What became of a wg_workers_run beyond the result. */
typedef enum wg_worker_outcome {
  WG_WORKER_RAN,                /* the worker answered */
  WG_WORKER_KILLED_TIMEOUT,     /* no answer by timeout + grace: killed;
                                   res is a timeout */
  WG_WORKER_CRASHED,            /* the worker died; res->trap_message says
                                   how; returns WG_EIO */
  WG_WORKER_CANCELLED,          /* req->cancel fired: the worker running it
                                   was killed and replaced (none, when it
                                   fired before the run went to one); res
                                   is cancelled */
} wg_worker_outcome;

/* Runs req in a worker as wg_exec_run would in this thread. module_key
** identifies req->module's bytes (e.g. "sha256:<hex>"); workers cache
** modules by it. req->dirs must use host_fd (host_path NULL), at most
** 64; stdin_fd, stdout_fd and stderr_fd may be host fds (-1: stdin_bytes
** or empty, and captured output). Reference arguments must be null.
** Blocks until a worker is free. A worker found dead, or one that dies
** before it has read the whole RUN (killed from outside while idle), is
** replaced and the run goes to its successor: only a worker that dies
** with the run begun gives WG_WORKER_CRASHED. A worker cannot stop its
** guest from outside, so req->cancel kills it. */
wg_err wg_workers_run(wg_workers *p, const char *module_key,
                      const wg_exec_request *req, wg_exec_result *res,
                      wg_worker_outcome *outcome);

/* What a run needs of the caller beyond the request: host calls a worker
** forwards to the server (WASI-NN under process isolation: the models
** stay in the server), and the placing of the run's directories. */
typedef struct wg_workers_calls {
  /* Answers one call message (the bytes of an NN_CALL frame): the answer's
  ** bytes in *reply (valid until the next call). gone(peer) tells whether
  ** the worker has gone away meanwhile (its socket hung up): a long call
  ** polls it to stop early. An error: the message is malformed, a protocol
  ** violation: the worker is killed and the run ends as WG_WORKER_CRASHED.
  ** The worker waits for the answer without a deadline of its own, and
  ** the pool's kill deadline (timeout + grace) moves by the time spent
  ** here: the callee must itself stop at the run's deadline. */
  wg_err (*serve)(void *user, const uint8_t *msg, size_t n,
                  const uint8_t **reply, size_t *reply_len,
                  bool (*gone)(void *peer), void *peer);
  /* Called once the worker has the run (its RUN frame sent): the run's
  ** clock starts about now; may be NULL. */
  void (*started)(void *user);
  void *user;
  size_t max_message;           /* the largest call message serve takes; a
                                   worker announcing a larger frame is
                                   killed before any of it is read */
  /* With cfg.homes_root: called with the home of the worker that takes
  ** the run before it is sent, and again if the run moves to another
  ** worker (one found dead before it began): the caller moves the run's
  ** directories beneath home (a rename keeps req->dirs' fds valid).
  ** false: the run fails with WG_EIO. May be NULL; then so may serve. */
  bool (*place)(void *place_user, const char *home);
  void *place_user;
} wg_workers_calls;

/* wg_workers_run with calls: calls->serve not NULL links
** wasi_ephemeral_nn in the worker to it. */
wg_err wg_workers_run_calls(wg_workers *p, const char *module_key,
                            const wg_exec_request *req,
                            const wg_workers_calls *calls, wg_exec_result *res,
                            wg_worker_outcome *outcome);

/* The worker's side of those calls: for a run with calls, open makes the
** host module whose calls go through fn(fn_user, ...) (one message, its
** answer, valid until the next call; an error: the link is gone), fills
** *host and returns a state for close (NULL: out of memory). Set by the
** binary before wg_worker_main; unset, such a run fails. */
typedef wg_err (*wg_worker_transport)(void *user, const uint8_t *msg, size_t n,
                                      const uint8_t **reply, size_t *reply_len);
typedef struct wg_worker_remote {
  void *(*open)(wg_worker_transport fn, void *fn_user, wg_exec_host *host);
  void (*close)(void *state);
} wg_worker_remote;
void wg_worker_set_remote(const wg_worker_remote *r);

/* The worker process's main (argv from wg_workers_new; `wasmgate __worker`
** dispatches here). Returns the process exit code. */
#define WG_WORKER_ARGV1 "__worker"
int wg_worker_main(int argc, char **argv);

#endif
