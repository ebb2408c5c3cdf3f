/*
** Tenants: the in-memory registry (quotas in effect, the request-rate
** bucket, the count of executions in flight) over the store's rows, and
** the admin routes that create, read, change and delete tenants and keys.
**
** A tenant's quotas in effect are the configured tenant_defaults with the
** tenant's stored overrides on top, so that changing a default (SIGHUP)
** reaches every tenant that did not override it.
*/
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/modcache.h"
#include "server/srv.h"

struct srv_tenants {
  pthread_mutex_t lock;
  srv_map map;                  /* id -> srv_tenant (the registry's ref) */
};

wg_err srv_tenants_new(srv_tenants **out) {
  srv_tenants *ts = wg_new(srv_tenants);
  if (!ts) return WG_ENOMEM;
  pthread_mutex_init(&ts->lock, NULL);
  srv_map_init(&ts->map);
  *out = ts;
  return WG_OK;
}

static bool drop_one(void *user, const char *key, void *value) {
  (void)user;
  (void)key;
  srv_tenant_release(value);
  return true;
}

void srv_tenants_free(srv_tenants *ts) {
  if (!ts) return;
  srv_map_sweep(&ts->map, drop_one, NULL);
  srv_map_free(&ts->map);
  pthread_mutex_destroy(&ts->lock);
  wg_free_obj(ts);
}

void srv_tenant_release(srv_tenant *t) {
  if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
    json_decref(t->overrides);
    pthread_mutex_destroy(&t->lock);
    wg_free_obj(t);
  }
}

/* Recomputes t->quotas from the defaults and t->overrides (t->lock held). */
static void tenant_effective(srv *s, srv_tenant *t) {
  wg_quotas q;
  char param[64], msg[160];
  pthread_mutex_lock(&s->cfg_lock);
  q = s->cfg.tenant_defaults;
  pthread_mutex_unlock(&s->cfg_lock);
  /* Stored overrides were checked when written; null entries are skipped. */
  srv_quotas_apply(&q, t->overrides, true, param, msg, sizeof msg);
  t->quotas = q;
}

static srv_tenant *tenant_from_row(srv *s, const wg_db_tenant *row) {
  srv_tenant *t = wg_new(srv_tenant);
  if (!t) return NULL;
  memcpy(t->id, row->id, sizeof t->id);
  atomic_init(&t->refs, 1);
  pthread_mutex_init(&t->lock, NULL);
  t->overrides = json_loadb(row->quotas.data ? (const char *)row->quotas.data
                                             : "{}",
                            row->quotas.len, 0, NULL);
  if (!json_is_object(t->overrides)) {
    json_decref(t->overrides);
    t->overrides = json_object();
  }
  tenant_effective(s, t);
  return t;
}

srv_tenant *srv_tenant_get(srv *s, const char *id, wg_err *e) {
  srv_tenants *ts = s->tenants;
  pthread_mutex_lock(&ts->lock);
  srv_tenant *t = srv_map_get(&ts->map, id);
  if (t) atomic_fetch_add(&t->refs, 1);
  pthread_mutex_unlock(&ts->lock);
  if (t) return t;
  wg_db_tenant row;
  wg_db_tenant_init(&row);
  *e = s->db->ops->tenant_get(s->db, id, &row, NULL);
  if (*e == WG_OK) {
    srv_tenant *fresh = tenant_from_row(s, &row);
    if (!fresh) *e = WG_ENOMEM;
    pthread_mutex_lock(&ts->lock);
    t = srv_map_get(&ts->map, id);       /* another thread may have won */
    if (!t && fresh && srv_map_put(&ts->map, fresh->id, fresh) == WG_OK) {
      t = fresh;
      fresh = NULL;
    }
    if (t) atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&ts->lock);
    srv_tenant_release(fresh);
    if (!t && *e == WG_OK) *e = WG_ENOMEM;
  }
  wg_db_tenant_free(&row);
  return t;
}

/* Forgets the cached tenant id (after a change or a delete). */
static void tenant_forget(srv *s, const char *id, bool gone) {
  pthread_mutex_lock(&s->tenants->lock);
  srv_tenant *t = srv_map_del(&s->tenants->map, id);
  pthread_mutex_unlock(&s->tenants->lock);
  if (t && gone) atomic_store(&t->gone, true);
  srv_tenant_release(t);
}

