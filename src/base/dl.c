/*
** Shared libraries loaded on first use (dl.h). One mutex serialises the
** slow path of every library: loads happen a few times per process.
*/
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "base/dl.h"

static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* Called with dl_lock held. Returns WG_OK or WG_ENOTFOUND with lib->error
** set; a half-resolved library is closed again. */
static wg_err dl_open(wg_dl_lib *lib) {
  wg_error_clear(&lib->error);
  dlerror();
  void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    return wg_error_set(&lib->error, WG_ENOTFOUND,
                        "cannot load %s (needed for %s): %s", lib->soname,
                        lib->purpose, why ? why : "dlopen failed");
  }
  for (size_t i = 0; i < lib->count; i++) {
    dlerror();
    void *p = dlsym(h, lib->names[i]);
    const char *why = dlerror();
    if (!p || why) {
      wg_error_set(&lib->error, WG_ENOTFOUND,
                   "cannot load %s (needed for %s): %s", lib->soname,
                   lib->purpose, why ? why : "symbol is NULL");
      dlclose(h);
      for (size_t j = 0; j < i; j++) lib->addrs[j] = NULL;
      return WG_ENOTFOUND;
    }
    lib->addrs[i] = p;
  }
  return WG_OK; /* the handle stays open for the life of the process */
}

wg_err wg_dl_load(wg_dl_lib *lib, wg_error *err) {
  int state = atomic_load_explicit(&lib->state, memory_order_acquire);
  if (state == WG_DL_UNTRIED) {
    pthread_mutex_lock(&dl_lock);
    state = atomic_load_explicit(&lib->state, memory_order_relaxed);
    if (state == WG_DL_UNTRIED) {
      state = dl_open(lib) == WG_OK ? WG_DL_LOADED : WG_DL_FAILED;
      if (state == WG_DL_FAILED)
        fprintf(stderr, "wasmgate: %s\n", lib->error.message);
      atomic_store_explicit(&lib->state, state, memory_order_release);
    }
    pthread_mutex_unlock(&dl_lock);
  }
  if (state == WG_DL_LOADED) return WG_OK;
  if (err && err->code == WG_OK) *err = lib->error;
  return WG_ENOTFOUND;
}
