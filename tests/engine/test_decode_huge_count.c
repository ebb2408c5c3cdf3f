/*
** A tiny module that declares a huge count (2^32-1 functions, types,
** imports, ...) fails at once with WG_ECOUNT, before anything is allocated
** for the entries: the decoder checks every count against the bytes left.
**
** The largest single allocation is measured exactly: this program is linked
** with -Wl,--wrap=realloc, so the allocator hook's realloc goes through
** __wrap_realloc below.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/types.h>

#include "base/alloc.h"
#include "wgt.h"

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static size_t largest;   /* largest realloc request since reset */

void *__wrap_realloc(void *p, size_t n) {
  if (n > largest) largest = n;
  return __real_realloc(p, n);
}

/* No request may be larger than this: nothing in proportion to the count
** (the compiler's first buffers are the largest requests, about 2 KiB). */
#define SMALL 65536

typedef struct huge_case {
  const char *what;
  const char *hex;          /* after the 8-byte header */
  wg_err code;
  const char *message;
  int64_t offset;
  int section;
  int64_t func;
} huge_case;

/* Loads header + hex and checks the exact error, that at most a handful of
** small allocations happened, and that all of them were freed. */
static void check_fails_small(const huge_case *c) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_raw(&m, c->hex);
  size_t used = wg_alloc_used();
  largest = 0;
  (void)wg_alloc_count();
  wg_alloc_fail_after(0);              /* resets the allocation count */
  wg_error err;
  wg_module *mod = wgt_try_load(&m, &err);
  uint64_t nallocs = wg_alloc_count();
  if (mod) {
    wg_module_release(mod);
    fail_msg("%s: loaded", c->what);
  }
  wgt_check_error(&err, c->code, c->message, c->offset, c->section, c->func);
  if (largest > SMALL)
    fail_msg("%s: allocated %zu bytes at once", c->what, largest);
  if (nallocs > 32) fail_msg("%s: %llu allocations", c->what,
                            (unsigned long long)nallocs);
  if (wg_alloc_used() != used)
    fail_msg("%s: %zd bytes still allocated after the failed load", c->what,
             (ssize_t)(wg_alloc_used() - used));
}

/* The 20-byte modules: a section of 10 bytes holding the count
** ff ff ff ff 0f (2^32-1) and 5 more bytes. The count ends at offset 15. */
#define COUNT_MAX "ff ff ff ff 0f"
#define PAD5 "00 00 00 00 00"
static const huge_case section_counts[] = {
    {"types", "01 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "type count 4294967295 exceeds the 5 bytes left", 15, 1, -1},
    {"imports", "02 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "import count 4294967295 exceeds the 5 bytes left", 15, 2, -1},
    {"functions", "03 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "function count 4294967295 exceeds the 5 bytes left", 15, 3, -1},
    {"tables", "04 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "table count 4294967295 exceeds the 5 bytes left", 15, 4, -1},
    {"memories", "05 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "memory count 4294967295 exceeds the 5 bytes left", 15, 5, -1},
    {"globals", "06 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "global count 4294967295 exceeds the 5 bytes left", 15, 6, -1},
    {"exports", "07 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "export count 4294967295 exceeds the 5 bytes left", 15, 7, -1},
    {"element segments", "09 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "element segment count 4294967295 exceeds the 5 bytes left", 15, 9, -1},
    {"code bodies", "0a 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "code count 4294967295 exceeds the 5 bytes left", 15, 10, -1},
    {"data segments", "0b 0a " COUNT_MAX " " PAD5, WG_ECOUNT,
     "data segment count 4294967295 exceeds the 5 bytes left", 15, 11, -1},
};

static void test_section_counts(void **state) {
  for (size_t i = 0; i < sizeof section_counts / sizeof *section_counts; i++) {
    wgt_mod m;
    wgt_begin(&m);
    wgt_raw(&m, section_counts[i].hex);
    assert_int_equal(m.n, 20);
    check_fails_small(&section_counts[i]);
  }
}

/* Counts nested in an entry: parameters and results of a type, elements of
** a segment, local groups of a body. */
static const huge_case nested_counts[] = {
    /* type 0: form 60, then the parameter count (ends at 17) */
    {"parameters", "01 0a 01 60 " COUNT_MAX " 00 00 00", WG_ECOUNT,
     "parameter count 4294967295 exceeds the 3 bytes left", 17, 1, -1},
    {"results", "01 0a 01 60 00 " COUNT_MAX " 00 00", WG_ECOUNT,
     "result count 4294967295 exceeds the 2 bytes left", 18, 1, -1},
    /* a passive segment of function indices: flags 01, kind 00, count */
    {"elements", "09 0a 01 01 00 " COUNT_MAX " 00 00", WG_ECOUNT,
     "element count 4294967295 exceeds the 2 bytes left", 18, 9, -1},
    /* one type, one function, one body whose local group count is huge */
    {"local groups", "01 04 01 60 00 00  03 02 01 00  0a 09 01 07 " COUNT_MAX
     " 00 00", WG_ECOUNT,
     "local group count 4294967295 exceeds the 2 bytes left", 27, 10, -1},
    /* one group of 2^32-1 i32 locals: over the limit, nothing allocated */
    {"locals", "01 04 01 60 00 00  03 02 01 00  0a 0a 01 08 01 " COUNT_MAX
     " 7f 0b", WG_EIMPLIMIT, "too many locals (4294967295, limit 50000)",
     29, 10, -1},
    /* a data segment whose byte length is 2^32-1 */
    {"data bytes", "0b 0a 01 01 " COUNT_MAX " 00 00 00", WG_EEOF,
     "unexpected end", 17, 11, -1},
};

static void test_nested_counts(void **state) {
  for (size_t i = 0; i < sizeof nested_counts / sizeof *nested_counts; i++)
    check_fails_small(&nested_counts[i]);
}

/* br_table with 2^32-1 labels: the validator checks the count too. Type 0
** is [i32] -> [], function 0 is imported, function 1 is
** (local.get 0) (br_table <2^32-1 labels> ...). */
static void test_br_table_count(void **state) {
  huge_case c = {"br_table labels",
                 "01 05 01 60 01 7f 00  02 07 01 01 65 01 66 00 00"
                 "  03 02 01 00  0a 0d 01 0b 00  20 00  0e " COUNT_MAX
                 "  00 0b",
                 WG_ECOUNT, "br_table count exceeds the bytes left", 41,
                 WGT_ANY, 1};
  check_fails_small(&c);
}

/* The name section is advisory: a huge count there is ignored, and the
** module loads without allocating much. */
static void test_name_section_count(void **state) {
  wgt_mod m;
  wgt_begin(&m);
  wgt_sec(&m, 0, "\"name\" 01 05 " COUNT_MAX);
  size_t used = wg_alloc_used();
  largest = 0;
  wg_error err;
  wg_module *mod = wgt_try_load(&m, &err);
  assert_non_null(mod);
  assert_true(largest <= SMALL);
  assert_int_equal(wg_module_func_name(mod, 0).ptr, NULL);
  wg_module_release(mod);
  assert_int_equal(wg_alloc_used(), used);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_section_counts),
      cmocka_unit_test(test_nested_counts),
      cmocka_unit_test(test_br_table_count),
      cmocka_unit_test(test_name_section_count),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