static bool refresh_one(void *user, const char *key, void *value) {
  (void)key;
  srv_tenant *t = value;
  pthread_mutex_lock(&t->lock);
  tenant_effective(user, t);
  pthread_mutex_unlock(&t->lock);
  return false;
}

void srv_tenants_defaults_changed(srv *s) {
  pthread_mutex_lock(&s->tenants->lock);
  srv_map_sweep(&s->tenants->map, refresh_one, s);
  pthread_mutex_unlock(&s->tenants->lock);
}

void srv_tenant_quotas(srv_tenant *t, wg_quotas *out) {
  pthread_mutex_lock(&t->lock);
  *out = t->quotas;
  pthread_mutex_unlock(&t->lock);
}

bool srv_tenant_take_request(srv_tenant *t, uint64_t *retry_ms) {
  pthread_mutex_lock(&t->lock);
  double rpm = (double)t->quotas.requests_per_minute;
  bool ok = srv_bucket_take(&t->bucket, rpm / 60.0, rpm, srv_now_ns(),
                            retry_ms);
  pthread_mutex_unlock(&t->lock);
  return ok;
}

bool srv_tenant_acquire_slot(srv_tenant *t) {
  pthread_mutex_lock(&t->lock);
  uint64_t max = t->quotas.concurrent_executions;
  pthread_mutex_unlock(&t->lock);
  unsigned n = atomic_fetch_add(&t->active, 1);
  if (n >= max) {
    atomic_fetch_sub(&t->active, 1);
    return false;
  }
  return true;
}

void srv_tenant_release_slot(srv_tenant *t) { atomic_fetch_sub(&t->active, 1); }

/* ------------------------------------------------------------------ */
/* Admin routes                                                        */

static bool tenant_id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && (c == '-' || c == '_' || c == '.'))) {
      return false;
    }
  }
  return true;
}

static json_t *tenant_json(srv_tenant *t, int64_t created_ms) {
  pthread_mutex_lock(&t->lock);
  json_t *o = json_pack("{ss,ss,sI,so,sO}", "id", t->id, "object", "tenant",
                        "created_at", (json_int_t)(created_ms / 1000),
                        "quotas", srv_quotas_json(&t->quotas),
                        "quota_overrides", t->overrides);
  pthread_mutex_unlock(&t->lock);
  return o;
}

/* Checks overrides against the defaults; answers 400 and returns false
** when one is bad. */
static bool check_overrides(srv_req *r, json_t *overrides, bool allow_null) {
  wg_quotas q;
  char param[64], msg[160];
  srv_quotas_default(&q);
  if (!srv_quotas_apply(&q, overrides, allow_null, param, msg, sizeof msg)) {
    srv_fail(r, SRV_E_BAD_PARAM, param, "%s", msg);
    return false;
  }
  return true;
}

/* The tenant id with its creation time; answers 404 (or 500) and returns
** NULL when there is none. */
static srv_tenant *tenant_lookup(srv_req *r, const char *id,
                                 int64_t *created_ms) {
  wg_db_set_id(r->audit_tenant, id);
  wg_err e = WG_ENOTFOUND;
  srv_tenant *t = tenant_id_ok(id) ? srv_tenant_get(r->s, id, &e) : NULL;
  if (!t) {
    if (e == WG_ENOTFOUND) {
      srv_fail(r, SRV_E_NO_TENANT, "id", "no tenant '%s'", id);
    } else {
      srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    }
    return NULL;
  }
  wg_db_tenant row;
  wg_db_tenant_init(&row);
  *created_ms = 0;
  if (r->s->db->ops->tenant_get(r->s->db, id, &row, NULL) == WG_OK) {
    *created_ms = row.created_ms;
  }
  wg_db_tenant_free(&row);
  return t;
}

/* Writes overrides as the tenant's stored quotas (create or update). */
static wg_err tenant_store(srv *s, const char *id, json_t *overrides,
                           bool create) {
  wg_db_tenant row;
  wg_db_tenant_init(&row);
  wg_db_set_id(row.id, id);
  row.created_ms = srv_time_ms();
  wg_err e = srv_json_dump(overrides, JSON_COMPACT | JSON_SORT_KEYS,
                           &row.quotas);
  if (e == WG_OK) {
    e = create ? s->db->ops->tenant_create(s->db, &row, NULL)
               : s->db->ops->tenant_update(s->db, &row, NULL);
  }
  wg_db_tenant_free(&row);
  return e;
}

