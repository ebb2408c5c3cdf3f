/*
** Modules as the routes of modules.c and exec.c share them.
*/
#ifndef WG_SERVER_MODULES_H
#define WG_SERVER_MODULES_H

#include <jansson.h>
#include <stdbool.h>

#include "server/srv.h"
#include "wasmgate/engine.h"

/* {"imports","exports","memories","features","wasi_command"} of m. */
json_t *srv_module_meta(const wg_module *m);
/* True for "sha256:" + 64 lowercase hex digits. */
bool srv_module_id_ok(const char *id);
/* The request's tenant's module id, from the cache or loaded from the
** store (and cached). Records id in r->module_id. Answers 404 (not the
** tenant's, or no such id) or 500 and returns NULL on failure. The caller
** releases the module. */
wg_module *srv_module_open(srv_req *r, const char *id);
/* Validates and stores n bytes as a module of the request's tenant
** (idempotent: a module the tenant has is returned as it is). *status is
** 201 when stored now, 200 when it was there. Answers 400 (invalid),
** 429 (module quotas) or 500 and returns NULL on failure. The caller
** releases the module. */
wg_module *srv_module_upload(srv_req *r, const uint8_t *p, size_t n,
                             int *status);

#endif
