/*
** WASI-NN in `wasmgate serve` (wasinn.c): the `nn:` configuration, the
** process's model host (srv.nn_host) and the per-execution glue.
*/
#ifndef WG_SERVER_WASINN_H
#define WG_SERVER_WASINN_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "sandbox/workers.h"
#include "server/srv.h"
#include "wasmgate/nn.h"
#include "wasmgate/sandbox.h"

/* The `nn:` node of the YAML document into cfg->nn (allocated on first
** use; free with srv_nn_config_free). false with "line N: nn: why" in msg. */
bool srv_nn_config_node(wg_config *cfg, yaml_document_t *doc, yaml_node_t *n,
                        char *msg, size_t msgsize);
void srv_nn_config_free(srv_nn_config *c);

/* Makes s->nn_host from s->cfg.nn (no models without it); srv_nn_stop
** frees it, after every execution ended. */
wg_err srv_nn_start(srv *s, wg_error *err);
void srv_nn_stop(srv *s);

/* One execution's WASI-NN state (on the caller's stack). */
typedef struct srv_nn_exec {
  srv *s;
  wg_nn *nn;                 /* NULL: the module does not import it */
  wg_exec_host host;
  srv_tenant *t;             /* borrowed from the request; NULL: admin */
  int64_t day;               /* UTC day number of the run's start */
  const char *rid;           /* the request's id (logs) */
  uint64_t timeout_ms;       /* the run's (process isolation) */
  uint64_t deadline_ms;      /* the latest a compute may run (monotonic;
                                0: none); the worker sends its own */
  wg_workers_calls calls;    /* process isolation: a worker's calls */
} srv_nn_exec;

/* For a module importing wasi_ephemeral_nn: the execution's WASI-NN state
** with the tenant's models and token accounting (before any other work
** for the run). false after answering the request (out of memory). Call
** srv_nn_finish after the run in every case (also after a false). */
bool srv_nn_prepare(srv_req *r, wg_module *m, srv_nn_exec *x);
/* Right before the run: in thread isolation links WASI-NN into q (q->host)
** and returns NULL; in process isolation returns the calls to pass to
** wg_workers_run_calls (NULL: the module does not import WASI-NN), the
** models staying in this process, the run's deadline from q's timeout. */
const wg_workers_calls *srv_nn_link(srv_nn_exec *x, wg_exec_request *q);
void srv_nn_finish(srv_nn_exec *x);

/* The worker process's side (`wasmgate __worker`, wg_worker_set_remote):
** WASI-NN calls cross to the server (wg_nn_proxy). */
extern const wg_worker_remote srv_nn_worker_remote;

#endif
