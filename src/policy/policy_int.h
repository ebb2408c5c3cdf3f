/*
** Policy internals shared by the files of src/policy.
*/
#ifndef WG_POLICY_INT_H
#define WG_POLICY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/engine.h"
#include "wasmgate/policy.h"

/* One builtin of the registry. */
typedef struct wgp_builtin {
  char *name;
  int arity;                   /* -1: any */
  wg_policy_builtin_fn fn;
  void *user;
} wgp_builtin;

/* The registry's lookup, used at load time. NULL when absent. */
const wgp_builtin *wgp_builtins_find(const wg_policy_builtins *b,
                                     const char *name);

/* An OPA bundle's pieces (bundle.c). wasm and data point into buffers the
** bundle owns. data is the merged data document (JSON text, or empty
** when the bundle has no data files). */
typedef struct wgp_bundle {
  wg_buf wasm;
  wg_buf data;
  char revision[128];
} wgp_bundle;

/* True when p starts like a gzip stream. */
bool wgp_is_gzip(const uint8_t *p, size_t n);
/* Gunzips and reads the tar. Caps: 256 MiB unpacked. */
wg_err wgp_bundle_read(const uint8_t *p, size_t n, wgp_bundle *b,
                       wg_error *err);
void wgp_bundle_free(wgp_bundle *b);

/* The deadline watchdog (watch.c): a slot per pooled instance. The owner
** arms it before a call and disarms it after; the watchdog thread
** interrupts the store of an armed slot whose deadline passed. */
typedef struct wgp_watch {
  _Atomic uint64_t deadline;   /* CLOCK_MONOTONIC ns; 0 disarmed */
  wg_store *store;
  struct wgp_watch *prev, *next;
} wgp_watch;

/* The AOT tier (tier.c builds, policy.c serves). */
struct wga_object;
const wg_module *wgp_policy_module(const wg_policy *p);
/* True while someone besides the caller holds p (a queued build of a
** version nobody uses any more is skipped). */
bool wgp_policy_shared(wg_policy *p);
/* Switches p's new decisions to the object o (taking the caller's
** reference, also on failure) after warming an instance with the data.
** On failure p stays on the interpreter. */
wg_err wgp_policy_attach_aot(wg_policy *p, struct wga_object *o,
                             wg_error *err);

uint64_t wgp_now_ns(void);
void wgp_watch_add(wgp_watch *w);
void wgp_watch_remove(wgp_watch *w);
void wgp_watch_arm(wgp_watch *w, uint64_t deadline_ns);
/* Returns true when the deadline fired (the interrupt is cleared). */
bool wgp_watch_disarm(wgp_watch *w);

#endif
