/*
** The OpenAI-compatible gateway: POST /v1/chat/completions, GET
** /v1/models, GET /v1/models/{id} (see gateway.h for the flow).
**
** Request fields: "model" and "messages" are checked; "stream" and
** "stream_options" are read; every other field, known or not, passes
** through to the upstream unchanged (the upstream decides what it
** accepts). Upstream, streams always ask for usage (include_usage), so
** that tokens are counted; the usage chunk and the "usage" members are
** removed from the client's stream when it did not ask for them.
**
** Sessions: a request with the header x-session-id gets the last turns
** of that session (the tenant's: ids are per tenant) prepended to its
** messages; after a complete answer the turn (the last user message as
** sent upstream, the assistant's answer as sent to the client) is stored
** and the session trimmed to gateway.sessions.max_turns turns. A failed
** or cut answer stores nothing. The history is not checked again by the
** guardrails (it was when it came in).
**
** Token limits (the tenant's quotas gateway_tokens_per_minute, a token
** bucket in memory, and gateway_tokens_per_day, per UTC day, a counter
** in the store: it survives restarts; see budget.h): a
** request reserves an estimate, prompt characters / 4 + max_tokens (or
** max_completion_tokens), and is refused with 429 when it does not fit;
** on completion the reservation is settled to the upstream's usage (the
** estimate stays when a started answer reported none, nothing is
** counted when no upstream answer began). Every answer that got that far
** carries x-ratelimit-{limit,remaining,reset}-tokens.
**
** response_format (gw_format.h): json_object / json_schema answers are
** checked when complete (choice 0's content, after redaction for
** streams, as the upstream sent it otherwise); a failing answer is asked
** again upstream up to gateway.response_format_retries times (default 1),
** then the client gets 502 response_format_violation. A stream that asks
** for a format is held back until it is complete and checked (no
** partial JSON reaches the client, and a retry stays possible); it is
** then relayed at once, so its first byte comes at the end. Tokens of
** every attempt count.
**
** The chat policy (policy.chat, see policy.h) decides after the
** guardrails and the session, before tokens are reserved. Its input:
**   {"point":"chat","tenant","model","stream","messages":N,
**    "message_bytes":N,"max_tokens":N|null,"response_format":KIND,
**    "findings":[{"type":"pii","action":"redacted","count":N},
**                {"type":"control_characters","action":"stripped"}]}
** A denial is 403 policy_denied with its reasons; "limits" may lower
** max_tokens (the request's max_tokens / max_completion_tokens, set when
** absent) and max_request_tokens (the request's token estimate above it
** is denied). The audit line names the policy and its version.
**
** Answers echo the model name the client asked for (the public name),
** not the upstream's. A failure after the first streamed chunk becomes a
** `data: {"error":{...}}` event, then the stream ends.
*/
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/audit.h"
#include "server/budget.h"
#include "server/gateway.h"
#include "server/gw_format.h"
#include "server/gw_json.h"
#include "server/policy.h"
#include "server/srv.h"

#define GW_UP_MAX (64u << 20)     /* a non-streamed upstream answer */
#define GW_OUT_HIGH (1u << 20)    /* buffered for the client: pause above */
#define GW_CHOICES 8              /* choices redacted separately in streams */
#define GW_AUDIT_TEXT_MAX (64u << 10)
#define GW_SESSION_ID_MAX 64      /* bytes of an x-session-id */
#define GW_SESSION_MAX (4u << 20) /* a session's stored messages (JSON) */

/* Per-deployment status columns of the request counter. */
static const int gw_statuses[] = {200, 400, 403, 404, 429, 499, 500, 502,
                                  503, 504};
#define GW_NST (sizeof gw_statuses / sizeof gw_statuses[0] + 1)
static const double gw_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                    1,     2.5,  5,     10,   30,  60};
#define GW_NB (sizeof gw_buckets / sizeof gw_buckets[0])

typedef struct gw_hist {
  atomic_uint_fast64_t counts[GW_NB + 1];
  atomic_uint_fast64_t sum_us;
} gw_hist;

typedef struct gw_depstat {
  atomic_uint_fast64_t req[GW_NST];
  gw_hist latency, ttft;
  atomic_uint_fast64_t prompt_tokens, completion_tokens;
} gw_depstat;

/* The guardrails' violation codes (a metric each). */
static const char *const violation_names[] = {
    "control_characters", "message_too_long", "request_too_long",
    "template_token", "input_too_long"};
#define NVIOLATIONS (sizeof violation_names / sizeof violation_names[0])

struct srv_gw {
  srv_gw_config *cfg;           /* s->cfg.gw; NULL: no models */
  ai_engine *engine;
  guard_redactor *red;
  size_t ndeps;
  gw_depstat *stats;            /* [ndeps + 1]: the last, no deployment */
  atomic_uint_fast64_t violations[NVIOLATIONS];
  atomic_uint_fast64_t redactions;
};

typedef struct gw_req {
  atomic_int refs;              /* request + engine call + stream response */
  pthread_mutex_t lock;
  srv *s;
  struct srv_gw *gw;
  srv_req *r;                   /* NULL once MHD completed the request */
  struct MHD_Connection *conn;
  ai_call *call;
  char model[AI_NAME_MAX];
  char rid[72], tenant[WG_DB_ID_MAX], key_id[WG_DB_ID_MAX];
  char path[256];
  bool stream, want_usage, redact;
  uint64_t t0_ns, t_call_ns, t_end_ns, ttft_ns;
  wg_buf up;                    /* non-stream: the upstream's answer */
  ai_sse sse;
  guard_stream red[GW_CHOICES];
  bool red_on[GW_CHOICES];
  /* The stream to the client, under lock. */
  wg_buf out;
  size_t out_off;
  bool committed;               /* headers are (to be) sent */
  bool eof, waiting, paused, done_seen, bad_sse;
  bool engine_done;
  /* Accounting. */
  int64_t prompt_tokens, completion_tokens;
  uint32_t redactions;
  uint8_t in_sha[32];
  wg_buf audit_in, audit_out;
  char upstream_error[512];     /* an error event seen in the stream */
  /* The session (x-session-id), when there is one. */
  char session[GW_SESSION_ID_MAX + 1];
  json_t *sess_hist;            /* the messages loaded (an array) */
  json_t *sess_user;            /* the turn's user message (a copy) */
  wg_buf sess_answer;           /* choice 0's content as sent */
  /* Token limits: the reservation, settled once in on_done. */
  srv_tenant *ten;              /* a held reference, or NULL */
  int64_t reserved, res_day;
  bool usage_seen, rl_set;
  uint64_t rl_limit, rl_remaining, rl_reset_ms;
  /* response_format: checked at the end, asked again on failure. */
  srv_gw_format fmt;
  bool hold;                    /* a stream held back until checked */
  bool fmt_failed;              /* no attempt satisfied it */
  uint32_t fmt_tries;           /* attempts asked again */
  char fmt_why[300];            /* the last failure */
  wg_buf body_up;               /* the upstream request, for those */
  int client_fd;
  ai_call *call_prev;           /* the previous attempt's call */
  int64_t prior_tokens;         /* usage of the attempts asked again */
  /* The chat policy's decision (audit). */
  char pol_id[128];
  uint64_t pol_version;
  uint32_t ctrl_stripped;       /* texts with control characters removed */
} gw_req;

/* ------------------------------------------------------------------ */
/* Life                                                                */

wg_err srv_gw_start(srv *s, wg_error *err) {
  struct srv_gw *g = wg_new(struct srv_gw);
  if (!g) return wg_error_set(err, WG_ENOMEM, "out of memory");
  s->gw = g;
  g->cfg = s->cfg.gw;
  g->ndeps = g->cfg ? g->cfg->router.ndeps : 0;
  g->stats = wg_new_array(gw_depstat, g->ndeps + 1);
  if (!g->stats) return wg_error_set(err, WG_ENOMEM, "out of memory");
  if (!g->cfg) return WG_OK;
  char msg[256];
  if (!ai_router_init(&g->cfg->router, msg, sizeof msg)) {
    return wg_error_set(err, WG_EINVAL, "config: %s", msg);
  }
  wg_err e = guard_redactor_new(g->cfg->patterns, g->cfg->npatterns, &g->red,
                                msg, sizeof msg);
  if (e) return wg_error_set(err, e, "config: gateway.guard.%s", msg);
  /* Local models (provider local, src/ai/local.c) load now: a model that
  ** cannot be loaded fails the start, with its path in the message. */
  if (g->ndeps && (e = ai_local_open_all(&g->cfg->router, err))) return e;
  /* The engine's threads also run the HTTP daemons (http.c): one per
  ** thread, so that there are at least server.threads of them when it is
  ** set. By default, gateway.event_threads (1): on a 2-vCPU host that also
  ** runs clients or upstreams, one loop did better than two (bench/gateway
  ** at 5,000 req/s: 91-96 against 95-149 us of CPU a request, p99 lower),
  ** batching more events a wake-up and leaving a core to the rest. */
  uint32_t nth = g->cfg->event_threads > s->cfg.http_threads
                     ? g->cfg->event_threads : s->cfg.http_threads;
  if (g->ndeps && (e = ai_engine_new(&g->cfg->router, nth, &g->engine))) {
    return wg_error_set(err, e, "cannot start the gateway's threads");
  }
  return WG_OK;
}

ai_engine *srv_gw_engine(srv *s) { return s->gw ? s->gw->engine : NULL; }

void srv_gw_stop(srv *s) {
  struct srv_gw *g = s->gw;
  if (!g) return;
  ai_engine_free(g->engine);       /* settles what was in flight */
  g->engine = NULL;
  guard_redactor_free(g->red);
  wg_free_array(g->stats, g->ndeps + 1);
  wg_free_obj(g);
  s->gw = NULL;
}

