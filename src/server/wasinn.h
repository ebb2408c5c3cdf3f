/*
** WASI-NN in `wasmgate serve` (wasinn.c): the `nn:` configuration, the
** process's model host (srv.nn_host) and the per-execution glue.
*/
#ifndef WG_SERVER_WASINN_H
#define WG_SERVER_WASINN_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "server/srv.h"
#include "wasmgate/nn.h"
#include "wasmgate/sandbox.h"

/* The error of an nn-importing module under executor.isolation: process. */
#define SRV_NN_PROCESS_MSG                                                  \
  "cannot run the module: it imports wasi_ephemeral_nn (WASI-NN), which "  \
  "is not available with executor.isolation: process (a worker process "   \
  "cannot open model files); use isolation: thread"

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
  int64_t pending;           /* tokens not yet in the day counter */
} srv_nn_exec;

/* For a module importing wasi_ephemeral_nn: links WASI-NN into q with the
** tenant's models and token accounting. false after answering the request
** (process isolation: 422 cannot_instantiate, SRV_NN_PROCESS_MSG). Call
** srv_nn_finish after the run in every case. */
bool srv_nn_prepare(srv_req *r, wg_module *m, srv_nn_exec *x, wg_exec_request *q);
void srv_nn_finish(srv_nn_exec *x);

#endif
