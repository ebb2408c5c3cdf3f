/*
** libFuzzer target: load, instantiate and run an arbitrary module through
** the public API (include/wasmgate/engine.h) only.
**
** Build and run (what tools/test.sh does):
**   CC=clang cmake -S . -B build-fuzz -G Ninja -DWG_FUZZ=ON -DWG_TESTS=OFF \
**       -DWG_SANITIZE=ON
**   cmake --build build-fuzz --target fuzz_module fuzz_corpus
**   mkdir -p build-fuzz/corpus_copy
**   cp build-fuzz/tests/fuzz/corpus/<*.wasm> build-fuzz/corpus_copy/
**   build-fuzz/tests/fuzz/fuzz_module -max_total_time=60 -rss_limit_mb=2048 \
**       -timeout=10 build-fuzz/corpus_copy/
** Reproduce a crash: build-fuzz/tests/fuzz/fuzz_module crash-<sha1>
**
** Every import is satisfied with a fresh host object of the requested type
** (host functions return zeros); every exported function is then called
** with zero arguments of the right types under a fuel budget.
*/
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasmgate/engine.h"

#define FUZZ_FUEL 100000
#define FUZZ_MAX_PAGES 16
#define FUZZ_MAX_TABLE 1000
#define FUZZ_MAX_ARGS 1000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A host function that returns zeros. user carries its result count. */
static wg_err host_zero(wg_host_call *call, uint64_t *stack) {
  size_t nresults = (size_t)(uintptr_t)wg_host_user(call);
  for (size_t i = 0; i < nresults; i++) stack[i] = 0;
  return WG_OK;
}

static wg_val zero_val(uint8_t type) {
  wg_val v;
  memset(&v, 0, sizeof v);
  v.type = (wg_valtype)type;
  return v;
}

static wg_err resolve(void *user, wg_name module, wg_name name,
                      const wg_externtype *type, wg_extern *out) {
  wg_store *s = user;
  memset(out, 0, sizeof *out);
  out->kind = type->kind;
  switch (type->kind) {
  case WG_EXTERN_FUNC:
    out->of.func = wg_func_new_host(s, &type->of.func, host_zero,
                                    (void *)(uintptr_t)type->of.func.nresults);
    return out->of.func ? WG_OK : WG_ENOMEM;
  case WG_EXTERN_MEMORY: {
    wg_limits l = type->of.memory.limits;
    if (type->of.memory.is64 || l.min > FUZZ_MAX_PAGES) return WG_ELIMIT;
    if (l.has_max && l.max < l.min) return WG_EIMPORTTYPE;
    out->of.memory = wg_memory_new(s, l);
    return out->of.memory ? WG_OK : WG_ENOMEM;
  }
  case WG_EXTERN_TABLE: {
    wg_limits l = type->of.table.limits;
    if (l.min > FUZZ_MAX_TABLE) return WG_ELIMIT;
    if (l.has_max && l.max < l.min) return WG_EIMPORTTYPE;
    out->of.table = wg_table_new(s, (wg_valtype)type->of.table.elem, l);
    return out->of.table ? WG_OK : WG_ENOMEM;
  }
  case WG_EXTERN_GLOBAL:
    out->of.global = wg_global_new(s, zero_val(type->of.global.type),
                                   type->of.global.mut);
    return out->of.global ? WG_OK : WG_ENOMEM;
  }
  return WG_EUNKNOWNIMPORT;
}

static void call_exports(wg_store *s, wg_instance *inst, wg_module *m) {
  uint32_t n = wg_module_export_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.type.kind != WG_EXTERN_FUNC) continue;
    wg_extern ext;
    if (wg_instance_export(inst, d.name, &ext) != WG_OK) abort(); /* listed */
    if (ext.kind != WG_EXTERN_FUNC) abort();
    wg_functype ft = wg_func_type(ext.of.func);
    if (ft.nparams > FUZZ_MAX_ARGS || ft.nresults > FUZZ_MAX_ARGS) continue;
    wg_val *args = calloc(ft.nparams + 1, sizeof *args);
    wg_val *results = calloc(ft.nresults + 1, sizeof *results);
    if (args && results) {
      for (uint32_t j = 0; j < ft.nparams; j++) args[j] = zero_val(ft.params[j]);
      wg_store_set_fuel(s, FUZZ_FUEL);
      wg_store_clear_interrupt(s);
      (void)wg_call(s, ext.of.func, args, ft.nparams, results, ft.nresults);
    }
    free(args);
    free(results);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  wg_error err;
  wg_error_clear(&err);
  wg_module *m = wg_module_load(data, size, &err);
  if (!m) {
    if (err.code == WG_OK) abort(); /* a failure must say why */
    return 0;
  }
  wg_store_config cfg = {
      .max_memory_pages = FUZZ_MAX_PAGES,
      .max_table_elems = FUZZ_MAX_TABLE,
      .max_call_depth = 200,
      .max_stack_slots = 0,
      .fuel = FUZZ_FUEL,
  };
  wg_store *s = wg_store_new(&cfg);
  if (s) {
    wg_error_clear(&err);
    wg_instance *inst = wg_instance_new(s, m, resolve, s, &err);
    if (inst)
      call_exports(s, inst, m);
    else if (err.code == WG_OK)
      abort(); /* a failure must say why */
    wg_store_free(s);
  }
  wg_module_release(m);
  return 0;
}
