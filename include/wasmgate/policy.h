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

/* The JSON Schema matcher of json.match_schema (its subset is listed in
** builtins.c), for the host too (the gateway's response_format). Returns
** a new array of errors {"error","type","field","desc"}, empty when doc
** satisfies schema; NULL when out of memory. */
json_t *wg_json_schema_errors(const json_t *doc, const json_t *schema);

/* ------------------------------------------------------------------ */
/* Policies                                                            */

typedef struct wg_policy wg_policy;
typedef struct wg_policy_aot wg_policy_aot;

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
  /* The AOT builder (below) to compile this policy with in the
  ** background; NULL: the interpreter only. */
  wg_policy_aot *aot;
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
/* The AOT tier                                                        */

/* A policy is always served by the interpreter as soon as it is loaded
** (hot reload stays instant). With an AOT builder, its module is also
** translated to C (wasm2c), compiled by the system C compiler into a
** shared object in a cache directory, and new decisions switch to it
** atomically when it is ready; decisions already running finish on the
** instance they started on. One builder thread, a bounded queue; the
** cache survives restarts (key: the module, the compiler and flags,
** wasm2c's version). The AOT tier enforces the deadline, the memory
** limit and a call depth bound, but does not meter fuel: an evaluation
** on it is bounded by the deadline only. */

typedef struct wg_policy_aot_config {
  const char *cache_dir;      /* required */
  const char *wasm2c;         /* NULL: $WASMGATE_WASM2C, else on PATH */
  const char *cc;             /* NULL: $WASMGATE_CC, else "cc" on PATH */
  const char *opt;            /* NULL: "-O2" */
  uint32_t queue;             /* pending builds; 0 = 16 */
  uint32_t timeout_ms;        /* per tool run; 0 = 300000 */
  /* Messages (built, cache hit, failure and why); NULL: stderr. */
  void (*log)(void *user, const char *msg);
  void *log_user;
} wg_policy_aot_config;

/* Finds wasm2c, the compiler and wasm-rt.h, prepares the cache and starts
** the builder thread. NULL with err when a tool is missing (the message
** says which): callers in "auto" mode log it and keep the interpreter. */
wg_policy_aot *wg_policy_aot_new(const wg_policy_aot_config *c,
                                 wg_error *err);
/* Stops the builder (a build in progress is cancelled: its compiler is
** killed) and drops the queue. */
void wg_policy_aot_free(wg_policy_aot *a);
/* Queues p for a background build (holding a reference while queued).
** WG_ELIMIT when the queue is full: p stays on the interpreter. */
wg_err wg_policy_aot_submit(wg_policy_aot *a, wg_policy *p);
/* Builds (or takes from the cache) and attaches now, in this thread. */
wg_err wg_policy_aot_compile(wg_policy_aot *a, wg_policy *p, wg_error *err);
/* Waits until the queue is empty and no build runs. */
void wg_policy_aot_drain(wg_policy_aot *a);
/* Counters: objects built, taken from the cache, failed builds. */
void wg_policy_aot_stats(wg_policy_aot *a, uint64_t *built,
                         uint64_t *cached, uint64_t *failed);
/* True when new decisions of p run on the AOT tier. */
bool wg_policy_is_aot(wg_policy *p);

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
