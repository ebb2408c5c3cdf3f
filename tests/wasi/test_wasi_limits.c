/* The limits the WASI layer enforces: open fds (EMFILE) and bytes written
** to files beneath preopens (ENOSPC), each recorded in the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "wasi_test.h"

static void open_fds_until_the_limit(void **state) {
  (void)state;
  char *t = wt_sandbox();
  const char *root = wt_path(t, "root");
  wt_write(wt_path(root, "file"), "x");
  const char *ops[] = {"openfds:file", "create:after", NULL};
  unsigned limits = 0;
  /* 10 fds: stdio (3) + the preopen (1) + 6 */
  char *out = wt_fsprobe_ex(root, false, 10, 0, ops, &limits);
  assert_string_equal(out, "openfds file = 33 after 6\ncreate after = 33\n");
  assert_int_equal(limits, WG_WASI_LIMIT_FDS);
  free(out);
  /* EMFILE came before the file was created */
  struct stat st;
  assert_int_not_equal(stat(wt_path(root, "after"), &st), 0);
  /* without the limit reached: no flag */
  const char *ops2[] = {"open:file", NULL};
  out = wt_fsprobe_ex(root, false, 10, 0, ops2, &limits);
  assert_string_equal(out, "open file = 0\n");
  assert_int_equal(limits, 0);
  free(out);
  wt_rmrf(t);
  free(t);
}

static void write_quota(void **state) {
  (void)state;
  char *t = wt_sandbox();
  const char *root = wt_path(t, "root");
  const char *ops[] = {"fill:out:3000", NULL};
  unsigned limits = 0;
  char *out = wt_fsprobe_ex(root, false, 0, 10000, ops, &limits);
  /* 3 x 3000, then a short write of 1000, then NOSPC */
  assert_string_equal(out, "fill out = 51 total 10000\n");
  assert_int_equal(limits, WG_WASI_LIMIT_WRITE);
  free(out);
  struct stat st;
  assert_int_equal(stat(wt_path(root, "out"), &st), 0);
  assert_int_equal(st.st_size, 10000);
  /* growing a file counts too: set_size and allocate */
  const char *ops2[] = {"create:f", "setsize:f:1000", "setsize:f:60", "allocate:f:200",
                        "allocate:f:50", "write:f:0123456789", "write:f:0123456789",
                        "setsize:f:0", "write:f:abc", NULL};
  out = wt_fsprobe_ex(root, false, 0, 80, ops2, &limits);
  assert_string_equal(out,
    "create f = 0\n"
    "setsize f 1000 = 51\n"
    "setsize f 60 = 0\n"
    "allocate f 200 = 51\n"
    "allocate f 50 = 0\n"
    "write f 0123456789 = 0\n"     /* 60 + 10 = 70 */
    "write f 0123456789 = 0\n"     /* short: 10 of 10 fit? 80 - 70 = 10 */
    "setsize f 0 = 0\n"            /* shrinking is free */
    "write f abc = 51\n");         /* quota spent */
  assert_int_equal(limits, WG_WASI_LIMIT_WRITE);
  free(out);
  /* no quota: nothing recorded */
  const char *ops3[] = {"fill:big:65536", NULL};
  (void)ops3;
  wt_rmrf(t);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(open_fds_until_the_limit),
    cmocka_unit_test(write_quota),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
