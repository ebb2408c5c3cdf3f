/*
** The YAML configuration of `wasmgate serve` (libyaml).
**
** Every key is one row of SRV_CONFIG_MAP: its dotted path, its type, the
** field it sets, its bounds. The file is a tree of mappings whose leaves
** are scalars; a leaf's dotted path must be a row (or tenant_defaults.<a
** quota of SRV_QUOTA_MAP>), anything else is an error with its line.
** config/wasmgate.example.yaml documents every key.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/buf.h"
#include "server/gateway.h"
#include "server/wasinn.h"
#include "server/srv.h"

enum { CT_STR, CT_U32, CT_U64, CT_SIZE, CT_BOOL, CT_LISTEN, CT_ISOLATION };

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)

/* X(key, type, field, min, max) */
#define SRV_CONFIG_MAP(X)                                                    \
  X("server.listen", CT_LISTEN, listen_host, 0, 0)                           \
  X("server.threads", CT_U32, http_threads, 1, 256)                          \
  X("server.connection_timeout_s", CT_U32, connection_timeout_s, 1, 3600)    \
  X("server.max_connections", CT_U32, max_connections, 1, 1000000)           \
  X("server.max_connections_per_ip", CT_U32, max_connections_per_ip, 1,      \
    1000000)                                                                 \
  X("server.max_header_bytes", CT_SIZE, max_header_bytes, 4 * KIB, 16 * MIB) \
  X("limits.max_json_bytes", CT_SIZE, max_json_bytes, 1 * KIB, 1 * GIB)      \
  X("limits.max_module_bytes", CT_SIZE, max_module_bytes, 1 * KIB, 1 * GIB)  \
  X("limits.max_multipart_bytes", CT_SIZE, max_multipart_bytes, 1 * KIB,     \
    1 * GIB)                                                                 \
  X("limits.max_files", CT_U32, max_files, 0, 100000)                        \
  X("limits.max_file_path", CT_U32, max_file_path, 1, 4096)                  \
  X("limits.max_files_bytes", CT_SIZE, max_files_bytes, 0, 1 * GIB)          \
  X("limits.max_args", CT_U32, max_args, 0, 1000000)                         \
  X("data_dir", CT_STR, data_dir, 0, 0)                                      \
  X("executor.threads", CT_U32, executor_threads, 1, 1024)                   \
  X("executor.queue", CT_U32, executor_queue, 1, 1000000)                    \
  X("executor.shutdown_grace_ms", CT_U64, shutdown_grace_ms, 0, 3600000)     \
  X("executor.scratch_dir", CT_STR, scratch_dir, 0, 0)                       \
  X("executor.isolation", CT_ISOLATION, isolation_process, 0, 0)             \
  X("executor.workers", CT_U32, workers, 0, 1024)                            \
  X("executor.worker_max_executions", CT_U32, worker_max_executions, 0,     \
    100000000)                                                               \
  X("executor.worker_max_rss", CT_SIZE, worker_max_rss, 0, 1024 * GIB)       \
  X("executor.worker_address_space", CT_SIZE, worker_address_space, 0,      \
    1024 * GIB)                                                              \
  X("executor.worker_cpu_seconds", CT_U32, worker_cpu_seconds, 1, 10000000) \
  X("executor.worker_file_size", CT_SIZE, worker_file_size, 1 * MIB,        \
    1024 * GIB)                                                              \
  X("executor.worker_grace_ms", CT_U64, worker_grace_ms, 0, 600000)          \
  X("executor.worker_user", CT_STR, worker_user, 0, 0)                       \
  X("modules.cache_bytes", CT_SIZE, module_cache_bytes, 0, 1024 * GIB)       \
  X("executions.store_output", CT_BOOL, store_output, 0, 0)                  \
  X("auth.cache_ms", CT_U64, auth_cache_ms, 0, 3600000)                      \
  X("audit.path", CT_STR, audit_path, 0, 0)                                  \
  X("policy.module_upload", CT_STR, policy_module_upload, 0, 0)              \
  X("policy.execution", CT_STR, policy_execution, 0, 0)                      \
  X("policy.chat", CT_STR, policy_chat, 0, 0)                                \
  X("policy.fuel", CT_U64, policy_fuel, 1000, 10000000000ull)                \
  X("policy.timeout_ms", CT_U64, policy_timeout_ms, 1, 60000)                \
  X("policy.max_memory_bytes", CT_SIZE, policy_max_memory_bytes, 1 * MIB,    \
    4 * GIB)                                                                 \
  X("policy.aot", CT_STR, policy_aot, 0, 0)                                  \
  X("policy.aot_wasm2c", CT_STR, policy_aot_wasm2c, 0, 0)                    \
  X("policy.aot_cc", CT_STR, policy_aot_cc, 0, 0)                            \
  X("policy.aot_cache_dir", CT_STR, policy_aot_cache_dir, 0, 0)             \
  X("policy.aot_opt", CT_STR, policy_aot_opt, 0, 0)

