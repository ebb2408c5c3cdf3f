/*
** Executions: POST /v1/modules/{id}/executions, GET /v1/executions/{id},
** and the one-shot POST /sandbox/exec (multipart: a wasm part and an input
** part whose bytes become stdin).
**
** These handlers run on executor threads (routes.def: ASYNC). A run gets
** a fresh scratch directory preopened as "/", limits no higher than the
** tenant's maxima, and ends in a record stored with SHA-256 digests of its
** inputs and outputs (the outputs themselves only with
** executions.store_output).
*/
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/alloc.h"
#include "server/files.h"
#include "server/hangup.h"
#include "server/metrics.h"
#include "server/modules.h"
#include "server/multipart.h"
#include "server/policy.h"
#include "server/srv.h"
#include "server/wasinn.h"
#include "sandbox/workers.h"
#include "wasmgate/sandbox.h"

#define EXEC_STRINGS_MAX (4u << 20)   /* args and env, all together */

typedef struct exec_spec {
  const char *function;       /* NULL: _start */
  wg_buf strings;             /* args and "K=V" env, NUL-separated */
  const char **ptrs;          /* argv (argc) then env (envc), into strings */
  size_t argc, envc, nptrs;
  wg_buf stdin_buf;           /* stdin bytes */
  json_t *files;              /* borrowed from the body, or NULL */
  wg_exec_limits limits;
} exec_spec;

static void spec_init(exec_spec *x) {
  memset(x, 0, sizeof *x);
  wg_buf_init(&x->strings, EXEC_STRINGS_MAX);
  wg_buf_init(&x->stdin_buf, 0);
}

static void spec_free(exec_spec *x) {
  wg_buf_free(&x->strings);
  wg_buf_free(&x->stdin_buf);
  wg_free_array(x->ptrs, x->nptrs);
}

/* ------------------------------------------------------------------ */
/* Parsing the request                                                 */

/* A JSON string without NUL bytes, or NULL. */
static const char *plain_string(json_t *v) {
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

static bool add_string(srv_req *r, exec_spec *x, const char *a,
                       const char *b) {
  size_t n = strlen(a);
  wg_err e = wg_buf_append(&x->strings, a, n + (b ? 0 : 1));
  if (e == WG_OK && b) {
    e = wg_buf_append(&x->strings, "=", 1);
    if (e == WG_OK) e = wg_buf_append(&x->strings, b, strlen(b) + 1);
  }
  if (e) srv_fail(r, SRV_E_TOO_LARGE, NULL, "args and env are too large");
  return e == WG_OK;
}

static bool parse_args_env(srv_req *r, exec_spec *x, json_t *args,
                           json_t *env, uint32_t max) {
  if (args && !json_is_array(args)) {
    srv_fail(r, SRV_E_BAD_PARAM, "args", "'args' must be an array of strings");
    return false;
  }
  if (env && !json_is_object(env)) {
    srv_fail(r, SRV_E_BAD_PARAM, "env", "'env' must be an object of strings");
    return false;
  }
  if (json_array_size(args) + json_object_size(env) > max) {
    srv_fail(r, SRV_E_BAD_PARAM, "args", "too many args and env entries (at "
             "most %u)", (unsigned)max);
    return false;
  }
  if (!add_string(r, x, "module.wasm", NULL)) return false;   /* argv[0] */
  size_t i;
  json_t *v;
  json_array_foreach(args, i, v) {
    const char *s = plain_string(v);
    if (!s) {
      srv_fail(r, SRV_E_BAD_PARAM, "args", "args[%zu] must be a string "
               "without NUL bytes", i);
      return false;
    }
    if (!add_string(r, x, s, NULL)) return false;
  }
  x->argc = json_array_size(args) + 1;
  const char *k;
  json_object_foreach(env, k, v) {
    const char *s = plain_string(v);
    if (!k[0] || strchr(k, '=') || !s) {
      srv_fail(r, SRV_E_BAD_PARAM, "env", "env '%.100s': names must be "
               "non-empty without '=', values strings without NUL bytes", k);
      return false;
    }
    if (!add_string(r, x, k, s)) return false;
  }
  x->envc = json_object_size(env);
  x->nptrs = x->argc + x->envc;
  x->ptrs = wg_new_array(const char *, x->nptrs);
  if (!x->ptrs) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return false;
  }
  const char *p = (const char *)x->strings.data;
  for (size_t n = 0; n < x->nptrs; n++, p += strlen(p) + 1) x->ptrs[n] = p;
  return true;
}

