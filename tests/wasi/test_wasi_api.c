/* The public WASI API: the import table, the resolver's type checks,
** configuration errors, result getters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wasi_test.h"

static wg_name nm(const char *s) { return (wg_name){s, (uint32_t)strlen(s)}; }

static void table_is_complete_and_sorted(void **state) {
  (void)state;
  assert_int_equal(wg_wasi_func_count(), 46);
  const char *prev = "";
  for (size_t i = 0; i < wg_wasi_func_count(); i++) {
    const char *sig;
    const char *name = wg_wasi_func_name(i, &sig);
    assert_non_null(name);
    assert_true(strcmp(prev, name) < 0);
    assert_non_null(strchr(sig, ':'));
    prev = name;
  }
  assert_null(wg_wasi_func_name(46, NULL));
}

static void resolver_checks_types(void **state) {
  (void)state;
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  wg_error err;
  wg_wasi *w = wg_wasi_new(&cfg, &err);
  assert_non_null(w);
  uint8_t p4[4] = {WG_I32, WG_I32, WG_I32, WG_I32}, r1[1] = {WG_I32};
  wg_externtype ok = {.kind = WG_EXTERN_FUNC, .of.func = {4, 1, p4, r1}};
  wg_externtype bad = {.kind = WG_EXTERN_FUNC, .of.func = {3, 1, p4, r1}};
  wg_externtype mem = {.kind = WG_EXTERN_MEMORY};
  wg_extern out;
  /* no store bound yet */
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_write"), &ok, &out), WG_EINVAL);
  wg_store_config scfg = {0};
  scfg.fuel = -1;
  wg_store *s = wg_store_new(&scfg);
  wg_wasi_bind_store(w, s);
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_write"), &ok, &out), WG_OK);
  assert_int_equal(out.kind, WG_EXTERN_FUNC);
  wg_func *f1 = out.of.func;
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_write"), &ok, &out), WG_OK);
  assert_ptr_equal(out.of.func, f1);            /* made once per store */
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_write"), &bad, &out), WG_EIMPORTTYPE);
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_write"), &mem, &out), WG_EIMPORTTYPE);
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_writ"), &ok, &out), WG_EUNKNOWNIMPORT);
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm("fd_writex"), &ok, &out), WG_EUNKNOWNIMPORT);
  assert_int_equal(wg_wasi_resolve(w, nm("wasi_unstable"), nm("fd_write"), &ok, &out), WG_EUNKNOWNIMPORT);
  assert_int_equal(wg_wasi_resolve(w, nm("env"), nm("fd_write"), &ok, &out), WG_EUNKNOWNIMPORT);
  /* every row resolves with its own signature */
  for (size_t i = 0; i < wg_wasi_func_count(); i++) {
    const char *sig;
    const char *name = wg_wasi_func_name(i, &sig);
    uint8_t vt[16];
    uint32_t n = 0, np = 0;
    for (const char *c = sig; *c; c++) {
      if (*c == ':') np = n;
      else vt[n++] = *c == 'I' ? WG_I64 : WG_I32;
    }
    wg_externtype t = {.kind = WG_EXTERN_FUNC, .of.func = {np, n - np, vt, vt + np}};
    assert_int_equal(wg_wasi_resolve(w, nm("wasi_snapshot_preview1"), nm(name), &t, &out), WG_OK);
    wg_functype ft = wg_func_type(out.of.func);
    assert_int_equal(ft.nparams, np);
    assert_int_equal(ft.nresults, n - np);
  }
  wg_store_free(s);
  wg_wasi_free(w);
}

static void config_errors(void **state) {
  (void)state;
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  wg_error err;
  wg_wasi_preopen pre = {"/nonexistent/wasmgate-dir", "/", false, -1};
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  wg_error_clear(&err);
  assert_null(wg_wasi_new(&cfg, &err));
  assert_int_equal(err.code, WG_EIO);
  pre.host_path = "/tmp";
  cfg.max_open_fds = 3;                 /* stdio fills it: no room for fd 3 */
  wg_error_clear(&err);
  assert_null(wg_wasi_new(&cfg, &err));
  assert_int_equal(err.code, WG_ELIMIT);
  cfg.max_open_fds = WG_WASI_MAX_FDS + 1;
  wg_error_clear(&err);
  assert_null(wg_wasi_new(&cfg, &err));
  assert_int_equal(err.code, WG_EINVAL);
  cfg.max_open_fds = 4;
  wg_wasi *w = wg_wasi_new(&cfg, &err);
  assert_non_null(w);
  size_t len = 99;
  bool tr = true;
  assert_string_equal((const char *)wg_wasi_stdout(w, &len, &tr), "");
  assert_int_equal(len, 0);
  assert_false(tr);
  assert_int_equal(wg_wasi_limits(w), 0);
  assert_int_equal(wg_wasi_bytes_written(w), 0);
  wg_wasi_free(w);
  wg_wasi_free(NULL);
}

/* A module with no _start: wg_wasi_run answers WG_EUNKNOWNEXPORT. */
static void run_without_start(void **state) {
  (void)state;
  static const uint8_t empty[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  wg_error err;
  wg_error_clear(&err);
  wg_module *m = wg_module_load(empty, sizeof empty, &err);
  assert_non_null(m);
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  wg_wasi *w = wg_wasi_new(&cfg, &err);
  wg_store_config scfg = {0};
  scfg.fuel = -1;
  wg_store *s = wg_store_new(&scfg);
  wg_wasi_result r;
  assert_int_equal(wg_wasi_run(w, s, m, &r, &err), WG_EUNKNOWNEXPORT);
  assert_int_equal(r.trap, WG_EUNKNOWNEXPORT);
  wg_store_free(s);
  wg_wasi_free(w);
  wg_module_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(table_is_complete_and_sorted),
    cmocka_unit_test(resolver_checks_types),
    cmocka_unit_test(config_errors),
    cmocka_unit_test(run_without_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