static const struct cfg_row {
  const char *key;
  int type;
  size_t offset, size;
  uint64_t min, max;
} cfg_rows[] = {
#define SRV__C(key, type, field, min, max)                                   \
  {key, type, offsetof(wg_config, field), sizeof(((wg_config *)0)->field),   \
   min, max},
    SRV_CONFIG_MAP(SRV__C)
#undef SRV__C
};

#define NCFG (sizeof cfg_rows / sizeof cfg_rows[0])

void srv_config_defaults(wg_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
  c->listen_port = 8080;
  /* 0: not set. Without models, SRV_HTTP_THREADS; with models the HTTP
  ** daemons run on the gateway's event loops, gateway.event_threads of
  ** them unless this asks for more (see srv_gw_start). */
  c->http_threads = 0;
  c->connection_timeout_s = 30;
  c->max_connections = 4096;
  c->max_connections_per_ip = 256;
  /* libmicrohttpd mallocs a connection's buffer up to 32 KiB and mmaps a
  ** larger one: 64 KiB made a burst of new connections stall the server
  ** for 10-30 ms (page faults, then TLB shoot-downs at each munmap). */
  c->max_header_bytes = 32 * KIB;
  c->max_json_bytes = 8 * MIB;
  c->max_module_bytes = 16 * MIB;
  c->max_multipart_bytes = 24 * MIB;
  c->max_files = 64;
  c->max_file_path = 255;
  c->max_files_bytes = 4 * MIB;
  c->max_args = 1024;
  snprintf(c->data_dir, sizeof c->data_dir, "./wasmgate-data");
  c->executor_threads = 2;
  c->executor_queue = 1024;
  c->shutdown_grace_ms = 15000;
  c->isolation_process = true;
  c->worker_max_executions = 10000;   /* a respawn costs ~15 ms of CPU */
  c->worker_max_rss = 512 * MIB;
  c->worker_address_space = 4 * GIB;
  c->worker_cpu_seconds = 3600;
  c->worker_file_size = 1 * GIB;
  c->worker_grace_ms = 1000;
  c->module_cache_bytes = 256 * MIB;
  c->store_output = false;
  c->auth_cache_ms = 10000;
  srv_quotas_default(&c->tenant_defaults);
  c->policy_fuel = 100000000;
  c->policy_timeout_ms = 1000;
  c->policy_max_memory_bytes = 64 * MIB;
  /* $WASMGATE_POLICY_AOT sets the default (the test harness: off). */
  const char *aot = getenv("WASMGATE_POLICY_AOT");
  snprintf(c->policy_aot, sizeof c->policy_aot, "%s", aot ? aot : "auto");
}

void srv_config_finish(wg_config *c) {
  if (!c->scratch_dir[0]) {
    snprintf(c->scratch_dir, sizeof c->scratch_dir, "%.900s/scratch",
             c->data_dir);
  }
  if (!c->audit_path[0]) {
    snprintf(c->audit_path, sizeof c->audit_path, "%.900s/audit.log",
             c->data_dir);
  }
}

