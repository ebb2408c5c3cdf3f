/*
** The gateway's part of the YAML configuration: the list `models:` and the
** mapping `gateway:` (keys documented in config/wasmgate.example.yaml).
** config.c hands both top-level nodes here. API keys are never in the
** file: a deployment names the environment variable that holds its key.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "server/gateway.h"
#include "server/srv.h"

typedef struct gctx {
  yaml_document_t *doc;
  char *msg;
  size_t msgsize;
} gctx;

static bool gfail(gctx *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool gfail(gctx *x, const yaml_node_t *n, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (!n) {                    /* not from the file (serve --model) */
    snprintf(x->msg, x->msgsize, "%s", why);
    return false;
  }
  snprintf(x->msg, x->msgsize, "line %lu: %s",
           (unsigned long)n->start_mark.line + 1, why);
  return false;
}

static const char *sval(const yaml_node_t *n) {
  return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                     : NULL;
}

static bool get_u32(gctx *x, const yaml_node_t *n, const char *key,
                    uint32_t min, uint32_t max, uint32_t *out) {
  const char *v = sval(n);
  char *end;
  errno = 0;
  unsigned long long u = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10)
                                                     : 0;
  if (!v || *v < '0' || *v > '9' || errno || *end || u < min || u > max) {
    return gfail(x, n, "%s: '%s' is not a number in [%u, %u]", key,
                 v ? v : "(not a scalar)", min, max);
  }
  *out = (uint32_t)u;
  return true;
}

static bool get_bool(gctx *x, const yaml_node_t *n, const char *key,
                     bool *out) {
  const char *v = sval(n);
  if (v && (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
            !strcasecmp(v, "on"))) {
    return *out = true, true;
  }
  if (v && (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
            !strcasecmp(v, "off"))) {
    return *out = false, true;
  }
  return gfail(x, n, "%s: '%s' is not true or false", key, v ? v : "");
}

/* Names sent upstream inside JSON: printable ASCII without quotes. */
static bool get_name(gctx *x, const yaml_node_t *n, const char *key,
                     char *out, size_t size) {
  const char *v = sval(n);
  if (!v || !*v || strlen(v) >= size) {
    return gfail(x, n, "%s: expected a non-empty name of at most %zu bytes",
                 key, size - 1);
  }
  for (const char *p = v; *p; p++) {
    if (*p <= ' ' || *p == '"' || *p == '\\' || *p == 0x7f) {
      return gfail(x, n, "%s: '%s' has a character that is not allowed",
                   key, v);
    }
  }
  memcpy(out, v, strlen(v) + 1);
  return true;
}

