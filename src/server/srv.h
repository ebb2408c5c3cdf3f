/*
** Internals of `wasmgate serve`, shared by the files of src/server.
**
** A request (srv_req) is one handle from the first byte to the completion
** callback: http.c creates it, matches its route (routes.def), checks the
** body cap and the key (auth.c), the tenant's rate (tenants.c), then runs
** the route's handler inline or on the executor pool (pool.c) with the
** connection suspended. A handler answers with srv_reply_json or srv_fail
** exactly once. http.c then sends the answer, counts it (metrics.c), writes
** the audit line (audit.c) and frees the request.
**
** Subsystems keep their own structs (config, tenants, auth, audit, metrics,
** module cache, pool); struct srv only points at them.
*/
#ifndef WG_SERVER_SRV_H
#define WG_SERVER_SRV_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/store.h"
#include "wasmgate/engine.h"

#define SRV_PATH_MAX 1024

/* ------------------------------------------------------------------ */
/* Errors the API answers with. X(name, status, type, code)            */

#define SRV_ERR_MAP(X)                                                       \
  X(BAD_JSON, 400, "invalid_request_error", "invalid_json")                  \
  X(BAD_REQUEST, 400, "invalid_request_error", "invalid_request")            \
  X(BAD_PARAM, 400, "invalid_request_error", "invalid_parameter")            \
  X(MISSING_PARAM, 400, "invalid_request_error", "missing_parameter")        \
  X(ABOVE_QUOTA, 400, "invalid_request_error", "limit_exceeds_quota")        \
  X(BAD_WASM, 400, "invalid_request_error", "invalid_module")                \
  X(BAD_MULTIPART, 400, "invalid_request_error", "invalid_multipart")        \
  X(BAD_FILE, 400, "invalid_request_error", "invalid_file")                  \
  X(NO_KEY, 401, "invalid_request_error", "missing_api_key")                 \
  X(BAD_KEY, 401, "invalid_request_error", "invalid_api_key")                \
  X(FORBIDDEN, 403, "permission_error", "insufficient_permissions")          \
  X(NO_ROUTE, 404, "invalid_request_error", "unknown_url")                   \
  X(NO_TENANT, 404, "not_found_error", "tenant_not_found")                   \
  X(NO_APIKEY, 404, "not_found_error", "key_not_found")                      \
  X(NO_MODULE, 404, "not_found_error", "module_not_found")                   \
  X(NO_EXEC, 404, "not_found_error", "execution_not_found")                  \
  X(NO_POLICY, 404, "not_found_error", "policy_not_found")                   \
  X(BAD_POLICY, 400, "invalid_request_error", "invalid_policy")              \
  X(POLICY_DENIED, 403, "permission_error", "policy_denied")                 \
  X(POLICY_ERROR, 500, "server_error", "policy_error")                       \
  X(NO_METHOD, 405, "invalid_request_error", "method_not_allowed")           \
  X(TENANT_EXISTS, 409, "invalid_request_error", "tenant_exists")            \
  X(TOO_LARGE, 413, "invalid_request_error", "request_too_large")            \
  X(MEDIA_TYPE, 415, "invalid_request_error", "unsupported_media_type")      \
  X(CANNOT_RUN, 422, "invalid_request_error", "cannot_instantiate")          \
  X(RATE, 429, "requests", "rate_limit_exceeded")                            \
  X(CONCURRENCY, 429, "requests", "concurrency_limit_exceeded")              \
  X(QUOTA, 429, "insufficient_quota", "insufficient_quota")                  \
  X(INTERNAL, 500, "server_error", "internal_error")                         \
  /* the gateway (issue 6) */                                                \
  X(NO_MODEL, 404, "invalid_request_error", "model_not_found")               \
  X(MODEL_DENIED, 403, "permission_error", "model_not_allowed")              \
  X(G_CONTROL, 400, "invalid_request_error", "control_characters")           \
  X(G_MSG_LONG, 400, "invalid_request_error", "message_too_long")            \
  X(G_REQ_LONG, 400, "invalid_request_error", "request_too_long")            \
  X(G_TOKEN, 400, "invalid_request_error", "template_token")                 \
  X(G_INPUT_LONG, 400, "invalid_request_error", "input_too_long")            \
  X(UPSTREAM, 502, "server_error", "upstream_error")                         \
  X(UPSTREAM_TIMEOUT, 504, "server_error", "upstream_timeout")               \
  X(NO_UPSTREAM, 503, "service_unavailable_error", "server_is_overloaded")   \
  X(REDACTION, 500, "server_error", "redaction_failed")                      \
  X(BUSY, 503, "server_error", "server_busy")                                \
  X(G_TOKENS, 429, "tokens", "rate_limit_exceeded")                          \
  X(G_FORMAT, 502, "server_error", "response_format_violation")              \
  X(SHUTTING_DOWN, 503, "server_error", "shutting_down")

