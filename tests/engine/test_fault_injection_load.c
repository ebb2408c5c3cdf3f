/*
** Fault injection (STYLE item 7) over loading: for n = 1, 2, 3, ... the
** n-th and every later allocation fail (wg_alloc_fail_after) until
** wg_module_load succeeds. Every failing load must return NULL with
** WG_ENOMEM, never crash, and leave wg_alloc_used where it was. Under the
** sanitizer build (WG_SANITIZE) ASan also checks every failure path.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/alloc.h"
#include "wgt.h"

/* Loads bytes under fault injection until a load succeeds; returns the
** number of runs. Problems are printed as they come and fail the test at
** the end, so one run shows all of them. */
static uint64_t load_under_faults(const uint8_t *bytes, size_t len,
                                  const char *what) {
  size_t start = wg_alloc_used();
  int unbalanced = 0, wrong_error = 0;
  uint64_t n;
  wg_module *m = NULL;
  for (n = 1; n < 100000 && !m; n++) {
    wg_error err;
    wgt_poison(&err);
    wg_alloc_fail_after(n);
    m = wg_module_load(bytes, len, &err);
    wg_alloc_fail_after(0);
    if (m) {
      assert_true(wg_module_func_count(m) > 0);
      wg_module_release(m);
    } else if (err.code != WG_ENOMEM && wrong_error++ < 5) {
      print_message("  %s: allocation %llu failed: the load says %s: %.*s\n",
                    what, (unsigned long long)n, wg_err_name(err.code),
                    WGT_MSG(&err));
    }
    if (wg_alloc_used() != start) {
      if (unbalanced++ < 5)
        print_message("  %s: allocation %llu failed%s: off by %zd bytes\n",
                      what, (unsigned long long)n, m ? " (load succeeded)" : "",
                      (ssize_t)(wg_alloc_used() - start));
      start = wg_alloc_used();   /* report each run's own difference */
    }
  }
  if (!m) fail_msg("%s: never loaded", what);
  n--;
  print_message("  %s: loaded at run %llu\n", what, (unsigned long long)n);
  if (wrong_error)
    fail_msg("%s: %d failed loads did not say WG_ENOMEM", what, wrong_error);
  if (unbalanced)
    fail_msg("%s: %d of %llu loads leave wg_alloc_used off", what, unbalanced,
             (unsigned long long)n);
  return n;
}

static uint8_t *every_section;   /* every_section.wasm, read by setup */
static size_t every_section_len;

static int setup(void **state) {
  char path[1024];
  snprintf(path, sizeof path, "%s/every_section.wasm", WGT_WASM_DIR);
  every_section = wgt_read_file(path, &every_section_len);
  return 0;
}

static int teardown(void **state) {
  free(every_section);
  return 0;
}

static void test_every_section(void **state) {
  uint64_t runs = load_under_faults(every_section, every_section_len,
                                    "every_section.wasm");
  assert_true(runs > 10);
}

/* A module whose compilation grows every buffer of the compiler: code
** (thousands of words), trap sites (hundreds), the control stack (blocks 40
** deep), the operand stack (100 values), plus many types and a name section. */
static void build_big(wgt_mod *m) {
  static char body[16384];
  size_t n = 0;
#define ADD(...) (n += (size_t)snprintf(body + n, sizeof body - n, __VA_ARGS__))
  ADD("01 02 7f");                                /* 2 i32 locals */
  for (int i = 0; i < 40; i++) ADD(" 02 40");     /* block */
  for (int i = 0; i < 100; i++) ADD(" 20 00 41 %02x 6a", i % 64);
  for (int i = 0; i < 99; i++) ADD(" 6a");
  ADD(" 21 01");
  for (int i = 0; i < 40; i++) ADD(" 0b");
  for (int i = 0; i < 300; i++)                   /* l1 := l1 / (p + 1) + i */
    ADD(" 20 01 20 00 41 01 6a 6d 41 %02x 6a 21 01", i % 64);
  ADD(" 20 01 0b");
#undef ADD
  wgt_begin(m);
  wgt_sec(m, 1, "05 60 01 7f 01 7f  60 00 00  60 01 7e 00  60 02 7f 7f 00"
                "  60 00 01 7c");
  wgt_sec(m, 3, "03 00 01 03");
  wgt_sec(m, 7, "01 \"big\" 00 00");
  const char *bodies[3] = {body, "00 0b", "00 20 00 10 00 1a 0b"};
  wgt_code(m, NULL, 3, bodies);
  wgt_sec(m, 0, "\"name\" 01 12 03 00 \"big\" 01 \"nop\" 02 \"again\"");
}

static void test_big_function(void **state) {
  static wgt_mod m;
  build_big(&m);
  wg_module_release(wgt_load(&m));   /* valid without faults */
  uint64_t runs = load_under_faults(m.b, m.n, "big function");
  assert_true(runs > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_section),
      cmocka_unit_test(test_big_function),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
