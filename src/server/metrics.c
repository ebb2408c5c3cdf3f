/*
** Metrics (metrics.h) and the three unauthenticated routes that read
** server state: /healthz, /readyz, /metrics.
*/
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "server/gateway.h"
#include "server/metrics.h"
#include "server/modcache.h"
#include "server/pool.h"
#include "server/srv.h"
#include "sandbox/workers.h"
#include "wasmgate/sandbox.h"

/* The status codes counted one by one; anything else is "other". */
static const int status_codes[] = {200, 201, 204, 400, 401, 403, 404, 405,
                                   409, 413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof status_codes[0] + 1)

/* Histogram bucket upper bounds, in seconds. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                 5,      10,    30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

#define NLIMITS 16   /* > the number of wg_limit_kind values */

typedef struct histogram {
  atomic_uint_fast64_t counts[NBUCKETS + 1];  /* last: +Inf */
  atomic_uint_fast64_t sum_us;
} histogram;

struct srv_metrics {
  size_t nroutes;                            /* + 1 "unmatched" row */
  atomic_uint_fast64_t *requests;            /* [route][status] */
  histogram *latency;                        /* [route] */
  atomic_uint_fast64_t outcomes[SRV_OUTCOME_COUNT];
  atomic_uint_fast64_t limits[NLIMITS];
  atomic_uint_fast64_t fuel;
  histogram exec_time;
};

static const char *const outcome_names[] = {
#define SRV__O(name) #name,
    SRV_OUTCOME_MAP(SRV__O)
#undef SRV__O
};

wg_err srv_metrics_new(srv_metrics **out) {
  srv_metrics *m = wg_new(srv_metrics);
  if (!m) return WG_ENOMEM;
  m->nroutes = srv_nroutes + 1;
  m->requests = wg_new_array(atomic_uint_fast64_t, m->nroutes * NSTATUS);
  m->latency = wg_new_array(histogram, m->nroutes);
  if (!m->requests || !m->latency) {
    srv_metrics_free(m);
    return WG_ENOMEM;
  }
  *out = m;
  return WG_OK;
}

void srv_metrics_free(srv_metrics *m) {
  if (!m) return;
  wg_free_array(m->requests, m->nroutes * NSTATUS);
  wg_free_array(m->latency, m->nroutes);
  wg_free_obj(m);
}

static void observe(histogram *h, double seconds) {
  size_t i = 0;
  while (i < NBUCKETS && seconds > buckets[i]) i++;
  atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6),
                            memory_order_relaxed);
}

void srv_metrics_request(srv_metrics *m, size_t route, int status,
                         double seconds) {
  if (route >= m->nroutes) route = m->nroutes - 1;
  size_t s = 0;
  while (s < NSTATUS - 1 && status_codes[s] != status) s++;
  atomic_fetch_add_explicit(&m->requests[route * NSTATUS + s], 1,
                            memory_order_relaxed);
  observe(&m->latency[route], seconds);
}

void srv_metrics_execution(srv_metrics *m, srv_outcome o, int limit,
                           uint64_t fuel, double seconds) {
  atomic_fetch_add_explicit(&m->outcomes[o], 1, memory_order_relaxed);
  if (o == SRV_OUTCOME_limit && limit > 0 && limit < NLIMITS) {
    atomic_fetch_add_explicit(&m->limits[limit], 1, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&m->fuel, fuel, memory_order_relaxed);
  observe(&m->exec_time, seconds);
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */

static void route_label(wg_buf *b, size_t i) {
  if (i < srv_nroutes) {
    wg_buf_printf(b, "route=\"%s %s\"", srv_routes[i].method,
                  srv_routes[i].pattern);
  } else {
    wg_buf_printf(b, "route=\"unmatched\"");
  }
}

static void render_histogram(wg_buf *b, const char *name, const char *labels,
                             histogram *h) {
  uint64_t cum = 0;
  const char *sep = labels[0] ? "," : "";
  for (size_t i = 0; i <= NBUCKETS; i++) {
    cum += atomic_load(&h->counts[i]);
    if (i < NBUCKETS) {
      wg_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                    buckets[i], (unsigned long long)cum);
    } else {
      wg_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cum);
    }
  }
  const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
  wg_buf_printf(b, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, open,
                labels, close, (double)atomic_load(&h->sum_us) / 1e6, name,
                open, labels, close, (unsigned long long)cum);
}

static void render_requests(srv_metrics *m, wg_buf *b) {
  wg_buf_printf(b, "# HELP wasmgate_http_requests_total HTTP requests "
                   "answered, by route and status.\n"
                   "# TYPE wasmgate_http_requests_total counter\n");
  for (size_t r = 0; r < m->nroutes; r++) {
    for (size_t s = 0; s < NSTATUS; s++) {
      uint64_t n = atomic_load(&m->requests[r * NSTATUS + s]);
      if (!n) continue;
      wg_buf_printf(b, "wasmgate_http_requests_total{");
      route_label(b, r);
      if (s < NSTATUS - 1) {
        wg_buf_printf(b, ",status=\"%d\"} %llu\n", status_codes[s],
                      (unsigned long long)n);
      } else {
        wg_buf_printf(b, ",status=\"other\"} %llu\n", (unsigned long long)n);
      }
    }
  }
  wg_buf_printf(b, "# HELP wasmgate_http_request_duration_seconds Time from "
                   "the request's headers to its answer.\n"
                   "# TYPE wasmgate_http_request_duration_seconds "
                   "histogram\n");
  for (size_t r = 0; r < m->nroutes; r++) {
    uint64_t total = 0;
    for (size_t i = 0; i <= NBUCKETS; i++) {
      total += atomic_load(&m->latency[r].counts[i]);
    }
    if (!total) continue;
    wg_buf label;
    wg_buf_init(&label, 512);
    route_label(&label, r);
    render_histogram(b, "wasmgate_http_request_duration_seconds",
                     label.data ? (const char *)label.data : "",
                     &m->latency[r]);
    wg_buf_free(&label);
  }
}