#define FOREACH_PAIR(x, n, k, v)                                            \
  for (yaml_node_pair_t *p_##k = (n)->data.mapping.pairs.start;             \
       p_##k < (n)->data.mapping.pairs.top; p_##k++)                        \
    for (yaml_node_t *k = yaml_document_get_node((x)->doc, p_##k->key),     \
                     *v = yaml_document_get_node((x)->doc, p_##k->value);   \
         k; k = NULL)

/* The keys of a `provider: local` deployment (a GGUF model run in this
** process, src/ai/local.c). */
static bool local_key(gctx *x, ai_deployment *d, const char *key,
                      yaml_node_t *v) {
  if (!strcmp(key, "model_path")) {
    const char *p = sval(v);
    if (!p || !*p || strlen(p) >= sizeof d->model_path) {
      return gfail(x, v, "models.model_path: expected a file name of at "
                   "most %zu bytes", sizeof d->model_path - 1);
    }
    memcpy(d->model_path, p, strlen(p) + 1);
    return true;
  }
  if (!strcmp(key, "ctx_size")) {
    return get_u32(x, v, "models.ctx_size", 16, 1u << 20, &d->ctx_size);
  }
  if (!strcmp(key, "threads")) {
    return get_u32(x, v, "models.threads", 1, 256, &d->threads);
  }
  if (!strcmp(key, "slots")) {
    return get_u32(x, v, "models.slots", 1, 64, &d->slots);
  }
  if (!strcmp(key, "queue")) {
    return get_u32(x, v, "models.queue", 0, 100000, &d->queue);
  }
  return get_u32(x, v, "models.queue_timeout_ms", 1, 3600000,
                 &d->queue_timeout_ms);
}

/* A local deployment: a readable model_path, and the only deployment of
** its name (its slots are the model's capacity; there is nothing to
** fall back to or balance with). */
static bool local_check(gctx *x, srv_gw_config *g, ai_deployment *d,
                        yaml_node_t *n) {
  if (!d->model[0] || !d->model_path[0]) {
    return gfail(x, n, "models: a local model needs name and model_path");
  }
  if (d->base_url[0]) {
    return gfail(x, n, "models.base_url: not used by provider local");
  }
  if (access(d->model_path, R_OK) != 0) {
    return gfail(x, n, "models.model_path: cannot read '%s': %s",
                 d->model_path, strerror(errno));
  }
  if (!d->slots) d->slots = 1;
  if (d->queue == UINT32_MAX) d->queue = 4 * d->slots;
  return true;
}

/* Whether d shares its name with an earlier deployment where one of the
** two is local. */
static bool local_alone(gctx *x, srv_gw_config *g, ai_deployment *d,
                        yaml_node_t *n) {
  for (size_t i = 0; i < g->router.ndeps; i++) {
    ai_deployment *o = &g->router.deps[i];
    if (!strcmp(o->model, d->model) &&
        (!strcmp(o->provider, "local") || !strcmp(d->provider, "local"))) {
      return gfail(x, n, "models: '%s' is a local model and must have "
                   "exactly one deployment", d->model);
    }
  }
  return true;
}

static bool model_entry(gctx *x, srv_gw_config *g, yaml_node_t *n) {
  if (n->type != YAML_MAPPING_NODE) {
    return gfail(x, n, "models: each entry must be a mapping");
  }
  if (g->router.ndeps == 64) return gfail(x, n, "models: at most 64");
  if (g->router.ndeps == g->deps_cap) {
    size_t nc = g->deps_cap ? g->deps_cap * 2 : 8;
    ai_deployment *d = wg_grow_array(g->router.deps, g->deps_cap, nc,
                                     sizeof *d);
    if (!d) return gfail(x, n, "out of memory");
    g->router.deps = d;
    g->deps_cap = nc;
  }
  ai_deployment *d = &g->router.deps[g->router.ndeps];
  memset(d, 0, sizeof *d);
  snprintf(d->provider, sizeof d->provider, "openai");
  d->weight = 1;
  d->timeout_ms = 600000;
  d->connect_timeout_ms = 5000;
  d->first_byte_timeout_ms = 60000;
  d->idle_timeout_ms = 60000;
  d->max_retries = 2;
  d->queue = UINT32_MAX;          /* local: 4 * slots unless given */
  FOREACH_PAIR(x, n, k, v) {
    const char *key = sval(k);
    bool ok;
    if (!key) return gfail(x, k, "models: keys must be names");
    if (!strcmp(key, "name")) {
      ok = get_name(x, v, "models.name", d->model, sizeof d->model);
    } else if (!strcmp(key, "provider")) {
      ok = get_name(x, v, "models.provider", d->provider, sizeof d->provider);
    } else if (!strcmp(key, "base_url")) {
      ok = get_name(x, v, "models.base_url", d->base_url, sizeof d->base_url);
      if (ok && strncmp(d->base_url, "http://", 7) &&
          strncmp(d->base_url, "https://", 8)) {
        ok = gfail(x, v, "models.base_url: must start with http:// or "
                   "https://");
      }
    } else if (!strcmp(key, "api_key_env")) {
      ok = get_name(x, v, "models.api_key_env", d->api_key_env,
                    sizeof d->api_key_env);
    } else if (!strcmp(key, "api_key")) {
      ok = gfail(x, k, "models.api_key: keys are never read from the file; "
                 "name an environment variable with api_key_env");
    } else if (!strcmp(key, "upstream_model")) {
      ok = get_name(x, v, "models.upstream_model", d->upstream_model,
                    sizeof d->upstream_model);
    } else if (!strcmp(key, "weight")) {
      ok = get_u32(x, v, "models.weight", 1, 1000000, &d->weight);
    } else if (!strcmp(key, "timeout_ms")) {
      ok = get_u32(x, v, "models.timeout_ms", 1, 86400000, &d->timeout_ms);
    } else if (!strcmp(key, "connect_timeout_ms")) {
      ok = get_u32(x, v, "models.connect_timeout_ms", 1, 600000,
                   &d->connect_timeout_ms);
    } else if (!strcmp(key, "first_byte_timeout_ms")) {
      ok = get_u32(x, v, "models.first_byte_timeout_ms", 0, 86400000,
                   &d->first_byte_timeout_ms);
    } else if (!strcmp(key, "idle_timeout_ms")) {
      ok = get_u32(x, v, "models.idle_timeout_ms", 0, 86400000,
                   &d->idle_timeout_ms);
    } else if (!strcmp(key, "max_retries")) {
      ok = get_u32(x, v, "models.max_retries", 0, 10, &d->max_retries);
    } else if (!strcmp(key, "model_path") || !strcmp(key, "ctx_size") ||
               !strcmp(key, "threads") || !strcmp(key, "slots") ||
               !strcmp(key, "queue") || !strcmp(key, "queue_timeout_ms")) {
      ok = local_key(x, d, key, v);
    } else {
      ok = gfail(x, k, "unknown key 'models.%s'", key);
    }
    if (!ok) return false;
  }
  if (!strcmp(d->provider, "local")) {
    if (!local_check(x, g, d, n)) return false;
  } else if (!d->model[0] || !d->base_url[0]) {
    return gfail(x, n, "models: every entry needs name and base_url");
  }
  if (!ai_provider_find(d->provider)) {
    return gfail(x, n, "models.provider: unknown provider '%s'", d->provider);
  }
  if (!local_alone(x, g, d, n)) return false;
  g->router.ndeps++;
  return true;
}

static bool guard_map(gctx *x, srv_gw_config *g, guard_cfg *c,
                      yaml_node_t *n, bool top) {
  if (n->type != YAML_MAPPING_NODE) return gfail(x, n, "guard: a mapping");
  FOREACH_PAIR(x, n, k, v) {
    const char *key = sval(k);
    const char *val = sval(v);
    bool ok = true;
    if (!key) return gfail(x, k, "guard: keys must be names");
    if (!strcmp(key, "max_message_chars")) {
      ok = get_u32(x, v, "guard.max_message_chars", 0, 1u << 30,
                   &c->max_message_chars);
    } else if (!strcmp(key, "max_request_chars")) {
      ok = get_u32(x, v, "guard.max_request_chars", 0, 1u << 30,
                   &c->max_request_chars);
    } else if (!strcmp(key, "max_input_chars")) {
      ok = get_u32(x, v, "guard.max_input_chars", 0, 1u << 30,
                   &c->max_input_chars);
    } else if (!strcmp(key, "max_input_total_chars")) {
      ok = get_u32(x, v, "guard.max_input_total_chars", 0, 1u << 30,
                   &c->max_input_total_chars);
    } else if (!strcmp(key, "control_chars")) {
      if (val && !strcmp(val, "reject")) {
        c->control_chars = GUARD_CTRL_REJECT;
      } else if (val && !strcmp(val, "strip")) {
        c->control_chars = GUARD_CTRL_STRIP;
      } else {
        ok = gfail(x, v, "guard.control_chars: reject or strip");
      }
    } else if (!strcmp(key, "template_tokens")) {
      if (val && !strcmp(val, "reject")) {
        c->reject_template_tokens = true;
      } else if (val && !strcmp(val, "allow")) {
        c->reject_template_tokens = false;
      } else {
        ok = gfail(x, v, "guard.template_tokens: reject or allow");
      }
    } else if (top && !strcmp(key, "redact_input")) {
      ok = get_bool(x, v, "guard.redact_input", &g->redact_input);
    } else if (top && !strcmp(key, "redact_output")) {
      ok = get_bool(x, v, "guard.redact_output", &g->redact_output);
    } else if (top && !strcmp(key, "patterns")) {
      if (v->type != YAML_MAPPING_NODE) {
        return gfail(x, v, "guard.patterns: a mapping of NAME: regex");
      }
      FOREACH_PAIR(x, v, pk, pv) {
        const char *pn = sval(pk), *re = sval(pv);
        if (!pn || !re) return gfail(x, pk, "guard.patterns: NAME: regex");
        guard_pattern *np = wg_grow_array(g->patterns, g->npatterns,
                                          g->npatterns + 1, sizeof *np);
        if (!np) return gfail(x, pk, "out of memory");
        g->patterns = np;
        size_t a = strlen(pn) + 1, b = strlen(re) + 1;
        char *mem = wg_realloc_(NULL, 0, a + b);
        if (!mem) return gfail(x, pk, "out of memory");
        memcpy(mem, pn, a);
        memcpy(mem + a, re, b);
        np[g->npatterns].name = mem;
        np[g->npatterns].regex = mem + a;
        g->npatterns++;
      }
    } else {
      ok = gfail(x, k, "unknown key 'guard.%s'", key);
    }
    if (!ok) return false;
  }
  return true;
}

static bool tenant_entry(gctx *x, srv_gw_config *g, const char *id,
                         yaml_node_t *n) {
  if (n->type != YAML_MAPPING_NODE || strlen(id) >= 80) {
    return gfail(x, n, "gateway.tenants.%s: a mapping", id);
  }
  srv_gw_tenant *t = wg_grow_array(g->tenants, g->ntenants, g->ntenants + 1,
                                   sizeof *t);
  if (!t) return gfail(x, n, "out of memory");
  g->tenants = t;
  t = &g->tenants[g->ntenants++];
  memset(t, 0, sizeof *t);
  snprintf(t->id, sizeof t->id, "%s", id);
  t->guard = g->guard;          /* the defaults so far; see below */
  FOREACH_PAIR(x, n, k, v) {
    const char *key = sval(k);
    if (key && !strcmp(key, "models")) {
      if (v->type != YAML_SEQUENCE_NODE) {
        return gfail(x, v, "gateway.tenants.%s.models: a list", id);
      }
      size_t cnt = (size_t)(v->data.sequence.items.top -
                            v->data.sequence.items.start);
      t->models = wg_alloc_array(cnt ? cnt : 1, sizeof *t->models);
      if (!t->models) return gfail(x, v, "out of memory");
      t->nmodels = cnt;
      for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(
            x->doc, v->data.sequence.items.start[i]);
        if (!it || !get_name(x, it, "gateway.tenants.models", t->models[i],
                             AI_NAME_MAX)) {
          return false;
        }
      }
    } else if (key && !strcmp(key, "guard")) {
      if (!guard_map(x, g, &t->guard, v, false)) return false;
    } else {
      return gfail(x, k, "unknown key 'gateway.tenants.%s.%s'", id,
                   key ? key : "");
    }
  }
  return true;
}

static bool gateway_map(gctx *x, srv_gw_config *g, yaml_node_t *n) {
  if (n->type != YAML_MAPPING_NODE) return gfail(x, n, "gateway: a mapping");
  yaml_node_t *tenants = NULL;
  FOREACH_PAIR(x, n, k, v) {
    const char *key = sval(k);
    const char *val = sval(v);
    bool ok = true;
    if (!key) return gfail(x, k, "gateway: keys must be names");
    if (!strcmp(key, "routing")) {
      if (val && !strcmp(val, "weighted")) {
        g->router.strategy = AI_ROUTE_WEIGHTED;
      } else if (val && !strcmp(val, "least_busy")) {
        g->router.strategy = AI_ROUTE_LEAST_BUSY;
      } else {
        ok = gfail(x, v, "gateway.routing: weighted or least_busy");
      }
    } else if (!strcmp(key, "event_threads")) {
      ok = get_u32(x, v, "gateway.event_threads", 1, 64, &g->event_threads);
    } else if (!strcmp(key, "backoff_base_ms") ||
               !strcmp(key, "backoff_cap_ms") ||
               !strcmp(key, "max_retry_after_ms")) {
      uint32_t u;
      ok = get_u32(x, v, key, 0, 3600000, &u);
      if (key[0] == 'm') g->router.max_retry_after_ms = u;
      else if (key[8] == 'b') g->router.backoff_base_ms = u;
      else g->router.backoff_cap_ms = u;
    } else if (!strcmp(key, "breaker")) {
      if (v->type != YAML_MAPPING_NODE) {
        return gfail(x, v, "gateway.breaker: a mapping");
      }
      ai_breaker_cfg *b = &g->router.breaker;
      FOREACH_PAIR(x, v, bk, bv) {
        const char *bn = sval(bk);
        uint32_t *f = !bn ? NULL
                      : !strcmp(bn, "consecutive_failures") ? &b->consecutive
                      : !strcmp(bn, "window_ms") ? &b->window_ms
                      : !strcmp(bn, "failure_pct") ? &b->failure_pct
                      : !strcmp(bn, "min_calls") ? &b->min_calls
                      : !strcmp(bn, "cooldown_ms") ? &b->cooldown_ms
                                                     : NULL;
        if (!f) {
          return gfail(x, bk, "unknown key 'gateway.breaker.%s'",
                       bn ? bn : "");
        }
        if (!get_u32(x, bv, bn, 0, 86400000, f)) return false;
      }
    } else if (!strcmp(key, "guard")) {
      ok = guard_map(x, g, &g->guard, v, true);
    } else if (!strcmp(key, "sessions")) {
      if (v->type != YAML_MAPPING_NODE) {
        return gfail(x, v, "gateway.sessions: a mapping");
      }
      FOREACH_PAIR(x, v, sk, sv) {
        const char *sn = sval(sk);
        if (sn && !strcmp(sn, "max_turns")) {
          ok = get_u32(x, sv, "gateway.sessions.max_turns", 1, 1000,
                       &g->session_turns);
        } else if (sn && !strcmp(sn, "ttl_s")) {
          ok = get_u32(x, sv, "gateway.sessions.ttl_s", 1, 30u * 86400,
                       &g->session_ttl_s);
        } else {
          ok = gfail(x, sk, "unknown key 'gateway.sessions.%s'",
                     sn ? sn : "");
        }
        if (!ok) return false;
      }
    } else if (!strcmp(key, "response_format_retries")) {
      ok = get_u32(x, v, "gateway.response_format_retries", 0, 5,
                   &g->format_retries);
    } else if (!strcmp(key, "audit_content")) {
      if (val && !strcmp(val, "redacted")) {
        g->audit_content = true;
      } else if (val && !strcmp(val, "hashes")) {
        g->audit_content = false;
      } else {
        ok = gfail(x, v, "gateway.audit_content: redacted or hashes");
      }
    } else if (!strcmp(key, "tenants")) {
      if (v->type != YAML_MAPPING_NODE) {
        return gfail(x, v, "gateway.tenants: a mapping of tenant ids");
      }
      tenants = v;               /* after guard: tenants inherit it */
    } else {
      ok = gfail(x, k, "unknown key 'gateway.%s'", key);
    }
    if (!ok) return false;
  }
  if (tenants) {
    FOREACH_PAIR(x, tenants, k, v) {
      const char *id = sval(k);
      if (!id || !tenant_entry(x, g, id, v)) {
        return id ? false : gfail(x, k, "gateway.tenants: ids are names");
      }
    }
  }
  return true;
}

static srv_gw_config *gw_new(void) {
  srv_gw_config *g = wg_new(srv_gw_config);
  if (!g) return NULL;
  g->event_threads = 1;
  guard_cfg_default(&g->guard);
  g->redact_input = false;
  g->redact_output = true;
  g->router.strategy = AI_ROUTE_WEIGHTED;
  g->router.backoff_base_ms = 200;
  g->router.backoff_cap_ms = 5000;
  g->router.max_retry_after_ms = 10000;
  g->router.breaker = (ai_breaker_cfg){5, 30000, 50, 10, 10000};
  g->session_turns = 10;
  g->session_ttl_s = 7200;
  g->format_retries = 1;
  return g;
}

bool srv_gw_config_node(struct wg_config *c, yaml_document_t *doc,
                        yaml_node_t *n, const char *key, char *msg,
                        size_t msgsize) {
  gctx x = {doc, msg, msgsize};
  if (!c->gw && !(c->gw = gw_new())) return gfail(&x, n, "out of memory");
  if (!strcmp(key, "gateway")) return gateway_map(&x, c->gw, n);
  if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0) return true;
  if (n->type != YAML_SEQUENCE_NODE) {
    return gfail(&x, n, "models: a list of deployments");
  }
  for (yaml_node_item_t *it = n->data.sequence.items.start;
       it < n->data.sequence.items.top; it++) {
    if (!model_entry(&x, c->gw, yaml_document_get_node(doc, *it))) {
      return false;
    }
  }
  return true;
}

/* serve --model: a local deployment named after the file (gateway.h). */
bool srv_gw_config_local(struct wg_config *c, const char *path, char *msg,
                         size_t msgsize) {
  if (!c->gw && !(c->gw = gw_new())) {
    snprintf(msg, msgsize, "out of memory");
    return false;
  }
  srv_gw_config *g = c->gw;
  char want[PATH_MAX], have[PATH_MAX];
  if (!realpath(path, want)) {
    snprintf(msg, msgsize, "cannot read '%s': %s", path, strerror(errno));
    return false;
  }
  for (size_t i = 0; i < g->router.ndeps; i++) {
    ai_deployment *o = &g->router.deps[i];
    if (!strcmp(o->provider, "local") && realpath(o->model_path, have) &&
        !strcmp(have, want)) {
      return true;             /* the config serves it under its name */
    }
  }
  ai_deployment d;
  memset(&d, 0, sizeof d);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 5 && !strcasecmp(base + n - 5, ".gguf")) n -= 5;
  if (n == 0 || n >= sizeof d.model || strlen(path) >= sizeof d.model_path) {
    snprintf(msg, msgsize, "'%s': the file name makes no model name", path);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (base[i] <= ' ' || base[i] == '"' || base[i] == '\\' ||
        base[i] == 0x7f) {
      snprintf(msg, msgsize, "'%s': the file name makes no model name "
               "(name it in the config instead)", path);
      return false;
    }
  }
  memcpy(d.model, base, n);
  memcpy(d.model_path, path, strlen(path) + 1);
  snprintf(d.provider, sizeof d.provider, "local");
  d.weight = 1;
  d.slots = 1;
  d.queue = 4;
  d.timeout_ms = 600000;           /* as for a deployment in the file */
  if (access(path, R_OK) != 0) {
    snprintf(msg, msgsize, "cannot read '%s': %s", path, strerror(errno));
    return false;
  }
  gctx x = {NULL, msg, msgsize};
  if (g->router.ndeps == 64) return gfail(&x, NULL, "models: at most 64");
  if (!local_alone(&x, g, &d, NULL)) return false;
  if (g->router.ndeps == g->deps_cap) {
    size_t nc = g->deps_cap ? g->deps_cap * 2 : 8;
    ai_deployment *nd = wg_grow_array(g->router.deps, g->deps_cap, nc,
                                      sizeof *nd);
    if (!nd) return gfail(&x, NULL, "out of memory");
    g->router.deps = nd;
    g->deps_cap = nc;
  }
  g->router.deps[g->router.ndeps++] = d;
  return true;
}

void srv_gw_config_free(srv_gw_config *g) {
  if (!g) return;
  ai_router_destroy(&g->router);
  wg_free_array(g->router.deps, g->deps_cap);
  for (size_t i = 0; i < g->npatterns; i++) {
    wg_free((void *)g->patterns[i].name,
            strlen(g->patterns[i].name) + strlen(g->patterns[i].regex) + 2);
  }
  wg_free_array(g->patterns, g->npatterns);
  for (size_t i = 0; i < g->ntenants; i++) {
    wg_free_array(g->tenants[i].models,
                  g->tenants[i].nmodels ? g->tenants[i].nmodels : 1);
  }
  wg_free_array(g->tenants, g->ntenants);
  wg_free_obj(g);
}