static void gw_unref(gw_req *q) {
  if (atomic_fetch_sub(&q->refs, 1) != 1) return;
  ai_call_release(q->call);
  ai_call_release(q->call_prev);
  srv_gw_format_free(&q->fmt);
  wg_buf_free(&q->body_up);
  wg_buf_free(&q->up);
  wg_buf_free(&q->out);
  wg_buf_free(&q->audit_in);
  wg_buf_free(&q->audit_out);
  wg_buf_free(&q->sess_answer);
  json_decref(q->sess_hist);
  json_decref(q->sess_user);
  srv_tenant_release(q->ten);
  ai_sse_free(&q->sse);
  for (int i = 0; i < GW_CHOICES; i++) {
    if (q->red_on[i]) guard_stream_free(&q->red[i]);
  }
  pthread_mutex_destroy(&q->lock);
  wg_free_obj(q);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */

static void observe(gw_hist *h, double secs) {
  size_t i = 0;
  while (i < GW_NB && secs > gw_buckets[i]) i++;
  atomic_fetch_add(&h->counts[i], 1);
  atomic_fetch_add(&h->sum_us, (uint64_t)(secs * 1e6));
}

static gw_depstat *depstat(struct srv_gw *g, const ai_deployment *d) {
  if (!d || !g->cfg) return &g->stats[g->ndeps];
  return &g->stats[d - g->cfg->router.deps];
}

static void count(struct srv_gw *g, const ai_deployment *d, int status,
                  double secs, double ttft) {
  gw_depstat *st = depstat(g, d);
  size_t i = 0;
  while (i < GW_NST - 1 && gw_statuses[i] != status) i++;
  atomic_fetch_add(&st->req[i], 1);
  observe(&st->latency, secs);
  if (ttft > 0) observe(&st->ttft, ttft);
}

static void hist_render(wg_buf *b, const char *name, const char *labels,
                        gw_hist *h) {
  uint64_t cum = 0;
  for (size_t i = 0; i <= GW_NB; i++) {
    cum += atomic_load(&h->counts[i]);
    if (i < GW_NB) {
      wg_buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
                    gw_buckets[i], (unsigned long long)cum);
    } else {
      wg_buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
                    (unsigned long long)cum);
    }
  }
  wg_buf_printf(b, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                (double)atomic_load(&h->sum_us) * 1e-6, name, labels,
                (unsigned long long)cum);
}

void srv_gw_metrics(srv *s, wg_buf *b) {
  struct srv_gw *g = s->gw;
  if (!g) return;
  static const char *const bstate[] = {"closed", "open", "half_open"};
  wg_buf_printf(b, "# HELP wasmgate_gateway_requests_total Chat requests by "
                "model, deployment (\"none\": no upstream) and status.\n"
                "# TYPE wasmgate_gateway_requests_total counter\n");
  for (size_t d = 0; d <= g->ndeps; d++) {
    const ai_deployment *dep = d < g->ndeps ? &g->cfg->router.deps[d] : NULL;
    for (size_t i = 0; i < GW_NST; i++) {
      uint64_t v = atomic_load(&g->stats[d].req[i]);
      if (!v) continue;
      char st[16];
      if (i < GW_NST - 1) snprintf(st, sizeof st, "%d", gw_statuses[i]);
      else snprintf(st, sizeof st, "other");
      wg_buf_printf(b, "wasmgate_gateway_requests_total{model=\"%s\","
                    "deployment=\"%s\",status=\"%s\"} %llu\n",
                    dep ? dep->model : "", dep ? dep->id : "none", st,
                    (unsigned long long)v);
    }
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_latency_seconds Chat request "
                "latency.\n# TYPE wasmgate_gateway_latency_seconds "
                "histogram\n");
  for (size_t d = 0; d < g->ndeps; d++) {
    const ai_deployment *dep = &g->cfg->router.deps[d];
    char l[300];
    snprintf(l, sizeof l, "model=\"%s\",deployment=\"%s\"", dep->model,
             dep->id);
    hist_render(b, "wasmgate_gateway_latency_seconds", l,
                &g->stats[d].latency);
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_ttft_seconds Time to the first "
                "upstream byte.\n# TYPE wasmgate_gateway_ttft_seconds "
                "histogram\n");
  for (size_t d = 0; d < g->ndeps; d++) {
    const ai_deployment *dep = &g->cfg->router.deps[d];
    char l[300];
    snprintf(l, sizeof l, "model=\"%s\",deployment=\"%s\"", dep->model,
             dep->id);
    hist_render(b, "wasmgate_gateway_ttft_seconds", l, &g->stats[d].ttft);
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_tokens_total Tokens by model "
                "and kind (from upstream usage).\n"
                "# TYPE wasmgate_gateway_tokens_total counter\n");
  for (size_t d = 0; d < g->ndeps; d++) {
    const ai_deployment *dep = &g->cfg->router.deps[d];
    wg_buf_printf(b, "wasmgate_gateway_tokens_total{model=\"%s\","
                  "deployment=\"%s\",kind=\"prompt\"} %llu\n"
                  "wasmgate_gateway_tokens_total{model=\"%s\","
                  "deployment=\"%s\",kind=\"completion\"} %llu\n",
                  dep->model, dep->id,
                  (unsigned long long)atomic_load(&g->stats[d].prompt_tokens),
                  dep->model, dep->id,
                  (unsigned long long)atomic_load(
                      &g->stats[d].completion_tokens));
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_upstream_attempts_total Upstream "
                "attempts, failures and retries per deployment.\n"
                "# TYPE wasmgate_gateway_upstream_attempts_total counter\n");
  for (size_t d = 0; d < g->ndeps; d++) {
    ai_deployment *dep = &g->cfg->router.deps[d];
    wg_buf_printf(b, "wasmgate_gateway_upstream_attempts_total{deployment="
                  "\"%s\",result=\"all\"} %llu\n"
                  "wasmgate_gateway_upstream_attempts_total{deployment="
                  "\"%s\",result=\"failed\"} %llu\n"
                  "wasmgate_gateway_retries_total{deployment=\"%s\"} %llu\n",
                  dep->id, (unsigned long long)atomic_load(&dep->calls),
                  dep->id, (unsigned long long)atomic_load(&dep->failures),
                  dep->id, (unsigned long long)atomic_load(&dep->retries));
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_breaker_state Circuit breaker "
                "per deployment (1 for the current state).\n"
                "# TYPE wasmgate_gateway_breaker_state gauge\n");
  for (size_t d = 0; d < g->ndeps; d++) {
    ai_deployment *dep = &g->cfg->router.deps[d];
    int st = ai_breaker_state(&dep->breaker);
    for (int k = 0; k < 3; k++) {
      wg_buf_printf(b, "wasmgate_gateway_breaker_state{deployment=\"%s\","
                    "state=\"%s\"} %d\n", dep->id, bstate[k], st == k);
    }
    wg_buf_printf(b, "wasmgate_gateway_breaker_opens_total{deployment=\"%s\"}"
                  " %llu\n", dep->id,
                  (unsigned long long)atomic_load(&dep->breaker.opens));
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_guard_violations_total Requests "
                "refused by a guardrail.\n"
                "# TYPE wasmgate_gateway_guard_violations_total counter\n");
  for (size_t i = 0; i < NVIOLATIONS; i++) {
    wg_buf_printf(b, "wasmgate_gateway_guard_violations_total{code=\"%s\"} "
                  "%llu\n", violation_names[i],
                  (unsigned long long)atomic_load(&g->violations[i]));
  }
  wg_buf_printf(b, "# HELP wasmgate_gateway_redactions_total PII matches "
                "redacted.\n# TYPE wasmgate_gateway_redactions_total counter\n"
                "wasmgate_gateway_redactions_total %llu\n",
                (unsigned long long)atomic_load(&g->redactions));
}

/* ------------------------------------------------------------------ */
/* Models                                                              */

static const srv_gw_tenant *tenant_cfg(const srv_gw_config *c,
                                       const char *id) {
  for (size_t i = 0; c && i < c->ntenants; i++) {
    if (!strcmp(c->tenants[i].id, id)) return &c->tenants[i];
  }
  return NULL;
}

static bool model_allowed(const srv_gw_tenant *t, const char *model) {
  if (!t || !t->models) return true;
  for (size_t i = 0; i < t->nmodels; i++) {
    if (!strcmp(t->models[i], model)) return true;
  }
  return false;
}

static json_t *model_json(const char *name) {
  return json_pack("{ss,ss,si,ss}", "id", name, "object", "model", "created",
                   0, "owned_by", "wasmgate");
}

void srv_h_models_list(srv_req *r) {
  struct srv_gw *g = r->s->gw;
  const srv_gw_tenant *t = tenant_cfg(g->cfg, r->who.tenant->id);
  json_t *data = json_array();
  for (size_t i = 0; i < g->ndeps; i++) {
    const char *m = g->cfg->router.deps[i].model;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) {
      seen = !strcmp(g->cfg->router.deps[j].model, m);
    }
    if (!seen && model_allowed(t, m)) json_array_append_new(data,
                                                            model_json(m));
  }
  srv_reply_json(r, 200, json_pack("{ss,so}", "object", "list", "data",
                                   data));
}

static void fail_no_model(srv_req *r, const char *model) {
  srv_fail(r, SRV_E_NO_MODEL, "model", "The model `%.200s` does not exist "
           "or you do not have access to it.", model);
}

