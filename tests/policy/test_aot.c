/*
** The AOT tier (src/aot, src/policy/tier.c): traps and limits of compiled
** code, the interrupt word at loop back-edges, host imports, the cache
** (reuse, corrupt and stale entries rebuilt), missing or failing tools,
** and policies: a looping policy stopped by its deadline, an out-of-bounds
** read failing closed, and the background swap under concurrent decisions.
** Objects are compiled with -O1 into caches under the build directory.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aot/aot.h"
#include "wasmgate/policy.h"

#if !defined(WG_AOT_CACHE) || !defined(WG_AOT_WASM_DIR)
#error "WG_AOT_CACHE and WG_AOT_WASM_DIR must be defined"
#endif

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return p;
}

static wg_module *load_module(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.wasm", WG_AOT_WASM_DIR, name);
  size_t n;
  uint8_t *b = read_all(path, &n);
  wg_error err;
  wg_error_clear(&err);
  wg_module *m = wg_module_load(b, n, &err);
  if (!m) fail_msg("%s: %s", name, err.message);
  free(b);
  return m;
}

static wga_toolchain *toolchain(const char *cache) {
  wga_toolchain_config c = {.cache_dir = cache, .opt = "-O1"};
  wg_error err;
  wg_error_clear(&err);
  wga_toolchain *t = wga_toolchain_new(&c, &err);
  if (!t) fail_msg("toolchain: %s", err.message);
  return t;
}

/* ---- traps, limits, host calls ---- */

static int host_calls;

static wg_err host(void *user, wga_instance *inst, uint32_t import,
                   uint64_t *slots) {
  (void)user;
  assert_int_equal(import, 0);
  host_calls++;
  if ((uint32_t)slots[0] == 13) {
    return wga_host_trap(inst, WG_TRAP_HOST, "the host refuses %u",
                         (uint32_t)slots[0]);
  }
  slots[0] = (uint32_t)slots[0] * 2;
  return WG_OK;
}

static wg_err call1(wga_instance *i, wga_object *o, const char *name,
                    uint64_t *s, wg_error *err) {
  int x = wga_object_export(o, name);
  assert_true(x >= 0);
  wg_error_clear(err);
  return wga_call(i, x, s, err);
}

static void test_traps(void **st) {
  (void)st;
  wga_toolchain *t = toolchain(WG_AOT_CACHE);
  wg_module *m = load_module("aot_traps");
  wg_error err;
  wg_error_clear(&err);
  wga_object *o = wga_object_get(t, m, NULL, &err);
  if (!o) fail_msg("object: %s", err.message);
  assert_int_equal(wga_object_export(o, "nope"), -1);
  atomic_uint intr = 0;
  wga_instance_config c = {.interrupt = &intr, .max_pages = 2, .host = host};
  wga_instance *i = wga_instance_new(o, &c, &err);
  if (!i) fail_msg("instance: %s", err.message);
  uint64_t s[4];

  s[0] = 0;
  assert_int_equal(call1(i, o, "oob", s, &err), WG_TRAP_MEMORY);
  assert_string_equal(err.message, "out of bounds memory access");
  s[0] = 1, s[1] = 0;
  assert_int_equal(call1(i, o, "div", s, &err), WG_TRAP_DIVZERO);
  s[0] = 0x80000000u, s[1] = 0xffffffffu;
  assert_int_equal(call1(i, o, "div", s, &err), WG_TRAP_OVERFLOW);
  assert_int_equal(call1(i, o, "unreachable", s, &err), WG_TRAP_UNREACHABLE);
  s[0] = 0;
  assert_int_equal(call1(i, o, "recurse", s, &err), WG_TRAP_STACK);
  s[0] = 1;                     /* $div: another type */
  assert_int_equal(call1(i, o, "indirect", s, &err), WG_TRAP_INDIRECT);
  s[0] = 7;                     /* past the table */
  assert_int_equal(call1(i, o, "indirect", s, &err), WG_TRAP_INDIRECT);
  s[0] = 0;
  assert_int_equal(call1(i, o, "indirect", s, &err), WG_OK);
  assert_int_equal(s[0], 1);
  /* After all those traps the instance still computes (depth restored). */
  s[0] = 42, s[1] = 6;
  assert_int_equal(call1(i, o, "div", s, &err), WG_OK);
  assert_int_equal(s[0], 7);
  /* Memory: the limit (2 pages) wins over the module's maximum (4). */
  assert_int_equal(wga_memory_size(i), 65536);
  s[0] = 1;
  assert_int_equal(call1(i, o, "grow", s, &err), WG_OK);
  assert_int_equal((uint32_t)s[0], 1);
  s[0] = 1;
  assert_int_equal(call1(i, o, "grow", s, &err), WG_OK);
  assert_int_equal((uint32_t)s[0], 0xffffffffu);
  assert_int_equal(wga_memory_size(i), 131072);
  assert_non_null(wga_memory_translate(i, 131072 - 8, 8));
  assert_null(wga_memory_translate(i, 131072 - 8, 9));
  /* Host imports: a result, and an error that traps with its message. */
  s[0] = 21;
  assert_int_equal(call1(i, o, "callhost", s, &err), WG_OK);
  assert_int_equal(s[0], 42);
  s[0] = 13;
  assert_int_equal(call1(i, o, "callhost", s, &err), WG_TRAP_HOST);
  assert_string_equal(err.message, "the host refuses 13");
  assert_int_equal(host_calls, 2);
  /* i64, f64 and f32 arguments and an f64 result. */
  double d = 0.25, r;
  float f = 0.5f;
  s[0] = (uint64_t)-3;
  memcpy(&s[1], &d, 8);
  uint32_t fb;
  memcpy(&fb, &f, 4);
  s[2] = fb;
  assert_int_equal(call1(i, o, "mix", s, &err), WG_OK);
  memcpy(&r, &s[0], 8);
  assert_true(r == -2.25);
  wga_instance_free(i);
  wga_object_release(o);
  wg_module_release(m);
  wga_toolchain_free(t);
}