void srv_h_tenant_create(srv_req *r) {
  static const char *const fields[] = {"id", "quotas", NULL};
  json_t *body = srv_body_object(r, false);
  if (!body || !srv_json_known(r, body, fields, "")) goto out;
  json_t *id = json_object_get(body, "id");
  json_t *quotas = json_object_get(body, "quotas");
  if (!id) {
    srv_fail(r, SRV_E_MISSING_PARAM, "id", "'id' is required");
    goto out;
  }
  const char *ids = json_string_value(id);
  if (!ids || !tenant_id_ok(ids)) {
    srv_fail(r, SRV_E_BAD_PARAM, "id", "'id' must be 1 to 63 letters, "
             "digits, '-', '_' or '.', starting with a letter or digit");
    goto out;
  }
  wg_db_set_id(r->audit_tenant, ids);
  json_t *empty = json_object();
  if (!quotas) quotas = empty;
  if (!check_overrides(r, quotas, false)) {
    json_decref(empty);
    goto out;
  }
  wg_err e = tenant_store(r->s, ids, quotas, true);
  json_decref(empty);
  if (e == WG_EEXIST) {
    srv_fail(r, SRV_E_TENANT_EXISTS, "id", "tenant '%s' already exists", ids);
  } else if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  } else {
    int64_t created;
    srv_tenant *t = tenant_lookup(r, ids, &created);
    if (t) srv_reply_json(r, 201, tenant_json(t, created));
    srv_tenant_release(t);
  }
out:
  json_decref(body);
}

static bool list_one(void *user, const wg_db_tenant *row) {
  srv_req *r = ((void **)user)[0];
  json_t *data = ((void **)user)[1];
  srv_tenant *t = tenant_from_row(r->s, row);
  if (t) {
    json_array_append_new(data, tenant_json(t, row->created_ms));
    srv_tenant_release(t);
  }
  return true;
}

void srv_h_tenant_list(srv_req *r) {
  json_t *data = json_array();
  void *ctx[2] = {r, data};
  if (r->s->db->ops->tenant_list(r->s->db, list_one, ctx, NULL) != WG_OK) {
    json_decref(data);
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return;
  }
  srv_reply_json(r, 200, json_pack("{ss,so}", "object", "list", "data", data));
}

static bool key_one(void *user, const wg_db_key *k) {
  json_array_append_new(user, json_pack("{ss,ss,sI}", "id", k->id, "object",
                                        "api_key", "created_at",
                                        (json_int_t)(k->created_ms / 1000)));
  return true;
}

void srv_h_tenant_get(srv_req *r) {
  int64_t created;
  srv_tenant *t = tenant_lookup(r, srv_params_get(&r->params, "id"), &created);
  if (!t) return;
  json_t *o = tenant_json(t, created);
  json_t *keys = json_array();
  uint64_t count = 0, bytes = 0;
  wg_db *db = r->s->db;
  if (db->ops->key_list(db, t->id, key_one, keys, NULL) != WG_OK ||
      db->ops->module_usage(db, t->id, &count, &bytes, NULL) != WG_OK) {
    json_decref(o);
    json_decref(keys);
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  } else {
    json_object_set_new(o, "keys", keys);
    json_object_set_new(o, "usage", json_pack("{sI,sI,sI}", "modules",
                                              (json_int_t)count,
                                              "storage_bytes",
                                              (json_int_t)bytes,
                                              "active_executions",
                                              (json_int_t)atomic_load(
                                                  &t->active)));
    srv_reply_json(r, 200, o);
  }
  srv_tenant_release(t);
}

void srv_h_tenant_patch(srv_req *r) {
  static const char *const fields[] = {"quotas", NULL};
  int64_t created;
  json_t *body = srv_body_object(r, false);
  if (!body || !srv_json_known(r, body, fields, "")) goto out;
  json_t *quotas = json_object_get(body, "quotas");
  if (!quotas) {
    srv_fail(r, SRV_E_MISSING_PARAM, "quotas", "'quotas' is required");
    goto out;
  }
  if (!check_overrides(r, quotas, true)) goto out;
  srv_tenant *t = tenant_lookup(r, srv_params_get(&r->params, "id"),
                                &created);
  if (!t) goto out;
  pthread_mutex_lock(&t->lock);
  json_t *merged = json_deep_copy(t->overrides);
  pthread_mutex_unlock(&t->lock);
  const char *k;
  json_t *v;
  json_object_foreach(quotas, k, v) {
    if (json_is_null(v)) json_object_del(merged, k);
    else json_object_set(merged, k, v);
  }
  wg_err e = tenant_store(r->s, t->id, merged, false);
  if (e == WG_OK) {
    pthread_mutex_lock(&t->lock);
    json_decref(t->overrides);
    t->overrides = merged;
    tenant_effective(r->s, t);
    pthread_mutex_unlock(&t->lock);
    srv_reply_json(r, 200, tenant_json(t, created));
  } else {
    json_decref(merged);
    if (e == WG_ENOTFOUND) {
      srv_fail(r, SRV_E_NO_TENANT, "id", "no tenant '%s'", t->id);
    } else {
      srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    }
  }
  srv_tenant_release(t);
out:
  json_decref(body);
}

