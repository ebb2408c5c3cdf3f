/* Helpers of the WASI-NN tests (see nn_test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn_test.h"

bool nnt_proxy;

/* The loopback transport of nnt_proxy: the server's side in this process. */
static wg_err loopback(void *user, const uint8_t *msg, size_t n,
                       const uint8_t **reply, size_t *reply_len) {
  wg_error err;
  wg_error_clear(&err);
  wg_err e = wg_nn_serve(user, msg, n, reply, reply_len, &err);
  if (e) fail_msg("wg_nn_serve refused a proxy's message: %s", err.message);
  return e;
}

wg_module *nnt_load_guest(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", WG_NN_GUESTS, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  wg_error err;
  return wg_module_load(buf, n, &err);
}

void nnt_env_init(nn_env *e, const wg_nn_config *cfg, uint64_t deadline_ms) {
  memset(e, 0, sizeof *e);
  wg_module *mod = nnt_load_guest("abi.wasm");
  assert_non_null(mod);
  e->nn = wg_nn_new(cfg);
  assert_non_null(e->nn);
  wg_store_config sc = {.fuel = -1};
  e->s = wg_store_new(&sc);
  assert_non_null(e->s);
  wg_nn_bind_store(e->nn, e->s, deadline_ms);
  wg_error err;
  wg_error_clear(&err);
  if (nnt_proxy) {
    e->proxy = wg_nn_proxy_new(loopback, e->nn);
    assert_non_null(e->proxy);
    wg_exec_host h = wg_nn_proxy_host(e->proxy);
    h.bind(h.user, e->s, 0);
    e->inst = wg_instance_new(e->s, mod, h.resolve, h.user, &err);
  } else {
    e->inst = wg_instance_new(e->s, mod, wg_nn_resolve, e->nn, &err);
  }
  if (!e->inst) fail_msg("instantiate: %s", err.message);
  wg_module_release(mod);
  wg_extern ex;
  assert_int_equal(wg_instance_export(e->inst, (wg_name){"memory", 6}, &ex), WG_OK);
  e->mem = ex.of.memory;
  e->m = wg_memory_translate(e->mem, 0, 65536);
  assert_non_null(e->m);
}

void nnt_env_free(nn_env *e) {
  wg_store_free(e->s);
  wg_nn_free(e->nn);
  wg_nn_proxy_free(e->proxy);
  memset(e, 0, sizeof *e);
}

uint32_t nnt_call(nn_env *e, wg_err *trap, const char *fn, int n, ...) {
  wg_extern ex;
  assert_int_equal(wg_instance_export(e->inst, (wg_name){fn, (uint32_t)strlen(fn)}, &ex),
                   WG_OK);
  wg_val args[8], res[1];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    args[i].type = WG_I32;
    args[i].of.i64 = 0;
    args[i].of.i32 = va_arg(ap, uint32_t);
  }
  va_end(ap);
  wg_err r = wg_call(e->s, ex.of.func, args, (size_t)n, res, 1);
  if (trap) {
    *trap = r;
    return r ? 0 : res[0].of.i32;
  }
  if (r) fail_msg("%s trapped: %s", fn, wg_store_trap(e->s)->message);
  return res[0].of.i32;
}

void nnt_put(nn_env *e, uint32_t at, const void *p, uint32_t n) {
  memcpy(e->m + at, p, n);
}

void nnt_put_str(nn_env *e, uint32_t at, const char *s) {
  nnt_put(e, at, s, (uint32_t)strlen(s));
}

void nnt_put32(nn_env *e, uint32_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) e->m[at + i] = (uint8_t)(v >> (8 * i));
}

uint32_t nnt_get32(nn_env *e, uint32_t at) {
  return (uint32_t)e->m[at] | (uint32_t)e->m[at + 1] << 8 |
         (uint32_t)e->m[at + 2] << 16 | (uint32_t)e->m[at + 3] << 24;
}

void nnt_tensor(nn_env *e, uint32_t at, uint32_t type, const void *data, uint32_t n) {
  nnt_put32(e, at + 32, 1);
  nnt_put(e, at + 64, data, n);
  nnt_put32(e, at, at + 32);
  nnt_put32(e, at + 4, 1);
  nnt_put32(e, at + 8, type);
  nnt_put32(e, at + 12, at + 64);
  nnt_put32(e, at + 16, n);
}

const char *nnt_write_file(const char *dir, const char *name, const char *text) {
  static char path[4][512];
  static int k;
  char *p = path[k++ % 4];
  snprintf(p, 512, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return p;
}