void srv_h_model_get(srv_req *r) {
  struct srv_gw *g = r->s->gw;
  const char *id = srv_params_get(&r->params, "id");
  const srv_gw_tenant *t = tenant_cfg(g->cfg, r->who.tenant->id);
  if (!g->cfg || !ai_router_has_model(&g->cfg->router, id) ||
      !model_allowed(t, id)) {
    fail_no_model(r, id);
    return;
  }
  srv_reply_json(r, 200, model_json(id));
}

/* ------------------------------------------------------------------ */
/* Audit                                                               */

/* Writes the request's audit line (with the gateway's fields: one JSON
** object, written here directly, in this order). */
static void gw_audit(gw_req *q, int status, const char *reason,
                     const ai_result *res, const char *violation) {
  wg_buf gb;
  wg_buf_init(&gb, 1u << 20);
  wg_buf_reserve(&gb, 384 + q->audit_in.len + q->audit_out.len);
  wg_buf_append(&gb, "{\"model\":", 9);
  srv_json_str(&gb, q->model, strlen(q->model));
  wg_buf_append(&gb, ",\"deployment\":", 14);
  if (res && res->dep) srv_json_str(&gb, res->dep->id, strlen(res->dep->id));
  else wg_buf_append(&gb, "null", 4);
  wg_buf_printf(&gb, ",\"stream\":%s,\"upstream_status\":",
                q->stream ? "true" : "false");
  if (res && res->status) wg_buf_printf(&gb, "%d", res->status);
  else wg_buf_append(&gb, "null", 4);
  wg_buf_printf(&gb, ",\"retries\":%u,\"prompt_tokens\":%lld,"
                "\"completion_tokens\":%lld,\"ttft_ms\":",
                res ? res->retries : 0, (long long)q->prompt_tokens,
                (long long)q->completion_tokens);
  if (q->ttft_ns) wg_buf_printf(&gb, "%.3f", (double)q->ttft_ns * 1e-6);
  else wg_buf_append(&gb, "null", 4);
  wg_buf_append(&gb, ",\"violations\":[", 15);
  if (violation) srv_json_str(&gb, violation, strlen(violation));
  wg_buf_printf(&gb, "],\"redactions\":%u", q->redactions);
  if (q->fmt.kind) {
    wg_buf_printf(&gb, ",\"response_format_retries\":%u", q->fmt_tries);
    if (q->fmt_why[0]) {
      wg_buf_append(&gb, ",\"response_format_error\":", 25);
      srv_json_str(&gb, q->fmt_why, strlen(q->fmt_why));
    }
  }
  if (q->gw->cfg && q->gw->cfg->audit_content) {
    wg_buf_append(&gb, ",\"input\":", 9);
    srv_json_str(&gb, (const char *)q->audit_in.data, q->audit_in.len);
    wg_buf_append(&gb, ",\"output\":", 10);
    srv_json_str(&gb, (const char *)q->audit_out.data, q->audit_out.len);
  }
  wg_buf_append(&gb, "}", 1);
  uint8_t out[32];
  srv_sha256(q->audit_out.data, q->audit_out.len, out);
  srv_audit_entry e = {
      .request_id = q->rid,
      .tenant = q->tenant,
      .key_id = q->key_id[0] ? q->key_id : NULL,
      .principal = "tenant",
      .route = "POST /v1/chat/completions",
      .path = q->path,
      .status = status,
      .input_sha256 = q->in_sha,
      .output_sha256 = out,
      .decision = status < 400 ? "allow" : status < 500 ? "deny" : "error",
      .reason = reason,
      .policy = q->pol_id[0] ? q->pol_id : NULL,
      .policy_version = q->pol_version,
      .latency_ms = (double)(srv_now_ns() - q->t0_ns) * 1e-6,
      .gateway = gb.len ? (const char *)gb.data : NULL,
  };
  srv_audit_write(q->s->audit, &e);
  wg_buf_free(&gb);
}

static void audit_text(wg_buf *b, const char *s, size_t n) {
  if (b->len && wg_buf_append(b, "\n", 1)) return;
  if (n > b->max - b->len) n = b->max - b->len;
  while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;   /* UTF-8 */
  wg_buf_append(b, s, n);
}

/* ------------------------------------------------------------------ */
/* Token limits                                                        */

static int64_t code_points(json_t *str) {
  const char *p = json_string_value(str);
  int64_t n = 0;
  for (size_t b = 0; p && b < json_string_length(str); b++) {
    n += ((unsigned char)p[b] & 0xc0) != 0x80;
  }
  return n;
}

/* Code points of the messages' texts (strings and text parts). */
static int64_t prompt_chars(json_t *msgs) {
  int64_t n = 0;
  size_t i, k;
  json_t *m, *part;
  json_array_foreach(msgs, i, m) {
    json_t *c = json_object_get(m, "content");
    n += code_points(c);
    json_array_foreach(c, k, part) {
      n += code_points(json_object_get(part, "text"));
    }
  }
  return n;
}

/* The reservation of a request: prompt chars / 4 + the answer's cap. */
static int64_t token_estimate(json_t *body) {
  int64_t n = (prompt_chars(json_object_get(body, "messages")) + 3) / 4;
  json_t *mt = json_object_get(body, "max_completion_tokens");
  if (!json_is_integer(mt)) mt = json_object_get(body, "max_tokens");
  if (json_is_integer(mt) && json_integer_value(mt) > 0) {
    n += json_integer_value(mt);
  }
  return n;
}

/* Reserves est tokens of q's tenant: the day's budget in the store, then
** the minute's bucket. false: refused, with the error in *code
** (SRV_E_G_TOKENS, SRV_E_QUOTA, or SRV_E_INTERNAL when the store failed:
** the budget fails closed) and the wait in *retry_ms. */
static bool tokens_reserve(gw_req *q, srv_tenant *t, int64_t est,
                           srv_errcode *code, uint64_t *retry_ms) {
  wg_quotas qs;
  srv_tenant_quotas(t, &qs);
  double burst = (double)qs.gateway_tokens_per_minute, rate = burst / 60.0;
  int64_t now_ms = srv_time_ms(), day = srv_budget_day(now_ms);
  uint64_t now = srv_now_ns(), wait = 0;
  bool ok = true;
  int64_t lim = srv_budget_limit(qs.gateway_tokens_per_day);
  wg_err e = srv_budget_take(q->s, t->id, day, est, lim);
  if (e) {
    ok = false;
    *code = e == WG_ELIMIT ? SRV_E_QUOTA : SRV_E_INTERNAL;
    *retry_ms = (uint64_t)((day + 1) * SRV_BUDGET_DAY_MS - now_ms);
  }
  pthread_mutex_lock(&t->lock);
  srv_bucket_take_n(&t->gw_tokens, rate, burst, 0, now, &wait); /* refill */
  if (ok && !srv_bucket_take_n(&t->gw_tokens, rate, burst, (double)est, now,
                               retry_ms)) {
    ok = false;
    *code = SRV_E_G_TOKENS;
  }
  double left = t->gw_tokens.tokens;
  pthread_mutex_unlock(&t->lock);
  if (!ok && *code == SRV_E_G_TOKENS) {   /* give the day's share back */
    srv_budget_settle(q->s, t->id, day, -est);
  }
  q->rl_set = true;
  q->rl_limit = qs.gateway_tokens_per_minute;
  q->rl_remaining = left > 0 ? (uint64_t)left : 0;
  q->rl_reset_ms = !ok && *code == SRV_E_G_TOKENS ? *retry_ms
                   : left < burst ? (uint64_t)((burst - left) / rate * 1000.0)
                                  : 0;
  if (ok) {
    atomic_fetch_add(&t->refs, 1);
    q->ten = t;
    q->reserved = est;
    q->res_day = day;
  }
  return ok;
}

/* Settles the reservation to actual tokens (once). */
static void tokens_settle(gw_req *q, int64_t actual) {
  srv_tenant *t = q->ten;
  if (!t) return;
  int64_t diff = q->reserved - actual;
  pthread_mutex_lock(&t->lock);
  srv_bucket_give(&t->gw_tokens, (double)q->rl_limit, (double)diff);
  pthread_mutex_unlock(&t->lock);
  if (diff) srv_budget_settle(q->s, t->id, q->res_day, -diff);
  q->reserved = actual;
  srv_tenant_release(t);
  q->ten = NULL;
}

/* OpenAI's duration format: "20ms", "1.5s", "6m0s". */
static void fmt_reset(char *out, size_t size, uint64_t ms) {
  if (ms < 1000) {
    snprintf(out, size, "%llums", (unsigned long long)ms);
  } else if (ms < 60000) {
    snprintf(out, size, "%gs", (double)(ms / 100) / 10.0);
  } else {
    snprintf(out, size, "%llum%llus", (unsigned long long)(ms / 60000),
             (unsigned long long)(ms % 60000 / 1000));
  }
}

/* ------------------------------------------------------------------ */
/* Answers (engine thread)                                             */

/* Appends to the client's stream and wakes the reader (lock held). */
static void out_append(gw_req *q, const char *p, size_t n) {
  if (q->eof) return;
  if (wg_buf_append(&q->out, p, n) != WG_OK) {
    q->eof = true;             /* cannot happen below the cap */
  }
}

static void wake(gw_req *q) {
  if (!q->r || q->hold) return;
  if (!q->committed) {
    q->committed = true;
    srv_req *r = q->r;
    r->status = 200;
    r->resp_type = "text/event-stream";
    atomic_store(&r->ready, true);
    srv_resume(q->s, q->conn);
    return;
  }
  if (q->waiting) {
    q->waiting = false;
    srv_resume(q->s, q->conn);
  }
}

