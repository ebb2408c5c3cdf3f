/*
** SQLite, loaded on first use (src/base/dl.h): the functions the store
** calls, defined with SQLite's own names and prototypes (checked against
** <sqlite3.h>), each forwarding to libsqlite3.so.0. Only `serve` and
** `audit verify` open a store; `wasmgate run` never maps SQLite (1.4 MB,
** 1,900 relocations).
**
** Calling another sqlite3_* function is a link error: add it to
** SQLITE_FUNCS and give it a stub below. Each stub behaves as the SQLite
** function of its name; when the library cannot be loaded, sqlite3_open_v2
** sets *ppDb to NULL and returns SQLITE_CANTOPEN, sqlite3_errmsg returns
** "libsqlite3.so.0 could not be loaded", sqlite3_close returns SQLITE_OK
** (there is nothing to close), and the others return SQLITE_ERROR, 0 or
** NULL.
*/
#include <sqlite3.h>

#include "base/dl.h"

#define SQLITE_FUNCS(X)                                                    \
  X(sqlite3_bind_blob) X(sqlite3_bind_int64) X(sqlite3_bind_text)          \
  X(sqlite3_busy_timeout) X(sqlite3_changes) X(sqlite3_clear_bindings)     \
  X(sqlite3_close) X(sqlite3_column_blob) X(sqlite3_column_bytes)          \
  X(sqlite3_column_int) X(sqlite3_column_int64) X(sqlite3_column_text)     \
  X(sqlite3_errcode) X(sqlite3_errmsg) X(sqlite3_exec) X(sqlite3_finalize) \
  X(sqlite3_open_v2) X(sqlite3_prepare_v3) X(sqlite3_reset) X(sqlite3_step)

WG_DL_STUBS(SQLITE_FUNCS, "libsqlite3.so.0",
            "the SQLite store");

/* The real function F, with F's own type. */
#define REAL(f) WG_DL_REAL(f)
#define READY() WG_DL_READY()

int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags,
                    const char *zVfs) {
  if (!READY()) {
    if (ppDb) *ppDb = NULL;
    return SQLITE_CANTOPEN;
  }
  return REAL(sqlite3_open_v2)(filename, ppDb, flags, zVfs);
}

int sqlite3_close(sqlite3 *db) {
  return READY() ? REAL(sqlite3_close)(db) : SQLITE_OK;
}

int sqlite3_busy_timeout(sqlite3 *db, int ms) {
  return READY() ? REAL(sqlite3_busy_timeout)(db, ms) : SQLITE_ERROR;
}

int sqlite3_exec(sqlite3 *db, const char *sql,
                 int (*callback)(void *, int, char **, char **), void *arg,
                 char **errmsg) {
  if (!READY()) {
    if (errmsg) *errmsg = NULL;
    return SQLITE_ERROR;
  }
  return REAL(sqlite3_exec)(db, sql, callback, arg, errmsg);
}

int sqlite3_errcode(sqlite3 *db) {
  return READY() ? REAL(sqlite3_errcode)(db) : SQLITE_ERROR;
}

const char *sqlite3_errmsg(sqlite3 *db) {
  return READY() ? REAL(sqlite3_errmsg)(db)
                 : "libsqlite3.so.0 could not be loaded";
}

int sqlite3_changes(sqlite3 *db) {
  return READY() ? REAL(sqlite3_changes)(db) : 0;
}

int sqlite3_prepare_v3(sqlite3 *db, const char *zSql, int nByte,
                       unsigned int prepFlags, sqlite3_stmt **ppStmt,
                       const char **pzTail) {
  if (!READY()) {
    if (ppStmt) *ppStmt = NULL;
    return SQLITE_ERROR;
  }
  return REAL(sqlite3_prepare_v3)(db, zSql, nByte, prepFlags, ppStmt,
                                  pzTail);
}

int sqlite3_step(sqlite3_stmt *stmt) {
  return READY() ? REAL(sqlite3_step)(stmt) : SQLITE_ERROR;
}

int sqlite3_reset(sqlite3_stmt *stmt) {
  return READY() ? REAL(sqlite3_reset)(stmt) : SQLITE_ERROR;
}

int sqlite3_finalize(sqlite3_stmt *stmt) {
  return READY() ? REAL(sqlite3_finalize)(stmt) : SQLITE_OK;
}

int sqlite3_clear_bindings(sqlite3_stmt *stmt) {
  return READY() ? REAL(sqlite3_clear_bindings)(stmt) : SQLITE_ERROR;
}

int sqlite3_bind_blob(sqlite3_stmt *stmt, int i, const void *p, int n,
                      void (*destructor)(void *)) {
  return READY() ? REAL(sqlite3_bind_blob)(stmt, i, p, n, destructor)
                 : SQLITE_ERROR;
}

int sqlite3_bind_int64(sqlite3_stmt *stmt, int i, sqlite3_int64 v) {
  return READY() ? REAL(sqlite3_bind_int64)(stmt, i, v) : SQLITE_ERROR;
}

int sqlite3_bind_text(sqlite3_stmt *stmt, int i, const char *p, int n,
                      void (*destructor)(void *)) {
  return READY() ? REAL(sqlite3_bind_text)(stmt, i, p, n, destructor)
                 : SQLITE_ERROR;
}

const void *sqlite3_column_blob(sqlite3_stmt *stmt, int col) {
  return READY() ? REAL(sqlite3_column_blob)(stmt, col) : NULL;
}

int sqlite3_column_bytes(sqlite3_stmt *stmt, int col) {
  return READY() ? REAL(sqlite3_column_bytes)(stmt, col) : 0;
}

int sqlite3_column_int(sqlite3_stmt *stmt, int col) {
  return READY() ? REAL(sqlite3_column_int)(stmt, col) : 0;
}

sqlite3_int64 sqlite3_column_int64(sqlite3_stmt *stmt, int col) {
  return READY() ? REAL(sqlite3_column_int64)(stmt, col) : 0;
}

const unsigned char *sqlite3_column_text(sqlite3_stmt *stmt, int col) {
  return READY() ? REAL(sqlite3_column_text)(stmt, col) : NULL;
}