typedef enum srv_errcode {
#define SRV__E(name, status, type, code) SRV_E_##name,
  SRV_ERR_MAP(SRV__E)
#undef SRV__E
  SRV_E_COUNT
} srv_errcode;

int srv_err_status(srv_errcode e);
const char *srv_err_type(srv_errcode e);
const char *srv_err_code(srv_errcode e);

/* ------------------------------------------------------------------ */
/* Quotas. X(field, default, help): every field is a positive integer.  */

#define SRV_QUOTA_MAP(X)                                                     \
  X(requests_per_minute, 600, "requests per minute (token bucket, burst "    \
                              "= one minute's worth)")                       \
  X(concurrent_executions, 8, "executions queued or running at once")        \
  X(max_fuel, 1000000000, "fuel per execution")                              \
  X(max_memory_bytes, 268435456, "linear memory per execution")              \
  X(max_timeout_ms, 10000, "wall time per execution")                        \
  X(max_output_bytes, 1048576, "captured stdout, and stderr, per execution") \
  X(max_storage_bytes, 268435456, "bytes of modules stored")                 \
  X(max_modules, 100, "number of modules stored")                            \
  X(gateway_tokens_per_minute, 1000000, "gateway tokens per minute (token " \
                              "bucket, burst = one minute's worth)")         \
  X(gateway_tokens_per_day, 100000000, "gateway tokens per UTC day")

typedef struct wg_quotas {
#define SRV__Q(field, def, help) uint64_t field;
  SRV_QUOTA_MAP(SRV__Q)
#undef SRV__Q
} wg_quotas;

void srv_quotas_default(wg_quotas *q);
/* Applies a JSON object of overrides onto q. Unknown names, values that
** are not positive integers (null is allowed when allow_null: it means
** "back to the default" and is skipped here) fail with a message naming
** "quotas.<name>" in param (a buffer of 64 bytes) and why in msg. */
bool srv_quotas_apply(wg_quotas *q, json_t *overrides, bool allow_null,
                      char *param, char *msg, size_t msgsize);
json_t *srv_quotas_json(const wg_quotas *q);

/* A token bucket: rate tokens per second, at most burst tokens. */
typedef struct wg_bucket {
  double tokens;
  uint64_t last_ns;     /* 0: never used (starts full) */
} wg_bucket;

/* Takes one token at time now_ns. When none is left returns false and the
** milliseconds until one will be there in *retry_ms. */
bool srv_bucket_take(wg_bucket *b, double rate, double burst, uint64_t now_ns,
                     uint64_t *retry_ms);
/* Takes n tokens at once (the same rules); n above burst never fits:
** *retry_ms is then the time until the bucket is full. */
bool srv_bucket_take_n(wg_bucket *b, double rate, double burst, double n,
                       uint64_t now_ns, uint64_t *retry_ms);
/* Gives back n tokens (n < 0 takes more: the balance may go below 0),
** never above burst. */
void srv_bucket_give(wg_bucket *b, double burst, double n);

/* ------------------------------------------------------------------ */
/* Configuration (config.c). Keys, types and meanings: SRV_CONFIG_MAP   */
/* there and config/wasmgate.example.yaml.                              */

typedef struct srv_nn_config srv_nn_config;

/* HTTP threads when server.threads is not set and no models are: on this
** 2-vCPU host two gave the sandbox API 3,300-4,600 executions/s under wrk
** against 2,800-3,300 with one. */
#define SRV_HTTP_THREADS 2

