/*
** wasmgate sandbox: run one WASI (or plain) module under hard limits.
**
** This is the one interface the CLI (`wasmgate run`) and the server use to
** execute guest code. wg_exec_run runs in the calling thread (in-process
** isolation); the server's worker processes run the same function on their
** side of a socket.
**
** Ownership: the request borrows everything it points to for the duration
** of the call. The result owns its output buffers: free them with
** wg_exec_result_free.
*/
#ifndef WASMGATE_SANDBOX_H
#define WASMGATE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"

/* Which limit ended a run, if any. X(name, text) */
#define WG_LIMIT_MAP(X)                                                      \
  X(NONE, "none")                                                            \
  X(FUEL, "fuel")                                                            \
  X(MEMORY, "memory")                                                        \
  X(TIMEOUT, "timeout")                                                      \
  X(OUTPUT, "output")                                                        \
  X(FDS, "open_fds")                                                         \
  X(WRITE_BYTES, "write_bytes")                                              \
  X(CALL_DEPTH, "call_depth")                                                \
  X(TABLE, "table_elements")

typedef enum wg_limit_kind {
#define WG__L(name, text) WG_LIMIT_##name,
  WG_LIMIT_MAP(WG__L)
#undef WG__L
} wg_limit_kind;

const char *wg_limit_name(wg_limit_kind k);

/* 0 means "the default" for every field (see wg_exec_limits_default). */
typedef struct wg_exec_limits {
  int64_t fuel;               /* < 0: unmetered; 0: default */
  uint64_t memory_bytes;      /* linear memory, per memory */
  uint64_t timeout_ms;        /* wall clock */
  uint64_t max_output_bytes;  /* per captured stream */
  uint32_t max_open_fds;
  uint64_t max_write_bytes;   /* bytes written to preopened directories */
  uint32_t max_call_depth;
  uint64_t max_table_elems;
} wg_exec_limits;

typedef struct wg_exec_dir {
  const char *host_path;      /* NULL: host_fd */
  const char *guest_path;
  bool readonly;
  int host_fd;                /* with host_path NULL: an open directory fd
                                 (borrowed; duplicated for the run) */
} wg_exec_dir;

/* Another host module linked beside WASI (WASI-NN, wasmgate/nn.h): imports
** of modules other than wasi_snapshot_preview1 go to resolve(user, ...);
** bind(user, store, deadline_ms) is called with the run's store before the
** module is instantiated (deadline_ms: the wall-clock limit as monotonic
** ms, 0: none) and with NULL once the run is over. In-process runs only
** (wg_exec_run); a worker process has no such module. */
typedef struct wg_exec_host {
  wg_resolver resolve;
  void (*bind)(void *user, wg_store *s, uint64_t deadline_ms);
  void *user;
} wg_exec_host;

/* Stopping a run from another thread (the server's client went away).
** The caller makes one token per run and names it in wg_exec_request;
** wg_exec_cancel_fire may be called from any thread at any time, any
** number of times. A run in progress stops at its guest's next loop head
** or call, or wakes from a WASI sleep, as at its deadline (a worker
** process is killed and replaced); a run whose token fired before it
** started stops before running guest code. Either way the result has
** trap WG_TRAP_INTERRUPT, limit WG_LIMIT_NONE and cancelled set. A run
** that finished first keeps its result. */
typedef struct wg_exec_cancel wg_exec_cancel;

/* NULL when out of memory or of file descriptors (the token holds an
** eventfd, which a worker pool waits on). */
wg_exec_cancel *wg_exec_cancel_new(void);
void wg_exec_cancel_fire(wg_exec_cancel *c);
bool wg_exec_cancel_fired(const wg_exec_cancel *c);
/* No run may be using c. NULL is a no-op. */
void wg_exec_cancel_free(wg_exec_cancel *c);

typedef struct wg_exec_request {
  wg_module *module;          /* validated; the run takes its own reference */
  const char *function;       /* NULL: "_start" (WASI command) */
  const char *const *argv;    /* argv[0] is the program name */
  size_t argc;
  const char *const *env;     /* "K=V"; nothing from the host otherwise */
  size_t envc;
  const wg_exec_dir *dirs;
  size_t ndirs;
  const uint8_t *stdin_bytes; /* NULL: stdin_fd, or empty when that is -1 */
  size_t stdin_len;
  int stdin_fd;
  int stdout_fd, stderr_fd;   /* -1: capture into the result */
  const wg_val *invoke_args;  /* for a non-_start function */
  size_t ninvoke_args;
  wg_exec_limits limits;
  const wg_exec_host *host;   /* NULL: WASI only */
  wg_exec_cancel *cancel;     /* NULL: the run cannot be cancelled */
} wg_exec_request;

typedef struct wg_exec_result {
  int exit_code;              /* proc_exit code, 0 when _start returned */
  uint8_t *out, *err;         /* captured stdout/stderr (NUL-terminated) */
  size_t out_len, err_len;
  bool out_truncated, err_truncated;
  wg_err trap;                /* WG_OK, a trap code, or a load/link error */
  char trap_message[256];
  wg_limit_kind limit;        /* the limit that ended the run, if any */
  bool cancelled;             /* wg_exec_cancel_fire ended it */
  wg_val results[8];          /* results of an invoked function */
  size_t nresults;
  uint64_t fuel_used;
  uint64_t wall_ns;
  uint64_t peak_memory_bytes;
} wg_exec_result;

void wg_exec_limits_default(wg_exec_limits *l);
void wg_exec_request_init(wg_exec_request *req);

/* Runs the request to completion in this thread. Returns WG_OK when the
** guest ran (whatever its exit code or trap: see result->trap and
** result->limit), or an error when it could not be started (bad request,
** unknown import, out of memory). */
wg_err wg_exec_run(const wg_exec_request *req, wg_exec_result *result);
void wg_exec_result_free(wg_exec_result *result);

#endif