static void error_event(gw_req *q, const char *code, const char *msg) {
  json_t *e = json_pack("{s{ss,ss,sn,ss}}", "error", "message", msg, "type",
                        "server_error", "param", "code", code);
  wg_buf b;
  wg_buf_init(&b, 64u << 10);
  wg_buf_append(&b, "data: ", 6);
  srv_json_dump(e, JSON_COMPACT | JSON_PRESERVE_ORDER, &b);
  wg_buf_append(&b, "\n\n", 2);
  json_decref(e);
  out_append(q, (const char *)b.data, b.len);
  wg_buf_free(&b);
}

/* The upstream's usage, as srv_gw_answer_rewrite reads it. */
static void put_usage(gw_req *q, const gw_answer_usage *u) {
  if (!u->object) return;
  if (u->has_prompt) q->prompt_tokens = u->prompt;
  if (u->has_completion) q->completion_tokens = u->completion;
  q->usage_seen = u->has_prompt || u->has_completion;
}

static void take_usage(gw_req *q, json_t *usage) {
  json_t *p = json_object_get(usage, "prompt_tokens");
  json_t *c = json_object_get(usage, "completion_tokens");
  gw_answer_usage u = {json_is_object(usage), json_is_integer(p),
                       json_is_integer(c), json_integer_value(p),
                       json_integer_value(c)};
  put_usage(q, &u);
}

/* Redacts one streamed content piece of choice idx; final: flush. The
** result replaces the delta's content. false: redaction failed. */
static bool redact_piece(gw_req *q, size_t idx, json_t *delta, bool final) {
  json_t *c = json_object_get(delta, "content");
  bool has = json_is_string(c);
  if (!q->redact || idx >= GW_CHOICES) {
    if (has) audit_text(&q->audit_out, json_string_value(c),
                        json_string_length(c));
    if (has && idx == 0) wg_buf_append(&q->sess_answer, json_string_value(c),
                                       json_string_length(c));
    return idx < GW_CHOICES || !q->redact;   /* never relay unredacted */
  }
  if (!q->red_on[idx]) {
    if (guard_stream_init(&q->red[idx], q->gw->red)) return false;
    q->red_on[idx] = true;
  }
  wg_buf o;
  wg_buf_init(&o, 2u << 20);
  wg_err e = WG_OK;
  uint32_t before = q->red[idx].hits;
  if (has) e = guard_stream_feed(&q->red[idx], json_string_value(c),
                                 json_string_length(c), &o);
  if (!e && final) e = guard_stream_flush(&q->red[idx], &o);
  q->redactions += q->red[idx].hits - before;
  if (!e && (has || o.len)) {
    json_object_set_new(delta, "content",
                        json_stringn(o.data ? (const char *)o.data : "",
                                     o.len));
    audit_text(&q->audit_out, (const char *)o.data, o.len);
    if (idx == 0) wg_buf_append(&q->sess_answer, o.data, o.len);
  }
  wg_buf_free(&o);
  return e == WG_OK;
}

/* One SSE event of the upstream stream. */
static bool on_event(void *user, const char *event, const char *data,
                     size_t len) {
  gw_req *q = user;
  if (len == 6 && !memcmp(data, "[DONE]", 6)) {
    q->done_seen = true;
    return true;
  }
  json_error_t je;
  json_t *j = srv_json_loadb(data, len, 0, &je);
  if (!json_is_object(j)) {
    json_decref(j);
    q->bad_sse = true;
    return false;
  }
  json_t *err = json_object_get(j, "error");
  if (err || !strcmp(event, "error")) {
    json_t *m = json_is_object(err) ? json_object_get(err, "message") : NULL;
    snprintf(q->upstream_error, sizeof q->upstream_error, "%s",
             json_is_string(m) ? json_string_value(m) : "upstream error");
    json_decref(j);
    return false;
  }
  json_t *usage = json_object_get(j, "usage");
  take_usage(q, usage);
  json_t *choices = json_object_get(j, "choices");
  bool usage_chunk = json_is_array(choices) && json_array_size(choices) == 0;
  if (usage_chunk && !q->want_usage) {
    json_decref(j);
    return true;
  }
  if (!q->want_usage) json_object_del(j, "usage");
  if (json_object_get(j, "model")) {
    json_object_set_new(j, "model", json_string(q->model));
  }
  size_t i;
  json_t *ch;
  bool ok = true;
  json_array_foreach(choices, i, ch) {
    json_t *ix = json_object_get(ch, "index");
    size_t idx = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
    json_t *delta = json_object_get(ch, "delta");
    json_t *fr = json_object_get(ch, "finish_reason");
    if (!json_is_object(delta)) continue;
    ok = ok && redact_piece(q, idx, delta, json_is_string(fr));
  }
  if (!ok) {
    json_decref(j);
    snprintf(q->upstream_error, sizeof q->upstream_error,
             "redaction failed");
    return false;
  }
  wg_buf b;
  wg_buf_init(&b, 4u << 20);
  wg_buf_append(&b, "data: ", 6);
  bool dumped = srv_json_dump(j, JSON_COMPACT | JSON_PRESERVE_ORDER, &b) ==
                    WG_OK &&
                wg_buf_append(&b, "\n\n", 2) == WG_OK;
  json_decref(j);
  if (dumped) {
    pthread_mutex_lock(&q->lock);
    out_append(q, (const char *)b.data, b.len);
    if (!q->ttft_ns) q->ttft_ns = srv_now_ns() - q->t0_ns;
    wake(q);
    pthread_mutex_unlock(&q->lock);
  }
  wg_buf_free(&b);
  return dumped;
}

static int on_data(void *user, const char *p, size_t n) {
  gw_req *q = user;
  if (!q->stream) {
    if (!q->ttft_ns) q->ttft_ns = srv_now_ns() - q->t0_ns;
    if (!q->up.cap) wg_buf_reserve(&q->up, n < 1024 ? 1024 : n);
    return wg_buf_append(&q->up, p, n) == WG_OK ? AI_DATA_OK : AI_DATA_ABORT;
  }
  pthread_mutex_lock(&q->lock);
  bool full = q->out.len - q->out_off > GW_OUT_HIGH && !q->eof && q->r &&
              !q->hold;
  if (full) q->paused = true;
  pthread_mutex_unlock(&q->lock);
  if (full) return AI_DATA_PAUSE;
  if (ai_sse_feed(&q->sse, p, n, on_event, q) != WG_OK) return AI_DATA_ABORT;
  pthread_mutex_lock(&q->lock);
  bool c = q->committed;
  pthread_mutex_unlock(&q->lock);
  return c ? AI_DATA_COMMITTED : AI_DATA_OK;
}

/* Forgets what a held stream collected: a new attempt starts. */
static void hold_reset(gw_req *q) {
  pthread_mutex_lock(&q->lock);
  wg_buf_reset(&q->out);
  q->out_off = 0;
  pthread_mutex_unlock(&q->lock);
  wg_buf_reset(&q->audit_out);
  for (int i = 0; i < GW_CHOICES; i++) {
    if (q->red_on[i]) guard_stream_free(&q->red[i]);
    q->red_on[i] = false;
  }
}

static void on_restart(void *user) {
  gw_req *q = user;
  wg_buf_reset(&q->up);
  ai_sse_free(&q->sse);
  ai_sse_init(&q->sse);
  q->done_seen = q->bad_sse = false;
  q->upstream_error[0] = 0;
  wg_buf_reset(&q->sess_answer);
  if (q->hold) hold_reset(q);
}

/* The error answer of a call that failed before anything was sent. */
static void fail_call(srv_req *r, const ai_result *res, gw_req *q) {
  switch (res->outcome) {
    case AI_UPSTREAM_ERROR: {
      json_error_t je;
      json_t *j = res->body->len ? json_loadb((const char *)res->body->data,
                                              res->body->len, 0, &je)
                                 : NULL;
      json_t *e = json_object_get(j, "error");
      if (json_is_object(e) && json_is_string(json_object_get(e, "message"))) {
        json_t *c = json_object_get(e, "code");
        r->reason = json_is_string(c) ? "upstream_error" : "upstream_error";
        srv_reply_json(r, res->status, j);
        return;
      }
      json_decref(j);
      srv_fail(r, SRV_E_UPSTREAM, NULL, "The upstream server answered %d.",
               res->status);
      return;
    }
    case AI_NO_DEPLOYMENT:
    case AI_FAILED: {
      unsigned ra = (unsigned)((res->retry_after_ms + 999) / 1000);
      if (res->rate_limited) {
        r->retry_after_s = ra ? ra : 1;
        srv_fail(r, SRV_E_RATE, NULL, "Every deployment of model %s is rate "
                 "limited. Please try again in %llums.", q->model,
                 (unsigned long long)(res->retry_after_ms
                                          ? res->retry_after_ms : 1000));
      } else if (res->outcome == AI_NO_DEPLOYMENT) {
        r->retry_after_s = ra ? ra : 1;
        srv_fail(r, SRV_E_NO_UPSTREAM, NULL, "No deployment of model %s is "
                 "available (circuit open). Please try again later.",
                 q->model);
      } else if (res->timeout) {
        srv_fail(r, SRV_E_UPSTREAM_TIMEOUT, NULL, "The upstream did not "
                 "answer in time after %u retries (%s).", res->retries,
                 res->error);
      } else {
        srv_fail(r, SRV_E_UPSTREAM, NULL, "The upstream failed after %u "
                 "retries (%s).", res->retries, res->error);
      }
      return;
    }
    case AI_CANCELLED:
      r->reason = res->client_gone ? "client_closed" : "cancelled";
      srv_reply_raw(r, 499, "application/json", "", 0);
      return;
    default:
      if (q->upstream_error[0]) {
        srv_fail(r, SRV_E_UPSTREAM, NULL, "The upstream reported an error: "
                 "%s", q->upstream_error);
      } else {
        srv_fail(r, SRV_E_UPSTREAM, NULL, "The upstream answer could not be "
                 "relayed (%s).", q->bad_sse ? "malformed event stream"
                                              : res->error);
      }
      return;
  }
}

