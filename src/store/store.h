/*
** wasmgate storage: the state of `wasmgate serve` behind one interface.
**
** The server keeps tenants, API keys (their SHA-256 only), modules (metadata
** rows plus content-addressed blobs), execution records and a few settings
** in a wg_db. The embedded default is SQLite in WAL mode plus a blob folder
** (sqlite.c, blob.c); a Redis implementation will be a second struct of
** function pointers (wg_db_ops), the way curl's TLS backends are.
**
** ("wg_store" is the engine's execution store, hence wg_db here.)
**
** Rules every implementation follows:
**  - Every operation is thread-safe.
**  - Returns WG_OK, WG_ENOTFOUND (no such row, or a row of another tenant:
**    callers cannot tell them apart), WG_EEXIST (create of an existing id),
**    or WG_EIO / WG_ENOMEM with a message in err (err may be NULL).
**  - Out-parameters are written only on WG_OK. Records carry their JSON
**    text in wg_buf fields that the caller initialises with
**    wg_db_*_init and frees with wg_db_*_free, also on failure.
**  - Ids are short ASCII strings checked by the server before they arrive.
*/
#ifndef WG_STORE_STORE_H
#define WG_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

#define WG_DB_ID_MAX 80          /* every id, with its NUL */
#define WG_DB_JSON_MAX (1u << 20) /* quotas, metadata, execution records */

typedef struct wg_db_tenant {
  char id[WG_DB_ID_MAX];
  int64_t created_ms;        /* Unix time in milliseconds */
  wg_buf quotas;             /* JSON object: the tenant's quota overrides */
} wg_db_tenant;

typedef struct wg_db_key {
  char id[WG_DB_ID_MAX];     /* "key_..." */
  char tenant[WG_DB_ID_MAX];
  uint8_t hash[32];          /* SHA-256 of the secret key */
  int64_t created_ms;
} wg_db_key;

typedef struct wg_db_module {
  char id[WG_DB_ID_MAX];     /* "sha256:<hex>" */
  char tenant[WG_DB_ID_MAX];
  uint64_t size;             /* bytes of the binary */
  int64_t created_ms;
  wg_buf meta;               /* JSON object: imports, exports, ... */
} wg_db_module;

typedef struct wg_db_exec {
  char id[WG_DB_ID_MAX];     /* "exec_..." */
  char tenant[WG_DB_ID_MAX];
  char module[WG_DB_ID_MAX];
  int64_t created_ms;
  wg_buf record;             /* JSON object: the stored execution record */
} wg_db_exec;

typedef struct wg_db wg_db;

/* Callbacks of the list operations; return false to stop early. The record
** is valid only during the call. */
typedef bool (*wg_db_tenant_fn)(void *user, const wg_db_tenant *t);
typedef bool (*wg_db_key_fn)(void *user, const wg_db_key *k);
typedef bool (*wg_db_module_fn)(void *user, const wg_db_module *m);

