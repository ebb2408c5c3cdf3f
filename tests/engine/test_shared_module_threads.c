/*
** One module, shared: 4 threads each create 100 stores in turn, instantiate
** the same wg_module in each and call it. Every instance has its own state
** (global and memory), results are exact, and the module's reference count
** holds (the sanitizer build checks the memory; instances outlive the
** main thread's reference). shared.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "wgt.h"

enum { THREADS = 4, ROUNDS = 100 };

typedef struct worker {
  wg_module *mod;
  uint32_t id;
  int failures;
  char why[160];
} worker;

static void *work(void *arg) {
  worker *w = arg;
  wg_store_config cfg = {.max_stack_slots = 8192, .max_call_depth = 200,
                         .fuel = -1};
  for (int r = 0; r < ROUNDS && !w->failures; r++) {
    wg_store *s = wg_store_new(&cfg);
    wg_error err;
    wg_error_clear(&err);
    wg_instance *inst = s ? wg_instance_new(s, w->mod, NULL, NULL, &err) : NULL;
    wg_extern bump, fib;
    if (!inst ||
        wg_instance_export(inst, (wg_name){"bump", 4}, &bump) != WG_OK ||
        wg_instance_export(inst, (wg_name){"fib", 3}, &fib) != WG_OK) {
      snprintf(w->why, sizeof w->why, "round %d: no instance: %.100s", r, err.message);
      w->failures++;
    } else {
      for (uint32_t k = 1; k <= 3; k++) {
        wg_val a = wgt_i32(w->id), res;
        /* after k calls: n = k * id, mem[0] = k */
        if (wg_call(s, bump.of.func, &a, 1, &res, 1) != WG_OK ||
            res.of.i32 != k * w->id + 1000 * k) {
          snprintf(w->why, sizeof w->why, "round %d call %u: %u", r, k, res.of.i32);
          w->failures++;
        }
      }
      wg_val a = wgt_i32(15 + w->id % 3), res;
      static const uint32_t fibs[3] = {610, 987, 1597};
      if (wg_call(s, fib.of.func, &a, 1, &res, 1) != WG_OK ||
          res.of.i32 != fibs[w->id % 3]) {
        snprintf(w->why, sizeof w->why, "round %d: fib: %u", r, res.of.i32);
        w->failures++;
      }
    }
    wg_store_free(s);
  }
  return NULL;
}

static void test_threads(void **state) {
  wg_module *m = wgt_load_wasm("shared.wasm");
  pthread_t th[THREADS];
  worker w[THREADS];
  for (int i = 0; i < THREADS; i++) {
    w[i] = (worker){.mod = m, .id = (uint32_t)i + 1};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++)
    if (w[i].failures) fail_msg("thread %d: %s", i, w[i].why);
  wg_module_release(m);
}

/* Instances keep the module alive after its loader let it go. */
static void test_instance_holds_module(void **state) {
  wg_module *m = wgt_load_wasm("shared.wasm");
  wg_store *s = wg_store_new(NULL);
  wg_instance *inst = wgt_instantiate(s, m, NULL);
  wg_module_release(m);
  assert_ptr_equal(wg_instance_module(inst), m);
  assert_int_equal(wgt_call_i32(s, wgt_func(inst, "fib"), 1, 10), 55);
  wg_store_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_instance_holds_module),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
