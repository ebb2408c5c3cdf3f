/*
** WASI-NN in `wasmgate serve`: the `nn:` section of the configuration, the
** process's model host, and what an execution of a module that imports
** wasi_ephemeral_nn gets.
**
**   nn:
**     allow_guest_load: false      # `load` from guest bytes (errno 1 when off)
**     max_guest_model_bytes: 67108864
**     models:                      # offered by name to load_by_name
**       - {name: chat, path: /models/chat.gguf, ctx_size: 2048, threads: 1, slots: 2}
**     tenants:                     # which models each tenant may load
**       acme: [chat]
**
** A tenant not listed under nn.tenants may load no model: load_by_name of
** any name gives errno 8 (not_found), the same as a name that does not
** exist, so a tenant cannot learn which models others have. An admin
** principal may load every model. Tokens (prompt and generated) count
** against the tenant's gateway token quotas: gateway_tokens_per_minute
** (the same bucket the gateway takes from, per token) and
** gateway_tokens_per_day (the day budget the gateway also spends,
** budget.h); when either is spent the guest's compute ends with
** errno 4 (busy) and what was generated stays readable.
**
** Isolation: executions in thread isolation link the host module directly.
** A worker process (executor.isolation: process) is chrooted and cannot
** open model files, and must not: its guest's WASI-NN calls cross the
** worker's socket (wg_nn_proxy in the worker, NN_CALL frames, see
** src/sandbox/worker_int.h) and run here against the execution's own
** wg_nn (wg_nn_serve checks every byte), with the run's deadline and the
** worker's hang-up stopping a compute between tokens.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "server/budget.h"
#include "server/srv.h"
#include "server/wasinn.h"
#include "wasmgate/nn.h"

#define NN_MAX_TENANTS 1024u
#define NN_MAX_PER_TENANT 64u

typedef struct nn_tenant {
  char id[WG_DB_ID_MAX];
  char **models;
  size_t n;
} nn_tenant;

struct srv_nn_config {
  bool allow_guest_load;
  uint64_t max_guest_model_bytes;
  wg_nn_model_cfg models[WG_NN_MAX_MODELS];   /* strings owned */
  size_t nmodels;
  nn_tenant *tenants;
  size_t ntenants;
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct nctx {
  yaml_document_t *doc;
  char *msg;
  size_t msgsize;
} nctx;