typedef struct wg_db_ops {
  const char *name;
  void (*close)(wg_db *db);
  /* Settings: small text values by name (e.g. the admin key's hash). */
  wg_err (*meta_get)(wg_db *db, const char *key, wg_buf *out, wg_error *err);
  wg_err (*meta_put)(wg_db *db, const char *key, const char *val,
                     wg_error *err);
  /* Tenants. tenant_create: WG_EEXIST when the id is taken.
  ** tenant_update replaces the quotas. tenant_delete removes the tenant
  ** with its keys, modules (and their blobs when no tenant uses them any
  ** more) and execution records. */
  wg_err (*tenant_create)(wg_db *db, const wg_db_tenant *t, wg_error *err);
  wg_err (*tenant_update)(wg_db *db, const wg_db_tenant *t, wg_error *err);
  wg_err (*tenant_get)(wg_db *db, const char *id, wg_db_tenant *out,
                       wg_error *err);
  wg_err (*tenant_delete)(wg_db *db, const char *id, wg_error *err);
  wg_err (*tenant_list)(wg_db *db, wg_db_tenant_fn fn, void *user,
                        wg_error *err);
  /* Keys. key_find looks a key up by the SHA-256 of its secret. */
  wg_err (*key_create)(wg_db *db, const wg_db_key *k, wg_error *err);
  wg_err (*key_find)(wg_db *db, const uint8_t hash[32], wg_db_key *out,
                     wg_error *err);
  wg_err (*key_delete)(wg_db *db, const char *id, wg_db_key *out,
                       wg_error *err);
  wg_err (*key_list)(wg_db *db, const char *tenant, wg_db_key_fn fn,
                     void *user, wg_error *err);
  /* Modules. module_put stores bytes (content-addressed by m->id, shared
  ** between tenants) and the tenant's row; *created is false when the
  ** tenant already had it (nothing changes then). module_read reads the
  ** blob of an id into out (initialised there with cap max; the caller
  ** frees it, also on failure). */
  wg_err (*module_put)(wg_db *db, const wg_db_module *m, const uint8_t *bytes,
                       bool *created, wg_error *err);
  wg_err (*module_get)(wg_db *db, const char *tenant, const char *id,
                       wg_db_module *out, wg_error *err);
  wg_err (*module_read)(wg_db *db, const char *id, size_t max, wg_buf *out,
                        wg_error *err);
  wg_err (*module_delete)(wg_db *db, const char *tenant, const char *id,
                          wg_error *err);
  wg_err (*module_list)(wg_db *db, const char *tenant, wg_db_module_fn fn,
                        void *user, wg_error *err);
  wg_err (*module_usage)(wg_db *db, const char *tenant, uint64_t *count,
                         uint64_t *bytes, wg_error *err);
  /* Execution records. */
  wg_err (*exec_put)(wg_db *db, const wg_db_exec *e, wg_error *err);
  wg_err (*exec_get)(wg_db *db, const char *tenant, const char *id,
                     wg_db_exec *out, wg_error *err);
  /* Gateway sessions (x-session-id), scoped by tenant: the same id under
  ** another tenant is another session. messages is a JSON array (text).
  ** session_get: WG_ENOTFOUND when there is none or it expired at
  ** now_ms (Unix ms). session_put replaces the session (or creates it)
  ** and may drop sessions expired at now_ms; WG_ENOTFOUND when the
  ** tenant is gone. Deleting a tenant deletes its sessions. Concurrent
  ** puts of one session: the last one wins. */
  wg_err (*session_get)(wg_db *db, const char *tenant, const char *id,
                        int64_t now_ms, wg_buf *out, wg_error *err);
  wg_err (*session_put)(wg_db *db, const char *tenant, const char *id,
                        const char *messages, size_t len, int64_t now_ms,
                        int64_t expires_ms, wg_error *err);
  /* Windowed counters of a tenant (the gateway's tokens per UTC day:
  ** name "gw_tokens_day", window = the day number). Adds delta to the
  ** counter (tenant, name) of window `window`: a counter last used in an
  ** earlier window starts again from 0; one already in a later window is
  ** left alone (a late settlement of a past day: WG_OK, *value = -1).
  ** The value never goes below 0. With limit >= 0 and delta > 0 the add
  ** happens only when the result stays <= limit, else WG_ELIMIT (nothing
  ** changes; *value gets the current value). *value (may be NULL) gets
  ** the value after. Atomic: concurrent adds from several servers sharing
  ** one store never overshoot the limit. Deleting a tenant deletes its
  ** counters. */
  wg_err (*counter_add)(wg_db *db, const char *tenant, const char *name,
                        int64_t window, int64_t delta, int64_t limit,
                        int64_t *value, wg_error *err);
} wg_db_ops;

/* The common head of every implementation's handle. */
struct wg_db {
  const wg_db_ops *ops;
};

/* Opens (creating when missing) the embedded store in dir: dir/wasmgate.db
** (SQLite, WAL) and dir/modules/ (blobs). dir itself must exist. */
wg_err wg_db_open_sqlite(const char *dir, wg_db **out, wg_error *err);

static inline void wg_db_close(wg_db *db) {
  if (db) db->ops->close(db);
}

void wg_db_tenant_init(wg_db_tenant *t);
void wg_db_tenant_free(wg_db_tenant *t);
void wg_db_module_init(wg_db_module *m);
void wg_db_module_free(wg_db_module *m);
void wg_db_exec_init(wg_db_exec *e);
void wg_db_exec_free(wg_db_exec *e);

/* Copies src into a fixed id field; false (dst emptied) when too long. */
bool wg_db_set_id(char dst[WG_DB_ID_MAX], const char *src);

/* Content-addressed blobs (blob.c), used by implementations that keep
** module bytes in a local folder. id is "sha256:<64 hex>"; the file is
** root/<hex[0..2]>/<hex>.wasm. blob_write is atomic (temporary file,
** fsync, rename) and does nothing when the blob exists. blob_read
** initialises out (cap max) before anything can fail. */
wg_err wg_blob_write(const char *root, const char *id, const uint8_t *bytes,
                     size_t len, wg_error *err);
wg_err wg_blob_read(const char *root, const char *id, size_t max, wg_buf *out,
                    wg_error *err);
wg_err wg_blob_remove(const char *root, const char *id, wg_error *err);

#endif
