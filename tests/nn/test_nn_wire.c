/*
** The server's side of WASI-NN under process isolation: wg_nn_serve fed
** forged call messages, as a compromised worker could send them. A
** malformed message is refused with WG_EINVAL and an exact reason before
** anything is done; a well-formed one with bad values gets the ABI errno
** (handles checked in the execution's own tables: another execution's
** handle numbers, out-of-range handles and oversize lengths reach nothing).
** Runs under ASan in CI's sanitizer build.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_backend.h"
#include "nn_test.h"

static char dir[] = "/tmp/wg-nn-wire-XXXXXX";
static wg_nn_host *host;

static int group_setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  host = wg_nn_host_new(fake_backend(), NULL);
  wg_error err;
  const char *names[] = {"chat", "secret"};
  for (int i = 0; i < 2; i++) {
    wg_nn_model_cfg mc = {names[i], nnt_write_file(dir, names[i], "Hello"), 0, 0, 1};
    if (wg_nn_host_add(host, &mc, &err)) return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  wg_nn_host_free(host);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A message under construction. */
typedef struct msg {
  uint8_t b[512];
  size_t n;
} msg;

static void put32(msg *m, uint32_t v) {
  for (int i = 0; i < 4; i++) m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

/* The header: op, h, a, b, n, size (u64), deadline (u64, 0: none). */
static void head(msg *m, uint32_t op, uint32_t h, uint32_t a, uint32_t b,
                 uint32_t n, uint64_t size) {
  m->n = 0;
  put32(m, op);
  put32(m, h);
  put32(m, a);
  put32(m, b);
  put32(m, n);
  put32(m, (uint32_t)size);
  put32(m, (uint32_t)(size >> 32));
  put32(m, 0);
  put32(m, 0);
}

static void part(msg *m, const void *p, uint32_t n) {
  put32(m, p ? n : UINT32_MAX);
  if (p && n) {
    memcpy(m->b + m->n, p, n);
    m->n += n;
  }
}

/* One call of nothing but a header and two absent parts. */
static void simple(msg *m, uint32_t op, uint32_t h, uint32_t a, uint32_t b) {
  head(m, op, h, a, b, 0, 0);
  part(m, NULL, 0);
  part(m, NULL, 0);
}

/* The answer of a message: errno, value, interrupted, the part's bytes. */
typedef struct answer {
  uint32_t err, value;
  uint8_t interrupted;
  uint32_t len;
  const uint8_t *data;
} answer;

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static answer serve_ok(wg_nn *nn, const msg *m) {
  const uint8_t *r;
  size_t n;
  wg_error err;
  wg_error_clear(&err);
  wg_err e = wg_nn_serve(nn, m->b, m->n, &r, &n, &err);
  if (e) fail_msg("refused: %s", err.message);
  assert_true(n >= 13);
  answer a = {get32(r), get32(r + 4), r[8], get32(r + 9), NULL};
  if (a.len != UINT32_MAX) {
    assert_int_equal(n, 13 + a.len);
    a.data = r + 13;
  } else {
    assert_int_equal(n, 13);
  }
  return a;
}

/* A malformed message: refused with exactly `why`. */
static void refused(wg_nn *nn, const uint8_t *b, size_t n, const char *why) {
  const uint8_t *r = NULL;
  size_t rn = 0;
  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(wg_nn_serve(nn, b, n, &r, &rn, &err), WG_EINVAL);
  assert_string_equal(err.message, why);
}

static wg_nn *new_nn(void) {
  static const char *const models[] = {"chat"};
  wg_nn_config cfg = {host, models, 1, false, NULL, NULL};
  wg_nn *nn = wg_nn_new(&cfg);
  assert_non_null(nn);
  return nn;
}

/* load_by_name(name): the graph handle. */
static uint32_t load(wg_nn *nn, const char *name) {
  msg m;
  head(&m, WG_NN_OP_LOAD_BY_NAME, 0, 0, 0, 0, strlen(name));
  part(&m, name, (uint32_t)strlen(name));
  part(&m, NULL, 0);
  answer a = serve_ok(nn, &m);
  assert_int_equal(a.err, 0);
  return a.value;
}

static uint32_t context(wg_nn *nn, uint32_t g) {
  msg m;
  simple(&m, WG_NN_OP_INIT_EXECUTION_CONTEXT, g, 0, 0);
  answer a = serve_ok(nn, &m);
  assert_int_equal(a.err, 0);
  return a.value;
}

/* ------------------------------------------------------------------ */

static void malformed_messages_are_refused(void **state) {
  (void)state;
  wg_nn *nn = new_nn();
  msg m;
  refused(nn, (const uint8_t *)"", 0,
          "wasi_ephemeral_nn: a call of 0 bytes is too short");
  simple(&m, WG_NN_OP_COMPUTE, 0, 0, 0);
  refused(nn, m.b, m.n - 1, "wasi_ephemeral_nn: a call of 43 bytes is too short");
  simple(&m, WG_NN_NOPS, 0, 0, 0);
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: unknown call 12");
  simple(&m, 0xffffffffu, 0, 0, 0);
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: unknown call 4294967295");
  /* a part longer than the message */
  head(&m, WG_NN_OP_SET_INPUT, 0, 0, 3, 0, 100);
  part(&m, "abc", 3);
  m.b[m.n - 7] = 100;              /* the length says 100, 3 follow */
  part(&m, NULL, 0);
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: the parts do not add up to the "
                        "call's 47 bytes");
  /* bytes past the last part */
  simple(&m, WG_NN_OP_COMPUTE, 0, 0, 0);
  m.b[m.n++] = 0;
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: the parts do not add up to the "
                        "call's 45 bytes");
  /* a part above its limit (its bytes need not even be there) */
  head(&m, WG_NN_OP_SET_INPUT, 0, 0, 3, 0, 0);
  put32(&m, WG_NN_MAX_INPUT + 1);
  put32(&m, 0);
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: part 0 of 16777217 bytes is above "
                        "its limit (16777216)");
  head(&m, WG_NN_OP_LOAD, 0, 6, 0, 1, 0);
  put32(&m, WG_NN_MAX_REMOTE_MODEL + 1);
  put32(&m, 0);
  refused(nn, m.b, m.n, "wasi_ephemeral_nn: part 0 of 268435457 bytes is above "
                        "its limit (268435456)");
  /* nothing was done: no graph exists */
  simple(&m, WG_NN_OP_UNLOAD, 0, 0, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_INVALID_ARGUMENT);
  wg_nn_free(nn);
}

