/*
** The embedded store: one SQLite database in WAL mode (dir/wasmgate.db)
** plus content-addressed module blobs (dir/modules/, see blob.c).
**
** One connection, serialised by a mutex: every statement is short, and the
** server caches what its hot path reads (keys, tenants, modules). Every SQL
** text is one row of DB_SQL_MAP, prepared once on first use.
**
** The database is opened in exclusive locking mode: one server owns a data
** directory (a second one fails at start with "database is locked"), and
** no transaction pays for file locks.
**
** Execution records, the one write per execution, are batched: exec_put
** queues the record and a flusher thread inserts what is queued in one
** transaction every DB_FLUSH_MS (or as soon as DB_FLUSH_BATCH are waiting).
** exec_get looks at the queue first, so a record is visible as soon as
** exec_put returns; close flushes the queue. A crash loses at most the
** last DB_FLUSH_MS of records (the audit log still has their lines).
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cond.h"
#include "store/store.h"

#define DB_PATH_MAX 4096
#define DB_FLUSH_MS 10
#define DB_FLUSH_BATCH 256

/* X(name, sql) */
#define DB_SQL_MAP(X)                                                        \
  X(META_GET, "SELECT v FROM meta WHERE k=?1")                               \
  X(META_PUT, "INSERT INTO meta(k,v) VALUES(?1,?2) "                         \
              "ON CONFLICT(k) DO UPDATE SET v=excluded.v")                   \
  X(TENANT_INSERT, "INSERT INTO tenants(id,quotas,created) VALUES(?1,?2,?3)")\
  X(TENANT_UPDATE, "UPDATE tenants SET quotas=?2 WHERE id=?1")               \
  X(TENANT_GET, "SELECT id,quotas,created FROM tenants WHERE id=?1")         \
  X(TENANT_DELETE, "DELETE FROM tenants WHERE id=?1")                        \
  X(TENANT_LIST, "SELECT id,quotas,created FROM tenants ORDER BY id")        \
  X(TENANT_MODULES, "SELECT id FROM modules WHERE tenant=?1")                \
  X(KEY_INSERT, "INSERT INTO keys(id,tenant,hash,created) "                  \
                "VALUES(?1,?2,?3,?4)")                                       \
  X(KEY_FIND, "SELECT id,tenant,hash,created FROM keys WHERE hash=?1")       \
  X(KEY_GET, "SELECT id,tenant,hash,created FROM keys WHERE id=?1")          \
  X(KEY_DELETE, "DELETE FROM keys WHERE id=?1")                              \
  X(KEY_LIST, "SELECT id,tenant,hash,created FROM keys WHERE tenant=?1 "     \
              "ORDER BY created,id")                                         \
  X(MODULE_INSERT, "INSERT OR IGNORE INTO modules(tenant,id,size,meta,"      \
                   "created) VALUES(?1,?2,?3,?4,?5)")                        \
  X(MODULE_GET, "SELECT id,tenant,size,meta,created FROM modules "           \
                "WHERE tenant=?1 AND id=?2")                                 \
  X(MODULE_DELETE, "DELETE FROM modules WHERE tenant=?1 AND id=?2")          \
  X(MODULE_REFS, "SELECT count(*) FROM modules WHERE id=?1")                 \
  X(MODULE_LIST, "SELECT id,tenant,size,meta,created FROM modules "          \
                 "WHERE tenant=?1 ORDER BY created,id")                      \
  X(MODULE_USAGE, "SELECT count(*),coalesce(sum(size),0) FROM modules "      \
                  "WHERE tenant=?1")                                         \
  X(EXEC_INSERT, "INSERT INTO executions(id,tenant,module,created,record) "  \
                 "VALUES(?1,?2,?3,?4,?5)")                                   \
  X(EXEC_GET, "SELECT id,tenant,module,created,record FROM executions "      \
              "WHERE tenant=?1 AND id=?2")                                   \
  X(SESSION_GET, "SELECT messages FROM sessions WHERE tenant=?1 AND id=?2 "  \
                 "AND expires>?3")                                           \
  X(SESSION_PUT, "INSERT INTO sessions(tenant,id,messages,expires) "         \
                 "VALUES(?1,?2,?3,?4) ON CONFLICT(tenant,id) DO UPDATE "     \
                 "SET messages=excluded.messages,expires=excluded.expires")  \
  X(SESSION_PURGE, "DELETE FROM sessions WHERE expires<=?1")                 \
  /* ?3 window, ?4 delta, ?5 limit (< 0: none); no row: refused/stale */ \
  X(COUNTER_ADD, "INSERT INTO counters(tenant,name,win,value) "             \
                 "SELECT ?1,?2,?3,max(?4,0) WHERE ?5<0 OR ?4<=?5 "           \
                 "ON CONFLICT(tenant,name) DO UPDATE SET "                   \
                 "value=max(0,CASE WHEN win=?3 THEN value ELSE 0 END+?4),"   \
                 "win=?3 WHERE win<=?3 AND (?5<0 OR ?4<=0 OR "               \
                 "(CASE WHEN win=?3 THEN value ELSE 0 END)+?4<=?5) "         \
                 "RETURNING value")                                          \
  X(COUNTER_GET, "SELECT win,value FROM counters WHERE tenant=?1 AND "       \
                 "name=?2")                                                  \
  X(BEGIN, "BEGIN IMMEDIATE")                                                \
  X(COMMIT, "COMMIT")                                                        \
  X(ROLLBACK, "ROLLBACK")

