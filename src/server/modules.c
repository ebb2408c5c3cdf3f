/*
** Modules: upload (validate, store content-addressed, describe), list,
** read, delete; and the lookup executions use (cache first).
**
** A module id is "sha256:<hex of the binary>", the same for every tenant;
** the store shares the bytes, but each tenant sees only its own rows, and
** an id that the tenant has not uploaded answers 404 exactly like an id
** that does not exist.
*/
#include <stdio.h>
#include <string.h>

#include "server/modcache.h"
#include "server/modules.h"
#include "server/policy.h"
#include "server/srv.h"

/* ------------------------------------------------------------------ */
/* Metadata                                                            */

static const char *kind_name(wg_externkind k) {
  static const char *const names[] = {"func", "table", "memory", "global"};
  return (unsigned)k < 4 ? names[k] : "unknown";
}

/* A Wasm name (bytes) as a JSON string; invalid UTF-8 bytes become
** U+FFFD so the answer stays valid JSON. */
static json_t *name_json(wg_name n) {
  if (srv_utf8_valid((const uint8_t *)n.ptr, n.len)) {
    return json_stringn(n.ptr ? n.ptr : "", n.len);
  }
  wg_buf b;
  wg_buf_init(&b, (size_t)n.len * 3 + 1);
  for (uint32_t i = 0; i < n.len; i++) {
    uint8_t c = (uint8_t)n.ptr[i];
    if (c < 0x80) wg_buf_append(&b, &c, 1);
    else wg_buf_append(&b, "\xEF\xBF\xBD", 3);
  }
  json_t *s = json_stringn(b.data ? (const char *)b.data : "", b.len);
  wg_buf_free(&b);
  return s;
}

static bool has_v128(const wg_functype *ft) {
  for (uint32_t i = 0; i < ft->nparams; i++) {
    if (ft->params[i] == WG_V128) return true;
  }
  for (uint32_t i = 0; i < ft->nresults; i++) {
    if (ft->results[i] == WG_V128) return true;
  }
  return false;
}

/* Features visible in the module's types (not its code): what a client
** can rely on when choosing a runtime. */
static json_t *features_json(const wg_module *m) {
  bool multi_value = false, simd = false, mem64 = false, refs = false;
  bool mut_globals = false, wasi = false;
  for (uint32_t i = 0; i < wg_module_func_count(m); i++) {
    wg_functype ft = wg_module_func_type(m, i);
    if (ft.nresults > 1) multi_value = true;
    if (has_v128(&ft)) simd = true;
  }
  for (uint32_t i = 0; i < wg_module_memory_count(m); i++) {
    if (wg_module_memory(m, i).of.memory.is64) mem64 = true;
  }
  for (uint32_t i = 0; i < wg_module_table_count(m); i++) {
    if (wg_module_table(m, i).of.table.elem == WG_EXTERNREF) refs = true;
  }
  if (wg_module_table_count(m) > 1) refs = true;
  for (uint32_t i = 0; i < wg_module_import_count(m); i++) {
    wg_import_desc d = wg_module_import(m, i);
    if (d.type.kind == WG_EXTERN_GLOBAL && d.type.of.global.mut) {
      mut_globals = true;
    }
    if (d.module.len >= 4 && !memcmp(d.module.ptr, "wasi", 4)) wasi = true;
  }
  json_t *a = json_array();
  json_array_append_new(a, json_string("mvp"));
  if (multi_value) json_array_append_new(a, json_string("multi-value"));
  if (simd) json_array_append_new(a, json_string("simd"));
  if (mem64) json_array_append_new(a, json_string("memory64"));
  if (wg_module_memory_count(m) > 1) {
    json_array_append_new(a, json_string("multi-memory"));
  }
  if (refs) json_array_append_new(a, json_string("reference-types"));
  if (mut_globals) json_array_append_new(a, json_string("mutable-globals"));
  if (wasi) json_array_append_new(a, json_string("wasi_snapshot_preview1"));
  return a;
}

static json_t *memories_json(const wg_module *m, uint32_t nmem_imports) {
  json_t *a = json_array();
  for (uint32_t i = 0; i < wg_module_memory_count(m); i++) {
    wg_externtype t = wg_module_memory(m, i);
    json_t *max = t.of.memory.limits.has_max
                      ? json_integer((json_int_t)t.of.memory.limits.max)
                      : json_null();
    json_array_append_new(a, json_pack("{sI,so,sb,sb}", "min_pages",
                                       (json_int_t)t.of.memory.limits.min,
                                       "max_pages", max, "memory64",
                                       t.of.memory.is64, "imported",
                                       i < nmem_imports));
  }
  return a;
}

