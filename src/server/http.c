/*
** The HTTP layer over libmicrohttpd (epoll, a pool of HTTP threads).
**
** One request's life (MHD calls on_access several times per request):
**   first call    create the srv_req, pick the route, check the key, the
**                 tenant's rate, the media type and the declared length;
**                 a failure is answered at once (before any body is read)
**   body calls    append to the capped body (beyond the cap: discarded)
**   last call     run the handler inline, or - ASYNC routes - reserve a
**                 pool slot, suspend the connection and queue the handler;
**                 the pool thread resumes the connection when done
**   after resume  send the answer
**   answer        the audit line, then the answer (send_reply)
**   completed     metrics, free (on_completed)
**
** Every answer carries x-request-id (the client's when it is sane).
**
** Threads: without models, MHD's own pool (server.threads). With models,
** one daemon per gateway engine thread, run by that thread's loop
** (start_on_engine); a connection resumed from elsewhere (srv_resume)
** then kicks its thread, as MHD only looks at it when run.
*/
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "server/audit.h"
#include "server/gateway.h"
#include "server/gw_json.h"
#include "server/metrics.h"
#include "server/pool.h"
#include "server/srv.h"

#define RESP_MAX (256u << 20)

/* ------------------------------------------------------------------ */
/* Errors and replies                                                  */

static const struct {
  int status;
  const char *type, *code;
} err_rows[] = {
#define SRV__E(name, status, type, code) {status, type, code},
    SRV_ERR_MAP(SRV__E)
#undef SRV__E
};

int srv_err_status(srv_errcode e) { return err_rows[e].status; }
const char *srv_err_type(srv_errcode e) { return err_rows[e].type; }
const char *srv_err_code(srv_errcode e) { return err_rows[e].code; }

json_t *srv_error_json(srv_errcode e, const char *param, const char *message) {
  json_t *p = param ? json_string(param) : json_null();
  return json_pack("{s{ss,ss,so,ss}}", "error", "message", message, "type",
                   err_rows[e].type, "param", p ? p : json_null(), "code",
                   err_rows[e].code);
}

static int dump_cb(const char *buf, size_t size, void *data) {
  return wg_buf_append(data, buf, size) == WG_OK ? 0 : -1;
}

wg_err srv_json_dump(const json_t *j, size_t flags, wg_buf *out) {
  if (!j) return WG_ENOMEM;
  /* The usual flags: the same bytes, without a callback per token. */
  if (flags == (JSON_COMPACT | JSON_PRESERVE_ORDER)) {
    return srv_json_dump_compact(j, out);
  }
  return json_dump_callback(j, dump_cb, out, flags) == 0 ? WG_OK : WG_ENOMEM;
}

void srv_reply_raw(srv_req *r, int status, const char *type, const void *p,
                   size_t n) {
  wg_buf_reset(&r->resp);
  r->status = status;
  r->resp_type = type;
  if (wg_buf_append(&r->resp, p, n) != WG_OK) {
    r->status = 500;
    wg_buf_reset(&r->resp);
  }
}

void srv_reply_json(srv_req *r, int status, json_t *body) {
  wg_buf_reset(&r->resp);
  r->status = status;
  r->resp_type = "application/json";
  if (srv_json_dump(body, JSON_COMPACT | JSON_PRESERVE_ORDER, &r->resp)) {
    wg_buf_reset(&r->resp);
    r->status = 500;
    r->reason = err_rows[SRV_E_INTERNAL].code;
    wg_buf_printf(&r->resp, "{\"error\":{\"message\":\"out of memory\","
                            "\"type\":\"server_error\",\"param\":null,"
                            "\"code\":\"internal_error\"}}");
  }
  json_decref(body);
}

void srv_fail(srv_req *r, srv_errcode e, const char *param, const char *fmt,
              ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* The message may quote client input: keep it valid UTF-8 for JSON. */
  if (!srv_utf8_valid((const uint8_t *)msg, strlen(msg))) {
    snprintf(msg, sizeof msg, "%s", err_rows[e].code);
  }
  r->reason = err_rows[e].code;
  srv_reply_json(r, err_rows[e].status, srv_error_json(e, param, msg));
}