enum {
#define DB__S(name, sql) SQL_##name,
  DB_SQL_MAP(DB__S)
#undef DB__S
  SQL_COUNT
};

static const char *const sql_text[] = {
#define DB__S(name, sql) sql,
    DB_SQL_MAP(DB__S)
#undef DB__S
};

static const char schema[] =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY,"
    " quotas TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys(id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    " hash BLOB NOT NULL UNIQUE, created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS keys_tenant ON keys(tenant);"
    "CREATE TABLE IF NOT EXISTS modules("
    " tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    " id TEXT NOT NULL, size INTEGER NOT NULL, meta TEXT NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY(tenant, id));"
    "CREATE INDEX IF NOT EXISTS modules_id ON modules(id);"
    "CREATE TABLE IF NOT EXISTS executions(id TEXT PRIMARY KEY,"
    " tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    " module TEXT NOT NULL, created INTEGER NOT NULL, record TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS executions_tenant ON executions(tenant);"
    "CREATE TABLE IF NOT EXISTS sessions("
    " tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    " id TEXT NOT NULL, messages TEXT NOT NULL, expires INTEGER NOT NULL,"
    " PRIMARY KEY(tenant, id));"
    "CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);"
    "CREATE TABLE IF NOT EXISTS counters("
    " tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, win INTEGER NOT NULL, value INTEGER NOT NULL,"
    " PRIMARY KEY(tenant, name));";

typedef struct pending {
  struct pending *next;
  wg_db_exec rec;                 /* a copy of what exec_put was given */
} pending;

typedef struct sqldb {
  wg_db base;                     /* must be first */
  sqlite3 *conn;
  sqlite3_stmt *stmt[SQL_COUNT];  /* prepared on first use */
  pthread_mutex_t lock;           /* one statement at a time */
  char blobs[DB_PATH_MAX];        /* dir/modules */
  /* The execution record queue. */
  pthread_mutex_t qlock;
  pthread_cond_t qcond;           /* records queued, or stopping */
  pending *queue, **queue_tail;   /* waiting, oldest first */
  pending *flushing;              /* being inserted now */
  size_t queued;
  bool stop, started;
  pthread_t flusher;
} sqldb;

static const wg_db_ops sqlite_ops;

/* ------------------------------------------------------------------ */
/* Helpers (called with the lock held)                                 */

static wg_err db_fail(sqldb *d, wg_error *err, const char *what) {
  return wg_error_set(err, WG_EIO, "sqlite: %s: %s", what,
                      sqlite3_errmsg(d->conn));
}

/* The prepared statement for one SQL_ row, reset and unbound. */
static sqlite3_stmt *db_stmt(sqldb *d, int which, wg_error *err) {
  sqlite3_stmt *s = d->stmt[which];
  if (!s) {
    if (sqlite3_prepare_v3(d->conn, sql_text[which], -1,
                           SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
      db_fail(d, err, "prepare");
      return NULL;
    }
    d->stmt[which] = s;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *t) {
  sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

/* Runs a statement that returns no rows. */
static wg_err db_exec_stmt(sqldb *d, sqlite3_stmt *s, wg_error *err) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc == SQLITE_DONE) return WG_OK;
  if (rc == SQLITE_CONSTRAINT) {
    return wg_error_set(err, WG_EEXIST, "already exists");
  }
  return db_fail(d, err, "step");
}

static wg_err db_simple(sqldb *d, int which, wg_error *err) {
  sqlite3_stmt *s = db_stmt(d, which, err);
  return s ? db_exec_stmt(d, s, err) : WG_EIO;
}

static void col_id(sqlite3_stmt *s, int col, char dst[WG_DB_ID_MAX]) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  wg_db_set_id(dst, t ? t : "");
}