/* Stores the session's new turn after a complete answer (engine thread).
** A store failure loses the turn, not the answer. */
static void session_save(gw_req *q) {
  if (!q->session[0] || !q->sess_user) return;
  const srv_gw_config *c = q->gw->cfg;
  json_t *all = json_array();
  json_array_extend(all, q->sess_hist);
  json_array_append(all, q->sess_user);
  json_array_append_new(all, json_pack(
      "{ss,s:s%}", "role", "assistant", "content",
      q->sess_answer.data ? (const char *)q->sess_answer.data : "",
      q->sess_answer.len));
  size_t keep = (size_t)c->session_turns * 2;
  while (json_array_size(all) > keep) json_array_remove(all, 0);
  wg_buf text;
  wg_buf_init(&text, GW_SESSION_MAX);
  if (srv_json_dump(all, JSON_COMPACT | JSON_PRESERVE_ORDER, &text) ==
      WG_OK) {
    int64_t now = srv_time_ms();
    wg_db *db = q->s->db;
    db->ops->session_put(db, q->tenant, q->session, (const char *)text.data,
                         text.len, now, now + (int64_t)c->session_ttl_s * 1000,
                         NULL);
  }
  wg_buf_free(&text);
  json_decref(all);
}

/* One content string of the answer (srv_gw_answer_rewrite): audited,
** kept for the session (choice 0) and sent redacted. */
static wg_err answer_content(void *user, size_t choice, const char *text,
                             size_t n, const char *raw, size_t rawn,
                             wg_buf *out) {
  gw_req *q = user;
  if (!q->redact) {
    audit_text(&q->audit_out, text, n);
    if (choice == 0) wg_buf_append(&q->sess_answer, text, n);
    return wg_buf_append(out, raw, rawn);
  }
  wg_buf o;
  wg_buf_init(&o, GW_UP_MAX);
  wg_err e = guard_redact(q->gw->red, text, n, &o, &q->redactions);
  if (e == WG_OK) {
    const char *t = o.data ? (const char *)o.data : "";
    audit_text(&q->audit_out, t, o.len);
    if (choice == 0) wg_buf_append(&q->sess_answer, t, o.len);
    srv_json_str(out, t, o.len);
  } else {
    e = WG_EIO;
  }
  wg_buf_free(&o);
  return e;
}

/* A complete non-streamed answer: redact, count, reply. */
static void reply_full(srv_req *r, gw_req *q) {
  gw_answer_usage u;
  wg_buf_reset(&r->resp);
  wg_buf_reserve(&r->resp, q->up.len + 64);
  wg_err e = srv_gw_answer_rewrite(
      q->up.data ? (const char *)q->up.data : "", q->up.len, q->model,
      answer_content, q, &u, &r->resp);
  if (e == WG_EINVAL) {
    srv_fail(r, SRV_E_UPSTREAM, NULL, "The upstream answered with invalid "
             "JSON.");
    return;
  }
  if (e == WG_EIO) {
    /* The tokens were spent all the same: bill them (a rare path). */
    json_t *j = json_loadb((const char *)q->up.data, q->up.len, 0, NULL);
    take_usage(q, json_object_get(j, "usage"));
    json_decref(j);
    srv_fail(r, SRV_E_REDACTION, NULL, "The answer could not be redacted; "
             "it was withheld.");
    return;
  }
  if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return;
  }
  put_usage(q, &u);
  r->status = 200;
  r->resp_type = "application/json";
  session_save(q);
}

/* Settles the tokens (before the client has the end of the answer, so
** that its next request sees them): the upstream's usage; else the
** estimate once an answer began (tokens were spent), nothing when none
** did. Idempotent. */
static void settle(gw_req *q, const ai_result *res) {
  if (!q->ten) return;
  tokens_settle(q, q->prior_tokens +
                   (q->usage_seen ? q->prompt_tokens + q->completion_tokens
                    : (res->outcome == AI_OK || res->outcome == AI_BROKEN ||
                       q->ttft_ns) ? q->reserved
                                   : 0));
}

static const ai_call_ops gw_ops;

/* 502 response_format_violation, after the last attempt. */
static void fail_format(srv_req *r, gw_req *q) {
  srv_fail(r, SRV_E_G_FORMAT, "response_format", "The model's answer did "
           "not satisfy response_format after %u attempt%s: %s",
           q->fmt_tries + 1, q->fmt_tries ? "s" : "", q->fmt_why);
}

/* Whether the complete answer satisfies response_format: choice 0's
** content (a null content, e.g. a refusal or tool calls, is not checked
** in a non-streamed answer). */
static bool format_ok(gw_req *q) {
  if (q->stream) {
    return srv_gw_format_check(&q->fmt, (const char *)q->sess_answer.data,
                               q->sess_answer.len, q->fmt_why,
                               sizeof q->fmt_why);
  }
  json_t *j = json_loadb(q->up.data ? (const char *)q->up.data : "",
                         q->up.len, 0, NULL);
  json_t *c = json_object_get(json_object_get(
      json_array_get(json_object_get(j, "choices"), 0), "message"),
      "content");
  bool ok = !json_is_string(c) ||
            srv_gw_format_check(&q->fmt, json_string_value(c),
                                json_string_length(c), q->fmt_why,
                                sizeof q->fmt_why);
  json_decref(j);
  return ok;
}

/* After a complete answer that fails response_format: asks again (true:
** a new attempt took over the engine's reference) or marks the request
** failed (false). */
static bool format_retry(gw_req *q, const ai_result *res) {
  if (!q->fmt.kind || res->outcome != AI_OK || q->fmt_failed ||
      (q->stream && (!q->done_seen || q->bad_sse)) || format_ok(q)) {
    return false;
  }
  if (q->fmt_tries >= q->gw->cfg->format_retries) {
    q->fmt_failed = true;
    return false;
  }
  gw_depstat *st = depstat(q->gw, res->dep);
  atomic_fetch_add(&st->prompt_tokens, (uint64_t)q->prompt_tokens);
  atomic_fetch_add(&st->completion_tokens, (uint64_t)q->completion_tokens);
  q->prior_tokens += q->usage_seen ? q->prompt_tokens + q->completion_tokens
                                   : q->reserved;
  q->prompt_tokens = q->completion_tokens = 0;
  q->usage_seen = false;
  q->ttft_ns = 0;
  q->fmt_tries++;
  on_restart(q);
  ai_call_spec spec = {.model = q->model,
                       .body = (const char *)q->body_up.data,
                       .body_len = q->body_up.len,
                       .client_fd = q->client_fd};
  ai_call *nc = NULL;
  bool started = false;
  /* Under the lock: srv_gw_completed (which clears q->r before the
  ** connection and its fd go) cannot run in between. */
  pthread_mutex_lock(&q->lock);
  if (q->r && ai_call_start(q->gw->engine, &spec, &gw_ops, q, &nc) ==
                  WG_OK) {
    ai_call_release(q->call_prev);
    q->call_prev = q->call;
    q->call = nc;
    started = true;
  }
  pthread_mutex_unlock(&q->lock);
  if (!started) q->fmt_failed = true;
  return started;
}

static void on_done(void *user, const ai_result *res) {
  gw_req *q = user;
  struct srv_gw *g = q->gw;
  if (format_retry(q, res)) return;
  q->t_end_ns = srv_now_ns();
  atomic_fetch_add(&g->redactions, 0);
  gw_depstat *st = depstat(g, res->dep);
  pthread_mutex_lock(&q->lock);
  q->engine_done = true;
  q->hold = false;              /* checked (or failed): may be sent */
  int status = 0;
  const char *reason = NULL;
  if (q->stream && !q->fmt_failed &&
      (q->committed || (res->outcome == AI_OK && q->r))) {
    /* The stream: finish it (or send what there is, then the end). */
    if (res->outcome == AI_OK && q->done_seen && !q->bad_sse) {
      session_save(q);
      out_append(q, "data: [DONE]\n\n", 14);
    } else if (res->outcome == AI_CANCELLED) {
      reason = res->client_gone ? "client_closed" : "cancelled";
    } else {
      reason = "upstream_error";
      error_event(q, "upstream_error",
                  q->upstream_error[0] ? q->upstream_error
                  : q->bad_sse ? "The upstream sent a malformed event stream."
                  : res->outcome == AI_OK ? "The upstream stream ended "
                                            "without [DONE]."
                                          : "The upstream connection failed "
                                            "during the stream.");
    }
    status = 200;
    settle(q, res);
    q->eof = true;
    wake(q);
    pthread_mutex_unlock(&q->lock);
    gw_audit(q, status, reason, res, NULL);
  } else if (q->r) {
    srv_req *r = q->r;
    pthread_mutex_unlock(&q->lock);
    if (q->fmt_failed) {
      fail_format(r, q);
    } else if (res->outcome == AI_OK && !q->stream) {
      reply_full(r, q);
    } else {
      fail_call(r, res, q);
    }
    settle(q, res);
    status = r->status;
    gw_audit(q, status, r->reason, res, NULL);
    r->audited = true;
    pthread_mutex_lock(&q->lock);
    if (q->r) {
      atomic_store(&r->ready, true);
      srv_resume(q->s, q->conn);
    }
    pthread_mutex_unlock(&q->lock);
  } else {
    pthread_mutex_unlock(&q->lock);
    gw_audit(q, 499, "client_closed", res, NULL);
    status = 499;
  }
  if (res->dep) {
    atomic_fetch_add(&st->prompt_tokens, (uint64_t)q->prompt_tokens);
    atomic_fetch_add(&st->completion_tokens, (uint64_t)q->completion_tokens);
  }
  settle(q, res);
  atomic_fetch_add(&g->redactions, q->redactions);
  count(g, res->dep, status, (double)(q->t_end_ns - q->t0_ns) * 1e-9,
        (double)res->ttfb_ns * 1e-9);
  gw_unref(q);
}

