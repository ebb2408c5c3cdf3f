/*
** instantiate: start-up cost of an instance (issue 4, item 4).
**
**   instantiate [N] [FILE.wasm]
**
** Loads a module once (by default a small module built here: one 64 KiB
** page, a global, a data segment, two exports), then times N rounds of
**   wg_store_new + wg_instance_new + wg_store_free
** in batches and prints microseconds per instantiation (best and median
** batch). Imports of FILE.wasm are satisfied with stubs: functions that trap,
** and fresh memories, tables and globals of the requested type, so e.g. a
** WASI program can be measured too.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmgate/engine.h"
#include "wasmgen.h"

#define BATCHES 7

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* (module (memory (export "memory") 1) (global (mut i32) (i32.const 42))
**   (func (export "get") (result i32)
**     (i32.add (i32.load (i32.const 16)) (global.get 0)))
**   (data (i32.const 16) "\07\00\00\00hello")) */
static void build_module(wgen_buf *m) {
  wgen_buf s = {0};
  wgen_header(m);
  wgen_u32(&s, 1);                       /* type 0: () -> i32 */
  wgen_byte(&s, WGEN_FUNCTYPE);
  wgen_u32(&s, 0);
  wgen_u32(&s, 1);
  wgen_byte(&s, WGEN_I32);
  wgen_section(m, WGEN_SEC_TYPE, &s);
  wgen_u32(&s, 1);                       /* func 0: type 0 */
  wgen_u32(&s, 0);
  wgen_section(m, WGEN_SEC_FUNC, &s);
  wgen_u32(&s, 1);                       /* memory 0: min 1, no max */
  wgen_byte(&s, 0);
  wgen_u32(&s, 1);
  wgen_section(m, WGEN_SEC_MEMORY, &s);
  wgen_u32(&s, 1);                       /* global 0: mut i32 = 42 */
  wgen_byte(&s, WGEN_I32);
  wgen_byte(&s, 1);
  wgen_byte(&s, WGEN_I32_CONST);
  wgen_s32(&s, 42);
  wgen_byte(&s, WGEN_END);
  wgen_section(m, WGEN_SEC_GLOBAL, &s);
  wgen_u32(&s, 2);
  wgen_name(&s, "memory");
  wgen_byte(&s, 2);
  wgen_u32(&s, 0);
  wgen_name(&s, "get");
  wgen_byte(&s, 0);
  wgen_u32(&s, 0);
  wgen_section(m, WGEN_SEC_EXPORT, &s);
  static const uint8_t body[] = {
      0,                                   /* no locals */
      WGEN_I32_CONST, 16, WGEN_I32_LOAD, 2, 0, WGEN_GLOBAL_GET, 0,
      WGEN_I32_ADD, WGEN_END};
  wgen_u32(&s, 1);
  wgen_u32(&s, sizeof body);
  wgen_bytes(&s, body, sizeof body);
  wgen_section(m, WGEN_SEC_CODE, &s);
  static const uint8_t data[] = {7, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
  wgen_u32(&s, 1);
  wgen_u32(&s, 0);                       /* active, memory 0 */
  wgen_byte(&s, WGEN_I32_CONST);
  wgen_s32(&s, 16);
  wgen_byte(&s, WGEN_END);
  wgen_u32(&s, sizeof data);
  wgen_bytes(&s, data, sizeof data);
  wgen_section(m, WGEN_SEC_DATA, &s);
  wgen_free(&s);
}

static wg_err stub_fn(wg_host_call *call, uint64_t *stack) {
  (void)stack;
  return wg_host_trap(call, WG_TRAP_HOST, "instantiate bench: stub import");
}

/* Satisfies any import with a stub of the requested type. */
static wg_err resolve_stub(void *user, wg_name module, wg_name name,
                           const wg_externtype *type, wg_extern *out) {
  wg_store *s = user;
  (void)module;
  (void)name;
  out->kind = type->kind;
  switch (type->kind) {
  case WG_EXTERN_FUNC:
    out->of.func = wg_func_new_host(s, &type->of.func, stub_fn, NULL);
    return out->of.func ? WG_OK : WG_ENOMEM;
  case WG_EXTERN_MEMORY:
    out->of.memory = wg_memory_new(s, type->of.memory.limits);
    return out->of.memory ? WG_OK : WG_ENOMEM;
  case WG_EXTERN_TABLE:
    out->of.table = wg_table_new(s, (wg_valtype)type->of.table.elem,
                                 type->of.table.limits);
    return out->of.table ? WG_OK : WG_ENOMEM;
  case WG_EXTERN_GLOBAL: {
    wg_val v;
    memset(&v, 0, sizeof v);
    v.type = (wg_valtype)type->of.global.type;
    out->of.global = wg_global_new(s, v, type->of.global.mut);
    return out->of.global ? WG_OK : WG_ENOMEM;
  }
  }
  return WG_EINVAL;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "instantiate: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  wgen_buf b = {0};
  uint8_t chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) wgen_bytes(&b, chunk, n);
  fclose(f);
  *len = b.len;
  return b.p;
}

