/*
** Policies in `wasmgate serve`: the policy API (PUT/GET/DELETE
** /v1/policies/{id}), the decision API (POST /v1/data/{path}), and the
** gates of the decision points (policy.h says what they decide on).
**
** Ownership: a policy uploaded with the admin key belongs to the
** administrator (owner ""), one uploaded with a tenant key holding the
** "policy" scope to that tenant. A tenant sees and replaces only its own
** policies; ids are one namespace, so an id held by someone else is 403.
** Decision points use administrator policies only.
**
** Hot reload: PUT loads, validates and warms the new version on the
** executor pool, then swaps it in (wg_policy_set_put); a broken upload
** is refused and the old version keeps serving. Accepted versions are
** kept in <data_dir>/policies (<id>.policy + <id>.owner) and loaded again
** at start-up.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "server/policy.h"
#include "server/srv.h"

#define POLICY_FILE_MAX (1024u << 20)

struct srv_policies {
  wg_policy_set *set;
  wg_policy_builtins *builtins;
  wg_policy_aot *aot;           /* policy.aot: the AOT builder, or NULL */
  char dir[SRV_PATH_MAX];
};

static bool id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 100 || id[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

static void load_opts(srv *s, wg_policy_opts *o) {
  wg_config c;
  srv_cfg_snapshot(s, &c);
  memset(o, 0, sizeof *o);
  o->fuel = (int64_t)c.policy_fuel;
  o->timeout_ms = c.policy_timeout_ms;
  o->max_memory_bytes = c.policy_max_memory_bytes;
  o->aot = s->policies ? s->policies->aot : NULL;
}

/* policy.aot: off, on (the tools must be there) or auto (when they are:
** otherwise the reason is logged and policies stay on the interpreter). */
static wg_err start_aot(srv *s, srv_policies *ps, wg_error *err) {
  const wg_config *c = &s->cfg;
  bool on = !strcmp(c->policy_aot, "on");
  if (!strcmp(c->policy_aot, "off")) return WG_OK;
  if (!on && strcmp(c->policy_aot, "auto") != 0) {
    return wg_error_set(err, WG_EINVAL, "policy.aot: '%s' is not auto, on "
                        "or off", c->policy_aot);
  }
  char cache[SRV_PATH_MAX + 16];
  snprintf(cache, sizeof cache, "%.900s/aot-cache", c->data_dir);
  wg_policy_aot_config ac = {
      .cache_dir = c->policy_aot_cache_dir[0] ? c->policy_aot_cache_dir : cache,
      .wasm2c = c->policy_aot_wasm2c[0] ? c->policy_aot_wasm2c : NULL,
      .cc = c->policy_aot_cc[0] ? c->policy_aot_cc : NULL,
      .opt = c->policy_aot_opt[0] ? c->policy_aot_opt : NULL};
  wg_error aerr;
  wg_error_clear(&aerr);
  ps->aot = wg_policy_aot_new(&ac, &aerr);
  if (ps->aot) return WG_OK;
  if (on) return wg_error_set(err, aerr.code, "policy.aot: %s", aerr.message);
  fprintf(stderr, "wasmgate: policy.aot auto: policies stay on the "
          "interpreter: %s\n", aerr.message);
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Persistence                                                         */

static bool write_file(const char *path, const void *p, size_t n) {
  char tmp[SRV_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const char *c = p;
  bool ok = true;
  while (n > 0 && ok) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) {
      c += w;
      n -= (size_t)w;
    }
  }
  ok = ok && fsync(fd) == 0;
  close(fd);
  if (ok) ok = rename(tmp, path) == 0;
  if (!ok) unlink(tmp);
  return ok;
}

static bool read_file(const char *path, wg_buf *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char chunk[65536];
  size_t n;
  bool ok = true;
  while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    ok = wg_buf_append(out, chunk, n) == WG_OK;
  }
  ok = ok && !ferror(f);
  fclose(f);
  return ok;
}

static void path_of(const srv_policies *ps, const char *id, const char *ext,
                    char *out, size_t n) {
  snprintf(out, n, "%.900s/%s.%s", ps->dir, id, ext);
}