json_t *srv_body_object(srv_req *r, bool empty_ok) {
  if (r->body.len == 0 && empty_ok) return json_object();
  json_error_t je;
  json_t *j = srv_json_loadb(r->body.data ? (const char *)r->body.data : "",
                             r->body.len, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    srv_fail(r, SRV_E_BAD_JSON, NULL,
             "We could not parse the JSON body of your request: %s (line "
             "%d, column %d)", je.text, je.line, je.column);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    srv_fail(r, SRV_E_BAD_REQUEST, NULL, "the body must be a JSON object");
    return NULL;
  }
  return j;
}

bool srv_json_known(srv_req *r, json_t *obj, const char *const *names,
                    const char *prefix) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    bool known = false;
    for (size_t i = 0; names[i] && !known; i++) known = !strcmp(names[i], k);
    if (!known) {
      char param[160];
      snprintf(param, sizeof param, "%s%.100s", prefix, k);
      srv_fail(r, SRV_E_BAD_PARAM, param, "unknown parameter '%s'", param);
      return false;
    }
  }
  return true;
}

const char *srv_header(srv_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------ */
/* Request set-up                                                      */

static bool request_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
          c == ':')) {
      return false;
    }
  }
  return true;
}

static uint64_t body_cap(srv *s, int kind) {
  uint64_t cap;
  pthread_mutex_lock(&s->cfg_lock);   /* not a snapshot: 7 KB per request */
  switch (kind) {
    case SRV_BODY_JSON: cap = s->cfg.max_json_bytes; break;
    case SRV_BODY_MODULE: cap = s->cfg.max_module_bytes; break;
    case SRV_BODY_POLICY: cap = s->cfg.max_module_bytes; break;
    case SRV_BODY_MULTIPART: cap = s->cfg.max_multipart_bytes; break;
    default: cap = 0; break;
  }
  pthread_mutex_unlock(&s->cfg_lock);
  return cap;
}

/* The media type a route's body must have (NULL: any). */
static bool media_ok(srv_req *r, const char **want) {
  const char *ct = r->content_type;
  switch (r->route->body) {
    case SRV_BODY_JSON:
      *want = "application/json";
      return !ct || srv_media_is(ct, "application/json");
    case SRV_BODY_MODULE:
      *want = "application/wasm";
      return srv_media_is(ct, "application/wasm") ||
             srv_media_is(ct, "application/octet-stream");
    case SRV_BODY_POLICY:   /* a .wasm module or an OPA bundle */
      *want = "application/wasm or application/gzip";
      return srv_media_is(ct, "application/wasm") ||
             srv_media_is(ct, "application/gzip") ||
             srv_media_is(ct, "application/x-gzip") ||
             srv_media_is(ct, "application/vnd.openpolicyagent.bundles") ||
             srv_media_is(ct, "application/octet-stream");
    case SRV_BODY_MULTIPART:
      *want = "multipart/form-data";
      return srv_media_is(ct, "multipart/form-data");
    default:
      return true;
  }
}

/* Checks the declared body against the route; answers and returns false
** when it cannot be accepted. */
static bool check_body_headers(srv_req *r) {
  const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
  const char *te = srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  bool has_body = declared > 0 || te;
  uint64_t cap = body_cap(r->s, r->route->body);
  r->body.max = cap;
  if (declared > cap) {
    srv_fail(r, SRV_E_TOO_LARGE, NULL,
             "the request body (%llu bytes) is larger than this route's "
             "limit of %llu bytes", declared, (unsigned long long)cap);
    return false;
  }
  const char *want;
  if (has_body && !media_ok(r, &want)) {
    srv_fail(r, SRV_E_MEDIA_TYPE, NULL, "the body must be %s, not '%.100s'",
             want, r->content_type ? r->content_type : "(none)");
    return false;
  }
  return true;
}