bool srv_config_listen(wg_config *c, const char *hostport) {
  const char *colon = strrchr(hostport, ':');
  if (!colon || colon == hostport) return false;
  const char *host = hostport;
  size_t hlen = (size_t)(colon - hostport);
  if (host[0] == '[') {           /* [v6]:port */
    if (hlen < 3 || host[hlen - 1] != ']') return false;
    host++;
    hlen -= 2;
  }
  if (hlen >= sizeof c->listen_host) return false;
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (errno || *end || end == colon + 1 || port > 65535 ||
      colon[1] < '0' || colon[1] > '9') {
    return false;
  }
  memcpy(c->listen_host, host, hlen);
  c->listen_host[hlen] = 0;
  c->listen_port = (uint16_t)port;
  return true;
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */

/* "123", "64KiB", "64K", "2MB", "1GiB"... */
static bool parse_size(const char *s, uint64_t *out) {
  static const struct { const char *suffix; uint64_t mult; } units[] = {
      {"", 1},      {"b", 1},       {"k", KIB},  {"kib", KIB},
      {"kb", 1000}, {"m", MIB},     {"mib", MIB}, {"mb", 1000000},
      {"g", GIB},   {"gib", GIB},   {"gb", 1000000000ull},
  };
  if (*s < '0' || *s > '9') return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return false;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (!strcasecmp(end, units[i].suffix)) {
      if (v > UINT64_MAX / units[i].mult) return false;
      *out = v * units[i].mult;
      return true;
    }
  }
  return false;
}

static bool parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  for (int i = 0; i < 3; i++) {
    if (!strcasecmp(s, yes[i])) return *out = true, true;
    if (!strcasecmp(s, no[i])) return *out = false, true;
  }
  return false;
}

typedef struct cfg_ctx {
  wg_config *c;
  char *msg;
  size_t msgsize;
} cfg_ctx;