static void load_saved(srv *s, srv_policies *ps) {
  DIR *d = opendir(ps->dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 8 || strcmp(de->d_name + n - 7, ".policy") != 0) continue;
    char id[128];
    if (n - 7 >= sizeof id) continue;
    memcpy(id, de->d_name, n - 7);
    id[n - 7] = 0;
    if (!id_ok(id)) continue;
    char path[SRV_PATH_MAX + 160];
    wg_buf body, owner;
    wg_buf_init(&body, POLICY_FILE_MAX);
    wg_buf_init(&owner, 256);
    path_of(ps, id, "policy", path, sizeof path);
    bool ok = read_file(path, &body);
    path_of(ps, id, "owner", path, sizeof path);
    read_file(path, &owner);
    wg_policy_opts o;
    load_opts(s, &o);
    wg_error err;
    wg_error_clear(&err);
    wg_policy *p = ok && body.data ? wg_policy_load(body.data, body.len,
                                                    ps->builtins, &o, &err)
                                   : NULL;
    if (!p) {
      fprintf(stderr, "wasmgate: policy %s not loaded: %s\n", id,
              ok ? err.message : "cannot read it");
    } else {
      wg_policy_set_put(ps->set, id,
                        owner.data ? (const char *)owner.data : "", false, p,
                        NULL);
    }
    wg_buf_free(&body);
    wg_buf_free(&owner);
  }
  closedir(d);
}

