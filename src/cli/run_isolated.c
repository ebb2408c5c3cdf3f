/*
** `wasmgate run --isolation process`: the run goes to one worker process
** of the same kind `wasmgate serve` uses (src/sandbox/workers.h): this
** binary re-executed with an empty environment, in its own namespaces
** where the kernel allows them, chrooted into an empty directory, under
** rlimits, no_new_privs and the seccomp allowlist.
**
** What differs from in-process is only where the guest runs. The request
** is the same: the --dir directories are opened here and cross as fds,
** the host stdin/stdout/stderr the run uses cross as fds too (the guest
** reads and writes them directly, in order), and the limits are the
** request's. So are the result, the --json object and the exit status.
** Two things a worker adds: a run that does not stop by --timeout plus
** one second (a guest blocked in a host read) is killed and reported as a
** timeout, and a worker killed by the filter or by a signal is an error
** ("the worker process running this execution was killed by signal 31
** (SIGSYS: a forbidden system call)", exit status 1).
**
** WASI-NN (--nn-preload): the models stay in this process; the worker's
** guest calls cross its socket and are served here against the run's
** wg_nn (wg_nn_serve checks each as hostile), as serve does. A compute
** stops at --timeout plus the grace, or when the worker goes away.
**
** The worker keeps this process's user: the directories it is given are
** the caller's own, so switching to "nobody" (as serve does when root)
** would only make them unwritable. The empty chroot directory is made in
** $TMPDIR (or /tmp) and removed once the worker is inside it.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/workers.h"
#include "wasmgate/nn.h"

#define ISO_GRACE_MS 1000u       /* past --timeout before the kill */
#define ISO_MAX_DIRS 64u         /* as wg_exec_run */

/* The WASI-NN calls of the run (wg_workers_calls). */
typedef struct iso_nn {
  wg_nn *nn;
  uint64_t timeout_ms;          /* 0: none */
  uint64_t deadline_ms;         /* set when the run starts */
} iso_nn;

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static wg_err nn_serve_call(void *user, const uint8_t *msg, size_t n,
                            const uint8_t **reply, size_t *reply_len,
                            bool (*gone)(void *peer), void *peer) {
  iso_nn *x = user;
  return wg_nn_serve_worker(x->nn, x->deadline_ms, gone, peer, "run", msg, n,
                            reply, reply_len);
}

/* The latest a compute may run: the pool's kill deadline; the worker's
** own deadline, sent with each call, normally comes first. */
static void nn_started(void *user) {
  iso_nn *x = user;
  x->deadline_ms = x->timeout_ms ? now_ms() + x->timeout_ms + ISO_GRACE_MS : 0;
}

/* Runs req in a fresh worker; what wg_exec_run would return and fill. */
wg_err cli_run_isolated(const wg_exec_request *req, wg_exec_result *res) {
  memset(res, 0, sizeof *res);
  if (req->ndirs > ISO_MAX_DIRS) {
    res->trap = WG_ELIMIT;
    snprintf(res->trap_message, sizeof res->trap_message,
             "too many preopened directories (at most 64)");
    return WG_ELIMIT;
  }
  wg_exec_dir dirs[ISO_MAX_DIRS];
  size_t nopen = 0;
  wg_err e = WG_OK;
  for (; nopen < req->ndirs; nopen++) {
    const wg_exec_dir *d = &req->dirs[nopen];
    dirs[nopen] = *d;
    if (!d->host_path) continue;
    int fd = open(d->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      /* the words wg_exec_run's WASI setup uses */
      res->trap = e = WG_EIO;
      snprintf(res->trap_message, sizeof res->trap_message,
               "wasi: cannot open directory '%.180s': %s", d->host_path,
               strerror(errno));
      break;
    }
    dirs[nopen].host_path = NULL;
    dirs[nopen].host_fd = fd;
  }
  char root[4096] = "";
  wg_workers *pool = NULL;
  if (e == WG_OK) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0]) tmp = "/tmp";
    snprintf(root, sizeof root, "%.4000s/wasmgate-root-XXXXXX", tmp);
    if (!mkdtemp(root)) {
      res->trap = e = WG_EIO;
      snprintf(res->trap_message, sizeof res->trap_message,
               "--isolation process: cannot create an empty directory in "
               "%.180s: %s", tmp, strerror(errno));
      root[0] = 0;
    }
  }
  if (e == WG_OK) {
    const char *hook = getenv("WASMGATE_TEST_WORKER_HOOK");
    /* the worker reaches files beneath the preopened directories only
    ** (it opens these paths itself, from this working directory; one
    ** given as an fd alone gets no rule: its files stay out of reach) */
    const char *beneath[ISO_MAX_DIRS];
    size_t nbeneath = 0;
    for (size_t i = 0; i < nopen; i++)
      if (req->dirs[i].host_path) beneath[nbeneath++] = req->dirs[i].host_path;
    wg_workers_config wc = {
        .count = 1,
        .grace_ms = ISO_GRACE_MS,
        .empty_dir = root,
        .files_beneath = beneath,
        .nfiles_beneath = nbeneath,
        .test_hook = hook && !strcmp(hook, "1"),
    };
    wg_error err;
    wg_error_clear(&err);
    e = wg_workers_new(&wc, &pool, &err);
    if (e != WG_OK) {
      res->trap = e;
      snprintf(res->trap_message, sizeof res->trap_message,
               "--isolation process: %.200s", err.message);
    }
  }
  /* the worker is inside it (or never will be): nothing needs the path */
  if (root[0]) rmdir(root);
  if (e == WG_OK) {
    wg_exec_request q = *req;
    q.dirs = dirs;
    q.host = NULL;              /* req->host's user is the run's wg_nn */
    iso_nn x = {req->host ? req->host->user : NULL, req->limits.timeout_ms,
                0};
    wg_workers_calls calls = {.serve = nn_serve_call, .started = nn_started,
                              .user = &x, .max_message = WG_NN_MAX_MESSAGE};
    wg_worker_outcome how;
    e = wg_workers_run_calls(pool, "cli", &q, req->host ? &calls : NULL, res,
                             &how);
    if (how == WG_WORKER_CRASHED) res->limit = WG_LIMIT_NONE;
  }
  wg_workers_free(pool);
  for (size_t i = 0; i < nopen; i++)
    if (req->dirs[i].host_path) close(dirs[i].host_fd);
  return e;
}
