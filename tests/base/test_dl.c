/*
** Unit tests for libraries loaded on first use (src/base/dl.h): a load
** resolves every symbol, a missing file or symbol fails with its exact
** message printed once on stderr, the outcome sticks, and concurrent
** first calls load once.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/dl.h"

/* Runs fn(lib) with stderr sent to a temporary file; returns what it wrote
** (static buffer). */
static const char *stderr_of(void (*fn)(wg_dl_lib *), wg_dl_lib *lib) {
  static char text[1024];
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  fflush(stderr);
  int saved = dup(2);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fileno(tmp), 2), 2);
  fn(lib);
  fflush(stderr);
  assert_int_equal(dup2(saved, 2), 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(text, 1, sizeof text - 1, tmp);
  text[n] = 0;
  fclose(tmp);
  return text;
}

static const char *const libc_names[] = {"strlen", "getpid"};

static void test_load(void **state) {
  (void)state;
  void *addrs[2] = {NULL, NULL};
  wg_dl_lib lib = WG_DL_LIB("libc.so.6", "the test", libc_names, addrs);
  assert_int_equal(lib.count, 2);
  assert_int_equal(atomic_load(&lib.state), WG_DL_UNTRIED);
  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(wg_dl_load(&lib, &err), WG_OK);
  assert_int_equal(err.code, WG_OK);
  assert_int_equal(atomic_load(&lib.state), WG_DL_LOADED);
  size_t (*len)(const char *) = (size_t (*)(const char *))addrs[0];
  pid_t (*pid)(void) = (pid_t (*)(void))addrs[1];
  assert_non_null(len);
  assert_int_equal(len("wasmgate"), 8);
  assert_int_equal(pid(), getpid());
  assert_true(wg_dl_ready(&lib));
  assert_int_equal(wg_dl_load(&lib, NULL), WG_OK);
}

static void ready_twice(wg_dl_lib *lib) {
  assert_false(wg_dl_ready(lib));
  assert_false(wg_dl_ready(lib)); /* no second attempt, no second message */
}

static void test_missing_file(void **state) {
  (void)state;
  void *addrs[2] = {NULL, NULL};
  wg_dl_lib lib = WG_DL_LIB("libwasmgate-absent.so.9", "the test",
                            libc_names, addrs);
  const char *want =
      "cannot load libwasmgate-absent.so.9 (needed for the test): "
      "libwasmgate-absent.so.9: cannot open shared object file: No such "
      "file or directory";
  const char *printed = stderr_of(ready_twice, &lib);
  char line[512];
  snprintf(line, sizeof line, "wasmgate: %s\n", want);
  assert_string_equal(printed, line);
  assert_int_equal(atomic_load(&lib.state), WG_DL_FAILED);
  assert_int_equal(lib.error.code, WG_ENOTFOUND);
  assert_string_equal(lib.error.message, want);

  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(wg_dl_load(&lib, &err), WG_ENOTFOUND);
  assert_int_equal(err.code, WG_ENOTFOUND);
  assert_string_equal(err.message, want);
  /* The first failure recorded in err is kept. */
  wg_error_clear(&err);
  wg_error_set(&err, WG_EINVAL, "earlier");
  assert_int_equal(wg_dl_load(&lib, &err), WG_ENOTFOUND);
  assert_int_equal(err.code, WG_EINVAL);
  assert_string_equal(err.message, "earlier");
  assert_null(addrs[0]);
}

static void test_missing_symbol(void **state) {
  (void)state;
  static const char *const names[] = {"strlen", "wg_no_such_symbol"};
  void *addrs[2] = {NULL, NULL};
  wg_dl_lib lib = WG_DL_LIB("libc.so.6", "the test", names, addrs);
  const char *printed = stderr_of(ready_twice, &lib);
  const char *prefix = "cannot load libc.so.6 (needed for the test): ";
  const char *suffix = ": undefined symbol: wg_no_such_symbol";
  const char *msg = lib.error.message;
  assert_int_equal(lib.error.code, WG_ENOTFOUND);
  assert_memory_equal(msg, prefix, strlen(prefix));
  assert_true(strlen(msg) > strlen(prefix) + strlen(suffix));
  assert_string_equal(msg + strlen(msg) - strlen(suffix), suffix);
  assert_memory_equal(printed, "wasmgate: ", 10);
  assert_string_equal(printed + 10 + strlen(msg), "\n");
  /* Nothing half-resolved is left behind. */
  assert_null(addrs[0]);
  assert_null(addrs[1]);
}

enum { THREADS = 8 };
static const char *const m_names[] = {"cos", "sin"};
static void *m_addrs[2];
static wg_dl_lib m_lib = WG_DL_LIB("libm.so.6", "the test", m_names, m_addrs);
static pthread_barrier_t start;

static void *first_call(void *arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  return wg_dl_ready(&m_lib) ? m_addrs[1] : NULL;
}

static void test_concurrent_first_calls(void **state) {
  (void)state;
  pthread_t t[THREADS];
  pthread_barrier_init(&start, NULL, THREADS);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, first_call, NULL), 0);
  void *seen[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], &seen[i]);
  pthread_barrier_destroy(&start);
  assert_int_equal(atomic_load(&m_lib.state), WG_DL_LOADED);
  for (int i = 0; i < THREADS; i++) {
    assert_non_null(seen[i]);
    assert_ptr_equal(seen[i], m_addrs[1]);
  }
  double (*cosine)(double) = (double (*)(double))m_addrs[0];
  assert_true(cosine(0.0) == 1.0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load),
      cmocka_unit_test(test_missing_file),
      cmocka_unit_test(test_missing_symbol),
      cmocka_unit_test(test_concurrent_first_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