json_t *srv_module_meta(const wg_module *m) {
  json_t *imports = json_array(), *exports = json_array();
  uint32_t nmem_imports = 0;
  bool start = false;
  for (uint32_t i = 0; i < wg_module_import_count(m); i++) {
    wg_import_desc d = wg_module_import(m, i);
    if (d.type.kind == WG_EXTERN_MEMORY) nmem_imports++;
    json_array_append_new(imports, json_pack("{so,so,ss}", "module",
                                             name_json(d.module), "name",
                                             name_json(d.name), "kind",
                                             kind_name(d.type.kind)));
  }
  for (uint32_t i = 0; i < wg_module_export_count(m); i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.type.kind == WG_EXTERN_FUNC && d.name.len == 6 &&
        !memcmp(d.name.ptr, "_start", 6)) {
      start = true;
    }
    json_array_append_new(exports, json_pack("{so,ss}", "name",
                                             name_json(d.name), "kind",
                                             kind_name(d.type.kind)));
  }
  return json_pack("{so,so,so,so,sb}", "imports", imports, "exports",
                   exports, "memories", memories_json(m, nmem_imports),
                   "features", features_json(m), "wasi_command",
                   start);
}

/* The stored row as the API shows it. */
static json_t *module_json(const wg_db_module *row) {
  json_t *meta = json_loadb(row->meta.data ? (const char *)row->meta.data
                                           : "{}",
                            row->meta.len, 0, NULL);
  if (!json_is_object(meta)) {
    json_decref(meta);
    meta = json_object();
  }
  json_t *o = json_pack("{ss,ss,sI,sI}", "id", row->id, "object", "module",
                        "size", (json_int_t)row->size, "created_at",
                        (json_int_t)(row->created_ms / 1000));
  json_object_update(o, meta);
  json_decref(meta);
  return o;
}

/* ------------------------------------------------------------------ */
/* Lookups and uploads shared with executions                          */

bool srv_module_id_ok(const char *id) {
  if (strncmp(id, "sha256:", 7) != 0 || strlen(id) != 71) return false;
  for (int i = 7; i < 71; i++) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

wg_module *srv_module_open(srv_req *r, const char *id) {
  srv *s = r->s;
  const char *tenant = r->who.tenant->id;
  wg_db_set_id(r->module_id, id);
  wg_config cfg;
  srv_cfg_snapshot(s, &cfg);
  wg_err e = WG_OK;
  if (!srv_module_id_ok(id)) {
    e = WG_ENOTFOUND;
  } else if (!srv_modcache_owned(s->modcache, tenant, id)) {
    wg_db_module row;
    wg_db_module_init(&row);
    e = s->db->ops->module_get(s->db, tenant, id, &row, NULL);
    wg_db_module_free(&row);
    if (e == WG_OK) {
      srv_modcache_set_owned(s->modcache, tenant, id, cfg.auth_cache_ms);
    }
  }
  if (e) {
    if (e == WG_ENOTFOUND) {
      srv_fail(r, SRV_E_NO_MODULE, "id", "no module '%s'", id);
    } else {
      srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    }
    return NULL;
  }
  wg_module *m = srv_modcache_get(s->modcache, id);
  if (m) return m;
  wg_buf bytes;
  e = s->db->ops->module_read(s->db, id, cfg.max_module_bytes * 2, &bytes,
                              NULL);
  if (e == WG_OK) {
    wg_error err;
    wg_error_clear(&err);
    m = wg_module_load(bytes.data, bytes.len, &err);
    if (m) srv_modcache_put(s->modcache, id, m);
  }
  wg_buf_free(&bytes);
  if (!m) srv_fail(r, SRV_E_INTERNAL, NULL, "the stored module is unreadable");
  return m;
}

/* Checks the tenant's module quotas for a new module of size bytes. */
static bool quota_allows(srv_req *r, uint64_t size) {
  wg_quotas q;
  uint64_t count = 0, bytes = 0;
  srv_tenant_quotas(r->who.tenant, &q);
  wg_db *db = r->s->db;
  if (db->ops->module_usage(db, r->who.tenant->id, &count, &bytes, NULL)) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return false;
  }
  if (count + 1 > q.max_modules) {
    srv_fail(r, SRV_E_QUOTA, "max_modules", "You exceeded your quota of "
             "%llu modules. Delete a module first.",
             (unsigned long long)q.max_modules);
    return false;
  }
  if (bytes + size > q.max_storage_bytes) {
    srv_fail(r, SRV_E_QUOTA, "max_storage_bytes", "You exceeded your module "
             "storage quota: %llu + %llu bytes > %llu bytes.",
             (unsigned long long)bytes, (unsigned long long)size,
             (unsigned long long)q.max_storage_bytes);
    return false;
  }
  return true;
}

