/*
** The audit log: append-only JSON lines with a SHA-256 hash chain.
**
** Line k (k = 1, 2, ...) is one JSON object whose last two members are
** "seq": k and "prev": the lowercase hex SHA-256 of line k-1's bytes
** (without its newline; 64 zeros for line 1). Editing, removing or
** reordering lines therefore breaks the chain at the first change. A side
** file, <log>.head, holds {"seq":N,"sha256":"..."} of the last line synced
** (every second and at shutdown), so that cutting lines off the end shows
** too.
**
** Secrets never reach this file: the entry has no field for keys, env
** values or file contents; inputs and outputs appear only as SHA-256.
*/
#ifndef WG_SERVER_AUDIT_H
#define WG_SERVER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/error.h"

typedef struct srv_audit srv_audit;

typedef struct srv_audit_entry {
  const char *request_id;
  const char *tenant;          /* the tenant acting or acted on, or NULL */
  const char *key_id;          /* the key used, or NULL (admin) */
  const char *principal;       /* "admin", "tenant" or "none" */
  const char *route;           /* "POST /v1/modules/{id}/executions" */
  const char *path;            /* the path as requested */
  int status;
  const char *module;          /* module id involved, or NULL */
  const char *execution;       /* execution id, or NULL */
  const char *subject_key;     /* a key created or deleted, or NULL */
  const uint8_t *input_sha256; /* 32 bytes: the request body, or NULL */
  const uint8_t *output_sha256;/* 32 bytes: the response body, or NULL */
  const char *decision;        /* "allow", "deny" or "error" */
  const char *reason;          /* the error code, or NULL */
  const char *policy;           /* the policy that decided, or NULL (then
                                   the line has no policy members) */
  uint64_t policy_version;
  double latency_ms;
  const char *gateway;         /* gateway routes: a compact JSON object
                                  (model, deployment, tokens, ...) or NULL */
} srv_audit_entry;

/* Opens (creating) the log at path and resumes its chain from its last
** line. */
wg_err srv_audit_open(const char *path, srv_audit **out, wg_error *err);
/* Appends one line (thread-safe; one write(2) per line). */
void srv_audit_write(srv_audit *a, const srv_audit_entry *e);
/* fsyncs the log and rewrites the head file when lines were added. */
void srv_audit_sync(srv_audit *a);
/* Syncs and closes. */
void srv_audit_close(srv_audit *a);

/* Verifies the log at path. Returns 0 when intact (report: "ok: N
** lines..."), 1 when the chain is broken (report names the first bad line
** and why; *bad_line is its 1-based number), 2 when it cannot be read. */
int srv_audit_verify(const char *path, char *report, size_t reportsize,
                     uint64_t *bad_line);

#endif