/* ---- the interrupt word stops a loop ---- */

typedef struct poke {
  atomic_uint *word;
} poke;

static void *poker(void *arg) {
  poke *p = arg;
  struct timespec ts = {0, 20 * 1000000};
  nanosleep(&ts, NULL);
  atomic_store(p->word, 1);
  return NULL;
}

static void test_interrupt(void **st) {
  (void)st;
  wga_toolchain *t = toolchain(WG_AOT_CACHE);
  wg_module *m = load_module("aot_traps");
  wg_error err;
  wg_error_clear(&err);
  wga_object *o = wga_object_get(t, m, NULL, &err);
  assert_non_null(o);
  atomic_uint intr = 0;
  wga_instance_config c = {.interrupt = &intr, .host = host};
  wga_instance *i = wga_instance_new(o, &c, &err);
  assert_non_null(i);
  pthread_t th;
  poke p = {&intr};
  pthread_create(&th, NULL, poker, &p);
  uint64_t s[1] = {0};
  /* Without the back-edge check this would never return (ctest's
  ** timeout would fail the test). */
  assert_int_equal(call1(i, o, "loop", s, &err), WG_TRAP_INTERRUPT);
  pthread_join(th, NULL);
  /* Set before the call: stopped at function entry. */
  assert_int_equal(call1(i, o, "unreachable", s, &err), WG_TRAP_INTERRUPT);
  atomic_store(&intr, 0);
  assert_int_equal(call1(i, o, "unreachable", s, &err), WG_TRAP_UNREACHABLE);
  wga_instance_free(i);
  wga_object_release(o);
  wg_module_release(m);
  wga_toolchain_free(t);
}

/* ---- the cache ---- */