static void begin(srv_req *r, const char *url, const char *method) {
  srv *s = r->s;
  snprintf(r->path, sizeof r->path, "%s", url);
  const char *cid = srv_header(r, "x-request-id");
  if (!cid || !request_id_ok(cid) ||
      snprintf(r->id, sizeof r->id, "%s", cid) >= (int)sizeof r->id) {
    srv_random_id("req_", 12, r->id, sizeof r->id);
  }
  r->content_type = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
  r->route_index = srv_nroutes;
  int m = srv_route_match(srv_routes, srv_nroutes, method, url, &r->params,
                          &r->route_index, r->allow, sizeof r->allow);
  if (m == SRV_MATCH_NO_PATH) {
    srv_fail(r, SRV_E_NO_ROUTE, NULL, "Invalid URL (%s %.200s)", method, url);
    return;
  }
  if (m == SRV_MATCH_NO_METHOD) {
    srv_fail(r, SRV_E_NO_METHOD, NULL, "Method %s is not allowed on %.200s "
             "(allowed: %s)", method, url, r->allow);
    return;
  }
  r->route = &srv_routes[r->route_index];
  if (atomic_load(&s->draining) && r->route->auth != SRV_AUTH_NONE) {
    srv_fail(r, SRV_E_SHUTTING_DOWN, NULL, "the server is shutting down");
    r->retry_after_s = 1;
    return;
  }
  if (r->route->auth != SRV_AUTH_NONE && !srv_authenticate(r)) return;
  uint64_t retry_ms;
  if (r->who.kind == SRV_WHO_TENANT &&
      !srv_tenant_take_request(r->who.tenant, &retry_ms)) {
    wg_quotas q;
    srv_tenant_quotas(r->who.tenant, &q);
    r->retry_after_s = (unsigned)((retry_ms + 999) / 1000);
    srv_fail(r, SRV_E_RATE, NULL, "Rate limit reached for tenant %s: %llu "
             "requests per minute. Please try again in %llums.",
             r->who.tenant->id, (unsigned long long)q.requests_per_minute,
             (unsigned long long)retry_ms);
    return;
  }
  check_body_headers(r);
}

/* ------------------------------------------------------------------ */
/* Answering                                                           */

static void audit_request(srv_req *r, double ms) {
  char route[160];
  snprintf(route, sizeof route, "%s %s", r->route->method, r->route->pattern);
  uint8_t in[32], out[32];
  srv_sha256(r->body.data, r->body.len, in);
  srv_sha256(r->resp.data, r->resp.len, out);
  const char *tenant = r->who.tenant ? r->who.tenant->id
                       : r->audit_tenant[0] ? r->audit_tenant : NULL;
  static const char *const who[] = {"none", "admin", "tenant"};
  srv_audit_entry e = {
      .request_id = r->id,
      .tenant = tenant,
      .key_id = r->who.key_id[0] ? r->who.key_id : NULL,
      .principal = who[r->who.kind],
      .route = route,
      .path = r->path,
      .status = r->status,
      .module = r->module_id[0] ? r->module_id : NULL,
      .execution = r->exec_id[0] ? r->exec_id : NULL,
      .subject_key = r->key_id[0] ? r->key_id : NULL,
      .input_sha256 = in,
      .output_sha256 = out,
      .decision = r->status < 400 ? "allow" : r->status < 500 ? "deny"
                                                              : "error",
      .reason = r->reason,
      .policy = r->policy_id[0] ? r->policy_id : NULL,
      .policy_version = r->policy_version,
      .latency_ms = ms,
  };
  srv_audit_write(r->s->audit, &e);
}

