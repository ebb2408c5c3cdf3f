/*
** Server metrics, rendered in the Prometheus text format by GET /metrics.
** Counters are lock-free atomics, indexed by route (routes.def order, plus
** one "unmatched" row) and by a fixed list of status codes.
*/
#ifndef WG_SERVER_METRICS_H
#define WG_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

/* How an execution ended. X(name) */
#define SRV_OUTCOME_MAP(X)                                                   \
  X(ok)            /* exit code 0 */                                         \
  X(exit_nonzero)  /* proc_exit with another code */                         \
  X(trap)          /* a trap not caused by a limit */                        \
  X(limit)         /* a limit ended it (see the limit label) */              \
  X(error)         /* could not start: link error, bad function */       \
  X(cancelled)     /* the client went away: the run was stopped */

typedef enum srv_outcome {
#define SRV__O(name) SRV_OUTCOME_##name,
  SRV_OUTCOME_MAP(SRV__O)
#undef SRV__O
  SRV_OUTCOME_COUNT
} srv_outcome;

typedef struct srv_metrics srv_metrics;

wg_err srv_metrics_new(srv_metrics **out);
void srv_metrics_free(srv_metrics *m);
/* One answered request: route index (srv_nroutes when unmatched). */
void srv_metrics_request(srv_metrics *m, size_t route, int status,
                         double seconds);
/* One execution; limit is a wg_limit_kind (0 when none). */
void srv_metrics_execution(srv_metrics *m, srv_outcome o, int limit,
                           uint64_t fuel, double seconds);

struct srv;
/* Appends the Prometheus text of everything, with the gauges read from
** the server's pool and module cache, to out. */
void srv_metrics_render(struct srv *s, wg_buf *out);

#endif