static bool nfail(nctx *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool nfail(nctx *x, const yaml_node_t *n, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(x->msg, x->msgsize, "line %lu: nn: %s",
           n ? (unsigned long)n->start_mark.line + 1 : 0ul, why);
  return false;
}

static const char *sval(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s);
  char *d = wg_realloc_(NULL, 0, n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static void free_str(const char *s) {
  if (s) wg_free((void *)s, strlen(s) + 1);
}

static bool get_u64(nctx *x, const yaml_node_t *n, const char *key,
                    uint64_t max, uint64_t *out) {
  const char *v = sval(n);
  char *end;
  errno = 0;
  unsigned long long u = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
  if (!v || *v < '0' || *v > '9' || errno || *end || u > max)
    return nfail(x, n, "%s: '%s' is not a number in [0, %llu]", key,
                 v ? v : "(not a scalar)", (unsigned long long)max);
  *out = u;
  return true;
}

static bool get_bool(nctx *x, const yaml_node_t *n, const char *key, bool *out) {
  const char *v = sval(n);
  if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")))
    return *out = true, true;
  if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off")))
    return *out = false, true;
  return nfail(x, n, "%s: '%s' is not true or false", key, v ? v : "");
}

#define FOREACH_PAIR(x, n, k, v)                                            \
  for (yaml_node_pair_t *p_##k = (n)->data.mapping.pairs.start;             \
       p_##k < (n)->data.mapping.pairs.top; p_##k++)                        \
    for (yaml_node_t *k = yaml_document_get_node((x)->doc, p_##k->key),     \
                     *v = yaml_document_get_node((x)->doc, p_##k->value);   \
         k; k = NULL)

static bool model_entry(nctx *x, srv_nn_config *c, yaml_node_t *n) {
  if (n->type != YAML_MAPPING_NODE)
    return nfail(x, n, "models: each entry is a mapping {name, path, ...}");
  if (c->nmodels >= WG_NN_MAX_MODELS)
    return nfail(x, n, "models: more than %u", WG_NN_MAX_MODELS);
  wg_nn_model_cfg *m = &c->models[c->nmodels++];
  FOREACH_PAIR(x, n, k, v) {
    const char *key = sval(k), *s = sval(v);
    uint64_t u;
    if (!key) return nfail(x, k, "models: keys must be plain names");
    if (!strcmp(key, "name") || !strcmp(key, "path")) {
      if (!s || !*s) return nfail(x, v, "models: %s: expected a non-empty string", key);
      const char **slot = !strcmp(key, "name") ? &m->name : &m->path;
      free_str(*slot);
      if (!(*slot = dup_str(s))) return nfail(x, v, "out of memory");
    } else if (!strcmp(key, "ctx_size") || !strcmp(key, "threads") ||
               !strcmp(key, "slots")) {
      if (!get_u64(x, v, key, 1u << 20, &u)) return false;
      *(!strcmp(key, "ctx_size") ? &m->ctx_size
        : !strcmp(key, "threads") ? &m->threads : &m->slots) = (uint32_t)u;
    } else {
      return nfail(x, k, "models: unknown key '%s' (name, path, ctx_size, "
                   "threads, slots)", key);
    }
  }
  if (!m->name || !m->path) return nfail(x, n, "models: an entry needs name and path");
  if (strlen(m->name) > WG_NN_MAX_NAME)
    return nfail(x, n, "models: name longer than %u bytes", WG_NN_MAX_NAME);
  for (size_t i = 0; i + 1 < c->nmodels; i++)
    if (!strcmp(c->models[i].name, m->name))
      return nfail(x, n, "models: '%s' is given twice", m->name);
  return true;
}

static bool tenant_entry(nctx *x, srv_nn_config *c, yaml_node_t *k, yaml_node_t *v) {
  const char *id = sval(k);
  if (!id || !*id || strlen(id) >= WG_DB_ID_MAX)
    return nfail(x, k, "tenants: a tenant id of 1 to %d bytes", WG_DB_ID_MAX - 1);
  if (v->type != YAML_SEQUENCE_NODE)
    return nfail(x, v, "tenants: %s: expected a list of model names", id);
  if (c->ntenants >= NN_MAX_TENANTS)
    return nfail(x, k, "tenants: more than %u", NN_MAX_TENANTS);
  nn_tenant *t = &c->tenants[c->ntenants++];
  snprintf(t->id, sizeof t->id, "%s", id);
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n > NN_MAX_PER_TENANT)
    return nfail(x, v, "tenants: %s: more than %u models", id, NN_MAX_PER_TENANT);
  if (n && !(t->models = wg_new_array(char *, n))) return nfail(x, v, "out of memory");
  for (yaml_node_item_t *it = v->data.sequence.items.start;
       it < v->data.sequence.items.top; it++) {
    const char *name = sval(yaml_document_get_node(x->doc, *it));
    if (!name || !*name) return nfail(x, v, "tenants: %s: model names are strings", id);
    if (!(t->models[t->n++] = dup_str(name))) return nfail(x, v, "out of memory");
  }
  return true;
}

bool srv_nn_config_node(wg_config *cfg, yaml_document_t *doc, yaml_node_t *n,
                        char *msg, size_t msgsize) {
  nctx x = {doc, msg, msgsize};
  if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0) return true;
  if (n->type != YAML_MAPPING_NODE)
    return nfail(&x, n, "expected a mapping (models, tenants, allow_guest_load)");
  if (!cfg->nn && !(cfg->nn = wg_new(srv_nn_config))) return nfail(&x, n, "out of memory");
  srv_nn_config *c = cfg->nn;
  if (!c->tenants && !(c->tenants = wg_new_array(nn_tenant, NN_MAX_TENANTS)))
    return nfail(&x, n, "out of memory");
  FOREACH_PAIR(&x, n, k, v) {
    const char *key = sval(k);
    if (!key) return nfail(&x, k, "keys must be plain names");
    if (!strcmp(key, "allow_guest_load")) {
      if (!get_bool(&x, v, key, &c->allow_guest_load)) return false;
    } else if (!strcmp(key, "max_guest_model_bytes")) {
      if (!get_u64(&x, v, key, 1ull << 40, &c->max_guest_model_bytes)) return false;
    } else if (!strcmp(key, "models")) {
      if (v->type != YAML_SEQUENCE_NODE)
        return nfail(&x, v, "models: a list of {name, path, ctx_size, threads, slots}");
      for (yaml_node_item_t *it = v->data.sequence.items.start;
           it < v->data.sequence.items.top; it++)
        if (!model_entry(&x, c, yaml_document_get_node(doc, *it))) return false;
    } else if (!strcmp(key, "tenants")) {
      if (v->type != YAML_MAPPING_NODE)
        return nfail(&x, v, "tenants: a mapping of tenant id to model names");
      FOREACH_PAIR(&x, v, tk, tv) {
        if (!tenant_entry(&x, c, tk, tv)) return false;
      }
    } else {
      return nfail(&x, k, "unknown key '%s' (models, tenants, allow_guest_load, "
                   "max_guest_model_bytes)", key);
    }
  }
  return true;
}

void srv_nn_config_free(srv_nn_config *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nmodels; i++) {
    free_str(c->models[i].name);
    free_str(c->models[i].path);
  }
  for (size_t i = 0; c->tenants && i < c->ntenants; i++) {
    for (size_t k = 0; k < c->tenants[i].n; k++) free_str(c->tenants[i].models[k]);
    if (c->tenants[i].models)
      wg_free_array(c->tenants[i].models, c->tenants[i].n ? c->tenants[i].n : 1);
  }
  if (c->tenants) wg_free_array(c->tenants, NN_MAX_TENANTS);
  wg_free_obj(c);
}

/* ------------------------------------------------------------------ */
/* The host                                                            */

wg_err srv_nn_start(srv *s, wg_error *err) {
  const srv_nn_config *c = s->cfg.nn;
  wg_nn_host_config hc = {0};
  if (c) {
    hc.allow_guest_load = c->allow_guest_load;
    hc.max_guest_model_bytes = c->max_guest_model_bytes;
  }
  if (!(s->nn_host = wg_nn_host_new(wg_nn_backend_llama(), &hc)))
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  for (size_t i = 0; c && i < c->nmodels; i++) {
    wg_err e = wg_nn_host_add(s->nn_host, &c->models[i], err);
    if (e) return e;
  }
  return WG_OK;
}

void srv_nn_stop(srv *s) {
  wg_nn_host_free(s->nn_host);
  s->nn_host = NULL;
}

/* ------------------------------------------------------------------ */
/* Executions                                                          */

/* Counts tokens the backend used against the tenant's day budget
** (budget.h, shared with the gateway) and its minute bucket; false when
** either is spent. Used tokens count in the day even past its quota; a
** store that cannot be read fails closed, as in the gateway. */
static bool charge(void *user, uint32_t prompt, uint32_t completion) {
  srv_nn_exec *x = user;
  if (!x->t) return true;
  int64_t n = (int64_t)prompt + completion;
  wg_quotas qs;
  srv_tenant_quotas(x->t, &qs);
  wg_err e = srv_budget_take(x->s, x->t->id, x->day, n,
                             srv_budget_limit(qs.gateway_tokens_per_day));
  if (e == WG_ELIMIT) srv_budget_settle(x->s, x->t->id, x->day, n);
  double burst = (double)qs.gateway_tokens_per_minute, rate = burst / 60.0;
  uint64_t now = srv_now_ns(), wait = 0;
  pthread_mutex_lock(&x->t->lock);
  srv_bucket_take_n(&x->t->gw_tokens, rate, burst, 0, now, &wait);   /* refill */
  bool ok = srv_bucket_take_n(&x->t->gw_tokens, rate, burst, (double)n, now, &wait);
  pthread_mutex_unlock(&x->t->lock);
  return ok && !e;
}

/* resolve and bind share one user pointer: the wg_nn. */
static void nn_bind(void *user, wg_store *st, uint64_t deadline_ms) {
  wg_nn_bind_store(user, st, deadline_ms);
}

/* wg_workers_calls.serve: one call of the worker's guest, against this
** execution's own wg_nn (handles, models and tokens of no other). */
static wg_err serve_call(void *user, const uint8_t *msg, size_t n,
                         const uint8_t **reply, size_t *reply_len,
                         bool (*gone)(void *peer), void *peer) {
  srv_nn_exec *x = user;
  char who[96];
  snprintf(who, sizeof who, "request %.80s", x->rid ? x->rid : "-");
  return wg_nn_serve_worker(x->nn, x->deadline_ms, gone, peer, who, msg, n,
                            reply, reply_len);
}

/* wg_workers_calls.started: the latest a compute may run is the pool's
** kill deadline (timeout + grace from now); the worker's own deadline,
** sent with each call, normally comes first. */
static void run_started(void *user) {
  srv_nn_exec *x = user;
  uint64_t t = x->s->workers && x->timeout_ms ? x->timeout_ms : 0;
  x->deadline_ms = t ? srv_now_ns() / 1000000u + t + x->s->cfg.worker_grace_ms : 0;
}

static void *remote_open(wg_worker_transport fn, void *fn_user, wg_exec_host *host) {
  wg_nn_proxy *p = wg_nn_proxy_new(fn, fn_user);
  if (p) *host = wg_nn_proxy_host(p);
  return p;
}

static void remote_close(void *state) { wg_nn_proxy_free(state); }

const wg_worker_remote srv_nn_worker_remote = {remote_open, remote_close};

bool srv_nn_prepare(srv_req *r, wg_module *m, srv_nn_exec *x) {
  memset(x, 0, sizeof *x);
  if (!wg_nn_module_uses(m)) return true;
  srv *s = r->s;
  x->s = s;
  x->rid = r->id;
  wg_nn_config cfg = {.host = s->nn_host, .tokens = charge, .tokens_user = x};
  if (r->who.kind == SRV_WHO_TENANT && r->who.tenant) {
    x->t = r->who.tenant;
    x->day = srv_budget_day(srv_time_ms());
    const srv_nn_config *c = s->cfg.nn;
    for (size_t i = 0; c && i < c->ntenants; i++)
      if (!strcmp(c->tenants[i].id, x->t->id)) {
        cfg.models = (const char *const *)c->tenants[i].models;
        cfg.nmodels = c->tenants[i].n;
      }
  } else {
    cfg.all_models = true;     /* the admin */
  }
  if (!(x->nn = wg_nn_new(&cfg))) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return false;
  }
  x->host = (wg_exec_host){wg_nn_resolve, nn_bind, x->nn};
  x->calls = (wg_workers_calls){.serve = serve_call, .started = run_started,
                                .user = x, .max_message = WG_NN_MAX_MESSAGE};
  return true;
}

const wg_workers_calls *srv_nn_link(srv_nn_exec *x, wg_exec_request *q) {
  if (!x->nn) return NULL;
  if (!x->s->workers) {
    q->host = &x->host;
    return NULL;
  }
  x->timeout_ms = q->limits.timeout_ms;
  return &x->calls;
}

void srv_nn_finish(srv_nn_exec *x) {
  if (!x->nn) return;
  wg_nn_free(x->nn);
  x->nn = NULL;
}
