/*
** Shared libraries loaded on first use.
**
** `wasmgate run` needs none of the server's libraries (libcurl, libmicrohttpd,
** libcrypto, SQLite); linked normally, the dynamic loader would map and
** relocate them, and the forty libraries they pull in, before main() on
** every start. Instead each of them has a stub file (src/ai/curl_load.c,
** src/server/mhd_load.c, src/base/crypto_load.c, src/store/sqlite_load.c)
** that defines the functions the project calls, with the library's own
** names and prototypes, and forwards each call to the real library, which
** it loads here on the first call. The rest of the code calls the library
** as usual.
**
** A library that cannot be loaded (missing file or missing symbol) makes
** every stub fail the way the library reports failure (NULL, an error
** code), and the reason is printed once on stderr. The load is attempted
** once per process; the outcome sticks.
**
** Worker processes (src/sandbox/worker.c) are seccomp'd and chrooted: they
** must never reach a stub, which is the case as they only run the engine.
*/
#ifndef WG_BASE_DL_H
#define WG_BASE_DL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "wasmgate/error.h"

typedef struct wg_dl_lib {
  const char *soname;        /* file given to dlopen, e.g. "libcurl.so.4" */
  const char *purpose;       /* what needs it, for the error message */
  const char *const *names;  /* the symbols to resolve, count of them */
  void **addrs;              /* out: their addresses, in the same order */
  size_t count;
  atomic_int state;          /* WG_DL_UNTRIED, WG_DL_LOADED, WG_DL_FAILED */
  wg_error error;            /* why the load failed (state WG_DL_FAILED) */
} wg_dl_lib;

enum { WG_DL_UNTRIED, WG_DL_LOADED, WG_DL_FAILED };

/* A static initializer: NAMES and ADDRS are arrays of the same length. */
#define WG_DL_LIB(soname, purpose, names, addrs)                           \
  { (soname), (purpose), (names), (addrs),                                 \
    sizeof(names) / sizeof *(names), WG_DL_UNTRIED, { 0, 0, 0, 0, "" } }

/* The table of a stub file (one library per translation unit): from FUNCS,
** an X-macro list of the function names, an index WG_DL__<name> per
** function, their names and addresses, and the library `wg_dl__lib`. */
#define WG_DL__INDEX(f) WG_DL__##f,
#define WG_DL__NAME(f) #f,
#define WG_DL_STUBS(FUNCS, soname, purpose)                                \
  enum { FUNCS(WG_DL__INDEX) WG_DL__COUNT };                               \
  static const char *const wg_dl__names[] = {FUNCS(WG_DL__NAME)};          \
  static void *wg_dl__addrs[WG_DL__COUNT];                                 \
  static wg_dl_lib wg_dl__lib =                                            \
      WG_DL_LIB((soname), (purpose), wg_dl__names, wg_dl__addrs)

/* In a stub: the real function F, with F's own type, and whether the
** library is loaded (loading it on the first call). */
#define WG_DL_REAL(f) ((__typeof__(&f))wg_dl__addrs[WG_DL__##f])
#define WG_DL_READY() wg_dl_ready(&wg_dl__lib)

/* Loads lib->soname (dlopen, RTLD_NOW | RTLD_LOCAL) and resolves every
** name into lib->addrs, once per process; safe from any number of threads
** at once. Returns WG_OK when the library is ready; otherwise
** WG_ENOTFOUND, with lib->error and *err (when not NULL) set to
** "cannot load SONAME (needed for PURPOSE): <dlerror text>", which the
** first failing call also prints on stderr prefixed by "wasmgate: ".
** Later calls return the first outcome without trying again. */
wg_err wg_dl_load(wg_dl_lib *lib, wg_error *err);

/* True when lib is loaded; loads it on the first call (wg_dl_load). The
** stubs call this before every forwarded call: after the first, it is one
** atomic load. */
static inline bool wg_dl_ready(wg_dl_lib *lib) {
  if (atomic_load_explicit(&lib->state, memory_order_acquire) == WG_DL_LOADED)
    return true;
  return wg_dl_load(lib, NULL) == WG_OK;
}

#endif