wg_err srv_policies_new(srv *s, srv_policies **out, wg_error *err) {
  srv_policies *ps = wg_new(srv_policies);
  if (!ps) return wg_error_set(err, WG_ENOMEM, "out of memory");
  ps->set = wg_policy_set_new();
  ps->builtins = wg_policy_builtins_new();
  if (!ps->set || !ps->builtins) {
    srv_policies_free(ps);
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  snprintf(ps->dir, sizeof ps->dir, "%.900s/policies", s->cfg.data_dir);
  if (mkdir(ps->dir, 0700) != 0 && errno != EEXIST) {
    srv_policies_free(ps);
    return wg_error_set(err, WG_EIO, "%s: %s", ps->dir, strerror(errno));
  }
  s->policies = ps;
  wg_err e = start_aot(s, ps, err);
  if (e) {
    s->policies = NULL;
    srv_policies_free(ps);
    return e;
  }
  load_saved(s, ps);
  *out = ps;
  return WG_OK;
}

void srv_policies_free(srv_policies *ps) {
  if (!ps) return;
  wg_policy_aot_free(ps->aot);  /* first: its queue holds versions */
  wg_policy_set_free(ps->set);
  wg_policy_builtins_free(ps->builtins);
  wg_free_obj(ps);
}

wg_policy_builtins *srv_policies_builtins(srv *s) {
  return s->policies->builtins;
}

/* ------------------------------------------------------------------ */
/* The policy API                                                      */

static const char *owner_of(srv_req *r) {
  return r->who.kind == SRV_WHO_TENANT ? r->who.tenant->id : "";
}

static json_t *info_json(const wg_policy_info *i, wg_policy *p) {
  json_t *eps = json_array(), *bis = json_array();
  for (size_t k = 0; k < wg_policy_entrypoint_count(p); k++) {
    json_array_append_new(eps, json_string(wg_policy_entrypoint(p, k)));
  }
  for (size_t k = 0; k < wg_policy_builtin_count(p); k++) {
    json_array_append_new(bis, json_string(wg_policy_builtin(p, k)));
  }
  char abi[32];
  if (wg_policy_abi_major(p) < 0) {
    snprintf(abi, sizeof abi, "none");
  } else {
    snprintf(abi, sizeof abi, "%d.%d", wg_policy_abi_major(p),
             wg_policy_abi_minor(p));
  }
  return json_pack("{ss,sI,ss,ss,ss,so,so,ss*,sI}", "id", i->id, "version",
                   (json_int_t)i->version, "owner",
                   i->owner[0] ? i->owner : "admin", "sha256",
                   wg_policy_sha256(p), "abi_version", abi, "entrypoints",
                   eps, "builtins", bis, "revision", wg_policy_revision(p),
                   "updated_at", (json_int_t)(i->updated_ms / 1000));
}

/* The caller's policy id, or NULL after answering 404. Its reference in
** *out. */
static wg_policy *own_policy(srv_req *r, const char *id, wg_policy_info *i) {
  wg_policy *p = id_ok(id) ? wg_policy_set_get(r->s->policies->set, id, i)
                           : NULL;
  if (p && strcmp(i->owner, owner_of(r)) != 0) {
    wg_policy_release(p);
    p = NULL;
  }
  if (!p) srv_fail(r, SRV_E_NO_POLICY, "id", "no policy '%.128s'", id);
  return p;
}

void srv_h_policy_put(srv_req *r) {
  srv_policies *ps = r->s->policies;
  const char *id = srv_params_get(&r->params, "id");
  if (!id_ok(id)) {
    srv_fail(r, SRV_E_BAD_PARAM, "id", "a policy id is 1-100 characters of "
             "A-Z a-z 0-9 . _ - (not starting with '.')");
    return;
  }
  /* Someone else's id: refuse before the work of loading. */
  wg_policy_info cur;
  wg_policy *old = wg_policy_set_get(ps->set, id, &cur);
  bool foreign = old && strcmp(cur.owner, owner_of(r)) != 0;
  wg_policy_release(old);
  if (foreign) {
    srv_fail(r, SRV_E_FORBIDDEN, "id", "policy '%s' belongs to someone else",
             id);
    return;
  }
  if (r->body.len == 0) {
    srv_fail(r, SRV_E_BAD_POLICY, NULL, "the body must be a .wasm policy or "
             "an OPA bundle (.tar.gz)");
    return;
  }
  wg_policy_opts o;
  load_opts(r->s, &o);
  wg_error err;
  wg_error_clear(&err);
  wg_policy *p = wg_policy_load(r->body.data, r->body.len, ps->builtins, &o,
                                &err);
  if (!p) {
    srv_fail(r, SRV_E_BAD_POLICY, NULL, "policy not loaded (the current "
             "version stays): %s", err.message);
    return;
  }
  char path[SRV_PATH_MAX + 160];
  path_of(ps, id, "policy", path, sizeof path);
  bool saved = write_file(path, r->body.data, r->body.len);
  path_of(ps, id, "owner", path, sizeof path);
  saved = saved && write_file(path, owner_of(r), strlen(owner_of(r)));
  if (!saved) {
    wg_policy_release(p);
    srv_fail(r, SRV_E_INTERNAL, NULL, "cannot save the policy");
    return;
  }
  wg_policy_info info;
  wg_policy_retain(p);
  wg_err e = wg_policy_set_put(ps->set, id, owner_of(r), true, p, &info);
  if (e) {
    wg_policy_release(p);
    srv_fail(r, e == WG_EEXIST ? SRV_E_FORBIDDEN : SRV_E_INTERNAL, "id",
             "policy '%s' not replaced", id);
    return;
  }
  snprintf(r->policy_id, sizeof r->policy_id, "%s", id);
  r->policy_version = info.version;
  json_t *res = info_json(&info, p);
  wg_policy_release(p);
  srv_reply_json(r, 200, json_pack("{so}", "result", res));
}

typedef struct list_ctx {
  const char *owner;
  json_t *out;
} list_ctx;

static bool list_one(void *user, const wg_policy_info *i, wg_policy *p) {
  list_ctx *c = user;
  if (!strcmp(i->owner, c->owner)) json_array_append_new(c->out,
                                                         info_json(i, p));
  return true;
}

void srv_h_policy_list(srv_req *r) {
  list_ctx c = {owner_of(r), json_array()};
  wg_policy_set_each(r->s->policies->set, list_one, &c);
  srv_reply_json(r, 200, json_pack("{so}", "result", c.out));
}

void srv_h_policy_get(srv_req *r) {
  wg_policy_info i;
  wg_policy *p = own_policy(r, srv_params_get(&r->params, "id"), &i);
  if (!p) return;
  json_t *res = info_json(&i, p);
  wg_policy_release(p);
  srv_reply_json(r, 200, json_pack("{so}", "result", res));
}

void srv_h_policy_delete(srv_req *r) {
  const char *id = srv_params_get(&r->params, "id");
  wg_policy_info i;
  wg_policy *p = own_policy(r, id, &i);
  if (!p) return;
  wg_policy_release(p);
  wg_policy_set_delete(r->s->policies->set, id);
  char path[SRV_PATH_MAX + 160];
  path_of(r->s->policies, id, "policy", path, sizeof path);
  unlink(path);
  path_of(r->s->policies, id, "owner", path, sizeof path);
  unlink(path);
  snprintf(r->policy_id, sizeof r->policy_id, "%s", id);
  r->policy_version = i.version;
  srv_reply_json(r, 200, json_object());
}

/* ------------------------------------------------------------------ */
/* The decision API                                                    */

typedef struct find_ctx {
  const char *owner, *path;
  wg_policy *p;
  wg_policy_info info;
} find_ctx;

static bool find_ep(void *user, const wg_policy_info *i, wg_policy *p) {
  find_ctx *c = user;
  if (strcmp(i->owner, c->owner) != 0) return true;
  if (wg_policy_entrypoint_id(p, c->path) < 0) return true;
  wg_policy_retain(p);
  c->p = p;
  c->info = *i;
  return false;
}

static void sink_json(void *user, const char *s, size_t n) {
  *(json_t **)user = json_loadb(s, n, JSON_DECODE_ANY, NULL);
}

void srv_h_data_post(srv_req *r) {
  json_t *body = srv_body_object(r, true);
  if (!body) return;
  const char *path = srv_params_get(&r->params, "path");
  char ep[SRV_PARAM_MAX];
  snprintf(ep, sizeof ep, "%s", path);
  size_t n = strlen(ep);
  while (n > 0 && ep[n - 1] == '/') ep[--n] = 0;
  find_ctx c = {owner_of(r), ep, NULL, {{0}, {0}, 0, 0}};
  wg_policy_set_each(r->s->policies->set, find_ep, &c);
  json_t *input = json_object_get(body, "input");
  json_t *out = json_object();
  if (!input) {
    json_object_set_new(out, "warning", json_pack(
        "{ss,ss}", "code", "api_usage_warning", "message",
        "'input' key missing from the request"));
  }
  if (!c.p) {             /* an undefined document, as OPA answers */
    json_decref(body);
    srv_reply_json(r, 200, out);
    return;
  }
  snprintf(r->policy_id, sizeof r->policy_id, "%s", c.info.id);
  r->policy_version = c.info.version;
  char *text = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY)
                     : NULL;
  json_t *rs = NULL;
  wg_error err;
  wg_error_clear(&err);
  wg_err e = wg_policy_eval(c.p, ep, text, text ? strlen(text) : 0, sink_json,
                            &rs, &err);
  free(text);  /* checksrc: allow */ /* jansson's malloc */
  wg_policy_release(c.p);
  json_decref(body);
  if (e) {
    json_decref(out);
    json_decref(rs);
    fprintf(stderr, "wasmgate: request %s: policy %s v%llu failed: %s\n",
            r->id, c.info.id, (unsigned long long)c.info.version,
            err.message);
    srv_fail(r, SRV_E_POLICY_ERROR, NULL, "policy evaluation failed: %s",
             err.message);
    return;
  }
  json_t *first = json_array_get(rs, 0);
  json_t *res = json_object_get(first, "result");
  if (res) json_object_set(out, "result", res);
  json_decref(rs);
  srv_reply_json(r, 200, out);
}