static void test_cache(void **st) {
  (void)st;
  char dir[600];
  snprintf(dir, sizeof dir, "%s/cache-test-%d", WG_AOT_CACHE, (int)getpid());
  wga_toolchain *t = toolchain(dir);
  wg_module *m = load_module("aot_traps");
  wg_module *other = load_module("loop_policy");
  wg_error err;
  bool hit = true;
  wg_error_clear(&err);
  wga_object *o = wga_object_get(t, m, &hit, &err);
  if (!o) fail_msg("build: %s", err.message);
  assert_false(hit);
  char path[700];
  snprintf(path, sizeof path, "%s", wga_object_path(o));
  wga_object_release(o);
  /* Reused, by a new toolchain too (a restart). */
  wga_toolchain_free(t);
  t = toolchain(dir);
  o = wga_object_get(t, m, &hit, &err);
  assert_non_null(o);
  assert_true(hit);
  assert_string_equal(wga_object_path(o), path);
  wga_object_release(o);
  /* Corrupt: rebuilt. */
  FILE *f = fopen(path, "wb");
  fputs("not an object", f);
  fclose(f);
  o = wga_object_get(t, m, &hit, &err);
  if (!o) fail_msg("rebuild: %s", err.message);
  assert_false(hit);
  wga_object_release(o);
  /* Stale: another module's object under this key is not trusted. */
  wga_object *x = wga_object_get(t, other, &hit, &err);
  if (!x) fail_msg("other: %s", err.message);
  char cmd[2000];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", wga_object_path(x), path);
  assert_int_equal(system(cmd), 0);
  wga_object_release(x);
  o = wga_object_get(t, m, &hit, &err);
  assert_non_null(o);
  assert_false(hit);
  atomic_uint intr = 0;
  wga_instance_config c = {.interrupt = &intr, .host = host};
  wga_instance *i = wga_instance_new(o, &c, &err);
  assert_non_null(i);
  uint64_t s[2] = {9, 3};
  assert_int_equal(call1(i, o, "div", s, &err), WG_OK);
  assert_int_equal(s[0], 3);
  wga_instance_free(i);
  wga_object_release(o);
  /* Writable by others: not loaded, rebuilt. */
  assert_int_equal(chmod(path, 0666), 0);
  o = wga_object_get(t, m, &hit, &err);
  assert_non_null(o);
  assert_false(hit);
  wga_object_release(o);
  wg_module_release(m);
  wg_module_release(other);
  wga_toolchain_free(t);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- missing or failing tools ---- */

static void test_missing_tools(void **st) {
  (void)st;
  wg_error err;
  wga_toolchain_config c = {.cache_dir = WG_AOT_CACHE,
                            .wasm2c = "/nonexistent/wasm2c"};
  wg_error_clear(&err);
  assert_null(wga_toolchain_new(&c, &err));
  assert_int_equal(err.code, WG_ENOTFOUND);
  assert_string_equal(err.message,
                      "AOT tier unavailable: wasm2c not found "
                      "('/nonexistent/wasm2c'; Debian package wabt)");
  c.wasm2c = NULL;
  c.cc = "wasmgate-no-such-cc";
  wg_error_clear(&err);
  assert_null(wga_toolchain_new(&c, &err));
  assert_string_equal(err.message,
                      "AOT tier unavailable: C compiler not found "
                      "('wasmgate-no-such-cc' on PATH)");
  c.cc = NULL;
  c.opt = "-O2 -fevil";
  wg_error_clear(&err);
  assert_null(wga_toolchain_new(&c, &err));
  assert_string_equal(err.message, "AOT: bad optimisation flag '-O2 -fevil'");
  /* The policy layer says the same, and the policy keeps working. */
  wg_policy_aot_config pc = {.cache_dir = WG_AOT_CACHE,
                             .wasm2c = "/nonexistent/wasm2c"};
  wg_error_clear(&err);
  assert_null(wg_policy_aot_new(&pc, &err));
  assert_non_null(strstr(err.message, "wasm2c not found"));

  /* A compiler that fails: the build error is reported, the policy stays
  ** on the interpreter and answers. */
  char path[512];
  snprintf(path, sizeof path, "%s/loop_policy.wasm", WG_AOT_WASM_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy *p = wg_policy_load(bytes, n, NULL, NULL, &err);
  assert_non_null(p);
  char dir[600];
  snprintf(dir, sizeof dir, "%s/false-cc-%d", WG_AOT_CACHE, (int)getpid());
  pc.wasm2c = NULL;
  pc.cc = "/bin/false";
  pc.cache_dir = dir;
  /* `false --version` exits 1: unavailable, with the reason. */
  wg_error_clear(&err);
  assert_null(wg_policy_aot_new(&pc, &err));
  assert_non_null(strstr(err.message, "/bin/false failed (exit status 1)"));
  /* A time limit too short for wasm2c on a real policy. */
  char rbac[512];
  snprintf(rbac, sizeof rbac, "%s/abi-1.3/rbac.wasm", WG_OPA_DIR);
  free(bytes);
  bytes = read_all(rbac, &n);
  wg_policy_release(p);
  wg_error_clear(&err);
  wg_policy_builtins *b = wg_policy_builtins_new();
  p = wg_policy_load(bytes, n, b, NULL, &err);
  assert_non_null(p);
  pc.cc = NULL;
  pc.timeout_ms = 1;
  wg_error_clear(&err);
  wg_policy_aot *a = wg_policy_aot_new(&pc, &err);
  if (!a) fail_msg("aot: %s", err.message);
  wg_error_clear(&err);
  assert_int_equal(wg_policy_aot_compile(a, p, &err), WG_EIO);
  assert_non_null(strstr(err.message, "did not finish within 1 ms"));
  assert_false(wg_policy_is_aot(p));
  const char *in = "{\"user\":\"alice\"}";
  wg_error_clear(&err);
  assert_int_equal(wg_policy_eval(p, "app/rbac/allow", in, strlen(in), NULL,
                                  NULL, &err), WG_OK);
  uint64_t built, cached, failed;
  wg_policy_aot_stats(a, &built, &cached, &failed);
  assert_int_equal(failed, 1);
  assert_int_equal(built + cached, 0);
  wg_policy_aot_free(a);
  wg_policy_release(p);
  wg_policy_builtins_free(b);
  free(bytes);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* ---- policies on the AOT tier ---- */

static wg_policy_aot *builder(void) {
  wg_policy_aot_config c = {.cache_dir = WG_AOT_CACHE, .opt = "-O1"};
  wg_error err;
  wg_error_clear(&err);
  wg_policy_aot *a = wg_policy_aot_new(&c, &err);
  if (!a) fail_msg("aot: %s", err.message);
  return a;
}

static void test_policy_deadline_and_oob(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/loop_policy.wasm", WG_AOT_WASM_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy_aot *a = builder();
  wg_policy_opts o = {0};
  o.fuel = -1;                  /* the AOT tier's only bound: the deadline */
  o.timeout_ms = 50;
  wg_error err;
  wg_error_clear(&err);
  wg_policy *p = wg_policy_load(bytes, n, NULL, &o, &err);
  if (!p) fail_msg("load: %s", err.message);
  wg_error_clear(&err);
  if (wg_policy_aot_compile(a, p, &err)) fail_msg("aot: %s", err.message);
  assert_true(wg_policy_is_aot(p));
  for (int round = 0; round < 2; round++) {
    wg_error_clear(&err);
    assert_int_equal(wg_policy_eval(p, NULL, "\"loop\"", 6, NULL, NULL, &err),
                     WG_TRAP_INTERRUPT);
    assert_string_equal(err.message,
                        "policy evaluation exceeded its deadline (50 ms)");
    wg_error_clear(&err);
    assert_int_equal(wg_policy_eval(p, NULL, "\"oob\"", 5, NULL, NULL, &err),
                     WG_TRAP_MEMORY);
    assert_string_equal(err.message,
                        "policy trapped: out of bounds memory access");
    json_t *got = NULL, *in = json_string("fine");
    wg_error_clear(&err);
    assert_int_equal(wg_policy_eval_json(p, NULL, in, &got, &err), WG_OK);
    json_t *want = json_loads("[{\"result\":true}]", 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(want);
    json_decref(got);
    json_decref(in);
  }
  assert_true(wg_policy_is_aot(p));
  wg_policy_release(p);
  wg_policy_aot_free(a);
  free(bytes);
}

/* Decisions keep running while the builder swaps the tier underneath. */
typedef struct swap {
  wg_policy *p;
  atomic_int stop;
  atomic_int bad, ok;
} swap;

static void *decide(void *arg) {
  swap *s = arg;
  while (!atomic_load(&s->stop)) {
    char res[64] = "";
    wg_error err;
    wg_error_clear(&err);
    json_t *in = json_string("x"), *got = NULL;
    wg_err e = wg_policy_eval_json(s->p, NULL, in, &got, &err);
    if (e == WG_OK) {
      char *t = json_dumps(got, JSON_COMPACT);
      snprintf(res, sizeof res, "%s", t ? t : "");
      free(t);
    }
    json_decref(got);
    json_decref(in);
    if (e || strcmp(res, "[{\"result\":true}]")) {
      atomic_fetch_add(&s->bad, 1);
    } else {
      atomic_fetch_add(&s->ok, 1);
    }
  }
  return NULL;
}

static void test_background_swap(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/loop_policy.wasm", WG_AOT_WASM_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy_aot *a = builder();
  wg_policy_opts o = {0};
  o.aot = a;
  wg_error err;
  wg_error_clear(&err);
  /* Served at once (by the interpreter); the build runs behind. */
  wg_policy *p = wg_policy_load(bytes, n, NULL, &o, &err);
  assert_non_null(p);
  swap s = {.p = p};
  pthread_t th[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, decide, &s);
  wg_policy_aot_drain(a);
  assert_true(wg_policy_is_aot(p));
  /* Let decisions run on the new tier too before stopping. */
  int before = atomic_load(&s.ok);
  while (atomic_load(&s.ok) < before + 100) sched_yield();
  atomic_store(&s.stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&s.bad), 0);
  uint64_t built, cached, failed;
  wg_policy_aot_stats(a, &built, &cached, &failed);
  assert_int_equal(built + cached, 1);
  assert_int_equal(failed, 0);
  /* A version replaced before its turn is not built: queue two, drop
  ** the first before the builder can take it... (not deterministic),
  ** so check only that a released policy in the queue is harmless. */
  wg_policy *q = wg_policy_load(bytes, n, NULL, &o, &err);
  assert_non_null(q);
  wg_policy_release(q);
  wg_policy_aot_drain(a);
  wg_policy_release(p);
  wg_policy_aot_free(a);
  free(bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traps),
      cmocka_unit_test(test_interrupt),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_missing_tools),
      cmocka_unit_test(test_policy_deadline_and_oob),
      cmocka_unit_test(test_background_swap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