/* Sends the answer. Its audit line is written first: a client never sees
** an answer that the audit log does not have. */
static enum MHD_Result send_reply(srv_req *r) {
  r->answered = true;
  if (!r->status) srv_fail(r, SRV_E_INTERNAL, NULL, "no answer");
  if (r->route && (r->route->flags & SRV_AUDIT) && !r->audited) {
    r->audited = true;
    audit_request(r, (double)(srv_now_ns() - r->t0_ns) * 1e-6);
  }
  struct MHD_Response *resp = r->gw ? srv_gw_response(r) : NULL;
  if (!resp) {
    resp = MHD_create_response_from_buffer(
        r->resp.len, r->resp.data ? r->resp.data : (uint8_t *)"",
        MHD_RESPMEM_MUST_COPY);
  }
  if (!resp) return MHD_NO;
  if (r->gw) srv_gw_headers(r, resp);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          r->resp_type ? r->resp_type : "application/json");
  MHD_add_response_header(resp, "x-request-id", r->id);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (r->retry_after_s) {
    char ra[24];
    snprintf(ra, sizeof ra, "%u", r->retry_after_s);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  if (r->status == 405 && r->allow[0]) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
  }
  if (r->status == 401 && r->www_auth) {
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Bearer realm=\"wasmgate\"");
  }
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status,
                                           resp);
  MHD_destroy_response(resp);
  return ret;
}

void srv_resume(srv *s, struct MHD_Connection *c) {
  MHD_resume_connection(c);
  ai_engine *eng = s->ndaemons ? srv_gw_engine(s) : NULL;
  if (!eng) return;
  /* A daemon run by an engine thread learns of it only when run. */
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
  for (uint32_t i = 0; ci && i < s->ndaemons; i++) {
    if (s->daemons[i] == ci->daemon) {
      ai_engine_kick(eng, i);
      return;
    }
  }
}

static void run_job(void *arg) {
  srv_req *r = arg;
  r->route->handler(r);
  if (r->holds_slot) {
    srv_tenant_release_slot(r->who.tenant);
    r->holds_slot = false;
  }
  atomic_store(&r->ready, true);
  srv_pool_answered();      /* /metrics' executor_active, as the client sees */
  srv_resume(r->s, r->conn);
}

/* The whole body is in: run the handler, here or on the pool. */
static enum MHD_Result dispatch(srv_req *r) {
  if (r->body_too_big) {
    srv_fail(r, SRV_E_TOO_LARGE, NULL, "the request body is larger than "
             "this route's limit of %zu bytes", r->body.max);
    return send_reply(r);
  }
  bool slow = r->route->flags & SRV_SLOW;
  if (!slow && !(r->route->flags & SRV_ASYNC)) {
    r->route->handler(r);
    /* The gateway suspends the connection itself while it waits. */
    if (r->suspended) return MHD_YES;
    return send_reply(r);
  }
  if ((r->route->flags & SRV_EXEC) && r->who.tenant) {
    if (!srv_tenant_acquire_slot(r->who.tenant)) {
      wg_quotas q;
      srv_tenant_quotas(r->who.tenant, &q);
      r->retry_after_s = 1;
      srv_fail(r, SRV_E_CONCURRENCY, NULL, "Too many concurrent executions "
               "for tenant %s (the limit is %llu). Please try again.",
               r->who.tenant->id,
               (unsigned long long)q.concurrent_executions);
      return send_reply(r);
    }
    r->holds_slot = true;
  }
  srv_pool *pool = slow ? r->s->slow_pool : r->s->pool;
  if (!srv_pool_reserve(pool)) {
    if (r->holds_slot) srv_tenant_release_slot(r->who.tenant);
    r->holds_slot = false;
    r->retry_after_s = 1;
    srv_fail(r, SRV_E_BUSY, NULL, slow ? "The server is busy: too many slow "
             "administrative requests are waiting. Please try again."
             : "The server is busy: the execution queue is full. Please try "
               "again.");
    return send_reply(r);
  }
  if (slow) atomic_fetch_add(&r->s->slow_jobs, 1);
  r->suspended = true;
  MHD_suspend_connection(r->conn);
  srv_pool_submit(pool, run_job, r);
  return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  (void)version;
  srv_req *r = *con_cls;
  if (!r) {
    r = wg_new(srv_req);
    if (!r) return MHD_NO;
    r->s = cls;
    r->conn = c;
    r->t0_ns = srv_now_ns();
    wg_buf_init(&r->body, 0);
    wg_buf_init(&r->resp, RESP_MAX);
    atomic_fetch_add(&r->s->inflight, 1);
    *con_cls = r;
    begin(r, url, method);
    return r->status ? send_reply(r) : MHD_YES;
  }
  if (*upload_size) {
    if (!r->answered && !r->body_too_big &&
        wg_buf_append(&r->body, upload, *upload_size) != WG_OK) {
      r->body_too_big = true;
      wg_buf_free(&r->body);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (r->answered) return MHD_YES;
  if (atomic_load(&r->ready)) return send_reply(r);
  if (r->suspended) return MHD_YES;   /* spurious call while queued */
  return dispatch(r);
}

/* ------------------------------------------------------------------ */
/* Completion: metrics, audit, free                                    */

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)c;
  srv *s = cls;
  srv_req *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  double secs = (double)(srv_now_ns() - r->t0_ns) * 1e-9;
  srv_metrics_request(s->metrics, r->route_index, r->status, secs);
  /* The client went away before its answer: what was done is audited. */
  if (r->route && (r->route->flags & SRV_AUDIT) && !r->audited) {
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->reason) {
      r->reason = "connection_closed";
    }
    audit_request(r, secs * 1e3);
  }
  if (r->gw) srv_gw_completed(r, (int)toe);
  if (r->holds_slot) srv_tenant_release_slot(r->who.tenant);
  srv_tenant_release(r->who.tenant);
  wg_buf_free(&r->body);
  wg_buf_free(&r->resp);
  wg_free_obj(r);
  atomic_fetch_sub(&s->inflight, 1);
}