static bool cfg_fail(cfg_ctx *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool cfg_fail(cfg_ctx *x, const yaml_node_t *n, const char *fmt, ...) {
  char why[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(x->msg, x->msgsize, "line %lu: %s",
           n ? (unsigned long)n->start_mark.line + 1 : 0ul, why);
  return false;
}

static bool set_quota(cfg_ctx *x, const yaml_node_t *n, const char *name,
                      const char *val) {
  uint64_t v;
  if (!parse_size(val, &v) || v == 0) {
    return cfg_fail(x, n, "tenant_defaults.%s: '%s' is not a positive number",
                    name, val);
  }
  json_t *o = json_pack("{sI}", name, (json_int_t)v);
  char param[64], why[160];
  bool ok = o && srv_quotas_apply(&x->c->tenant_defaults, o, false, param, why,
                                  sizeof why);
  json_decref(o);
  return ok ? true : cfg_fail(x, n, "tenant_defaults: %s", why);
}

static bool set_scalar(cfg_ctx *x, const yaml_node_t *n, const char *key) {
  const char *val = (const char *)n->data.scalar.value;
  if (!strncmp(key, "tenant_defaults.", 16)) {
    return set_quota(x, n, key + 16, val);
  }
  size_t i = 0;
  while (i < NCFG && strcmp(cfg_rows[i].key, key) != 0) i++;
  if (i == NCFG) return cfg_fail(x, n, "unknown key '%s'", key);
  const struct cfg_row *r = &cfg_rows[i];
  void *field = (char *)x->c + r->offset;
  uint64_t v;
  switch (r->type) {
    case CT_LISTEN:
      if (!srv_config_listen(x->c, val)) {
        return cfg_fail(x, n, "%s: '%s' is not HOST:PORT", key, val);
      }
      return true;
    case CT_STR:
      if (strlen(val) >= r->size) return cfg_fail(x, n, "%s: too long", key);
      memcpy(field, val, strlen(val) + 1);
      return true;
    case CT_ISOLATION:
      if (strcmp(val, "process") && strcmp(val, "thread")) {
        return cfg_fail(x, n, "%s: '%s' is not process or thread", key, val);
      }
      *(bool *)field = !strcmp(val, "process");
      return true;
    case CT_BOOL:
      if (!parse_bool(val, field)) {
        return cfg_fail(x, n, "%s: '%s' is not true or false", key, val);
      }
      return true;
    default:
      if (!parse_size(val, &v) || v < r->min || v > r->max) {
        return cfg_fail(x, n, "%s: '%s' is not a number in [%llu, %llu]", key,
                        val, (unsigned long long)r->min,
                        (unsigned long long)r->max);
      }
      if (r->type == CT_U32) {
        *(uint32_t *)field = (uint32_t)v;
      } else {
        *(uint64_t *)field = v;
      }
      return true;
  }
}

/* Walks a mapping; prefix is the dotted path so far. */
static bool walk(cfg_ctx *x, yaml_document_t *doc, yaml_node_t *n,
                 const char *prefix, int depth) {
  if (depth > 4) return cfg_fail(x, n, "nested too deeply");
  if (n->type == YAML_SCALAR_NODE) {
    if (!prefix[0]) return cfg_fail(x, n, "expected a mapping of settings");
    return set_scalar(x, n, prefix);
  }
  if (n->type != YAML_MAPPING_NODE) {
    return cfg_fail(x, n, "'%s': lists are not settings", prefix);
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    yaml_node_t *v = yaml_document_get_node(doc, p->value);
    if (!k || !v || k->type != YAML_SCALAR_NODE) {
      return cfg_fail(x, k, "keys must be plain names");
    }
    const char *kname = (const char *)k->data.scalar.value;
    if (depth == 0 && (!strcmp(kname, "models") || !strcmp(kname, "gateway"))) {
      if (!srv_gw_config_node(x->c, doc, v, kname, x->msg, x->msgsize)) {
        return false;
      }
      continue;
    }
    if (depth == 0 && !strcmp(kname, "nn")) {
      if (!srv_nn_config_node(x->c, doc, v, x->msg, x->msgsize)) return false;
      continue;
    }
    char path[256];
    int len = snprintf(path, sizeof path, "%s%s%s", prefix,
                       prefix[0] ? "." : "", (const char *)k->data.scalar.value);
    if (len < 0 || (size_t)len >= sizeof path) {
      return cfg_fail(x, k, "key too long");
    }
    if (!walk(x, doc, v, path, depth + 1)) return false;
  }
  return true;
}

bool srv_config_parse(wg_config *c, const char *text, size_t len, char *msg,
                      size_t msgsize) {
  yaml_parser_t parser;
  yaml_document_t doc;
  cfg_ctx x = {c, msg, msgsize};
  if (!yaml_parser_initialize(&parser)) {
    snprintf(msg, msgsize, "out of memory");
    return false;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    snprintf(msg, msgsize, "line %lu: %s",
             (unsigned long)parser.problem_mark.line + 1,
             parser.problem ? parser.problem : "invalid YAML");
    yaml_parser_delete(&parser);
    return false;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  bool ok = true;
  /* An empty document is an empty configuration. */
  if (root && !(root->type == YAML_SCALAR_NODE &&
                root->data.scalar.length == 0)) {
    ok = walk(&x, &doc, root, "", 0);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return ok;
}

bool srv_config_load(wg_config *c, const char *path, char *msg,
                     size_t msgsize) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(msg, msgsize, "%s: %s", path, strerror(errno));
    return false;
  }
  wg_buf b;
  wg_buf_init(&b, 1u << 20);
  char chunk[4096];
  size_t n;
  bool ok = true;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (wg_buf_append(&b, chunk, n) != WG_OK) {
      snprintf(msg, msgsize, "%s: larger than 1 MiB", path);
      ok = false;
      break;
    }
  }
  if (ok && ferror(f)) {
    snprintf(msg, msgsize, "%s: read error", path);
    ok = false;
  }
  fclose(f);
  if (ok) {
    char why[256];
    ok = srv_config_parse(c, b.data ? (const char *)b.data : "", b.len, why,
                          sizeof why);
    if (!ok) snprintf(msg, msgsize, "%s: %s", path, why);
  }
  wg_buf_free(&b);
  return ok;
}