static bool parse_stdin(srv_req *r, exec_spec *x, json_t *text,
                        json_t *b64) {
  if (text && b64) {
    srv_fail(r, SRV_E_BAD_PARAM, "stdin_base64", "give 'stdin' or "
             "'stdin_base64', not both");
    return false;
  }
  x->stdin_buf.max = r->body.len;   /* never more than the body */
  if (text) {
    if (!json_is_string(text)) {
      srv_fail(r, SRV_E_BAD_PARAM, "stdin", "'stdin' must be a string");
      return false;
    }
    wg_buf_append(&x->stdin_buf, json_string_value(text),
                  json_string_length(text));
  } else if (b64) {
    const char *s = json_string_value(b64);
    if (!s || srv_b64_decode(s, json_string_length(b64), &x->stdin_buf)) {
      srv_fail(r, SRV_E_BAD_PARAM, "stdin_base64", "'stdin_base64' must be "
               "standard base64 (RFC 4648, with padding)");
      return false;
    }
  }
  return true;
}

/* One limit: absent means the tenant's maximum. */
static bool parse_limit(srv_req *r, json_t *limits, const char *name,
                        uint64_t max, uint64_t *out) {
  json_t *v = json_object_get(limits, name);
  *out = max;
  if (!v) return true;
  json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
  char param[64];
  snprintf(param, sizeof param, "limits.%s", name);
  if (n <= 0) {
    srv_fail(r, SRV_E_BAD_PARAM, param, "'%s' must be a positive integer",
             param);
    return false;
  }
  if ((uint64_t)n > max) {
    srv_fail(r, SRV_E_ABOVE_QUOTA, param, "%s (%lld) exceeds your maximum "
             "of %llu", param, (long long)n, (unsigned long long)max);
    return false;
  }
  *out = (uint64_t)n;
  return true;
}

static bool parse_limits(srv_req *r, exec_spec *x, json_t *limits) {
  static const char *const names[] = {"fuel", "memory_bytes", "timeout_ms",
                                      "max_output_bytes", NULL};
  if (limits && !json_is_object(limits)) {
    srv_fail(r, SRV_E_BAD_PARAM, "limits", "'limits' must be an object");
    return false;
  }
  if (limits && !srv_json_known(r, limits, names, "limits.")) return false;
  wg_quotas q;
  srv_tenant_quotas(r->who.tenant, &q);
  uint64_t fuel;
  wg_exec_limits_default(&x->limits);
  if (!parse_limit(r, limits, "fuel", q.max_fuel, &fuel) ||
      !parse_limit(r, limits, "memory_bytes", q.max_memory_bytes,
                   &x->limits.memory_bytes) ||
      !parse_limit(r, limits, "timeout_ms", q.max_timeout_ms,
                   &x->limits.timeout_ms) ||
      !parse_limit(r, limits, "max_output_bytes", q.max_output_bytes,
                   &x->limits.max_output_bytes)) {
    return false;
  }
  x->limits.fuel = (int64_t)fuel;
  return true;
}

static bool parse_spec(srv_req *r, json_t *body, exec_spec *x) {
  static const char *const fields[] = {"args", "env", "stdin", "stdin_base64",
                                       "files", "function", "limits", NULL};
  if (!srv_json_known(r, body, fields, "")) return false;
  wg_config cfg;
  srv_cfg_snapshot(r->s, &cfg);
  json_t *fn = json_object_get(body, "function");
  if (fn && (!plain_string(fn) || !json_string_length(fn))) {
    srv_fail(r, SRV_E_BAD_PARAM, "function", "'function' must be the name of "
             "an exported function");
    return false;
  }
  x->function = fn ? json_string_value(fn) : NULL;
  char why[300];
  srv_files_limits fl = {cfg.max_files, cfg.max_file_path,
                         cfg.max_files_bytes};
  x->files = json_object_get(body, "files");
  if (!srv_files_check(x->files, &fl, why, sizeof why)) {
    srv_fail(r, SRV_E_BAD_FILE, "files", "%s", why);
    return false;
  }
  return parse_args_env(r, x, json_object_get(body, "args"),
                        json_object_get(body, "env"), cfg.max_args) &&
         parse_stdin(r, x, json_object_get(body, "stdin"),
                     json_object_get(body, "stdin_base64")) &&
         parse_limits(r, x, json_object_get(body, "limits"));
}