typedef struct wg_config {
  char listen_host[256];        /* server.listen */
  uint16_t listen_port;
  uint32_t http_threads;        /* server.threads; 0: not set */
  uint32_t connection_timeout_s;
  uint32_t max_connections;
  uint32_t max_connections_per_ip;
  uint64_t max_header_bytes;    /* all headers of one request */
  uint64_t max_json_bytes;      /* body caps (413 above) */
  uint64_t max_module_bytes;
  uint64_t max_multipart_bytes;
  char data_dir[SRV_PATH_MAX];
  uint32_t executor_threads;
  uint32_t executor_queue;
  uint64_t shutdown_grace_ms;
  char scratch_dir[SRV_PATH_MAX];   /* "" = <data_dir>/scratch */
  bool isolation_process;       /* executor.isolation: process (else thread) */
  uint32_t workers;             /* worker processes; 0 = executor_threads */
  uint32_t worker_max_executions;   /* recycle after; 0 = never */
  uint64_t worker_max_rss;      /* recycle above (peak RSS); 0 = never */
  uint64_t worker_address_space;    /* RLIMIT_AS of a worker; 0 = none */
  uint32_t worker_cpu_seconds;  /* RLIMIT_CPU of a worker's life */
  uint64_t worker_file_size;    /* RLIMIT_FSIZE */
  uint64_t worker_grace_ms;     /* past a timeout before a worker is killed */
  char worker_user[64];         /* USER[:GROUP] workers run as when the
                                   server is root; "" = nobody */
  uint64_t module_cache_bytes;
  bool store_output;            /* keep stdout/stderr in execution records */
  uint32_t max_files;           /* executions' "files" */
  uint32_t max_file_path;
  uint64_t max_files_bytes;
  uint32_t max_args;            /* args + env entries */
  uint64_t auth_cache_ms;       /* how long a key lookup is trusted */
  char audit_path[SRV_PATH_MAX];    /* "" = <data_dir>/audit.log */
  wg_quotas tenant_defaults;
  struct srv_gw_config *gw;     /* models: and gateway: (gw_config.c), or
                                   NULL; owned by whoever built the config */
  struct srv_nn_config *nn;     /* nn: (wasinn.c), or NULL; owned as gw */
  /* Policies (policy.c): "POLICY_ID:ENTRYPOINT" per decision point, "" =
  ** none; and the limits of one evaluation. */
  char policy_module_upload[256];
  char policy_execution[256];
  char policy_chat[256];
  uint64_t policy_fuel;
  uint64_t policy_timeout_ms;
  uint64_t policy_max_memory_bytes;
  /* The AOT tier for policies: "auto" (when wasm2c and a C compiler are
  ** found), "on" (required) or "off"; its tools ("" = $WASMGATE_WASM2C /
  ** $WASMGATE_CC, else on PATH) and cache ("" = <data_dir>/aot-cache). */
  char policy_aot[8];
  char policy_aot_wasm2c[SRV_PATH_MAX];
  char policy_aot_cc[SRV_PATH_MAX];
  char policy_aot_cache_dir[SRV_PATH_MAX];
  char policy_aot_opt[16];          /* "" = -O2 */
} wg_config;

void srv_config_defaults(wg_config *c);
/* Parses YAML text (len bytes) over c. On failure returns false with
** "line N: why" in msg. Unknown keys are errors. */
bool srv_config_parse(wg_config *c, const char *text, size_t len, char *msg,
                      size_t msgsize);
bool srv_config_load(wg_config *c, const char *path, char *msg,
                     size_t msgsize);
/* Parses "HOST:PORT" ("[v6]:PORT" too) into c. */
bool srv_config_listen(wg_config *c, const char *hostport);
/* Fills the "" paths from data_dir. */
void srv_config_finish(wg_config *c);

/* ------------------------------------------------------------------ */
/* Small helpers (util.c)                                              */