static void bad_handles_get_errno_1(void **state) {
  (void)state;
  wg_nn *nn = new_nn();
  msg m;
  static const uint32_t ops[] = {
      WG_NN_OP_UNLOAD, WG_NN_OP_INIT_EXECUTION_CONTEXT,
      WG_NN_OP_FINALIZE_EXECUTION_CONTEXT, WG_NN_OP_COMPUTE,
      WG_NN_OP_COMPUTE_SINGLE, WG_NN_OP_FINI_SINGLE, WG_NN_OP_GET_OUTPUT,
      WG_NN_OP_GET_OUTPUT_SINGLE};
  static const uint32_t handles[] = {1, 2, 15, 16, 64, 65535, 0x7fffffffu,
                                     0x80000000u, 0xffffffffu};
  uint32_t g = load(nn, "chat"), x = context(nn, g);
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
    for (size_t k = 0; k < sizeof handles / sizeof *handles; k++) {
      simple(&m, ops[i], handles[k], 0, 4096);
      answer a = serve_ok(nn, &m);
      assert_int_equal(a.err, WG_NN_INVALID_ARGUMENT);
      assert_int_equal(a.value, 0);
      assert_int_equal(a.len, UINT32_MAX);
      assert_int_equal(a.interrupted, 0);
    }
  }
  /* the real ones still work */
  simple(&m, WG_NN_OP_FINALIZE_EXECUTION_CONTEXT, x, 0, 0);
  assert_int_equal(serve_ok(nn, &m).err, 0);
  simple(&m, WG_NN_OP_UNLOAD, g, 0, 0);
  assert_int_equal(serve_ok(nn, &m).err, 0);
  wg_nn_free(nn);
}

static void another_executions_handles_reach_nothing(void **state) {
  (void)state;
  wg_nn *a = new_nn(), *b = new_nn();
  msg m;
  /* a has graph 0 and context 0 with a prompt; b has nothing */
  load(a, "chat");
  uint32_t g = load(a, "chat");                     /* cached: the same */
  uint32_t x = context(a, g);
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, 5);
  part(&m, "hello", 5);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(a, &m).err, 0);
  /* a's handle numbers sent to b */
  simple(&m, WG_NN_OP_COMPUTE, x, 0, 0);
  assert_int_equal(serve_ok(b, &m).err, WG_NN_INVALID_ARGUMENT);
  simple(&m, WG_NN_OP_GET_OUTPUT, x, 0, 4096);
  assert_int_equal(serve_ok(b, &m).err, WG_NN_INVALID_ARGUMENT);
  simple(&m, WG_NN_OP_INIT_EXECUTION_CONTEXT, g, 0, 0);
  assert_int_equal(serve_ok(b, &m).err, WG_NN_INVALID_ARGUMENT);
  simple(&m, WG_NN_OP_UNLOAD, g, 0, 0);
  assert_int_equal(serve_ok(b, &m).err, WG_NN_INVALID_ARGUMENT);
  /* and a's are intact */
  simple(&m, WG_NN_OP_COMPUTE, x, 0, 0);
  assert_int_equal(serve_ok(a, &m).err, 0);
  simple(&m, WG_NN_OP_GET_OUTPUT, x, 0, 4096);
  answer r = serve_ok(a, &m);
  assert_int_equal(r.err, 0);
  assert_int_equal(r.len, r.value);
  assert_memory_equal(r.data, "Hello", 5);
  wg_nn_free(a);
  wg_nn_free(b);
}