static wg_err col_json(sqlite3_stmt *s, int col, wg_buf *dst) {
  const void *t = sqlite3_column_text(s, col);
  int n = sqlite3_column_bytes(s, col);
  wg_buf_reset(dst);
  return wg_buf_append(dst, t ? t : "", t ? (size_t)n : 0);
}

static void row_tenant(sqlite3_stmt *s, wg_db_tenant *t) {
  col_id(s, 0, t->id);
  col_json(s, 1, &t->quotas);
  t->created_ms = sqlite3_column_int64(s, 2);
}

static void row_key(sqlite3_stmt *s, wg_db_key *k) {
  col_id(s, 0, k->id);
  col_id(s, 1, k->tenant);
  memset(k->hash, 0, sizeof k->hash);
  if (sqlite3_column_bytes(s, 2) == (int)sizeof k->hash) {
    memcpy(k->hash, sqlite3_column_blob(s, 2), sizeof k->hash);
  }
  k->created_ms = sqlite3_column_int64(s, 3);
}

static void row_module(sqlite3_stmt *s, wg_db_module *m) {
  col_id(s, 0, m->id);
  col_id(s, 1, m->tenant);
  m->size = (uint64_t)sqlite3_column_int64(s, 2);
  col_json(s, 3, &m->meta);
  m->created_ms = sqlite3_column_int64(s, 4);
}

/* Steps a one-row query: WG_OK with the row current, or ENOTFOUND. */
static wg_err db_row(sqldb *d, sqlite3_stmt *s, wg_error *err) {
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return WG_OK;
  sqlite3_reset(s);
  if (rc == SQLITE_DONE) return wg_error_set(err, WG_ENOTFOUND, "not found");
  return db_fail(d, err, "step");
}

#define DB_LOCK(d) pthread_mutex_lock(&(d)->lock)
#define DB_UNLOCK(d) pthread_mutex_unlock(&(d)->lock)

/* ------------------------------------------------------------------ */
/* Meta                                                                */

static wg_err s_meta_get(wg_db *db, const char *key, wg_buf *out,
                         wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_META_GET, err);
  if (s) {
    bind_text(s, 1, key);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      e = col_json(s, 0, out);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_meta_put(wg_db *db, const char *key, const char *val,
                         wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_META_PUT, err);
  if (s) {
    bind_text(s, 1, key);
    bind_text(s, 2, val);
    e = db_exec_stmt(d, s, err);
  }
  DB_UNLOCK(d);
  return e;
}

/* ------------------------------------------------------------------ */
/* Tenants                                                             */

