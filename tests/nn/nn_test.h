/* Helpers of the WASI-NN tests: a store with guests/abi.wasm instantiated
** against a wg_nn, and calls of its wrappers with guest memory at hand. */
#ifndef WG_TESTS_NN_TEST_H
#define WG_TESTS_NN_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/nn.h"

/* Set (before any env): guests reach the wg_nn through a wg_nn_proxy whose
** messages go through wg_nn_serve, as from a worker process. */
extern bool nnt_proxy;

typedef struct nn_env {
  wg_nn *nn;
  wg_nn_proxy *proxy;  /* nnt_proxy only */
  wg_store *s;
  wg_instance *inst;
  wg_memory *mem;
  uint8_t *m;          /* the guest's memory (one page) */
} nn_env;

/* Reads WG_NN_GUESTS/name; NULL when missing. */
wg_module *nnt_load_guest(const char *name);
/* A store bound to a fresh wg_nn made from cfg, with abi.wasm linked. */
void nnt_env_init(nn_env *e, const wg_nn_config *cfg, uint64_t deadline_ms);
void nnt_env_free(nn_env *e);
/* Calls export fn with n i32 args; *trap gets the call's error (NULL: the
** call must not trap). Returns the i32 result. */
uint32_t nnt_call(nn_env *e, wg_err *trap, const char *fn, int n, ...);
/* Guest memory helpers. */
void nnt_put(nn_env *e, uint32_t at, const void *p, uint32_t n);
void nnt_put_str(nn_env *e, uint32_t at, const char *s);
void nnt_put32(nn_env *e, uint32_t at, uint32_t v);
uint32_t nnt_get32(nn_env *e, uint32_t at);
/* A 20-byte tensor at `at`: dims [1] at at+32, data (n bytes) at at+64. */
void nnt_tensor(nn_env *e, uint32_t at, uint32_t type, const void *data, uint32_t n);
/* Writes a file (a fake model) and returns its path in a static buffer. */
const char *nnt_write_file(const char *dir, const char *name, const char *text);

#endif