static void models_of_other_tenants_are_not_found(void **state) {
  (void)state;
  wg_nn *nn = new_nn();
  msg m;
  const char *names[] = {"secret", "nope", ""};
  for (int i = 0; i < 3; i++) {
    uint32_t n = (uint32_t)strlen(names[i]);
    head(&m, WG_NN_OP_LOAD_BY_NAME, 0, 0, 0, 0, n);
    part(&m, names[i], n);
    part(&m, NULL, 0);
    assert_int_equal(serve_ok(nn, &m).err, WG_NN_NOT_FOUND);
  }
  /* a name whose stated size is not its bytes' */
  head(&m, WG_NN_OP_LOAD_BY_NAME, 0, 0, 0, 0, 1000);
  part(&m, "chat", 4);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_NOT_FOUND);
  /* a name claimed longer than any: not found without bytes */
  head(&m, WG_NN_OP_LOAD_BY_NAME, 0, 0, 0, 0, WG_NN_MAX_NAME + 1);
  part(&m, NULL, 0);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_NOT_FOUND);
  wg_nn_free(nn);
}

static void oversize_lengths(void **state) {
  (void)state;
  wg_nn *nn = new_nn();
  msg m;
  /* a config claimed above its limit (before chat is cached: a cached
  ** graph ignores the config) */
  head(&m, WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG, 0, 0, WG_NN_MAX_CONFIG + 1, 0, 4);
  part(&m, "chat", 4);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_TOO_LARGE);
  /* one whose bytes do not match its stated length */
  head(&m, WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG, 0, 0, 10, 0, 4);
  part(&m, "chat", 4);
  part(&m, "{}", 2);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_INVALID_ARGUMENT);
  uint32_t x = context(nn, load(nn, "chat"));
  /* an input claimed above the limit: errno 7, nothing read */
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, (uint64_t)WG_NN_MAX_INPUT + 1);
  part(&m, NULL, 0);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_TOO_LARGE);
  /* a size that the bytes do not match */
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, 100);
  part(&m, "abc", 3);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_INVALID_ARGUMENT);
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, 3);
  part(&m, NULL, 0);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_INVALID_ARGUMENT);
  /* guest load is off here: errno 1 whatever the size */
  head(&m, WG_NN_OP_LOAD, 0, 6, 0, 1, 1ull << 40);
  part(&m, NULL, 0);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, WG_NN_INVALID_ARGUMENT);
  /* an output larger than the guest's buffer: errno 7, the size needed,
  ** no bytes */
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, 2);
  part(&m, "hi", 2);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, 0);
  simple(&m, WG_NN_OP_COMPUTE, x, 0, 0);
  assert_int_equal(serve_ok(nn, &m).err, 0);
  simple(&m, WG_NN_OP_GET_OUTPUT, x, 0, 2);
  answer a = serve_ok(nn, &m);
  assert_int_equal(a.err, WG_NN_TOO_LARGE);
  assert_int_equal(a.value, 5);
  assert_int_equal(a.len, UINT32_MAX);
  wg_nn_free(nn);
}

static bool always_gone(void *user) {
  (void)user;
  return true;
}

static void a_gone_worker_stops_compute(void **state) {
  (void)state;
  wg_nn *nn = new_nn();
  msg m;
  uint32_t x = context(nn, load(nn, "chat"));
  head(&m, WG_NN_OP_SET_INPUT, x, 0, 3, 0, 2);
  part(&m, "hi", 2);
  part(&m, NULL, 0);
  assert_int_equal(serve_ok(nn, &m).err, 0);
  wg_nn_set_cancel(nn, 0, always_gone, NULL);
  simple(&m, WG_NN_OP_COMPUTE, x, 0, 0);
  answer a = serve_ok(nn, &m);
  assert_int_equal(a.err, WG_NN_RUNTIME_ERROR);
  assert_int_equal(a.interrupted, 1);
  /* a deadline in the past does the same: the server's cap ... */
  wg_nn_set_cancel(nn, 1, NULL, NULL);
  a = serve_ok(nn, &m);
  assert_int_equal(a.interrupted, 1);
  /* ... which a later deadline in the message cannot lift */
  m.b[32] = 0x7f;                  /* the message's deadline: far away */
  a = serve_ok(nn, &m);
  assert_int_equal(a.interrupted, 1);
  /* the message's own, in the past, with no cap */
  wg_nn_set_cancel(nn, 0, NULL, NULL);
  m.b[32] = 0;
  m.b[28] = 1;
  a = serve_ok(nn, &m);
  assert_int_equal(a.interrupted, 1);
  /* none: it computes */
  m.b[28] = 0;
  a = serve_ok(nn, &m);
  assert_int_equal(a.err, 0);
  assert_int_equal(a.interrupted, 0);
  wg_nn_free(nn);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(malformed_messages_are_refused),
      cmocka_unit_test(bad_handles_get_errno_1),
      cmocka_unit_test(another_executions_handles_reach_nothing),
      cmocka_unit_test(models_of_other_tenants_are_not_found),
      cmocka_unit_test(oversize_lengths),
      cmocka_unit_test(a_gone_worker_stops_compute),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
