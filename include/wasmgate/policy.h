/*
** wasmgate policies: Open Policy Agent policies compiled to WebAssembly
** (`opa build -t wasm`), evaluated in wasmgate's own engine.
**
** Objects and who owns them:
**
**  wg_policy_builtins  A registry of the builtins OPA leaves to the host
**                      (name -> C function). Created with the standard set
**                      (sprintf, regex.*, time.*, json.match_schema...);
**                      callers add their own. Read at load time only: a
**                      policy copies what it needs, so the registry may be
**                      freed after loading (the user pointers may not).
**  wg_policy           One loaded version of a policy: the compiled module,
**                      its data document, its entrypoints, resolved builtins
**                      and a pool of warm instances. Immutable once loaded,
**                      reference counted, safe to evaluate from any number
**                      of threads at once. wg_policy_load returns it with
**                      one reference.
**  wg_policy_set       Named policies with versions and atomic replacement
**                      (hot reload): a decision takes a reference to the
**                      version current when it starts and finishes on it.
**
** ABI: major version 1, any minor (and modules from before the version
** globals that export `entrypoints`). Minor >= 2 is evaluated through
** `opa_eval`, older ones through the context API. Results are OPA's result
** sets as JSON text: `[{"result": ...}]`, `[]` when undefined.
*/
#ifndef WASMGATE_POLICY_H
#define WASMGATE_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/error.h"

/* ------------------------------------------------------------------ */
/* Builtins                                                            */

/* A host builtin. args[0..nargs) are the arguments as JSON (sets arrive
** as arrays). Returns a new reference to the result, or NULL after
** wg_error_set(err, ...): the evaluation then fails with that message. */
typedef json_t *(*wg_policy_builtin_fn)(void *user, json_t *const *args,
                                        size_t nargs, wg_error *err);

typedef struct wg_policy_builtins wg_policy_builtins;

/* A registry holding the standard builtins (see builtins.c for the list). */
wg_policy_builtins *wg_policy_builtins_new(void);
void wg_policy_builtins_free(wg_policy_builtins *b);
/* Adds or replaces name. arity is the number of arguments (0..4), or -1
** for any. WG_EINVAL for a bad arity or name, WG_ENOMEM. */
wg_err wg_policy_builtins_add(wg_policy_builtins *b, const char *name,
                              int arity, wg_policy_builtin_fn fn, void *user);

/* ------------------------------------------------------------------ */
/* Policies                                                            */

typedef struct wg_policy wg_policy;

typedef struct wg_policy_opts {
  const char *data;           /* the `data` document as JSON text; NULL:
                              ** the bundle's data.json files, else {} */
  size_t data_len;
  int64_t fuel;               /* per evaluation; 0 = 100M, < 0 unmetered */
  uint64_t timeout_ms;        /* per evaluation; 0 = 1000 */
  uint64_t max_memory_bytes;  /* the policy's linear memory; 0 = 64 MiB */
  bool context_api;           /* use the context API even when opa_eval
                              ** exists (tests both paths) */
  /* print() output; NULL discards it. */
  void (*println)(void *user, const char *msg, size_t len);
  void *println_user;
} wg_policy_opts;

/* Loads a policy from a `.wasm` module or an OPA bundle (gzipped tar with
** `.manifest`, `data.json` files and `/policy.wasm`), recognised by its
** first bytes. Checks the ABI version and that every builtin the module
** needs is in b (otherwise WG_ENOTFOUND naming all the missing ones),
** instantiates it once with the data (which must be valid JSON) to warm
** the pool. o may be NULL. Returns NULL and fills err on failure. */
wg_policy *wg_policy_load(const uint8_t *bytes, size_t len,
                          const wg_policy_builtins *b,
                          const wg_policy_opts *o, wg_error *err);
void wg_policy_retain(wg_policy *p);
void wg_policy_release(wg_policy *p);

int wg_policy_abi_major(const wg_policy *p);   /* -1: no version globals */
int wg_policy_abi_minor(const wg_policy *p);
/* Entrypoints, in id order ("app/rbac/allow"). */
size_t wg_policy_entrypoint_count(const wg_policy *p);
const char *wg_policy_entrypoint(const wg_policy *p, size_t id);
/* The id of an entrypoint name ('.' is accepted for '/'), or -1. */
int wg_policy_entrypoint_id(const wg_policy *p, const char *name);
/* The builtins the module calls out for, in id order. */
size_t wg_policy_builtin_count(const wg_policy *p);
const char *wg_policy_builtin(const wg_policy *p, size_t id);
/* The bundle's `.manifest` revision, or "". */
const char *wg_policy_revision(const wg_policy *p);
/* SHA-256 of the bytes loaded, lowercase hex. */
const char *wg_policy_sha256(const wg_policy *p);

/* Called with the result set (JSON text, len bytes, not NUL-terminated);
** the bytes are valid only during the call. */
typedef void (*wg_policy_sink)(void *user, const char *json, size_t len);

/* Evaluates entrypoint (NULL or "" = id 0) with input (JSON text; NULL
** = no input). Runs under the policy's fuel and deadline on a pooled
** instance. Errors: WG_ENOTFOUND (no such entrypoint), WG_EINVAL (input is
** not JSON), a trap code (opa_abort, a builtin error, fuel, deadline: the
** message says which; the instance is discarded). */
wg_err wg_policy_eval(wg_policy *p, const char *entrypoint,
                      const char *input, size_t input_len,
                      wg_policy_sink sink, void *user, wg_error *err);
/* The same with jansson values: *result is the parsed result set. */
wg_err wg_policy_eval_json(wg_policy *p, const char *entrypoint,
                           const json_t *input, json_t **result,
                           wg_error *err);

/* ------------------------------------------------------------------ */
/* Named policies with versions (hot reload)                           */

typedef struct wg_policy_set wg_policy_set;

typedef struct wg_policy_info {
  char id[128];
  char owner[128];             /* "" = the administrator */
  uint64_t version;            /* 1, 2, ... per id (per process) */
  int64_t updated_ms;          /* Unix time */
} wg_policy_info;

wg_policy_set *wg_policy_set_new(void);
/* Frees the set; versions still held by callers live until released. */
void wg_policy_set_free(wg_policy_set *s);
/* Makes p the current version of id (taking the caller's reference) and
** returns the new info in *info. When id exists with another owner and
** owner_check, fails with WG_EEXIST and p is released. */
wg_err wg_policy_set_put(wg_policy_set *s, const char *id, const char *owner,
                         bool owner_check, wg_policy *p,
                         wg_policy_info *info);
/* The current version of id with a new reference (release it), or NULL. */
wg_policy *wg_policy_set_get(wg_policy_set *s, const char *id,
                             wg_policy_info *info);
/* Removes id; WG_ENOTFOUND when absent. */
wg_err wg_policy_set_delete(wg_policy_set *s, const char *id);
/* Calls fn for each policy (ids sorted) with a reference it must not
** keep beyond the call. Stops when fn returns false. */
void wg_policy_set_each(wg_policy_set *s,
                        bool (*fn)(void *user, const wg_policy_info *info,
                                   wg_policy *p),
                        void *user);

#endif
