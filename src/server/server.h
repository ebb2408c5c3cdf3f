/*
** wasmgate serve: the multi-tenant sandbox API (and, later, the gateway).
**
** The one entry point the command line uses. Everything else in src/server
** is internal (srv.h).
*/
#ifndef WG_SERVER_SERVER_H
#define WG_SERVER_SERVER_H

#include <stdio.h>

#include "wasmgate/error.h"

/* What `wasmgate serve` was given on its command line; NULL means "not
** given" (the config file, then the built-in default, decide). */
typedef struct wg_serve_opts {
  const char *config_path;   /* --config FILE */
  const char *listen;        /* --listen HOST:PORT */
  const char *data_dir;      /* --data-dir DIR */
  const char *model;         /* --model FILE.gguf: a local deployment */
} wg_serve_opts;

/* Runs the server until SIGTERM or SIGINT, then shuts down gracefully.
** Prints errors to stderr. Returns the process exit code: 0 after a clean
** shutdown, 1 when it could not start (bad config file, port in use, data
** directory unusable), 2 for a bad --listen or --data-dir. */
int wg_serve(const wg_serve_opts *opts);

/* Checks the audit log's hash chain (see audit.c). path is the log file.
** Prints "ok: N lines" to out, or the first broken line and why to out,
** and returns 0 (intact), 1 (broken) or 2 (cannot read the file). */
int wg_audit_verify_file(const char *path, FILE *out);

/* The audit log's path for a data directory and an optional config file
** (audit.path there wins). Writes it to buf; false when it does not fit or
** the config cannot be read (a message is printed to stderr). */
int wg_audit_path(const char *config_path, const char *data_dir, char *buf,
                  size_t bufsize);

#endif