wg_module *srv_module_upload(srv_req *r, const uint8_t *p, size_t n,
                             int *status) {
  srv *s = r->s;
  uint8_t h[32];
  char id[WG_DB_ID_MAX] = "sha256:";
  srv_sha256(p, n, h);
  srv_hex(h, 32, id + 7);
  wg_db_set_id(r->module_id, id);
  wg_db_module row;
  wg_db_module_init(&row);
  wg_module *m = NULL;
  /* Already there: nothing to check or store (idempotent). */
  if (s->db->ops->module_get(s->db, r->who.tenant->id, id, &row, NULL) ==
      WG_OK) {
    *status = 200;
    m = srv_module_open(r, id);
    goto out;
  }
  if (n == 0) {
    srv_fail(r, SRV_E_BAD_WASM, NULL, "the module is empty");
    goto out;
  }
  if (!quota_allows(r, n)) goto out;
  m = srv_modcache_get(s->modcache, id);
  if (!m) {
    wg_error err;
    wg_error_clear(&err);
    m = wg_module_load(p, n, &err);
    if (!m) {
      if (err.offset >= 0) {
        srv_fail(r, SRV_E_BAD_WASM, NULL, "invalid module: %s (at byte "
                 "offset %lld)", err.message, (long long)err.offset);
      } else {
        srv_fail(r, SRV_E_BAD_WASM, NULL, "invalid module: %s", err.message);
      }
      goto out;
    }
    srv_modcache_put(s->modcache, id, m);
  }
  if (!srv_policy_gate_upload(r, m, n)) {   /* policy.module_upload */
    wg_module_release(m);
    m = NULL;
    goto out;
  }
  json_t *meta = srv_module_meta(m);
  wg_db_set_id(row.id, id);
  wg_db_set_id(row.tenant, r->who.tenant->id);
  row.size = n;
  row.created_ms = srv_time_ms();
  bool created = false;
  wg_err e = srv_json_dump(meta, JSON_COMPACT | JSON_PRESERVE_ORDER,
                           &row.meta);
  json_decref(meta);
  if (e == WG_OK) e = s->db->ops->module_put(s->db, &row, p, &created, NULL);
  if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    wg_module_release(m);
    m = NULL;
    goto out;
  }
  *status = created ? 201 : 200;
out:
  wg_db_module_free(&row);
  return m;
}

/* ------------------------------------------------------------------ */
/* Routes                                                              */

/* Answers with the tenant's row of id (status 200 unless given). */
static void reply_module(srv_req *r, const char *id, int status) {
  wg_db_module row;
  wg_db_module_init(&row);
  wg_err e = srv_module_id_ok(id) ? r->s->db->ops->module_get(
                                        r->s->db, r->who.tenant->id, id,
                                        &row, NULL)
                                  : WG_ENOTFOUND;
  if (e == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_MODULE, "id", "no module '%s'", id);
  } else if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  } else {
    srv_reply_json(r, status, module_json(&row));
  }
  wg_db_module_free(&row);
}

void srv_h_module_create(srv_req *r) {
  int status = 0;
  wg_module *m = srv_module_upload(r, r->body.data, r->body.len, &status);
  if (!m) return;
  wg_module_release(m);
  reply_module(r, r->module_id, status);
}

static bool list_one(void *user, const wg_db_module *row) {
  json_array_append_new(user, module_json(row));
  return true;
}

void srv_h_module_list(srv_req *r) {
  json_t *data = json_array();
  if (r->s->db->ops->module_list(r->s->db, r->who.tenant->id, list_one, data,
                                 NULL) != WG_OK) {
    json_decref(data);
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return;
  }
  srv_reply_json(r, 200, json_pack("{ss,so}", "object", "list", "data", data));
}

void srv_h_module_get(srv_req *r) {
  const char *id = srv_params_get(&r->params, "id");
  wg_db_set_id(r->module_id, id);
  reply_module(r, id, 200);
}

void srv_h_module_delete(srv_req *r) {
  const char *id = srv_params_get(&r->params, "id");
  wg_db_set_id(r->module_id, id);
  wg_err e = srv_module_id_ok(id)
                 ? r->s->db->ops->module_delete(r->s->db, r->who.tenant->id,
                                                id, NULL)
                 : WG_ENOTFOUND;
  if (e == WG_ENOTFOUND) {
    srv_fail(r, SRV_E_NO_MODULE, "id", "no module '%s'", id);
  } else if (e) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
  } else {
    srv_modcache_forget_owned(r->s->modcache, r->who.tenant->id, id);
    srv_reply_json(r, 200, json_pack("{ss,ss,sb}", "id", id, "object",
                                     "module", "deleted", 1));
  }
}