/* One instantiation; returns false after printing why. With check, also
** calls the built-in module's "get" (which must return 7 + 42) and sets
** *wrong when the answer is not right. */
static bool instantiate_once(wg_module *mod, const wg_store_config *cfg,
                             bool check, bool *wrong) {
  wg_error err;
  wg_store *s = wg_store_new(cfg);
  if (!s) {
    fprintf(stderr, "instantiate: wg_store_new failed\n");
    return false;
  }
  wg_instance *inst = wg_instance_new(s, mod, resolve_stub, s, &err);
  if (!inst) {
    fprintf(stderr, "instantiate: %s: %s\n", wg_err_name(err.code),
            err.message);
    wg_store_free(s);
    return false;
  }
  if (check) {
    wg_extern ext;
    wg_val result;
    wg_name get = {"get", 3};
    wg_err rc = wg_instance_export(inst, get, &ext);
    if (rc == WG_OK && ext.kind == WG_EXTERN_FUNC)
      rc = wg_call(s, ext.of.func, NULL, 0, &result, 1);
    if (rc != WG_OK) {
      fprintf(stderr, "instantiate: calling \"get\": %s\n", wg_err_name(rc));
      *wrong = true;
    } else if (result.of.i32 != 49) {
      fprintf(stderr, "instantiate: WRONG RESULT: \"get\" returned %u, "
              "expected 49 (timing anyway)\n", (unsigned)result.of.i32);
      *wrong = true;
    }
  }
  wg_store_free(s);
  return true;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long n = 20000;
  const char *path = NULL;
  if (argc > 1) {
    char *end;
    errno = 0;
    n = strtol(argv[1], &end, 10);
    if (errno || *end || n < BATCHES) {
      fprintf(stderr, "usage: instantiate [N >= %d] [FILE.wasm]\n", BATCHES);
      return 2;
    }
  }
  if (argc > 2) path = argv[2];

  wgen_buf built = {0};
  uint8_t *bytes;
  size_t len;
  if (path) {
    bytes = read_file(path, &len);
    if (!bytes) return 1;
  } else {
    build_module(&built);
    bytes = built.p;
    len = built.len;
  }
  wg_error err;
  wg_module *mod = wg_module_load(bytes, len, &err);
  if (!mod) {
    fprintf(stderr, "instantiate: load: %s: %s\n", wg_err_name(err.code),
            err.message);
    return 1;
  }
  free(bytes);

  wg_store_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.fuel = -1;
  bool wrong = false;
  if (!instantiate_once(mod, &cfg, path == NULL, &wrong)) return 1;
  for (int i = 0; i < 200; i++)   /* warm-up: caches, allocator */
    if (!instantiate_once(mod, &cfg, false, NULL)) return 1;

  long per_batch = n / BATCHES;
  double us[BATCHES];
  for (int b = 0; b < BATCHES; b++) {
    double t0 = now_us();
    for (long i = 0; i < per_batch; i++)
      if (!instantiate_once(mod, &cfg, false, NULL)) return 1;
    us[b] = (now_us() - t0) / (double)per_batch;
  }
  qsort(us, BATCHES, sizeof us[0], cmp_double);
  printf("instantiate: module %s (%zu bytes, %" PRIu64 " page(s) of memory)\n",
         path ? path : "built-in", len,
         wg_module_memory_count(mod)
             ? wg_module_memory(mod, 0).of.memory.limits.min
             : (uint64_t)0);
  printf("instantiate: %ld x (wg_store_new + wg_instance_new + "
         "wg_store_free)\n", per_batch * BATCHES);
  printf("instantiate: %.2f us per instantiation (best batch), %.2f us "
         "(median)\n", us[0], us[BATCHES / 2]);
  wg_module_release(mod);
  return wrong ? 1 : 0;
}