/* ------------------------------------------------------------------ */
/* The answer and the record                                           */

static const char *trap_kind(wg_err e, char *buf, size_t n) {
  const char *name = wg_err_name(e);            /* "WG_TRAP_MEMORY" */
  name += strncmp(name, "WG_TRAP_", 8) == 0 ? 8 : 3;
  size_t i = 0;
  for (; name[i] && i + 1 < n; i++) {
    buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32
                                                     : name[i]);
  }
  buf[i] = 0;
  return buf;
}

/* stdout or stderr: text when UTF-8, else base64 with the encoding. */
static void put_output(json_t *o, const char *name, const uint8_t *p,
                       size_t n) {
  char key[32];
  snprintf(key, sizeof key, "%s_encoding", name);
  if (srv_utf8_valid(p, n)) {
    json_object_set_new(o, name, json_stringn(n ? (const char *)p : "", n));
    json_object_set_new(o, key, json_string("utf-8"));
    return;
  }
  wg_buf b;
  wg_buf_init(&b, (n / 3 + 2) * 4 + 1);
  srv_b64_encode(p, n, false, &b);
  json_object_set_new(o, name, json_stringn(b.data ? (const char *)b.data
                                                   : "", b.len));
  json_object_set_new(o, key, json_string("base64"));
  wg_buf_free(&b);
}

static json_t *results_json(const wg_exec_result *res) {
  json_t *a = json_array();
  for (size_t i = 0; i < res->nresults; i++) {
    const wg_val *v = &res->results[i];
    json_t *j;
    switch (v->type) {
      case WG_I32: j = json_integer((int32_t)v->of.i32); break;
      case WG_I64: j = json_integer((json_int_t)(int64_t)v->of.i64); break;
      case WG_F32: {
        float f;
        memcpy(&f, &v->of.i32, 4);
        j = json_real(f);
        break;
      }
      case WG_F64: {
        double d;
        memcpy(&d, &v->of.i64, 8);
        j = json_real(d);
        break;
      }
      default: j = json_null();
    }
    json_array_append_new(a, j ? j : json_null());
  }
  return a;
}

static json_t *sha_json(const void *p, size_t n) {
  uint8_t h[32];
  char hex[65];
  srv_sha256(p, n, h);
  srv_hex(h, 32, hex);
  return json_string(hex);
}

/* The common fields of the answer and the stored record. */
static json_t *result_json(srv_req *r, const wg_exec_result *res) {
  char kind[40];
  json_t *trap = json_null();
  if (res->trap != WG_OK && res->trap != WG_TRAP_EXIT) {
    trap = json_pack("{ss,ss}", "kind", trap_kind(res->trap, kind,
                                                  sizeof kind),
                     "message", res->trap_message[0] ? res->trap_message
                                                     : wg_strerror(res->trap));
  }
  json_t *limit = res->limit != WG_LIMIT_NONE
                      ? json_string(wg_limit_name(res->limit))
                      : json_null();
  json_t *o = json_pack("{ss,ss,ss,sI,si}", "id", r->exec_id, "object",
                        "execution", "module_id", r->module_id, "created_at",
                        (json_int_t)(srv_time_ms() / 1000), "exit_code",
                        res->exit_code);
  json_object_set_new(o, "stdout_truncated", json_boolean(res->out_truncated));
  json_object_set_new(o, "stderr_truncated", json_boolean(res->err_truncated));
  json_object_set_new(o, "trap", trap);
  json_object_set_new(o, "limit", limit);
  json_object_set_new(o, "fuel_used", json_integer((json_int_t)res->fuel_used));
  json_object_set_new(o, "wall_ms", json_real((double)res->wall_ns / 1e6));
  json_object_set_new(o, "peak_memory_bytes",
                      json_integer((json_int_t)res->peak_memory_bytes));
  if (res->nresults) json_object_set_new(o, "results", results_json(res));
  return o;
}