/* ------------------------------------------------------------------ */
/* Decision points                                                     */

static const char *const point_names[SRV_POLICY_NPOINTS] = {
    "module_upload", "execution", "chat"};

void srv_decision_free(srv_decision *d) {
  json_decref(d->reasons);
  json_decref(d->limits);
  d->reasons = d->limits = NULL;
}

static bool deny(srv_decision *d, bool failed, const char *fmt,
                 const char *a, const char *b) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a, b);
  d->allow = false;
  d->failed = failed;
  json_array_append_new(d->reasons, json_string(msg));
  return false;
}

bool srv_policy_decide(srv *s, srv_req *r, srv_policy_point pt,
                       json_t *input, srv_decision *d) {
  memset(d, 0, sizeof *d);
  d->reasons = json_array();
  wg_config c;
  srv_cfg_snapshot(s, &c);
  const char *ref = pt == SRV_POLICY_MODULE_UPLOAD ? c.policy_module_upload
                    : pt == SRV_POLICY_EXECUTION   ? c.policy_execution
                                                   : c.policy_chat;
  if (!ref[0] || pt >= SRV_POLICY_NPOINTS) {
    d->allow = true;
    return true;
  }
  d->configured = true;
  const char *colon = strchr(ref, ':');
  size_t idlen = colon ? (size_t)(colon - ref) : strlen(ref);
  if (idlen >= sizeof d->policy) idlen = sizeof d->policy - 1;
  memcpy(d->policy, ref, idlen);
  d->policy[idlen] = 0;
  const char *ep = colon ? colon + 1 : "";
  wg_policy_info info;
  wg_policy *p = wg_policy_set_get(s->policies->set, d->policy, &info);
  if (r) snprintf(r->policy_id, sizeof r->policy_id, "%s", d->policy);
  if (!p) {
    return deny(d, true, "policy %s (for %s) is not loaded", d->policy,
                point_names[pt]);
  }
  d->version = info.version;
  if (r) r->policy_version = info.version;
  if (info.owner[0]) {
    wg_policy_release(p);
    return deny(d, true, "policy %s (for %s) is not an administrator policy",
                 d->policy, point_names[pt]);
  }
  char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
  json_t *rs = NULL;
  wg_error err;
  wg_error_clear(&err);
  wg_err e = text ? wg_policy_eval(p, ep, text, strlen(text), sink_json, &rs,
                                   &err)
                  : wg_error_set(&err, WG_ENOMEM, "out of memory");
  free(text);  /* checksrc: allow */ /* jansson's malloc */
  wg_policy_release(p);
  if (e) {
    json_decref(rs);
    fprintf(stderr, "wasmgate: policy %s v%llu at %s failed (denied): %s\n",
            d->policy, (unsigned long long)info.version, point_names[pt],
            err.message);
    return deny(d, true, "policy evaluation failed: %s%s", err.message, "");
  }
  json_t *res = json_object_get(json_array_get(rs, 0), "result");
  if (json_is_boolean(res)) {
    d->allow = json_is_true(res);
    if (!d->allow) deny(d, false, "denied by policy %s%s", d->policy, "");
  } else if (json_is_object(res) &&
             json_is_boolean(json_object_get(res, "allow"))) {
    d->allow = json_is_true(json_object_get(res, "allow"));
    json_t *why = json_object_get(res, "reasons");
    size_t i;
    json_t *w;
    json_array_foreach(why, i, w) {
      if (json_is_string(w)) json_array_append(d->reasons, w);
    }
    if (json_is_string(why)) json_array_append(d->reasons, why);
    json_t *lim = json_object_get(res, "limits");
    if (json_is_object(lim)) d->limits = json_incref(lim);
    if (!d->allow && json_array_size(d->reasons) == 0) {
      deny(d, false, "denied by policy %s%s", d->policy, "");
    }
  } else {
    deny(d, true, "policy %s gave %s, not a boolean or {\"allow\": bool}",
         d->policy, res ? "another shape" : "an undefined result");
  }
  json_decref(rs);
  return d->allow;
}