/* ------------------------------------------------------------------ */
/* The daemon                                                          */

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && msg[n - 1] == '\n') msg[--n] = 0;
  fprintf(stderr, "wasmgate: http: %s\n", msg);
}

static wg_err resolve(const wg_config *c, struct sockaddr_storage *ss,
                      bool *v6, wg_error *err) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)c->listen_port);
  int rc = getaddrinfo(c->listen_host[0] ? c->listen_host : NULL, port,
                       &hints, &res);
  if (rc != 0 || !res) {
    return wg_error_set(err, WG_EINVAL, "cannot resolve '%s': %s",
                        c->listen_host, gai_strerror(rc));
  }
  memset(ss, 0, sizeof *ss);
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  return WG_OK;
}

/* Connections per client address, shared by the daemons of the engine
** threads (MHD counts per daemon): checked and counted when a connection
** is accepted, uncounted when it closes. */
typedef struct srv_http_ips {
  pthread_mutex_t lock;
  srv_map count;                /* address -> connections (uintptr_t) */
} srv_http_ips;

static bool addr_key(const struct sockaddr *a, char *out, size_t size) {
  if (a && a->sa_family == AF_INET) {
    return inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr,
                     out, (socklen_t)size) != NULL;
  }
  if (a && a->sa_family == AF_INET6) {
    return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr,
                     out, (socklen_t)size) != NULL;
  }
  return false;
}

static enum MHD_Result ip_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t len) {
  srv *s = cls;
  char k[INET6_ADDRSTRLEN];
  (void)len;
  if (!s->cfg.max_connections_per_ip || !addr_key(addr, k, sizeof k)) {
    return MHD_YES;
  }
  pthread_mutex_lock(&s->ips->lock);
  uintptr_t n = (uintptr_t)srv_map_get(&s->ips->count, k);
  bool ok = n < s->cfg.max_connections_per_ip &&
            srv_map_put(&s->ips->count, k, (void *)(n + 1)) == WG_OK;
  pthread_mutex_unlock(&s->ips->lock);
  return ok ? MHD_YES : MHD_NO;
}