static const ai_call_ops gw_ops = {on_data, on_restart, on_done};

/* ------------------------------------------------------------------ */
/* The stream to the client (MHD threads)                              */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
  gw_req *q = cls;
  (void)pos;
  pthread_mutex_lock(&q->lock);
  size_t avail = q->out.len - q->out_off;
  if (avail) {
    size_t n = avail < max ? avail : max;
    memcpy(buf, q->out.data + q->out_off, n);
    q->out_off += n;
    if (q->out_off == q->out.len) {
      wg_buf_reset(&q->out);
      q->out_off = 0;
    }
    if (q->paused && q->out.len - q->out_off < GW_OUT_HIGH / 2) {
      q->paused = false;
      ai_call_unpause(q->call);
    }
    pthread_mutex_unlock(&q->lock);
    return (ssize_t)n;
  }
  if (q->eof) {
    pthread_mutex_unlock(&q->lock);
    return MHD_CONTENT_READER_END_OF_STREAM;
  }
  q->waiting = true;
  MHD_suspend_connection(q->conn);
  pthread_mutex_unlock(&q->lock);
  return 0;
}

static void reader_free(void *cls) { gw_unref(cls); }

struct MHD_Response *srv_gw_response(srv_req *r) {
  gw_req *q = r->gw;
  if (!q->stream || !q->committed || r->status != 200) return NULL;
  atomic_fetch_add(&q->refs, 1);
  struct MHD_Response *resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 16 * 1024, reader, q, reader_free);
  if (!resp) gw_unref(q);
  return resp;
}

void srv_gw_headers(srv_req *r, struct MHD_Response *resp) {
  gw_req *q = r->gw;
  uint64_t now = srv_now_ns();
  uint64_t up = q->t_call_ns ? (q->t_end_ns ? q->t_end_ns : now) - q->t_call_ns
                             : 0;
  if (q->stream && q->committed && q->ttft_ns && !q->t_end_ns) {
    up = q->t0_ns + q->ttft_ns - q->t_call_ns;
  }
  uint64_t total = now - q->t0_ns;
  char v[32];
  snprintf(v, sizeof v, "%.3f", (double)(total > up ? total - up : 0) * 1e-6);
  MHD_add_response_header(resp, "x-wasmgate-overhead-ms", v);
  if (q->stream && q->committed) {
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  }
  if (q->rl_set) {
    snprintf(v, sizeof v, "%llu", (unsigned long long)q->rl_limit);
    MHD_add_response_header(resp, "x-ratelimit-limit-tokens", v);
    snprintf(v, sizeof v, "%llu", (unsigned long long)q->rl_remaining);
    MHD_add_response_header(resp, "x-ratelimit-remaining-tokens", v);
    fmt_reset(v, sizeof v, q->rl_reset_ms);
    MHD_add_response_header(resp, "x-ratelimit-reset-tokens", v);
  }
}

void srv_gw_completed(srv_req *r, int toe) {
  gw_req *q = r->gw;
  (void)toe;
  r->gw = NULL;
  pthread_mutex_lock(&q->lock);
  q->r = NULL;
  q->eof = true;
  bool running = !q->engine_done;
  if (running && q->call) ai_call_cancel(q->call);  /* never blocks */
  pthread_mutex_unlock(&q->lock);
  gw_unref(q);
}

/* ------------------------------------------------------------------ */
/* POST /v1/chat/completions                                           */

static srv_errcode violation_err(const char *code, size_t *k) {
  static const srv_errcode map[NVIOLATIONS] = {
      SRV_E_G_CONTROL, SRV_E_G_MSG_LONG, SRV_E_G_REQ_LONG, SRV_E_G_TOKEN,
      SRV_E_G_INPUT_LONG};
  for (size_t i = 0; i < NVIOLATIONS; i++) {
    if (!strcmp(violation_names[i], code)) {
      *k = i;
      return map[i];
    }
  }
  *k = 0;
  return SRV_E_BAD_REQUEST;
}

/* Checks (and strips, redacts) one text of a message or an input;
** replaces it in its parent: the member field of an object, or (field
** NULL) element idx of an array. */
static bool check_text(srv_req *r, gw_req *q, const guard_cfg *gc,
                       guard_text kind, json_t *parent, const char *field,
                       size_t idx, json_t *str, const char *param,
                       uint64_t *total, guard_violation *v) {
  size_t n = json_string_length(str);
  char *s = wg_realloc_(NULL, 0, n + 1);
  if (!s) {
    v->code = NULL;
    return false;
  }
  memcpy(s, json_string_value(str), n + 1);
  size_t n0 = n;
  uint64_t chars = 0;
  bool ok = guard_check_text(gc, kind, s, &n, &chars, v);
  if (ok && n != n0) q->ctrl_stripped++;
  *total += chars;
  uint32_t lim = kind == GUARD_INPUT ? gc->max_input_total_chars
                                     : gc->max_request_chars;
  if (ok && lim && *total > lim) {
    v->code = "request_too_long";
    snprintf(v->message, sizeof v->message, "The %s have more than %u "
             "characters in all (the limit).",
             kind == GUARD_INPUT ? "inputs" : "messages", lim);
    ok = false;
  }
  if (ok) {
    wg_buf red;
    wg_buf_init(&red, (size_t)n * 4 + 1024);
    const char *final = s;
    size_t fn = n;
    if (q->gw->cfg->redact_input) {
      if (guard_redact(q->gw->red, s, n, &red, &q->redactions)) {
        wg_buf_free(&red);
        wg_free(s, n0 + 1);
        v->code = NULL;
        return false;
      }
      final = red.data ? (const char *)red.data : "";
      fn = red.len;
    }
    audit_text(&q->audit_in, final, fn);
    if (fn != n0 || final != s || n != n0) {
      json_t *t = json_stringn(final, fn);
      if (field) json_object_set_new(parent, field, t);
      else json_array_set_new(parent, idx, t);
    }
    wg_buf_free(&red);
  }
  (void)r;
  (void)param;
  wg_free(s, n0 + 1);
  return ok;
}

/* Answers (and audits) a failed check_text: v's violation, naming param
** (all_param for the request's total), or v->code NULL: the redactor
** failed. */
static void fail_violation(srv_req *r, gw_req *q, const guard_violation *v,
                           const char *param, const char *all_param) {
  if (!v->code) {
    srv_fail(r, SRV_E_REDACTION, NULL, "The request could not be checked.");
    return;
  }
  size_t k;
  srv_errcode e = violation_err(v->code, &k);
  atomic_fetch_add(&q->gw->violations[k], 1);
  srv_fail(r, e, strcmp(v->code, "request_too_long") ? param : all_param,
           "%s", v->message);
  gw_audit(q, r->status, v->code, NULL, v->code);
  r->audited = true;
}

/* The guardrails over messages. false: answered (400) and audited. */
static bool check_messages(srv_req *r, gw_req *q, json_t *msgs) {
  const srv_gw_tenant *t = tenant_cfg(q->gw->cfg, q->tenant);
  const guard_cfg *gc = t ? &t->guard : &q->gw->cfg->guard;
  uint64_t total = 0;
  size_t i;
  json_t *m;
  guard_violation v;
  char param[96];
  json_array_foreach(msgs, i, m) {
    if (!json_is_object(m) || !json_is_string(json_object_get(m, "role"))) {
      snprintf(param, sizeof param, "messages[%zu]", i);
      srv_fail(r, SRV_E_BAD_PARAM, param, "messages[%zu] must be an object "
               "with a string 'role'", i);
      return false;
    }
    json_t *c = json_object_get(m, "content");
    bool ok = true;
    snprintf(param, sizeof param, "messages[%zu].content", i);
    if (json_is_string(c)) {
      ok = check_text(r, q, gc, GUARD_MESSAGE, m, "content", 0, c, param,
                      &total, &v);
    } else if (json_is_array(c)) {
      size_t k;
      json_t *part;
      json_array_foreach(c, k, part) {
        json_t *tx = json_object_get(part, "text");
        if (!json_is_string(tx)) continue;
        snprintf(param, sizeof param, "messages[%zu].content[%zu].text", i,
                 k);
        ok = check_text(r, q, gc, GUARD_MESSAGE, part, "text", 0, tx,
                        param, &total, &v);
        if (!ok) break;
      }
    } else if (c && !json_is_null(c)) {
      srv_fail(r, SRV_E_BAD_PARAM, param, "%s must be a string, an array of "
               "content parts or null", param);
      return false;
    }
    if (!ok) {
      fail_violation(r, q, &v, param, "messages");
      return false;
    }
  }
  return true;
}

/* x-session-id: up to GW_SESSION_ID_MAX of [A-Za-z0-9._:-]. */
static bool session_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > GW_SESSION_ID_MAX) return false;
  for (const char *p = id; *p; p++) {
    char ch = *p;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' ||
          ch == '-')) {
      return false;
    }
  }
  return true;
}