static void store_record(srv_req *r, json_t *common, const exec_spec *x,
                         const wg_exec_result *res, bool keep_output) {
  json_t *rec = json_deep_copy(common);
  json_object_set_new(rec, "input_sha256", sha_json(r->body.data,
                                                    r->body.len));
  json_object_set_new(rec, "stdin_sha256", sha_json(x->stdin_buf.data,
                                                    x->stdin_buf.len));
  json_object_set_new(rec, "stdout_sha256", sha_json(res->out, res->out_len));
  json_object_set_new(rec, "stderr_sha256", sha_json(res->err, res->err_len));
  json_object_set_new(rec, "stdout_bytes", json_integer((json_int_t)
                                                        res->out_len));
  json_object_set_new(rec, "stderr_bytes", json_integer((json_int_t)
                                                        res->err_len));
  if (keep_output) {
    put_output(rec, "stdout", res->out, res->out_len);
    put_output(rec, "stderr", res->err, res->err_len);
  }
  wg_db_exec e;
  wg_db_exec_init(&e);
  wg_db_set_id(e.id, r->exec_id);
  wg_db_set_id(e.tenant, r->who.tenant->id);
  wg_db_set_id(e.module, r->module_id);
  e.created_ms = srv_time_ms();
  if (srv_json_dump(rec, JSON_COMPACT | JSON_PRESERVE_ORDER, &e.record) ==
          WG_OK &&
      r->s->db->ops->exec_put(r->s->db, &e, NULL) != WG_OK) {
    fprintf(stderr, "wasmgate: request %s: could not store execution %s\n",
            r->id, r->exec_id);
  }
  wg_db_exec_free(&e);
  json_decref(rec);
}