void srv_policy_fail(srv_req *r, const srv_decision *d) {
  wg_buf msg;
  wg_buf_init(&msg, 2048);
  size_t i;
  json_t *w;
  json_array_foreach(d->reasons, i, w) {
    wg_buf_printf(&msg, "%s%s", i ? "; " : "", json_string_value(w));
  }
  srv_fail(r, SRV_E_POLICY_DENIED, NULL, "%s",
           msg.data ? (const char *)msg.data : "denied by policy");
  wg_buf_free(&msg);
}

static json_t *imports_json(const wg_module *m) {
  static const char *const kinds[] = {"func", "table", "memory", "global"};
  json_t *a = json_array();
  for (uint32_t i = 0; i < wg_module_import_count(m); i++) {
    wg_import_desc d = wg_module_import(m, i);
    json_array_append_new(a, json_pack("{ss%,ss%,ss}", "module", d.module.ptr,
                                       (size_t)d.module.len, "name",
                                       d.name.ptr, (size_t)d.name.len, "kind",
                                       kinds[d.type.kind & 3]));
  }
  return a;
}

static json_t *exports_json(const wg_module *m) {
  json_t *a = json_array();
  for (uint32_t i = 0; i < wg_module_export_count(m); i++) {
    wg_export_desc d = wg_module_export(m, i);
    json_array_append_new(a, json_stringn(d.name.ptr, d.name.len));
  }
  return a;
}