static wg_err s_tenant_create(wg_db *db, const wg_db_tenant *t,
                              wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_TENANT_INSERT, err);
  if (s) {
    bind_text(s, 1, t->id);
    bind_text(s, 2, t->quotas.data ? (const char *)t->quotas.data : "{}");
    sqlite3_bind_int64(s, 3, t->created_ms);
    e = db_exec_stmt(d, s, err);
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_tenant_update(wg_db *db, const wg_db_tenant *t,
                              wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_TENANT_UPDATE, err);
  if (s) {
    bind_text(s, 1, t->id);
    bind_text(s, 2, t->quotas.data ? (const char *)t->quotas.data : "{}");
    e = db_exec_stmt(d, s, err);
    if (e == WG_OK && sqlite3_changes(d->conn) == 0) {
      e = wg_error_set(err, WG_ENOTFOUND, "not found");
    }
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_tenant_get(wg_db *db, const char *id, wg_db_tenant *out,
                           wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_TENANT_GET, err);
  if (s) {
    bind_text(s, 1, id);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      row_tenant(s, out);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

/* The module ids of a tenant, as one NUL-separated list in ids. */
static wg_err tenant_module_ids(sqldb *d, const char *tenant, wg_buf *ids,
                                wg_error *err) {
  sqlite3_stmt *s = db_stmt(d, SQL_TENANT_MODULES, err);
  if (!s) return WG_EIO;
  bind_text(s, 1, tenant);
  int rc;
  wg_err e = WG_OK;
  while (e == WG_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (id) e = wg_buf_append(ids, id, strlen(id) + 1);
  }
  sqlite3_reset(s);
  if (e) return wg_error_set(err, e, "too many modules");
  return rc == SQLITE_DONE ? WG_OK : db_fail(d, err, "step");
}

/* Removes the blob of id when no tenant refers to it any more. */
static void blob_gc(sqldb *d, const char *id) {
  sqlite3_stmt *s = db_stmt(d, SQL_MODULE_REFS, NULL);
  if (!s) return;
  bind_text(s, 1, id);
  bool unused = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 0;
  sqlite3_reset(s);
  if (unused) wg_blob_remove(d->blobs, id, NULL);
}

static wg_err s_tenant_delete(wg_db *db, const char *id, wg_error *err) {
  sqldb *d = (sqldb *)db;
  wg_buf ids;
  wg_buf_init(&ids, 64u << 20);
  DB_LOCK(d);
  wg_err e = db_simple(d, SQL_BEGIN, err);
  if (e == WG_OK) e = tenant_module_ids(d, id, &ids, err);
  sqlite3_stmt *s = e ? NULL : db_stmt(d, SQL_TENANT_DELETE, err);
  if (s) {
    bind_text(s, 1, id);
    e = db_exec_stmt(d, s, err);
    if (e == WG_OK && sqlite3_changes(d->conn) == 0) {
      e = wg_error_set(err, WG_ENOTFOUND, "not found");
    }
  } else if (e == WG_OK) {
    e = WG_EIO;
  }
  if (e == WG_OK) e = db_simple(d, SQL_COMMIT, err);
  if (e != WG_OK) {
    db_simple(d, SQL_ROLLBACK, NULL);
  } else {
    for (size_t off = 0; off < ids.len;) {
      const char *mid = (const char *)ids.data + off;
      blob_gc(d, mid);
      off += strlen(mid) + 1;
    }
  }
  DB_UNLOCK(d);
  wg_buf_free(&ids);
  return e;
}

static wg_err s_tenant_list(wg_db *db, wg_db_tenant_fn fn, void *user,
                            wg_error *err) {
  sqldb *d = (sqldb *)db;
  wg_db_tenant t;
  wg_db_tenant_init(&t);
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_TENANT_LIST, err);
  if (s) {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      row_tenant(s, &t);
      if (!fn(user, &t)) break;
    }
    e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? WG_OK
                                                : db_fail(d, err, "step");
    sqlite3_reset(s);
  }
  DB_UNLOCK(d);
  wg_db_tenant_free(&t);
  return e;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

static wg_err s_key_create(wg_db *db, const wg_db_key *k, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_KEY_INSERT, err);
  if (s) {
    bind_text(s, 1, k->id);
    bind_text(s, 2, k->tenant);
    sqlite3_bind_blob(s, 3, k->hash, sizeof k->hash, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, k->created_ms);
    e = db_exec_stmt(d, s, err);
    /* A constraint here is a missing tenant (the key id is random). */
    if (e == WG_EEXIST) e = WG_ENOTFOUND;
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err key_one(sqldb *d, int which, const void *arg, size_t argn,
                      wg_db_key *out, wg_error *err) {
  sqlite3_stmt *s = db_stmt(d, which, err);
  if (!s) return WG_EIO;
  if (argn) {
    sqlite3_bind_blob(s, 1, arg, (int)argn, SQLITE_STATIC);
  } else {
    bind_text(s, 1, arg);
  }
  wg_err e = db_row(d, s, err);
  if (e == WG_OK) {
    row_key(s, out);
    sqlite3_reset(s);
  }
  return e;
}

static wg_err s_key_find(wg_db *db, const uint8_t hash[32], wg_db_key *out,
                         wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = key_one(d, SQL_KEY_FIND, hash, 32, out, err);
  DB_UNLOCK(d);
  return e;
}

static wg_err s_key_delete(wg_db *db, const char *id, wg_db_key *out,
                           wg_error *err) {
  sqldb *d = (sqldb *)db;
  wg_db_key k;
  DB_LOCK(d);
  wg_err e = key_one(d, SQL_KEY_GET, id, 0, &k, err);
  sqlite3_stmt *s = e ? NULL : db_stmt(d, SQL_KEY_DELETE, err);
  if (s) {
    bind_text(s, 1, id);
    e = db_exec_stmt(d, s, err);
  } else if (e == WG_OK) {
    e = WG_EIO;
  }
  DB_UNLOCK(d);
  if (e == WG_OK && out) *out = k;
  return e;
}

static wg_err s_key_list(wg_db *db, const char *tenant, wg_db_key_fn fn,
                         void *user, wg_error *err) {
  sqldb *d = (sqldb *)db;
  wg_db_key k;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_KEY_LIST, err);
  if (s) {
    bind_text(s, 1, tenant);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      row_key(s, &k);
      if (!fn(user, &k)) break;
    }
    e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? WG_OK
                                                : db_fail(d, err, "step");
    sqlite3_reset(s);
  }
  DB_UNLOCK(d);
  return e;
}

/* ------------------------------------------------------------------ */
/* Modules                                                             */

static wg_err s_module_put(wg_db *db, const wg_db_module *m,
                           const uint8_t *bytes, bool *created,
                           wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  /* Under the lock, so that a concurrent delete cannot remove the blob
  ** between its write and the row's insert. */
  wg_err e = wg_blob_write(d->blobs, m->id, bytes, (size_t)m->size, err);
  sqlite3_stmt *s = e ? NULL : db_stmt(d, SQL_MODULE_INSERT, err);
  if (s) {
    bind_text(s, 1, m->tenant);
    bind_text(s, 2, m->id);
    sqlite3_bind_int64(s, 3, (int64_t)m->size);
    bind_text(s, 4, m->meta.data ? (const char *)m->meta.data : "{}");
    sqlite3_bind_int64(s, 5, m->created_ms);
    e = db_exec_stmt(d, s, err);
    if (e == WG_EEXIST) e = WG_ENOTFOUND;   /* no such tenant */
    if (e == WG_OK) *created = sqlite3_changes(d->conn) > 0;
  } else if (e == WG_OK) {
    e = WG_EIO;
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_module_get(wg_db *db, const char *tenant, const char *id,
                           wg_db_module *out, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_MODULE_GET, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, id);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      row_module(s, out);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_module_read(wg_db *db, const char *id, size_t max,
                            wg_buf *out, wg_error *err) {
  sqldb *d = (sqldb *)db;
  return wg_blob_read(d->blobs, id, max, out, err);
}

static wg_err s_module_delete(wg_db *db, const char *tenant, const char *id,
                              wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_MODULE_DELETE, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, id);
    e = db_exec_stmt(d, s, err);
    if (e == WG_OK && sqlite3_changes(d->conn) == 0) {
      e = wg_error_set(err, WG_ENOTFOUND, "not found");
    }
    if (e == WG_OK) blob_gc(d, id);
  }
  DB_UNLOCK(d);
  return e;
}

static wg_err s_module_list(wg_db *db, const char *tenant, wg_db_module_fn fn,
                            void *user, wg_error *err) {
  sqldb *d = (sqldb *)db;
  wg_db_module m;
  wg_db_module_init(&m);
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_MODULE_LIST, err);
  if (s) {
    bind_text(s, 1, tenant);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      row_module(s, &m);
      if (!fn(user, &m)) break;
    }
    e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? WG_OK
                                                : db_fail(d, err, "step");
    sqlite3_reset(s);
  }
  DB_UNLOCK(d);
  wg_db_module_free(&m);
  return e;
}