static srv_outcome outcome_of(const wg_exec_result *res) {
  if (res->limit != WG_LIMIT_NONE) return SRV_OUTCOME_limit;
  if (res->trap != WG_OK && res->trap != WG_TRAP_EXIT) return SRV_OUTCOME_trap;
  return res->exit_code == 0 ? SRV_OUTCOME_ok : SRV_OUTCOME_exit_nonzero;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

/* wg_workers_calls.place: moves the run's directory (user: its path, of
** SCRATCH_DIR_MAX bytes, updated) into the worker's home. */
#define SCRATCH_DIR_MAX (SRV_PATH_MAX + 64)
static bool place_dir(void *user, const char *home) {
  char *dir = user, to[SCRATCH_DIR_MAX];
  const char *base = strrchr(dir, '/');
  if (!base || snprintf(to, sizeof to, "%s%s", home, base) >= (int)sizeof to ||
      rename(dir, to) != 0) {
    return false;
  }
  memcpy(dir, to, strlen(to) + 1);
  return true;
}

/* Runs m under x in a fresh scratch directory and answers. */
static void run(srv_req *r, wg_module *m, exec_spec *x) {
  if (!srv_policy_gate_execution(r, m, x->function, &x->limits)) return;
  srv_nn_exec nnx;              /* WASI-NN, for a module importing it */
  if (!srv_nn_prepare(r, m, &nnx)) {
    srv_nn_finish(&nnx);
    return;
  }
  wg_config cfg;
  srv_cfg_snapshot(r->s, &cfg);
  char dir[SCRATCH_DIR_MAX], why[300];
  /* a worker that switched user owns its directory (uid 0: unchanged) */
  uid_t uid = r->s->workers && r->s->worker_uid ? (uid_t)r->s->worker_uid
                                                : (uid_t)-1;
  gid_t gid = uid != (uid_t)-1 ? (gid_t)r->s->worker_gid : (gid_t)-1;
  int rc = srv_scratch_create(cfg.scratch_dir, x->files, uid, gid, dir,
                              sizeof dir, why, sizeof why);
  if (rc != 0) {
    srv_nn_finish(&nnx);
    srv_scratch_remove(dir);
    if (rc > 0) srv_fail(r, SRV_E_BAD_FILE, "files", "%s", why);
    else srv_fail(r, SRV_E_INTERNAL, NULL, "%s", why);
    return;
  }
  srv_time_id("exec_", r->exec_id, sizeof r->exec_id);
  wg_exec_dir d = {dir, "/", false, -1};
  if (r->s->workers) {
    /* a worker gets the directory as an fd, never a path */
    d.host_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d.host_path = NULL;
    if (d.host_fd < 0) {
      srv_nn_finish(&nnx);
      srv_scratch_remove(dir);
      srv_fail(r, SRV_E_INTERNAL, NULL, "cannot open the scratch directory");
      return;
    }
  }
  wg_exec_request q;
  wg_exec_request_init(&q);
  q.module = m;
  q.function = x->function;
  q.argv = x->ptrs;
  q.argc = x->argc;
  q.env = x->ptrs + x->argc;
  q.envc = x->envc;
  q.dirs = &d;
  q.ndirs = 1;
  q.stdin_bytes = x->stdin_buf.data ? x->stdin_buf.data : (const uint8_t *)"";
  q.stdin_len = x->stdin_buf.len;
  q.stdin_fd = q.stdout_fd = q.stderr_fd = -1;
  q.limits = x->limits;
  const wg_workers_calls *nn_calls = srv_nn_link(&nnx, &q);
  /* In a worker, the directory moves into the worker's home (workers.h) */
  wg_workers_calls calls = {0};
  if (nn_calls) calls = *nn_calls;
  calls.place = place_dir;
  calls.place_user = dir;
  /* A client that goes away stops its run (hangup.h). Without a token
  ** (out of fds) the run goes on to its own limits. */
  q.cancel = wg_exec_cancel_new();
  const union MHD_ConnectionInfo *ci =
      q.cancel ? MHD_get_connection_info(r->conn,
                                         MHD_CONNECTION_INFO_CONNECTION_FD)
               : NULL;
  srv_hangup_watch hw;
  srv_hangup_begin(r->s->hangup, &hw, ci ? ci->connect_fd : -1, q.cancel);
  wg_exec_result res;
  memset(&res, 0, sizeof res);
  wg_worker_outcome wo = WG_WORKER_RAN;
  wg_err e = r->s->workers ? wg_workers_run_calls(r->s->workers, r->module_id,
                                                  &q, &calls, &res, &wo)
                           : wg_exec_run(&q, &res);
  srv_hangup_end(r->s->hangup, &hw);
  wg_exec_cancel_free(q.cancel);
  srv_nn_finish(&nnx);
  if (d.host_fd >= 0) close(d.host_fd);
  srv_scratch_remove(dir);
  if (res.cancelled) {          /* nobody to answer: audit and count it */
    srv_metrics_execution(r->s->metrics, SRV_OUTCOME_cancelled, 0,
                          res.fuel_used, (double)res.wall_ns * 1e-9);
    r->reason = "client_closed";
    r->exec_id[0] = 0;
    wg_exec_result_free(&res);
    srv_reply_raw(r, 499, "application/json", "", 0);
    return;
  }
  if (wo == WG_WORKER_CRASHED) {
    fprintf(stderr, "wasmgate: request %s: %s\n", r->id, res.trap_message);
    srv_metrics_execution(r->s->metrics, SRV_OUTCOME_error, 0, 0, 0);
    srv_fail(r, SRV_E_INTERNAL, NULL, "execution failed: %s; the worker was "
             "replaced", res.trap_message);
    r->exec_id[0] = 0;
    wg_exec_result_free(&res);
    return;
  }
  if (e != WG_OK) {
    srv_metrics_execution(r->s->metrics, SRV_OUTCOME_error, 0, 0, 0);
    srv_fail(r, SRV_E_CANNOT_RUN, NULL, "cannot run the module: %s",
             res.trap_message[0] ? res.trap_message : wg_strerror(e));
    r->exec_id[0] = 0;
    wg_exec_result_free(&res);
    return;
  }
  srv_metrics_execution(r->s->metrics, outcome_of(&res), (int)res.limit,
                        res.fuel_used, (double)res.wall_ns * 1e-9);
  json_t *o = result_json(r, &res);
  store_record(r, o, x, &res, cfg.store_output);
  put_output(o, "stdout", res.out, res.out_len);
  put_output(o, "stderr", res.err, res.err_len);
  wg_exec_result_free(&res);
  srv_reply_json(r, 200, o);
}

void srv_h_exec_create(srv_req *r) {
  exec_spec x;
  spec_init(&x);
  json_error_t je;
  json_t *body = json_loadb(r->body.data ? (const char *)r->body.data : "{}",
                            r->body.len ? r->body.len : 2,
                            JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
  const char *id = srv_params_get(&r->params, "id");
  wg_db_set_id(r->module_id, id);
  wg_module *m = NULL;
  if (!body) {
    srv_fail(r, SRV_E_BAD_JSON, NULL, "We could not parse the JSON body of "
             "your request: %s (line %d, column %d)", je.text, je.line,
             je.column);
  } else if (!json_is_object(body)) {
    srv_fail(r, SRV_E_BAD_REQUEST, NULL, "the body must be a JSON object");
  } else if ((m = srv_module_open(r, id)) != NULL && parse_spec(r, body, &x)) {
    run(r, m, &x);
  }
  if (m) wg_module_release(m);
  spec_free(&x);
  json_decref(body);
}

void srv_h_exec_get(srv_req *r) {
  const char *id = srv_params_get(&r->params, "id");
  wg_db_set_id(r->exec_id, id);
  wg_db_exec e;
  wg_db_exec_init(&e);
  wg_err err = r->s->db->ops->exec_get(r->s->db, r->who.tenant->id, id, &e,
                                       NULL);
  json_t *rec = err ? NULL : json_loadb((const char *)e.record.data,
                                        e.record.len, 0, NULL);
  if (err == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_EXEC, "id", "no execution '%s'", id);
  } else if (!rec) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  } else {
    wg_db_set_id(r->module_id, e.module);
    srv_reply_json(r, 200, rec);
  }
  wg_db_exec_free(&e);
}