bool srv_policy_gate_upload(srv_req *r, const wg_module *m, size_t size) {
  json_t *in = json_pack("{ss,ss,s{ss,sI,so,so}}", "point", "module_upload",
                         "tenant", r->who.tenant ? r->who.tenant->id : "",
                         "module", "id", r->module_id, "size",
                         (json_int_t)size, "imports", imports_json(m),
                         "exports", exports_json(m));
  srv_decision d;
  bool ok = in && srv_policy_decide(r->s, r, SRV_POLICY_MODULE_UPLOAD, in, &d);
  if (!in) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return false;
  }
  if (!ok) srv_policy_fail(r, &d);
  srv_decision_free(&d);
  json_decref(in);
  return ok;
}

/* Lowers *v to the decision's limit name when that is smaller. */
static void lower(const json_t *lim, const char *name, uint64_t *v) {
  json_t *x = json_object_get(lim, name);
  if (json_is_integer(x) && json_integer_value(x) >= 0 &&
      (uint64_t)json_integer_value(x) < *v) {
    *v = (uint64_t)json_integer_value(x);
  }
}

bool srv_policy_gate_execution(srv_req *r, const wg_module *m,
                               const char *function, wg_exec_limits *l) {
  json_t *in = json_pack(
      "{ss,ss,s{ss,so},ss,s{sI,sI,sI,sI}}", "point", "execution", "tenant",
      r->who.tenant ? r->who.tenant->id : "", "module", "id", r->module_id,
      "imports", imports_json(m), "function", function ? function : "_start",
      "limits", "fuel", (json_int_t)l->fuel, "memory_bytes",
      (json_int_t)l->memory_bytes, "timeout_ms", (json_int_t)l->timeout_ms,
      "max_output_bytes", (json_int_t)l->max_output_bytes);
  if (!in) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "out of memory");
    return false;
  }
  srv_decision d;
  bool ok = srv_policy_decide(r->s, r, SRV_POLICY_EXECUTION, in, &d);
  if (!ok) {
    srv_policy_fail(r, &d);
  } else if (d.limits) {
    uint64_t fuel = l->fuel < 0 ? UINT64_MAX : (uint64_t)l->fuel;
    lower(d.limits, "fuel", &fuel);
    if (fuel != UINT64_MAX) l->fuel = (int64_t)fuel;
    lower(d.limits, "memory_bytes", &l->memory_bytes);
    lower(d.limits, "timeout_ms", &l->timeout_ms);
    lower(d.limits, "max_output_bytes", &l->max_output_bytes);
    if (l->fuel == 0) l->fuel = 1;               /* 0 would mean default */
    if (l->timeout_ms == 0) l->timeout_ms = 1;
    if (l->memory_bytes == 0) l->memory_bytes = 1;
    if (l->max_output_bytes == 0) l->max_output_bytes = 1;
  }
  srv_decision_free(&d);
  json_decref(in);
  return ok;
}