static wg_err s_module_usage(wg_db *db, const char *tenant, uint64_t *count,
                             uint64_t *bytes, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_MODULE_USAGE, err);
  if (s) {
    bind_text(s, 1, tenant);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      *count = (uint64_t)sqlite3_column_int64(s, 0);
      *bytes = (uint64_t)sqlite3_column_int64(s, 1);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

/* ------------------------------------------------------------------ */
/* Executions                                                          */

static wg_err exec_copy(wg_db_exec *dst, const wg_db_exec *src) {
  wg_db_exec_init(dst);
  memcpy(dst->id, src->id, sizeof dst->id);
  memcpy(dst->tenant, src->tenant, sizeof dst->tenant);
  memcpy(dst->module, src->module, sizeof dst->module);
  dst->created_ms = src->created_ms;
  return wg_buf_append(&dst->record, src->record.data ? src->record.data
                                                      : (const uint8_t *)"",
                       src->record.len);
}

static wg_err s_exec_put(wg_db *db, const wg_db_exec *x, wg_error *err) {
  sqldb *d = (sqldb *)db;
  pending *p = wg_new(pending);
  if (!p || exec_copy(&p->rec, x) != WG_OK) {
    if (p) wg_db_exec_free(&p->rec);
    wg_free_obj(p);
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&d->qlock);
  *d->queue_tail = p;
  d->queue_tail = &p->next;
  /* The first record wakes an idle flusher (which then waits
  ** DB_FLUSH_MS for more); a full batch makes it write at once. */
  if (++d->queued == 1 || d->queued >= DB_FLUSH_BATCH) {
    pthread_cond_signal(&d->qcond);
  }
  pthread_mutex_unlock(&d->qlock);
  return WG_OK;
}

/* Inserts one record (the lock held, inside the flusher's transaction). */
static void insert_exec(sqldb *d, const wg_db_exec *x) {
  sqlite3_stmt *s = db_stmt(d, SQL_EXEC_INSERT, NULL);
  if (!s) return;
  bind_text(s, 1, x->id);
  bind_text(s, 2, x->tenant);
  bind_text(s, 3, x->module);
  sqlite3_bind_int64(s, 4, x->created_ms);
  sqlite3_bind_text(s, 5, x->record.data ? (const char *)x->record.data : "{}",
                    (int)x->record.len, SQLITE_STATIC);
  /* A constraint failure is a record of a tenant deleted meanwhile. */
  db_exec_stmt(d, s, NULL);
}

/* Writes everything queued; returns false when nothing was. */
static bool flush_queue(sqldb *d) {
  pthread_mutex_lock(&d->qlock);
  pending *batch = d->queue;
  d->flushing = batch;
  d->queue = NULL;
  d->queue_tail = &d->queue;
  d->queued = 0;
  pthread_mutex_unlock(&d->qlock);
  if (!batch) return false;
  DB_LOCK(d);
  bool tx = db_simple(d, SQL_BEGIN, NULL) == WG_OK;
  for (pending *p = batch; p; p = p->next) insert_exec(d, &p->rec);
  if (tx && db_simple(d, SQL_COMMIT, NULL) != WG_OK) {
    db_simple(d, SQL_ROLLBACK, NULL);
  }
  DB_UNLOCK(d);
  pthread_mutex_lock(&d->qlock);
  d->flushing = NULL;
  pthread_mutex_unlock(&d->qlock);
  while (batch) {
    pending *next = batch->next;
    wg_db_exec_free(&batch->rec);
    wg_free_obj(batch);
    batch = next;
  }
  return true;
}

static void *flusher(void *arg) {
  sqldb *d = arg;
  for (;;) {
    pthread_mutex_lock(&d->qlock);
    /* Idle: no timer (a server with nothing to write stays asleep). */
    while (!d->stop && d->queued == 0) {
      pthread_cond_wait(&d->qcond, &d->qlock);
    }
    if (!d->stop && d->queued < DB_FLUSH_BATCH) {
      wg_cond_wait_ms(&d->qcond, &d->qlock, DB_FLUSH_MS);
    }
    bool stop = d->stop;
    pthread_mutex_unlock(&d->qlock);
    bool wrote = flush_queue(d);
    if (stop && !wrote) return NULL;
  }
}

/* Finds id of tenant among the queued records (qlock held). */
static const wg_db_exec *queued_exec(sqldb *d, const char *tenant,
                                     const char *id) {
  pending *lists[2] = {d->flushing, d->queue};
  for (int l = 0; l < 2; l++) {
    for (pending *p = lists[l]; p; p = p->next) {
      if (!strcmp(p->rec.id, id) && !strcmp(p->rec.tenant, tenant)) {
        return &p->rec;
      }
    }
  }
  return NULL;
}

static wg_err s_exec_get(wg_db *db, const char *tenant, const char *id,
                         wg_db_exec *out, wg_error *err) {
  sqldb *d = (sqldb *)db;
  pthread_mutex_lock(&d->qlock);
  const wg_db_exec *q = queued_exec(d, tenant, id);
  wg_err e = WG_ENOTFOUND;
  if (q) {
    memcpy(out->id, q->id, sizeof out->id);
    memcpy(out->tenant, q->tenant, sizeof out->tenant);
    memcpy(out->module, q->module, sizeof out->module);
    out->created_ms = q->created_ms;
    wg_buf_reset(&out->record);
    e = wg_buf_append(&out->record, q->record.data, q->record.len);
  }
  pthread_mutex_unlock(&d->qlock);
  if (q) return e;
  DB_LOCK(d);
  e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_EXEC_GET, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, id);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      col_id(s, 0, out->id);
      col_id(s, 1, out->tenant);
      col_id(s, 2, out->module);
      out->created_ms = sqlite3_column_int64(s, 3);
      e = col_json(s, 4, &out->record);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */

static void s_close(wg_db *db) {
  sqldb *d = (sqldb *)db;
  if (d->started) {
    pthread_mutex_lock(&d->qlock);
    d->stop = true;
    pthread_cond_signal(&d->qcond);
    pthread_mutex_unlock(&d->qlock);
    pthread_join(d->flusher, NULL);
  }
  flush_queue(d);   /* anything queued without a flusher */
  pthread_cond_destroy(&d->qcond);
  pthread_mutex_destroy(&d->qlock);
  for (int i = 0; i < SQL_COUNT; i++) sqlite3_finalize(d->stmt[i]);
  sqlite3_close(d->conn);
  pthread_mutex_destroy(&d->lock);
  wg_free_obj(d);
}

/* ------------------------------------------------------------------ */
/* Gateway sessions                                                    */

static wg_err s_session_get(wg_db *db, const char *tenant, const char *id,
                            int64_t now_ms, wg_buf *out, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_SESSION_GET, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, id);
    sqlite3_bind_int64(s, 3, now_ms);
    e = db_row(d, s, err);
    if (e == WG_OK) {
      e = col_json(s, 0, out);
      sqlite3_reset(s);
    }
  }
  DB_UNLOCK(d);
  return e;
}