uint64_t srv_now_ns(void);       /* CLOCK_MONOTONIC */
int64_t srv_time_ms(void);       /* Unix time */
void srv_sha256(const void *p, size_t n, uint8_t out[32]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void srv_hex(const uint8_t *p, size_t n, char *out);
/* n random bytes from the CSPRNG; false when it failed. For secrets. */
bool srv_random(void *p, size_t n);
/* "<prefix><2n hex random>" into out (size outsize), n <= 32: ids, drawn
** from a per-thread block of CSPRNG bytes. */
bool srv_random_id(const char *prefix, size_t n, char *out, size_t outsize);
/* "<prefix><12 hex: Unix ms><12 hex random>": ids that sort by time, so
** that records are appended to the store's indexes, not scattered. */
bool srv_time_id(const char *prefix, char *out, size_t outsize);
/* Base64 (RFC 4648 section 4 with padding, or section 5 url-safe without
** padding when url). decode is strict: no whitespace, padding required
** for the standard alphabet. */
wg_err srv_b64_encode(const uint8_t *p, size_t n, bool url, wg_buf *out);
wg_err srv_b64_decode(const char *s, size_t n, wg_buf *out);
bool srv_utf8_valid(const uint8_t *p, size_t n);
/* Appends s[0..n) to b as a JSON string. Control characters, DEL and,
** when s is not valid UTF-8, every byte >= 0x80 are escaped (\u00XX),
** so the result is always valid JSON. */
void srv_json_str(wg_buf *b, const char *s, size_t n);
/* Case-insensitive compare of the media type part of a Content-Type. */
bool srv_media_is(const char *content_type, const char *media);

/* A string-keyed hash map (chained). Values are the caller's. */
typedef struct srv_map_entry srv_map_entry;
typedef struct srv_map {
  srv_map_entry **slots;
  size_t nslots, count;
} srv_map;
void srv_map_init(srv_map *m);
void srv_map_free(srv_map *m);      /* entries only, not the values */
void *srv_map_get(const srv_map *m, const char *key);
wg_err srv_map_put(srv_map *m, const char *key, void *value);
void *srv_map_del(srv_map *m, const char *key);
/* Calls fn for every entry; fn returns true to delete the entry. */
void srv_map_sweep(srv_map *m, bool (*fn)(void *user, const char *key,
                                          void *value), void *user);

/* ------------------------------------------------------------------ */
/* Routes (routes.c, routes.def)                                       */

typedef struct srv_req srv_req;
typedef void (*srv_handler)(srv_req *r);

enum { SRV_BODY_NONE, SRV_BODY_JSON, SRV_BODY_MODULE, SRV_BODY_MULTIPART,
       SRV_BODY_POLICY };
/* POLICY: the admin key, or a tenant key created with scope "policy". */
enum { SRV_AUTH_NONE, SRV_AUTH_TENANT, SRV_AUTH_ADMIN, SRV_AUTH_POLICY };
enum { SRV_ASYNC = 1, SRV_AUDIT = 2, SRV_EXEC = 4, SRV_SLOW = 8 };

typedef struct srv_route {
  const char *method;
  const char *pattern;
  srv_handler handler;
  uint8_t body, auth, flags;
} srv_route;

#define SRV_MAX_PARAMS 4
#define SRV_PARAM_MAX 128

typedef struct srv_params {
  int n;
  struct {
    const char *name;     /* points into the pattern, after '{' */
    size_t name_len;
    char value[SRV_PARAM_MAX];
  } p[SRV_MAX_PARAMS];
} srv_params;

enum { SRV_MATCH_OK, SRV_MATCH_NO_PATH, SRV_MATCH_NO_METHOD };

extern const srv_route srv_routes[];
extern const size_t srv_nroutes;

/* Finds the route of (method, path) in table. Returns SRV_MATCH_OK with
** *index and the captures in p; SRV_MATCH_NO_METHOD when the path matches
** only with other methods (their names, comma-separated, in allow); or
** SRV_MATCH_NO_PATH. A capture matches one non-empty segment of at most
** SRV_PARAM_MAX-1 bytes. */
int srv_route_match(const srv_route *table, size_t n, const char *method,
                    const char *path, srv_params *p, size_t *index,
                    char *allow, size_t allowsize);
/* The value of capture name, or "" when the route has none. */
const char *srv_params_get(const srv_params *p, const char *name);

#define SRV_ROUTE(method, pattern, handler, body, auth, flags) \
  void handler(srv_req *r);
#include "server/routes.def"
#undef SRV_ROUTE

/* ------------------------------------------------------------------ */
/* Tenants and principals (tenants.c, auth.c)                          */

typedef struct srv_auth srv_auth;
typedef struct srv_tenants srv_tenants;
typedef struct srv_audit srv_audit;
typedef struct srv_metrics srv_metrics;
typedef struct srv_modcache srv_modcache;
typedef struct srv_pool srv_pool;

typedef struct srv_tenant {
  char id[WG_DB_ID_MAX];
  atomic_int refs;              /* the registry's one + one per user */
  pthread_mutex_t lock;         /* quotas, overrides, bucket */
  wg_quotas quotas;             /* effective: defaults + overrides */
  json_t *overrides;            /* as stored */
  wg_bucket bucket;             /* requests_per_minute */
  wg_bucket gw_tokens;          /* gateway_tokens_per_minute */
  atomic_uint active;           /* executions queued or running */
  atomic_bool gone;             /* deleted while in use */
} srv_tenant;

typedef struct srv_principal {
  enum { SRV_WHO_NONE, SRV_WHO_ADMIN, SRV_WHO_TENANT } kind;
  srv_tenant *tenant;           /* held reference when a tenant */
  char key_id[WG_DB_ID_MAX];
} srv_principal;

/* The registry (tenants.c). srv_tenant_get returns a new reference,
** loading the tenant from the store when it is not cached; NULL with *e
** WG_ENOTFOUND (or the store's error) when there is none. */
struct srv;
wg_err srv_tenants_new(srv_tenants **out);
void srv_tenants_free(srv_tenants *ts);
srv_tenant *srv_tenant_get(struct srv *s, const char *id, wg_err *e);
void srv_tenant_release(srv_tenant *t);          /* NULL is fine */
void srv_tenant_quotas(srv_tenant *t, wg_quotas *out);
/* Takes one request from the rate bucket; false with *retry_ms when
** empty. */
bool srv_tenant_take_request(srv_tenant *t, uint64_t *retry_ms);
/* One of concurrent_executions slots; false when all are taken. */
bool srv_tenant_acquire_slot(srv_tenant *t);
void srv_tenant_release_slot(srv_tenant *t);
/* After a reload: recomputes every cached tenant's quotas in effect. */
void srv_tenants_defaults_changed(struct srv *s);

/* Keys (auth.c). The admin key is WASMGATE_ADMIN_KEY, or one generated at
** the first start (printed once to stderr; only its SHA-256 is stored).
** Tenant keys are "wg-" + 43 base64url characters (256 random bits); the
** store keeps their SHA-256, compared in constant time. */
wg_err srv_auth_new(struct srv *s, srv_auth **out, wg_error *err);
void srv_auth_free(srv_auth *a);
/* Sets r->who from the Authorization header for the route's auth class,
** or answers 401/403 and returns false. */
bool srv_authenticate(srv_req *r);
/* Whether the key key_id was created with scope (e.g. "policy"). */
bool srv_key_has_scope(struct srv *s, const char *key_id, const char *scope);
/* Creates a key for tenant: the secret into key (keysize >= 64), its id
** into key_id. WG_ENOTFOUND when the tenant does not exist. */
wg_err srv_auth_new_key(struct srv *s, const char *tenant, char *key,
                        size_t keysize, char key_id[WG_DB_ID_MAX]);
/* Drops cached lookups of a deleted key or of a deleted tenant's keys. */
void srv_auth_forget_key(struct srv *s, const char *key_id);
void srv_auth_forget_tenant(struct srv *s, const char *tenant);

/* ------------------------------------------------------------------ */
/* The server                                                          */

typedef struct srv {
  wg_config cfg;                /* as started; reloadable parts below */
  pthread_mutex_t cfg_lock;     /* guards the reloadable fields of cfg */
  wg_db *db;
  srv_auth *auth;
  srv_tenants *tenants;
  srv_audit *audit;
  srv_metrics *metrics;
  srv_modcache *modcache;
  srv_pool *pool;
  srv_pool *slow_pool;          /* SRV_SLOW routes: one thread */
  struct srv_hangup *hangup;    /* cancels runs of clients gone (hangup.h) */
  atomic_uint_fast64_t slow_jobs; /* run there (a metric) */
  struct wg_workers *workers;   /* isolation: process; NULL for thread */
  uint32_t worker_uid, worker_gid;  /* workers' ids when switched (uid > 0):
                                   scratch directories are chowned to them */
  struct srv_policies *policies;  /* policy.h */
  struct srv_gw *gw;            /* the AI gateway (gateway.c) */
  struct srv_budget *budget;    /* daily token budgets (budget.h) */
  struct wg_nn_host *nn_host;   /* WASI-NN's models (wasinn.c) */
  struct MHD_Daemon *daemon;
  struct MHD_Daemon **daemons;  /* run by the gateway's engine threads */
  uint32_t ndaemons;            /* (http.c); daemons[0] is daemon */
  struct srv_http_ips *ips;     /* their shared per-address counts */
  atomic_bool ready;
  atomic_bool draining;         /* SIGTERM seen: new requests get 503 */
  atomic_long inflight;         /* requests not yet completed */
} srv;

/* Copies the reloadable settings a request needs under cfg_lock. */
void srv_cfg_snapshot(srv *s, wg_config *out);

/* ------------------------------------------------------------------ */
/* Requests (http.c)                                                   */

struct srv_req {
  srv *s;
  struct MHD_Connection *conn;
  const srv_route *route;       /* NULL when no route matched */
  size_t route_index;           /* srv_nroutes when none */
  srv_params params;
  char id[72];                  /* x-request-id */
  uint64_t t0_ns;
  const char *content_type;     /* of the request, or NULL */
  wg_buf body;                  /* capped by the route's body kind */
  bool body_too_big;
  srv_principal who;
  bool holds_slot;              /* a tenant execution slot (SRV_EXEC) */
  bool suspended;
  bool answered;                /* send_reply ran */
  bool audited;                 /* its audit line is written */
  atomic_bool ready;            /* the answer below is complete */
  char path[256];               /* as requested (truncated), for audit */
  /* The answer. */
  int status;
  const char *resp_type;        /* Content-Type */
  wg_buf resp;
  unsigned retry_after_s;       /* 0: no Retry-After */
  char allow[64];               /* 405: the Allow header */
  bool www_auth;                /* 401: WWW-Authenticate */
  /* What the audit line says besides the basics. */
  const char *reason;           /* error code, NULL when allowed */
  char audit_tenant[WG_DB_ID_MAX];  /* the tenant acted on (admin routes) */
  char module_id[WG_DB_ID_MAX];
  char exec_id[WG_DB_ID_MAX];
  char key_id[WG_DB_ID_MAX];    /* admin key routes: the key acted on */
  char policy_id[128];          /* the policy that decided, or "" */
  uint64_t policy_version;
  struct gw_req *gw;            /* gateway routes: their state (gateway.c) */
};

/* Answers with body (the request takes the reference). */
void srv_reply_json(srv_req *r, int status, json_t *body);
/* Answers with raw bytes (copied). */
void srv_reply_raw(srv_req *r, int status, const char *type, const void *p,
                   size_t n);
/* Answers with the error e: {"error":{"message","type","param","code"}}.
** param may be NULL. */
void srv_fail(srv_req *r, srv_errcode e, const char *param, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
/* Parses the body as a JSON object; on failure answers 400 invalid_json
** (or 400 invalid_request when it is not an object) and returns NULL.
** An empty body is {} when empty_ok. */
json_t *srv_body_object(srv_req *r, bool empty_ok);
/* The value of a request header, or NULL. */
const char *srv_header(srv_req *r, const char *name);

/* Answers 400 invalid_parameter naming the member and returns false when
** obj has a member not in names (NULL-terminated); prefix is prepended to
** the name in param ("limits." for nested objects). */
bool srv_json_known(srv_req *r, json_t *obj, const char *const *names,
                    const char *prefix);
/* Appends the JSON text of j to out. */
wg_err srv_json_dump(const json_t *j, size_t flags, wg_buf *out);

/* Builds the error body used by srv_fail (also for tests). */
json_t *srv_error_json(srv_errcode e, const char *param, const char *message);

/* Starts and stops the HTTP daemon (http.c). */
wg_err srv_http_start(srv *s, wg_error *err);
uint16_t srv_http_port(srv *s);
void srv_http_quiesce(srv *s);
/* MHD_resume_connection(c), from any thread, and the wake-up of the
** thread that runs c's daemon when it is an engine thread. */
void srv_resume(srv *s, struct MHD_Connection *c);
void srv_http_stop(srv *s);

#endif