/* ------------------------------------------------------------------ */
/* POST /sandbox/exec                                                  */

/* The wasm and input parts of the body; answers 400 when malformed. */
static bool sandbox_parts(srv_req *r, const srv_part **wasm,
                          const srv_part **input, srv_part *parts) {
  char boundary[SRV_MP_BOUNDARY_MAX + 1], why[200];
  size_t n;
  if (!srv_multipart_boundary(r->content_type, boundary, why, sizeof why) ||
      !srv_multipart_parse(r->body.data, r->body.len, boundary, parts,
                           SRV_MP_MAX_PARTS, &n, why, sizeof why)) {
    srv_fail(r, SRV_E_BAD_MULTIPART, NULL, "malformed multipart body: %s",
             why);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (strcmp(parts[i].name, "wasm") && strcmp(parts[i].name, "input")) {
      srv_fail(r, SRV_E_BAD_MULTIPART, parts[i].name, "unknown part '%s' "
               "(expected 'wasm' and 'input')", parts[i].name);
      return false;
    }
  }
  *wasm = srv_multipart_find(parts, n, "wasm");
  *input = srv_multipart_find(parts, n, "input");
  if (!*wasm) {
    srv_fail(r, SRV_E_BAD_MULTIPART, "wasm", "the 'wasm' part is missing");
    return false;
  }
  if (*input) {
    json_error_t je;
    json_t *j = json_loadb((const char *)(*input)->data, (*input)->len,
                           JSON_DECODE_ANY, &je);
    if (!j) {
      srv_fail(r, SRV_E_BAD_JSON, "input", "the 'input' part is not JSON: %s "
               "(line %d, column %d)", je.text, je.line, je.column);
      return false;
    }
    json_decref(j);
  }
  return true;
}

void srv_h_sandbox_exec(srv_req *r) {
  srv_part parts[SRV_MP_MAX_PARTS];
  const srv_part *wasm, *input;
  if (!sandbox_parts(r, &wasm, &input, parts)) return;
  int status;
  wg_module *m = srv_module_upload(r, wasm->data, wasm->len, &status);
  if (!m) return;
  exec_spec x;
  spec_init(&x);
  if (parse_args_env(r, &x, NULL, NULL, 0) && parse_limits(r, &x, NULL)) {
    x.stdin_buf.max = r->body.len;
    if (input) wg_buf_append(&x.stdin_buf, input->data, input->len);
    run(r, m, &x);
  }
  spec_free(&x);
  wg_module_release(m);
}