/* Replaces the session, and drops every session expired at now_ms. */
static wg_err s_session_put(wg_db *db, const char *tenant, const char *id,
                            const char *messages, size_t len, int64_t now_ms,
                            int64_t expires_ms, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  sqlite3_stmt *s = db_stmt(d, SQL_SESSION_PURGE, err);
  if (s) {
    sqlite3_bind_int64(s, 1, now_ms);
    e = db_exec_stmt(d, s, err);
  }
  s = e ? NULL : db_stmt(d, SQL_SESSION_PUT, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, id);
    sqlite3_bind_text(s, 3, messages, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, expires_ms);
    e = db_exec_stmt(d, s, err);
    /* A tenant deleted meanwhile (foreign key): nothing to keep. */
    if (e == WG_EEXIST) e = wg_error_set(err, WG_ENOTFOUND, "no tenant");
  } else if (e == WG_OK) {
    e = WG_EIO;
  }
  DB_UNLOCK(d);
  return e;
}

/* ------------------------------------------------------------------ */
/* Counters                                                            */

/* One UPSERT decides and applies (see COUNTER_ADD); when it returns no
** row, the current row says whether the limit refused it or the window
** was stale. */
static wg_err s_counter_add(wg_db *db, const char *tenant, const char *name,
                            int64_t window, int64_t delta, int64_t limit,
                            int64_t *value, wg_error *err) {
  sqldb *d = (sqldb *)db;
  DB_LOCK(d);
  wg_err e = WG_EIO;
  int64_t v = -1;
  sqlite3_stmt *s = db_stmt(d, SQL_COUNTER_ADD, err);
  if (s) {
    bind_text(s, 1, tenant);
    bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, window);
    sqlite3_bind_int64(s, 4, delta);
    sqlite3_bind_int64(s, 5, limit);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
      e = WG_OK;
    } else if (rc == SQLITE_DONE) {
      e = WG_OK;               /* refused or stale: look at the row */
    } else if (rc == SQLITE_CONSTRAINT) {
      e = wg_error_set(err, WG_ENOTFOUND, "no tenant");
    } else {
      e = db_fail(d, err, "step");
    }
    sqlite3_reset(s);
    if (e == WG_OK && rc == SQLITE_DONE &&
        (s = db_stmt(d, SQL_COUNTER_GET, err)) != NULL) {
      bind_text(s, 1, tenant);
      bind_text(s, 2, name);
      int64_t win = window, cur = 0;
      if (sqlite3_step(s) == SQLITE_ROW) {
        win = sqlite3_column_int64(s, 0);
        cur = sqlite3_column_int64(s, 1);
      }
      sqlite3_reset(s);
      if (win > window) {
        v = -1;                 /* a past window: nothing to do */
      } else {
        v = win == window ? cur : 0;
        e = wg_error_set(err, WG_ELIMIT, "limit reached");
      }
    }
  }
  DB_UNLOCK(d);
  if ((e == WG_OK || e == WG_ELIMIT) && value) *value = v;
  return e;
}

