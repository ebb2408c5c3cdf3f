/*
** The AOT tier: a validated module translated to C by wabt's wasm2c,
** compiled by the system C compiler into a shared object, cached on disk,
** loaded with dlopen, and run with the same limits as the interpreter
** (except fuel, see below).
**
** Objects and who owns them:
**
**  wga_toolchain  The tools (wasm2c, the C compiler, wasm-rt.h) and the
**                 cache directory, found once. Immutable; share it.
**  wga_object     One loaded shared object for one module. Reference
**                 counted (instances hold one); dlclosed at the last
**                 release. Built at most once per cache key: the key is
**                 the SHA-256 of the module bytes, the compiler, its
**                 version and flags, wasm2c's version and the glue, and
**                 it is stored inside the object and checked at load.
**  wga_instance   One instance of an object: its memory, tables and
**                 globals. One thread at a time.
**
** Limits. Memory: no memory grows beyond max_pages. Calls: depth at most
** max_depth and at most 512 KiB of C stack per call. Time: the interrupt
** word (the interpreter's, wg_store_interrupt_word) is read at every
** function entry and every branch back to a loop head, so a deadline
** watchdog stops an AOT call the way it stops the interpreter. Fuel: the
** AOT tier does NOT meter fuel; it is bounded by the deadline only.
**
** Traps map to the engine's codes (WG_TRAP_MEMORY, _UNREACHABLE, _DIVZERO,
** _OVERFLOW, _CONVERSION, _INDIRECT, _STACK, _INTERRUPT, _HOST) with a
** message. Supported modules: function and memory imports (any module
** names), no imported tables or globals, at most one result per function,
** numeric types only (wasm2c 1.0.32 has no SIMD); anything else fails
** wga_object_get with WG_EINVAL and a message, and the caller keeps the
** interpreter. The cache directory must be private (0700, ours): objects
** in it are loaded as code.
*/
#ifndef WG_AOT_H
#define WG_AOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/error.h"

typedef struct wga_toolchain_config {
  const char *cache_dir;      /* required; created 0700 when missing */
  const char *wasm2c;         /* path or name looked up on PATH; NULL:
                              ** $WASMGATE_WASM2C, else "wasm2c" */
  const char *cc;             /* the same; NULL: $WASMGATE_CC, else "cc" */
  const char *opt;            /* optimisation flag; NULL: "-O2" */
  uint32_t timeout_ms;        /* per tool run; 0: 300000 */
} wga_toolchain_config;

typedef struct wga_toolchain wga_toolchain;
typedef struct wga_object wga_object;
typedef struct wga_instance wga_instance;

/* Finds the tools and prepares the cache directory. NULL with err set when
** one is missing (the message names it and where it was looked for). */
wga_toolchain *wga_toolchain_new(const wga_toolchain_config *c,
                                 wg_error *err);
void wga_toolchain_free(wga_toolchain *t);
/* Makes builds running now and later fail quickly (their tools are
** killed): for shutdown. Any thread. */
void wga_toolchain_cancel(wga_toolchain *t);

/* The object for module m (whose bytes it was loaded from): loaded from
** the cache when a valid entry exists, else built (wasm2c, then cc, each
** a child process under the time limit, stderr captured into the error)
** and atomically renamed into the cache. A cache entry that does not load
** or carries another key is rebuilt. *from_cache tells which happened
** (may be NULL). Safe to call from several threads and processes. */
wga_object *wga_object_get(wga_toolchain *t, const wg_module *m,
                           bool *from_cache, wg_error *err);
void wga_object_release(wga_object *o);
/* The cache key (hex) and the object's path. */
const char *wga_object_key(const wga_object *o);
const char *wga_object_path(const wga_object *o);
/* The index of function export name for wga_call, or -1. */
int wga_object_export(const wga_object *o, const char *name);

/* A host import: import is the index among the module's function imports
** (module order); its arguments are in slots (i32/i64 as integers, f32/f64
** as their bits), its result goes to slots[0]. Return WG_OK, or an error
** after wga_host_trap: the guest call then traps with that message. */
typedef wg_err (*wga_host_fn)(void *user, wga_instance *inst, uint32_t import,
                              uint64_t *slots);

typedef struct wga_instance_config {
  atomic_uint *interrupt;     /* required: non-zero stops the guest */
  uint32_t max_pages;         /* 0: 65535 */
  uint32_t max_depth;         /* 0: 1000 */
  wga_host_fn host;           /* required when the module has imports */
  void *user;
} wga_instance_config;

/* Instantiates o (runs data/element initialisation and the start
** function). NULL and err on failure, with a trap code when it trapped. */
wga_instance *wga_instance_new(wga_object *o, const wga_instance_config *c,
                               wg_error *err);
void wga_instance_free(wga_instance *i);
/* Calls function export idx; arguments and the result as for wga_host_fn.
** Returns WG_OK or a trap code with err filled. Re-entrant from inside a
** host import of the same instance. */
wg_err wga_call(wga_instance *i, int idx, uint64_t *slots, wg_error *err);
/* Records the reason a host import fails (printf-style); returns code. */
wg_err wga_host_trap(wga_instance *i, wg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The instance's memory: a pointer to [offset, offset + len) or NULL when
** out of bounds. Valid until the guest runs again (memory may move). */
void *wga_memory_translate(wga_instance *i, uint64_t offset, uint64_t len);
uint64_t wga_memory_size(wga_instance *i);

#endif
