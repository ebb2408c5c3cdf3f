/*
** wg_store_interrupt from another thread stops a guest that never returns:
** the call comes back with WG_TRAP_INTERRUPT. The request stays until
** wg_store_clear_interrupt. (No timing is asserted: the interrupting
** thread waits about 50 ms so that the guest is surely running.)
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "wgt.h"

static void *interrupt_later(void *arg) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  wg_store_interrupt(arg);
  return NULL;
}

static void test_interrupt_loop(void **state) {
  wg_module *m = wgt_load_wasm("loops.wasm");
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, m, NULL);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, interrupt_later, s), 0);
  wg_err e = wg_call(s, wgt_func(inst, "spin"), NULL, 0, NULL, 0);
  pthread_join(th, NULL);
  assert_int_equal(e, WG_TRAP_INTERRUPT);
  assert_int_equal(wg_store_trap(s)->code, WG_TRAP_INTERRUPT);
  assert_memory_equal(wg_store_trap(s)->message, "interrupted", 11);

  /* the request stays: the next call stops at once */
  wg_val arg = wgt_i32(10), res;
  assert_int_equal(wg_call(s, wgt_func(inst, "count"), &arg, 1, &res, 1),
                   WG_TRAP_INTERRUPT);
  wg_store_clear_interrupt(s);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "count"), 1, 10), 10);
  wg_store_free(s);
  wg_module_release(m);
}

/* Infinite recursion without loops: calls check the word too. */
static void test_interrupt_calls(void **state) {
  wg_module *m = wgt_load_wasm("loops.wasm");
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, m, NULL);
  wg_store_interrupt(s);
  assert_int_equal(wg_call(s, wgt_func(inst, "forever"), NULL, 0, NULL, 0),
                   WG_TRAP_INTERRUPT);
  wg_store_free(s);
  wg_module_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interrupt_loop),
      cmocka_unit_test(test_interrupt_calls),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