static void render_executions(srv_metrics *m, wg_buf *b) {
  wg_buf_printf(b, "# HELP wasmgate_executions_total Executions by "
                   "outcome.\n# TYPE wasmgate_executions_total counter\n");
  for (int o = 0; o < SRV_OUTCOME_COUNT; o++) {
    wg_buf_printf(b, "wasmgate_executions_total{outcome=\"%s\"} %llu\n",
                  outcome_names[o], (unsigned long long)atomic_load(
                                        &m->outcomes[o]));
  }
  wg_buf_printf(b, "# HELP wasmgate_execution_limits_total Executions "
                   "ended by a limit.\n"
                   "# TYPE wasmgate_execution_limits_total counter\n");
  for (int l = 1; l < NLIMITS; l++) {
    uint64_t n = atomic_load(&m->limits[l]);
    if (n) {
      wg_buf_printf(b, "wasmgate_execution_limits_total{limit=\"%s\"} %llu\n",
                    wg_limit_name((wg_limit_kind)l), (unsigned long long)n);
    }
  }
  wg_buf_printf(b, "# HELP wasmgate_fuel_used_total Fuel consumed by "
                   "executions.\n# TYPE wasmgate_fuel_used_total counter\n"
                   "wasmgate_fuel_used_total %llu\n",
                (unsigned long long)atomic_load(&m->fuel));
  wg_buf_printf(b, "# HELP wasmgate_execution_duration_seconds Wall time "
                   "of executions.\n"
                   "# TYPE wasmgate_execution_duration_seconds histogram\n");
  render_histogram(b, "wasmgate_execution_duration_seconds", "",
                   &m->exec_time);
}

static void gauge(wg_buf *b, const char *name, const char *help,
                  uint64_t v) {
  wg_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help,
                name, name, (unsigned long long)v);
}

void srv_metrics_render(srv *s, wg_buf *b) {
  render_requests(s->metrics, b);
  render_executions(s->metrics, b);
  gauge(b, "wasmgate_executor_queue_depth", "Jobs waiting for an executor.",
        srv_pool_queued(s->pool));
  gauge(b, "wasmgate_executor_active", "Jobs running on executors.",
        srv_pool_active(s->pool));
  gauge(b, "wasmgate_executor_threads", "Executor threads.",
        srv_pool_threads(s->pool));
  wg_buf_printf(b, "# HELP wasmgate_slow_requests_total Requests run on the "
                   "pool for slow administrative routes.\n"
                   "# TYPE wasmgate_slow_requests_total counter\n"
                   "wasmgate_slow_requests_total %llu\n",
                (unsigned long long)atomic_load(&s->slow_jobs));
  srv_modcache_stats st;
  srv_modcache_get_stats(s->modcache, &st);
  gauge(b, "wasmgate_module_cache_bytes", "Bytes charged by cached modules.",
        st.bytes);
  gauge(b, "wasmgate_module_cache_entries", "Modules in the cache.",
        st.entries);
  wg_buf_printf(b, "# HELP wasmgate_module_cache_lookups_total Module cache "
                   "lookups.\n"
                   "# TYPE wasmgate_module_cache_lookups_total counter\n"
                   "wasmgate_module_cache_lookups_total{result=\"hit\"} "
                   "%llu\n"
                   "wasmgate_module_cache_lookups_total{result=\"miss\"} "
                   "%llu\n",
                (unsigned long long)st.hits, (unsigned long long)st.misses);
  gauge(b, "wasmgate_heap_bytes", "Bytes allocated through the allocator "
                                  "hook.", wg_alloc_used());
  srv_gw_metrics(s, b);
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */

void srv_h_healthz(srv_req *r) {
  srv_reply_json(r, 200, json_pack("{ss}", "status", "ok"));
}

static void add_feature(void *user, const char *name) {
  json_array_append_new(user, json_string(name));
}

void srv_h_readyz(srv_req *r) {
  if (atomic_load(&r->s->draining)) {
    srv_fail(r, SRV_E_SHUTTING_DOWN, NULL, "the server is shutting down");
    return;
  }
  if (!atomic_load(&r->s->ready)) {
    srv_fail(r, SRV_E_BUSY, NULL, "the server is starting");
    return;
  }
  json_t *o = json_pack("{ss}", "status", "ready");
  if (r->s->workers) {
    json_t *f = json_array();
    wg_workers_feature_names(wg_workers_features(r->s->workers), add_feature,
                             f);
    wg_workers_stats st;
    wg_workers_get_stats(r->s->workers, &st);
    json_object_set_new(o, "isolation", json_pack(
        "{ss,sI,so,sI,sI,sI,sI,sI,sI}", "mode", "process", "workers",
        (json_int_t)st.count, "features", f, "spawned",
        (json_int_t)st.spawned, "recycled", (json_int_t)st.recycled,
        "crashed", (json_int_t)st.crashed, "killed_timeout",
        (json_int_t)st.timeouts_killed, "killed_cancelled",
        (json_int_t)st.cancelled_killed, "standby_used",
        (json_int_t)st.standby_used));
  } else {
    json_object_set_new(o, "isolation", json_pack("{ss}", "mode", "thread"));
  }
  srv_reply_json(r, 200, o);
}

void srv_h_metrics(srv_req *r) {
  wg_buf b;
  wg_buf_init(&b, 16u << 20);
  srv_metrics_render(r->s, &b);
  srv_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                b.data ? b.data : (const uint8_t *)"", b.len);
  wg_buf_free(&b);
}