/* Loads the session and prepends its messages to msgs (in body); keeps
** a copy of the last user message for the new turn. false: answered. */
static bool session_load(srv_req *r, gw_req *q, json_t *body, json_t *msgs) {
  wg_buf text;
  wg_buf_init(&text, GW_SESSION_MAX);
  wg_db *db = r->s->db;
  wg_err e = db->ops->session_get(db, q->tenant, q->session, srv_time_ms(),
                                  &text, NULL);
  if (e != WG_OK && e != WG_ENOTFOUND) {
    wg_buf_free(&text);
    srv_fail(r, SRV_E_INTERNAL, NULL, "The session could not be read.");
    return false;
  }
  json_error_t je;
  json_t *hist = e == WG_OK ? json_loadb((const char *)text.data, text.len,
                                         0, &je)
                            : json_array();
  wg_buf_free(&text);
  if (!json_is_array(hist)) {   /* cannot happen: we wrote it */
    json_decref(hist);
    hist = json_array();
  }
  for (size_t i = json_array_size(msgs); i-- > 0;) {
    json_t *m = json_array_get(msgs, i);
    json_t *role = json_object_get(m, "role");
    if (json_is_string(role) && !strcmp(json_string_value(role), "user")) {
      q->sess_user = json_deep_copy(m);
      break;
    }
  }
  q->sess_hist = hist;
  if (json_array_size(hist)) {
    json_t *all = json_copy(hist);
    json_array_extend(all, msgs);
    json_object_set_new(body, "messages", all);
  }
  return true;
}

/* Lowers the request's completion cap to lim (sets max_tokens when it
** has none). */
static void lower_max_tokens(json_t *body, json_int_t lim) {
  static const char *const names[] = {"max_completion_tokens", "max_tokens"};
  bool any = false;
  if (lim < 1) lim = 1;
  for (size_t i = 0; i < 2; i++) {
    json_t *v = json_object_get(body, names[i]);
    if (!v || json_is_null(v)) continue;
    any = true;
    if (!json_is_integer(v) || json_integer_value(v) > lim) {
      json_object_set_new(body, names[i], json_integer(lim));
    }
  }
  if (!any) json_object_set_new(body, "max_tokens", json_integer(lim));
}

/* The chat decision point (policy.chat; the input is in the comment at
** the top), for a chat request or (embed_est not NULL: the request's
** token estimate) an embeddings request: the input's "point" says which.
** false: answered 403 policy_denied and audited. */
static bool chat_policy(srv_req *r, gw_req *q, json_t *body,
                        const int64_t *embed_est) {
  bool embed = embed_est != NULL;
  static const char *const kinds[] = {"text", "json_object", "json_schema"};
  pthread_mutex_lock(&r->s->cfg_lock);
  bool configured = r->s->cfg.policy_chat[0] != 0;
  pthread_mutex_unlock(&r->s->cfg_lock);
  if (!configured) return true;   /* nothing to decide: skip the input */
  /* the text's bytes: of the messages, or of the inputs (only the
  ** request's own kind: a stray field of the other is not counted) */
  json_t *msgs = embed ? NULL : json_object_get(body, "messages");
  json_t *input = embed ? json_object_get(body, "input") : NULL;
  json_int_t bytes = (json_int_t)json_string_length(input);
  json_int_t inputs = json_is_array(input) ? (json_int_t)json_array_size(input)
                                           : 1;
  size_t i, k;
  json_t *m, *part;
  json_array_foreach(input, i, m) bytes += (json_int_t)json_string_length(m);
  json_array_foreach(msgs, i, m) {
    json_t *c = json_object_get(m, "content");
    bytes += (json_int_t)json_string_length(c);
    json_array_foreach(c, k, part) {
      bytes += (json_int_t)json_string_length(json_object_get(part, "text"));
    }
  }
  json_t *mt = json_object_get(body, "max_completion_tokens");
  if (!json_is_integer(mt)) mt = json_object_get(body, "max_tokens");
  json_t *findings = json_array();
  if (q->redactions) {
    json_array_append_new(findings, json_pack(
        "{ss,ss,si}", "type", "pii", "action", "redacted", "count",
        (int)q->redactions));
  }
  if (q->ctrl_stripped) {
    json_array_append_new(findings, json_pack(
        "{ss,ss,si}", "type", "control_characters", "action", "stripped",
        "count", (int)q->ctrl_stripped));
  }
  json_t *in = embed
      ? json_pack("{ss,ss,ss,sI,sI,so}", "point", "embeddings", "tenant",
                  q->tenant, "model", q->model, "inputs", inputs,
                  "input_bytes", bytes, "findings", findings)
      : json_pack("{ss,ss,ss,sb,sI,sI,so,ss,so}", "point", "chat", "tenant",
                  q->tenant, "model", q->model, "stream", q->stream,
                  "messages", (json_int_t)json_array_size(msgs),
                  "message_bytes", bytes, "max_tokens",
                  json_is_integer(mt) ? json_incref(mt) : json_null(),
                  "response_format", kinds[q->fmt.kind], "findings",
                  findings);
  if (!in) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return false;
  }
  srv_decision d;
  bool ok = srv_policy_decide(r->s, r, SRV_POLICY_CHAT, in, &d);
  json_decref(in);
  if (d.configured) {
    snprintf(q->pol_id, sizeof q->pol_id, "%s", d.policy);
    q->pol_version = d.version;
  }
  json_t *lim = json_object_get(d.limits, "max_tokens");
  if (ok && !embed && json_is_integer(lim)) {
    lower_max_tokens(body, json_integer_value(lim));
  }
  lim = json_object_get(d.limits, "max_request_tokens");
  int64_t est = embed ? *embed_est : token_estimate(body);
  if (ok && json_is_integer(lim) && est > json_integer_value(lim)) {
    char why[256];
    snprintf(why, sizeof why, "the request needs about %lld tokens; policy "
             "%s allows %lld per request", (long long)est, d.policy,
             (long long)json_integer_value(lim));
    json_array_append_new(d.reasons, json_string(why));
    ok = false;
  }
  if (!ok) {
    srv_policy_fail(r, &d);
    gw_audit(q, r->status, "policy_denied", NULL, NULL);
    r->audited = true;
  }
  srv_decision_free(&d);
  return ok;
}

static gw_req *gw_req_new(srv_req *r, const char *model) {
  gw_req *q = wg_new(gw_req);
  if (!q) return NULL;
  atomic_init(&q->refs, 1);
  pthread_mutex_init(&q->lock, NULL);
  q->s = r->s;
  q->gw = r->s->gw;
  q->r = r;
  q->conn = r->conn;
  q->t0_ns = r->t0_ns;
  snprintf(q->model, sizeof q->model, "%s", model);
  snprintf(q->rid, sizeof q->rid, "%s", r->id);
  snprintf(q->tenant, sizeof q->tenant, "%s", r->who.tenant->id);
  snprintf(q->key_id, sizeof q->key_id, "%s", r->who.key_id);
  snprintf(q->path, sizeof q->path, "%s", r->path);
  wg_buf_init(&q->up, GW_UP_MAX);
  wg_buf_init(&q->out, GW_OUT_HIGH * 8);
  wg_buf_init(&q->audit_in, GW_AUDIT_TEXT_MAX);
  wg_buf_init(&q->audit_out, GW_AUDIT_TEXT_MAX);
  wg_buf_init(&q->sess_answer, GW_SESSION_MAX);
  wg_buf_init(&q->body_up, GW_UP_MAX);
  q->client_fd = -1;
  ai_sse_init(&q->sse);
  srv_sha256(r->body.data, r->body.len, q->in_sha);
  return q;
}

