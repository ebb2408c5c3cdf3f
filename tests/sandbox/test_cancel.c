/*
** Cancel tokens (wg_exec_cancel, src/sandbox/watchdog.c) on in-process
** runs: a guest spinning with no deadline stops when another thread
** fires its token; a token fired before the run stops it before any
** guest code; one fired after the run changes nothing; a deadline that
** passes first is still a timeout.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "sandbox/sandbox_int.h"
#include "wasmgate/sandbox.h"

/* (module (func (export "_start") (loop (br 0)))) */
static const uint8_t spin_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  /* magic, version */
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,              /* type () -> () */
    0x03, 0x02, 0x01, 0x00,                          /* one function */
    0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b};

/* (module (func (export "_start"))) */
static const uint8_t empty_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x02, 0x01, 0x00,
    0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b};

static wg_module *load(const uint8_t *p, size_t n) {
  wg_error err;
  wg_module *m = wg_module_load(p, n, &err);
  assert_non_null(m);
  return m;
}

static void request(wg_exec_request *q, wg_module *m, wg_exec_cancel *c,
                    uint64_t timeout_ms) {
  static const char *const argv[] = {"spin.wasm"};
  wg_exec_request_init(q);
  q->module = m;
  q->argv = argv;
  q->argc = 1;
  q->limits.fuel = -1;                    /* only the token or the clock */
  q->limits.timeout_ms = timeout_ms;
  q->cancel = c;
}

static void *fire_later(void *arg) {
  struct timespec ts = {0, 50 * 1000000L};
  nanosleep(&ts, NULL);
  wg_exec_cancel_fire(arg);
  return NULL;
}

static void fired_during_the_run(void **state) {
  (void)state;
  wg_module *m = load(spin_wasm, sizeof spin_wasm);
  wg_exec_cancel *c = wg_exec_cancel_new();
  assert_non_null(c);
  struct pollfd pf = {wgs_cancel_fd(c), POLLIN, 0};
  assert_int_equal(poll(&pf, 1, 0), 0);   /* not yet readable */
  wg_exec_request q;
  request(&q, m, c, 0);                   /* no deadline at all */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, fire_later, c), 0);
  wg_exec_result res;
  assert_int_equal(wg_exec_run(&q, &res), WG_OK);
  pthread_join(th, NULL);
  assert_true(res.cancelled);
  assert_int_equal(res.trap, WG_TRAP_INTERRUPT);
  assert_int_equal(res.limit, WG_LIMIT_NONE);
  assert_string_equal(res.trap_message, "cancelled");
  assert_true(res.fuel_used == 0);        /* unmetered */
  assert_true(wg_exec_cancel_fired(c));
  assert_int_equal(poll(&pf, 1, 0), 1);   /* a worker pool would wake */
  wg_exec_cancel_fire(c);                 /* again: harmless */
  wg_exec_result_free(&res);
  wg_exec_cancel_free(c);
  wg_module_release(m);
}

static void fired_before_the_run(void **state) {
  (void)state;
  wg_module *m = load(spin_wasm, sizeof spin_wasm);
  wg_exec_cancel *c = wg_exec_cancel_new();
  wg_exec_cancel_fire(c);
  wg_exec_request q;
  request(&q, m, c, 0);
  wg_exec_result res;
  assert_int_equal(wg_exec_run(&q, &res), WG_OK);
  assert_true(res.cancelled);
  assert_int_equal(res.trap, WG_TRAP_INTERRUPT);
  assert_int_equal(res.exit_code, 1);
  assert_non_null(res.out);
  assert_int_equal(res.out_len, 0);
  assert_true(res.wall_ns == 0);          /* no guest code ran */
  wg_exec_result_free(&res);
  wg_exec_cancel_free(c);
  wg_module_release(m);
}

static void fired_after_the_run(void **state) {
  (void)state;
  wg_module *m = load(empty_wasm, sizeof empty_wasm);
  wg_exec_cancel *c = wg_exec_cancel_new();
  wg_exec_request q;
  request(&q, m, c, 0);
  wg_exec_result res;
  assert_int_equal(wg_exec_run(&q, &res), WG_OK);
  wg_exec_cancel_fire(c);
  assert_false(res.cancelled);
  assert_int_equal(res.trap, WG_OK);
  assert_int_equal(res.exit_code, 0);
  wg_exec_result_free(&res);
  /* The same kind of run, its token never fired, and none at all. */
  wg_exec_cancel_free(c);
  c = wg_exec_cancel_new();
  request(&q, m, c, 0);
  assert_int_equal(wg_exec_run(&q, &res), WG_OK);
  assert_false(res.cancelled);
  assert_int_equal(res.trap, WG_OK);
  wg_exec_result_free(&res);
  wg_exec_cancel_free(c);
  wg_exec_cancel_free(NULL);
  assert_false(wg_exec_cancel_fired(NULL));
  wg_module_release(m);
}

static void deadline_first_is_a_timeout(void **state) {
  (void)state;
  wg_module *m = load(spin_wasm, sizeof spin_wasm);
  wg_exec_cancel *c = wg_exec_cancel_new();
  wg_exec_request q;
  request(&q, m, c, 20);
  wg_exec_result res;
  assert_int_equal(wg_exec_run(&q, &res), WG_OK);
  assert_false(res.cancelled);
  assert_int_equal(res.limit, WG_LIMIT_TIMEOUT);
  assert_string_equal(res.trap_message, "wall-clock timeout");
  wg_exec_cancel_fire(c);                 /* after: nothing to stop */
  wg_exec_result_free(&res);
  wg_exec_cancel_free(c);
  wg_module_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fired_during_the_run),
      cmocka_unit_test(fired_before_the_run),
      cmocka_unit_test(fired_after_the_run),
      cmocka_unit_test(deadline_first_is_a_timeout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