void srv_h_tenant_delete(srv_req *r) {
  const char *id = srv_params_get(&r->params, "id");
  wg_db_set_id(r->audit_tenant, id);
  wg_err e = tenant_id_ok(id) ? r->s->db->ops->tenant_delete(r->s->db, id,
                                                             NULL)
                              : WG_ENOTFOUND;
  if (e == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_TENANT, "id", "no tenant '%s'", id);
    return;
  }
  if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return;
  }
  tenant_forget(r->s, id, true);
  srv_auth_forget_tenant(r->s, id);
  srv_modcache_forget_owned(r->s->modcache, id, NULL);
  srv_reply_json(r, 200, json_pack("{ss,ss,sb}", "id", id, "object", "tenant",
                                   "deleted", 1));
}

void srv_h_key_create(srv_req *r) {
  static const char *const fields[] = {"scopes", NULL};
  int64_t created;
  json_t *body = srv_body_object(r, true);
  if (!body || !srv_json_known(r, body, fields, "")) goto out;
  /* Optional scopes beyond the tenant routes: only "policy" exists. */
  json_t *scopes = json_object_get(body, "scopes");
  size_t si;
  json_t *sv;
  if (scopes && !json_is_array(scopes)) {
    srv_fail(r, SRV_E_BAD_PARAM, "scopes", "'scopes' must be a list");
    goto out;
  }
  json_array_foreach(scopes, si, sv) {
    if (!json_is_string(sv) || strcmp(json_string_value(sv), "policy")) {
      srv_fail(r, SRV_E_BAD_PARAM, "scopes", "unknown scope (known: policy)");
      goto out;
    }
  }
  srv_tenant *t = tenant_lookup(r, srv_params_get(&r->params, "id"),
                                &created);
  if (!t) goto out;
  char key[128], key_id[WG_DB_ID_MAX];
  wg_err e = srv_auth_new_key(r->s, t->id, key, sizeof key, key_id);
  if (e == WG_OK && json_array_size(scopes)) {
    char mk[WG_DB_ID_MAX + 16];
    snprintf(mk, sizeof mk, "key_scopes:%s", key_id);
    e = r->s->db->ops->meta_put(r->s->db, mk, "policy", NULL);
  }
  if (e == WG_OK) {
    wg_db_set_id(r->key_id, key_id);
    json_t *o = json_pack("{ss,ss,ss,ss,sI}", "id", key_id, "object",
                          "api_key", "tenant", t->id, "key", key,
                          "created_at", (json_int_t)(srv_time_ms() / 1000));
    if (o && json_array_size(scopes)) {
      json_object_set(o, "scopes", scopes);
    }
    srv_reply_json(r, 201, o);
  } else if (e == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_TENANT, "id", "no tenant '%s'", t->id);
  } else {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  }
  /* The secret must not outlive the answer in this stack frame. */
  OPENSSL_cleanse(key, sizeof key);
  srv_tenant_release(t);
out:
  json_decref(body);
}

void srv_h_key_delete(srv_req *r) {
  const char *id = srv_params_get(&r->params, "key_id");
  wg_db_set_id(r->key_id, id);
  wg_db_key k;
  wg_err e = r->s->db->ops->key_delete(r->s->db, id, &k, NULL);
  if (e == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_APIKEY, "key_id", "no key '%s'", id);
    return;
  }
  if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return;
  }
  wg_db_set_id(r->audit_tenant, k.tenant);
  srv_auth_forget_key(r->s, id);
  srv_reply_json(r, 200, json_pack("{ss,ss,sb}", "id", id, "object",
                                   "api_key", "deleted", 1));
}