/* The request's call upstream (endpoint: ai_call_spec's) with est
** tokens reserved; takes q (the request's reference). Answers now when
** the tokens are refused or the call cannot start; else the engine does. */
static void gw_start(srv_req *r, gw_req *q, json_t *body, int64_t est,
                     const char *endpoint) {
  json_object_del(body, "model");
  wg_buf text;
  wg_buf_init(&text, GW_UP_MAX);
  wg_buf_reserve(&text, r->body.len + 64);
  if (srv_json_dump(body, JSON_COMPACT | JSON_PRESERVE_ORDER, &text)) {
    wg_buf_free(&text);
    gw_unref(q);
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return;
  }
  srv_errcode lim = SRV_E_G_TOKENS;
  uint64_t wait_ms = 0;
  if (!tokens_reserve(q, r->who.tenant, est, &lim, &wait_ms)) {
    wg_buf_free(&text);
    r->gw = q;                  /* for the x-ratelimit headers */
    r->retry_after_s = (unsigned)((wait_ms + 999) / 1000);
    if (lim == SRV_E_G_TOKENS) {
      char in[32];
      fmt_reset(in, sizeof in, wait_ms);
      srv_fail(r, lim, NULL, "Rate limit reached for tokens per minute of "
               "tenant %s: limit %llu. Please try again in %s.", q->tenant,
               (unsigned long long)q->rl_limit, in);
    } else if (lim == SRV_E_QUOTA) {
      srv_fail(r, lim, NULL, "Tenant %s has used its daily token budget.",
               q->tenant);
    } else {
      r->retry_after_s = 0;
      srv_fail(r, lim, NULL, "The token budget of tenant %s could not be "
               "checked.", q->tenant);
    }
    return;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  q->client_fd = ci ? ci->connect_fd : -1;
  q->body_up = text;            /* kept for a response_format retry */
  ai_call_spec spec = {.model = q->model, .body = (const char *)text.data,
                       .body_len = text.len, .client_fd = q->client_fd,
                       .endpoint = endpoint};
  r->gw = q;                    /* the request's reference */
  atomic_fetch_add(&q->refs, 1);  /* the engine's */
  q->t_call_ns = srv_now_ns();
  r->suspended = true;
  MHD_suspend_connection(r->conn);
  ai_call *c0 = NULL;
  if (ai_call_start(q->gw->engine, &spec, &gw_ops, q, &c0) != WG_OK) {
    /* Never started: answer here (the connection is resumed by http.c's
    ** ready path). */
    atomic_fetch_sub(&q->refs, 1);
    tokens_settle(q, 0);
    srv_fail(r, SRV_E_INTERNAL, NULL, "The upstream call could not start.");
    atomic_store(&r->ready, true);
    srv_resume(r->s, r->conn);
  } else {
    /* The call may already have ended, even have been asked again
    ** (format_retry): keep the newest in q->call. */
    pthread_mutex_lock(&q->lock);
    if (!q->call) {
      q->call = c0;
    } else if (!q->call_prev) {
      q->call_prev = c0;
    } else {
      ai_call_release(c0);        /* long finished */
    }
    pthread_mutex_unlock(&q->lock);
  }
}

/* The body of a gateway request: not srv_body_object, since U+0000 must
** reach the guardrails (reject or strip). NULL: answered. */
static json_t *gw_body(srv_req *r) {
  json_error_t je;
  json_t *body = srv_json_loadb(
      r->body.data ? (const char *)r->body.data : "", r->body.len,
      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  if (!body) {
    srv_fail(r, SRV_E_BAD_JSON, NULL, "We could not parse the JSON body of "
             "your request: %s (line %d, column %d)", je.text, je.line,
             je.column);
    return NULL;
  }
  if (!json_is_object(body)) {
    srv_fail(r, SRV_E_BAD_REQUEST, NULL, "the body must be a JSON object");
    json_decref(body);
    return NULL;
  }
  return body;
}

/* The request's "model": a string, or NULL (answered). */
static const char *gw_model_name(srv_req *r, json_t *body) {
  json_t *model = json_object_get(body, "model");
  if (!model) {
    srv_fail(r, SRV_E_MISSING_PARAM, "model", "you must provide a model "
             "parameter");
    return NULL;
  }
  if (!json_is_string(model)) {
    srv_fail(r, SRV_E_BAD_PARAM, "model", "'model' must be a string");
    return NULL;
  }
  return json_string_value(model);
}

/* Whether the model is configured and the tenant may use it; false:
** answered (404, 403). */
static bool gw_model_ok(srv_req *r, const char *mname) {
  struct srv_gw *g = r->s->gw;
  if (!g->cfg || !ai_router_has_model(&g->cfg->router, mname) ||
      strlen(mname) >= AI_NAME_MAX) {
    fail_no_model(r, mname);
    return false;
  }
  if (!model_allowed(tenant_cfg(g->cfg, r->who.tenant->id), mname)) {
    srv_fail(r, SRV_E_MODEL_DENIED, "model", "Tenant %s is not allowed to use "
             "the model `%s`.", r->who.tenant->id, mname);
    return false;
  }
  return true;
}

void srv_h_chat(srv_req *r) {
  struct srv_gw *g = r->s->gw;
  json_t *body = gw_body(r);
  if (!body) return;
  json_t *msgs = json_object_get(body, "messages");
  const char *mname = gw_model_name(r, body);
  if (!mname) goto out;
  if (!msgs) {
    srv_fail(r, SRV_E_MISSING_PARAM, "messages", "'messages' is required");
    goto out;
  }
  if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
    srv_fail(r, SRV_E_BAD_PARAM, "messages", "'messages' must be a non-empty "
             "array");
    goto out;
  }
  json_t *stream = json_object_get(body, "stream");
  if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
    srv_fail(r, SRV_E_BAD_PARAM, "stream", "'stream' must be a boolean");
    goto out;
  }
  json_t *sopt = json_object_get(body, "stream_options");
  if (sopt && !json_is_object(sopt) && !json_is_null(sopt)) {
    srv_fail(r, SRV_E_BAD_PARAM, "stream_options", "'stream_options' must be "
             "an object");
    goto out;
  }
  if (!gw_model_ok(r, mname)) goto out;
  gw_req *q = gw_req_new(r, mname);
  if (!q) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    goto out;
  }
  q->stream = json_is_true(stream);
  q->redact = g->cfg->redact_output;
  if (!srv_gw_format_parse(r, body, &q->fmt)) {
    gw_unref(q);
    goto out;
  }
  q->hold = q->stream && q->fmt.kind != GW_FORMAT_NONE;
  if (!check_messages(r, q, msgs)) {
    gw_unref(q);
    goto out;
  }
  const char *sid = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                "x-session-id");
  if (sid) {
    if (!session_id_ok(sid)) {
      gw_unref(q);
      srv_fail(r, SRV_E_BAD_PARAM, "x-session-id", "x-session-id must be 1 "
               "to %d characters of A-Z a-z 0-9 . _ : -", GW_SESSION_ID_MAX);
      goto out;
    }
    snprintf(q->session, sizeof q->session, "%s", sid);
    if (!session_load(r, q, body, msgs)) {
      gw_unref(q);
      goto out;
    }
  }
  if (q->stream) {
    q->want_usage = json_is_true(json_object_get(sopt, "include_usage"));
    if (!json_is_object(sopt)) {
      json_object_set_new(body, "stream_options", json_object());
      sopt = json_object_get(body, "stream_options");
    }
    json_object_set_new(sopt, "include_usage", json_true());
  }
  if (!chat_policy(r, q, body, NULL)) {
    gw_unref(q);
    goto out;
  }
  gw_start(r, q, body, token_estimate(body), NULL);
out:
  json_decref(body);
}

/* ------------------------------------------------------------------ */
/* POST /v1/embeddings                                                 */

#define GW_EMBED_INPUTS_MAX 2048  /* OpenAI's limit on one request */

/* One token array of "input": non-empty, each id in [0, 2^31). */
static bool token_ids(json_t *a, int64_t *n) {
  size_t i;
  json_t *t;
  if (!json_is_array(a) || json_array_size(a) == 0) return false;
  json_array_foreach(a, i, t) {
    if (!json_is_integer(t) || json_integer_value(t) < 0 ||
        json_integer_value(t) > INT32_MAX) {
      return false;
    }
  }
  *n += (int64_t)json_array_size(a);
  return true;
}

/* "input": a string, or a non-empty array of strings, of token ids or of
** token arrays. Its texts pass the tenant's guardrails (but for
** chat-template tokens, which mean nothing to an embedding model) and the
** input redaction. *est: the token estimate. false: answered. */
static bool check_input(srv_req *r, gw_req *q, json_t *body, int64_t *est) {
  static const char kinds[] = "'input' must be a string, an array of "
                              "strings, an array of token ids or an array "
                              "of token id arrays";
  json_t *in = json_object_get(body, "input");
  if (!in) {
    srv_fail(r, SRV_E_MISSING_PARAM, "input", "'input' is required");
    return false;
  }
  const srv_gw_tenant *t = tenant_cfg(q->gw->cfg, q->tenant);
  const guard_cfg *gc = t ? &t->guard : &q->gw->cfg->guard;
  uint64_t total = 0;
  int64_t ids = 0;
  guard_violation v;
  char param[64] = "input";
  if (json_is_string(in)) {
    if (json_string_length(in) == 0) {
      srv_fail(r, SRV_E_BAD_PARAM, "input", "'input' must not be empty");
      return false;
    }
    if (!check_text(r, q, gc, GUARD_INPUT, body, "input", 0, in, param,
                    &total, &v)) {
      fail_violation(r, q, &v, param, "input");
      return false;
    }
    *est = ((int64_t)total + 3) / 4;
    return true;
  }
  size_t n = json_is_array(in) ? json_array_size(in) : 0;
  if (n == 0) {
    srv_fail(r, SRV_E_BAD_PARAM, "input", "%s", kinds);
    return false;
  }
  if (n > GW_EMBED_INPUTS_MAX) {
    srv_fail(r, SRV_E_BAD_PARAM, "input", "'input' has %zu entries; at most "
             "%d are allowed", n, GW_EMBED_INPUTS_MAX);
    return false;
  }
  json_t *first = json_array_get(in, 0);
  if (json_is_integer(first)) {   /* one text as token ids */
    if (!token_ids(in, &ids)) {
      srv_fail(r, SRV_E_BAD_PARAM, "input", "%s", kinds);
      return false;
    }
    *est = ids;
    return true;
  }
  size_t i;
  json_t *e;
  bool texts = json_is_string(first);   /* first may be replaced below */
  json_array_foreach(in, i, e) {
    snprintf(param, sizeof param, "input[%zu]", i);
    if (texts != json_is_string(e) ||
        (!json_is_string(e) && !token_ids(e, &ids))) {
      srv_fail(r, SRV_E_BAD_PARAM, param, "%s", kinds);
      return false;
    }
    if (!json_is_string(e)) continue;
    if (json_string_length(e) == 0) {
      srv_fail(r, SRV_E_BAD_PARAM, param, "%s must not be empty", param);
      return false;
    }
    if (!check_text(r, q, gc, GUARD_INPUT, in, NULL, i, e, param, &total,
                    &v)) {
      fail_violation(r, q, &v, param, "input");
      return false;
    }
  }
  *est = ((int64_t)total + 3) / 4 + ids;   /* total: the texts' characters */
  return true;
}

void srv_h_embeddings(srv_req *r) {
  struct srv_gw *g = r->s->gw;
  json_t *body = gw_body(r);
  if (!body) return;
  const char *mname = gw_model_name(r, body);
  if (!mname || !gw_model_ok(r, mname)) goto out;
  if (ai_local_find(&g->cfg->router, mname)) {
    srv_fail(r, SRV_E_BAD_PARAM, "model", "The model `%s` does not support "
             "embeddings.", mname);
    goto out;
  }
  gw_req *q = gw_req_new(r, mname);
  if (!q) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    goto out;
  }
  int64_t est = 0;
  if (!check_input(r, q, body, &est) ||
      !chat_policy(r, q, body, &est)) {
    gw_unref(q);
    goto out;
  }
  gw_start(r, q, body, est, "embeddings");
out:
  json_decref(body);
}
