/*
** Linking: an instance imports a memory, a table, globals and a function
** exported by another instance and shares them; an import of the wrong type
** fails with WG_EIMPORTTYPE, a missing one with WG_EUNKNOWNIMPORT, and both
** messages name module.name. provider.wat, consumer.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wgt.h"

static wg_module *provider_mod, *consumer_mod;

static int setup(void **state) {
  provider_mod = wgt_load_wasm("provider.wasm");
  consumer_mod = wgt_load_wasm("consumer.wasm");
  return 0;
}

static int teardown(void **state) {
  wg_module_release(provider_mod);
  wg_module_release(consumer_mod);
  return 0;
}

static void test_shared_objects(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_instance *p = wgt_instantiate(s, provider_mod, NULL);
  wgt_linker l = {0};
  wgt_define_instance(&l, "p", p);
  wg_instance *c1 = wgt_instantiate(s, consumer_mod, &l);
  wg_instance *c2 = wgt_instantiate(s, consumer_mod, &l);
  assert_int_equal(wgt_call_i32(s, wgt_func(c1, "run"), 0), 42);
  assert_int_equal(wgt_call_i32(s, wgt_func(p, "peek"), 1, 10), 42);
  wg_global *g = wgt_export(p, "g", WG_EXTERN_GLOBAL).of.global;
  assert_int_equal(wg_global_get(g).of.i32, 6);
  assert_int_equal(wgt_call_i32(s, wgt_func(c2, "run"), 0), 42);
  assert_int_equal(wg_global_get(g).of.i32, 7);
  assert_int_equal(wgt_call_i32(s, wgt_func(c1, "direct"), 0), 10);
  /* the same objects, seen from both sides */
  assert_ptr_equal(wgt_export(p, "mem", WG_EXTERN_MEMORY).of.memory,
                   l.items[0].ext.of.memory);
  assert_int_equal(wg_global_set(g, wgt_i32(100)), WG_OK);
  assert_int_equal(wgt_call_i32(s, wgt_func(c1, "run"), 0), 42);
  assert_int_equal(wg_global_get(g).of.i32, 101);
  wg_store_free(s);
}

/* Instantiates m against the provider's exports (plus `extra` for name);
** expects failure with code and message. */
static void expect_link_error(wg_module *m, const char *name, wg_extern *extra,
                              wg_err code, const char *message) {
  wg_store *s = wg_store_new(NULL);
  wg_instance *p = wgt_instantiate(s, provider_mod, NULL);
  wgt_linker l = {0};
  if (extra) wgt_define(&l, "p", name, *extra);
  wgt_define_instance(&l, "p", p);
  wg_error err;
  wg_error_clear(&err);
  wg_instance *inst = wg_instance_new(s, m, wgt_resolve, &l, &err);
  wg_store_free(s);
  assert_null(inst);
  wgt_check_error(&err, code, message, -1, -1, -1);
}

/* A module importing one thing: p.<name> with the import description hex. */
static wg_module *importer(const char *hex) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 1, "02 60 02 7f 7f 01 7f  60 01 7f 00");
  wgt_sec(&m, 2, hex);
  return wgt_load(&m);
}

static void test_missing_import(void **state) {
  wg_module *m = importer("01 \"p\" \"nope\" 00 00");
  expect_link_error(m, NULL, NULL, WG_EUNKNOWNIMPORT, "unknown import: p.nope");
  wg_module_release(m);
  m = importer("01 \"q\" \"add\" 00 00");          /* right name, wrong module */
  expect_link_error(m, NULL, NULL, WG_EUNKNOWNIMPORT, "unknown import: q.add");
  wg_module_release(m);
  /* no resolver at all */
  wg_store *s = wg_store_new(NULL);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, consumer_mod, NULL, NULL, &err));
  wgt_check_error(&err, WG_EUNKNOWNIMPORT, "unknown import: p.mem", -1, -1, -1);
  wg_store_free(s);
}

static void test_import_type_mismatch(void **state) {
  static const struct { const char *hex, *message; } cases[] = {
      /* add is [i32 i32] -> [i32], imported as [i32] -> [] */
      {"01 \"p\" \"add\" 00 01", "incompatible import type: p.add"},
      /* a function imported as a memory */
      {"01 \"p\" \"add\" 02 00 01", "incompatible import type: p.add"},
      /* mem has 1 page, imported with minimum 2 */
      {"01 \"p\" \"mem\" 02 00 02", "incompatible import type: p.mem"},
      /* mem has maximum 4, imported with maximum 2 */
      {"01 \"p\" \"mem\" 02 01 01 02", "incompatible import type: p.mem"},
      /* tab has 3 entries, imported with minimum 5 */
      {"01 \"p\" \"tab\" 01 70 00 05", "incompatible import type: p.tab"},
      /* tab holds funcref, imported as externref */
      {"01 \"p\" \"tab\" 01 6f 00 01", "incompatible import type: p.tab"},
      /* g is a mutable i32, imported as immutable, then as a mutable i64 */
      {"01 \"p\" \"g\" 03 7f 00", "incompatible import type: p.g"},
      {"01 \"p\" \"g\" 03 7e 01", "incompatible import type: p.g"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    wg_module *m = importer(cases[i].hex);
    expect_link_error(m, NULL, NULL, WG_EIMPORTTYPE, cases[i].message);
    wg_module_release(m);
  }
}

/* A resolver may answer WG_EIMPORTTYPE itself. */
static wg_err refuse(void *user, wg_name module, wg_name name,
                     const wg_externtype *type, wg_extern *out) {
  return WG_EIMPORTTYPE;
}

static void test_resolver_refuses(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_instance_new(s, consumer_mod, refuse, NULL, &err));
  wgt_check_error(&err, WG_EIMPORTTYPE, "incompatible import type: p.mem", -1,
                  -1, -1);
  wg_store_free(s);
}

/* wg_instance_new fills err on failure even when the caller did not clear
** it, as wg_module_load does (callers write `wg_error err;`). */
static void test_error_filled_without_clear(void **state) {
  wg_store *s = wg_store_new(NULL);
  wg_error err;
  wgt_poison(&err);
  wg_instance *inst = wg_instance_new(s, consumer_mod, NULL, NULL, &err);
  wg_store_free(s);
  assert_null(inst);
  wgt_check_error(&err, WG_EUNKNOWNIMPORT, "unknown import: p.mem", -1, -1, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shared_objects),
      cmocka_unit_test(test_missing_import),
      cmocka_unit_test(test_import_type_mismatch),
      cmocka_unit_test(test_resolver_refuses),
      cmocka_unit_test(test_error_filled_without_clear),
  };
  return cmocka_run_group_tests_name("linking", tests, setup, teardown);
}