static void ip_notify(void *cls, struct MHD_Connection *c, void **ctx,
                      enum MHD_ConnectionNotificationCode code) {
  srv *s = cls;
  char k[INET6_ADDRSTRLEN];
  (void)ctx;
  if (code != MHD_CONNECTION_NOTIFY_CLOSED || !s->cfg.max_connections_per_ip) {
    return;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !addr_key(ci->client_addr, k, sizeof k)) return;
  pthread_mutex_lock(&s->ips->lock);
  uintptr_t n = (uintptr_t)srv_map_get(&s->ips->count, k);
  if (n > 1) srv_map_put(&s->ips->count, k, (void *)(n - 1));
  else srv_map_del(&s->ips->count, k);
  pthread_mutex_unlock(&s->ips->lock);
}

/* The hook of an engine thread (ai_engine_attach): its daemon. */
static void hook_run(void *ctx) {
  /* A connection takes a few runs to finish an answer and be read again:
  ** run again while MHD says so, rather than polling in between. */
  for (int i = 0; i < 4; i++) {
    MHD_run(ctx);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(ctx, &ms) != MHD_YES || ms > 0) break;
  }
}

static long hook_timeout(void *ctx) {
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(ctx, &ms) != MHD_YES) return -1;
  return ms > 60000 ? 60000 : (long)ms;
}

/* The options every daemon of the server gets (MHD_OPTION_ARRAY). */
#define HTTP_COMMON_OPTIONS 6
static void common_options(srv *s, struct MHD_OptionItem *o) {
  o[0] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
                                 (intptr_t)mhd_log, s};
  o[1] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                 (intptr_t)s->cfg.connection_timeout_s, NULL};
  o[2] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (intptr_t)s->cfg.max_header_bytes, NULL};
  o[3] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                 (intptr_t)on_completed, s};
  o[4] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
  o[5] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

/* With a gateway engine: one daemon per engine thread, each run by its
** thread (no internal threads), all accepting on one listening socket
** (the first daemon's). A gateway request is then read, sent upstream
** and answered by one thread, with no hand-off: see engine.c. */
static wg_err start_on_engine(srv *s, ai_engine *eng,
                              const struct sockaddr_storage *ss, bool v6,
                              wg_error *err) {
  uint32_t n = ai_engine_threads(eng);
  s->daemons = wg_new_array(struct MHD_Daemon *, n);
  if (!s->daemons) return wg_error_set(err, WG_ENOMEM, "out of memory");
  s->ndaemons = n;
  s->ips = wg_new(srv_http_ips);
  if (!s->ips) return wg_error_set(err, WG_ENOMEM, "out of memory");
  pthread_mutex_init(&s->ips->lock, NULL);
  srv_map_init(&s->ips->count);
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
  MHD_socket lfd = MHD_INVALID_SOCKET;
  struct MHD_OptionItem common[HTTP_COMMON_OPTIONS];
  common_options(s, common);
  for (uint32_t i = 0; i < n; i++) {
    /* The connection limit is shared out, as MHD's own pool does. */
    unsigned lim = (unsigned)(s->cfg.max_connections / n +
                              (i < s->cfg.max_connections % n));
    if (lim == 0) lim = 1;
    struct MHD_Daemon *d;
    if (i == 0) {
      d = MHD_start_daemon(
          flags, s->cfg.listen_port, ip_accept, s, on_access, s,
          MHD_OPTION_ARRAY, common,
          MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
          MHD_OPTION_CONNECTION_LIMIT, lim,
          MHD_OPTION_NOTIFY_CONNECTION, ip_notify, s,
          MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
          MHD_OPTION_END);
      const union MHD_DaemonInfo *li =
          d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD) : NULL;
      if (li) lfd = li->listen_fd;
    } else {
      d = MHD_start_daemon(
          flags, 0, ip_accept, s, on_access, s,
          MHD_OPTION_ARRAY, common,
          MHD_OPTION_LISTEN_SOCKET, lfd,
          MHD_OPTION_CONNECTION_LIMIT, lim,
          MHD_OPTION_NOTIFY_CONNECTION, ip_notify, s,
          MHD_OPTION_END);
    }
    const union MHD_DaemonInfo *ei =
        d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!d || !ei || lfd == MHD_INVALID_SOCKET) {
      if (d) MHD_stop_daemon(d);
      return wg_error_set(err, WG_EIO, "cannot listen on %s:%u (in use, or "
                          "not a local address?)", s->cfg.listen_host,
                          (unsigned)s->cfg.listen_port);
    }
    s->daemons[i] = d;
    if (i == 0) s->daemon = d;
    ai_loop_hook h = {ei->epoll_fd, hook_run, hook_timeout, d};
    ai_engine_attach(eng, i, &h);
  }
  return WG_OK;
}