static const wg_db_ops sqlite_ops = {
    .name = "sqlite",
    .close = s_close,
    .meta_get = s_meta_get,
    .meta_put = s_meta_put,
    .tenant_create = s_tenant_create,
    .tenant_update = s_tenant_update,
    .tenant_get = s_tenant_get,
    .tenant_delete = s_tenant_delete,
    .tenant_list = s_tenant_list,
    .key_create = s_key_create,
    .key_find = s_key_find,
    .key_delete = s_key_delete,
    .key_list = s_key_list,
    .module_put = s_module_put,
    .module_get = s_module_get,
    .module_read = s_module_read,
    .module_delete = s_module_delete,
    .module_list = s_module_list,
    .module_usage = s_module_usage,
    .exec_put = s_exec_put,
    .exec_get = s_exec_get,
    .session_get = s_session_get,
    .session_put = s_session_put,
    .counter_add = s_counter_add,
};

static wg_err db_setup(sqldb *d, const char *path, wg_error *err) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
              SQLITE_OPEN_NOMUTEX;   /* d->lock serialises */
  if (sqlite3_open_v2(path, &d->conn, flags, NULL) != SQLITE_OK) {
    return wg_error_set(err, WG_EIO, "sqlite: cannot open %s: %s", path,
                        d->conn ? sqlite3_errmsg(d->conn) : "out of memory");
  }
  /* Exclusive mode: nobody else ever holds the lock once we have it. */
  sqlite3_busy_timeout(d->conn, 200);
  /* WAL: readers never block the writer; NORMAL: a commit is durable once
  ** the WAL is checkpointed, and never corrupts on a crash. */
  static const char pragmas[] = "PRAGMA locking_mode=EXCLUSIVE;"
                                "PRAGMA journal_mode=WAL;"
                                "PRAGMA synchronous=NORMAL;";
  if (sqlite3_exec(d->conn, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(d->conn, schema, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(d->conn, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, NULL) !=
          SQLITE_OK) {
    if (sqlite3_errcode(d->conn) == SQLITE_BUSY) {
      return wg_error_set(err, WG_EIO, "%.200s is in use by another wasmgate "
                          "server", path);
    }
    return db_fail(d, err, path);
  }
  return WG_OK;
}

wg_err wg_db_open_sqlite(const char *dir, wg_db **out, wg_error *err) {
  char path[DB_PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/wasmgate.db", dir);
  if (n < 0 || (size_t)n >= sizeof path) {
    return wg_error_set(err, WG_EINVAL, "data directory path too long");
  }
  sqldb *d = wg_new(sqldb);
  if (!d) return wg_error_set(err, WG_ENOMEM, "out of memory");
  d->base.ops = &sqlite_ops;
  pthread_mutex_init(&d->lock, NULL);
  pthread_mutex_init(&d->qlock, NULL);
  pthread_cond_init(&d->qcond, NULL);
  d->queue_tail = &d->queue;
  snprintf(d->blobs, sizeof d->blobs, "%s/modules", dir);
  wg_err e = db_setup(d, path, err);
  if (e == WG_OK) {
    if (pthread_create(&d->flusher, NULL, flusher, d) != 0) {
      e = wg_error_set(err, WG_ENOMEM, "cannot start the store's flusher");
    }
    d->started = e == WG_OK;
  }
  if (e) {
    s_close(&d->base);
    return e;
  }
  *out = &d->base;
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

void wg_db_tenant_init(wg_db_tenant *t) {
  memset(t, 0, sizeof *t);
  wg_buf_init(&t->quotas, WG_DB_JSON_MAX);
}

void wg_db_tenant_free(wg_db_tenant *t) { wg_buf_free(&t->quotas); }

void wg_db_module_init(wg_db_module *m) {
  memset(m, 0, sizeof *m);
  wg_buf_init(&m->meta, WG_DB_JSON_MAX);
}

void wg_db_module_free(wg_db_module *m) { wg_buf_free(&m->meta); }

void wg_db_exec_init(wg_db_exec *e) {
  memset(e, 0, sizeof *e);
  wg_buf_init(&e->record, WG_DB_JSON_MAX);
}

void wg_db_exec_free(wg_db_exec *e) { wg_buf_free(&e->record); }

bool wg_db_set_id(char dst[WG_DB_ID_MAX], const char *src) {
  size_t n = strlen(src);
  if (n >= WG_DB_ID_MAX) {
    dst[0] = 0;
    return false;
  }
  memcpy(dst, src, n + 1);
  return true;
}