wg_err srv_http_start(srv *s, wg_error *err) {
  struct sockaddr_storage ss;
  bool v6 = false;
  wg_err e = resolve(&s->cfg, &ss, &v6, err);
  if (e) return e;
  ai_engine *eng = srv_gw_engine(s);
  if (eng) return start_on_engine(s, eng, &ss, v6, err);
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
  struct MHD_OptionItem common[HTTP_COMMON_OPTIONS];
  common_options(s, common);
  /* One thread: the daemon's own (libmicrohttpd warns at a pool of 0 or 1). */
  uint32_t nth = s->cfg.http_threads ? s->cfg.http_threads : SRV_HTTP_THREADS;
  struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL},
                                   {MHD_OPTION_END, 0, NULL}};
  if (nth > 1) {
    pool[0] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                      (intptr_t)nth, NULL};
  }
  s->daemon = MHD_start_daemon(
      flags, s->cfg.listen_port, NULL, NULL, on_access, s,
      MHD_OPTION_ARRAY, common,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_ARRAY, pool,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned)s->cfg.max_connections_per_ip,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_END);
  if (!s->daemon) {
    return wg_error_set(err, WG_EIO, "cannot listen on %s:%u (in use, or "
                        "not a local address?)", s->cfg.listen_host,
                        (unsigned)s->cfg.listen_port);
  }
  return WG_OK;
}

uint16_t srv_http_port(srv *s) {
  const union MHD_DaemonInfo *i =
      MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

void srv_http_quiesce(srv *s) {
  /* Daemons sharing one listening socket: closed once. */
  MHD_socket fd = MHD_INVALID_SOCKET;
  for (uint32_t i = 1; i < s->ndaemons; i++) {
    if (!s->daemons[i]) continue;
    MHD_socket f = MHD_quiesce_daemon(s->daemons[i]);
    if (fd == MHD_INVALID_SOCKET) fd = f;
  }
  if (s->daemon) {
    MHD_socket f = MHD_quiesce_daemon(s->daemon);
    if (fd == MHD_INVALID_SOCKET) fd = f;
  }
  if (fd != MHD_INVALID_SOCKET) close(fd);
}

/* The engine's threads, which ran the daemons, are joined by then
** (srv_gw_stop). */
void srv_http_stop(srv *s) {
  /* The shared socket is not the secondary daemons' to close. A last
  ** run takes in the connections resumed since the threads stopped
  ** (MHD_stop_daemon does not, without an internal thread). */
  for (uint32_t i = 1; i < s->ndaemons; i++) {
    if (!s->daemons[i]) continue;
    MHD_quiesce_daemon(s->daemons[i]);
    MHD_run(s->daemons[i]);
    MHD_stop_daemon(s->daemons[i]);
  }
  if (s->ndaemons && s->daemon) MHD_run(s->daemon);
  if (s->daemon) MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  if (s->daemons) wg_free_array(s->daemons, s->ndaemons);
  s->daemons = NULL;
  s->ndaemons = 0;
  if (s->ips) {
    srv_map_free(&s->ips->count);
    pthread_mutex_destroy(&s->ips->lock);
    wg_free_obj(s->ips);
    s->ips = NULL;
  }
}
