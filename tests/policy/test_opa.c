/*
** OPA compatibility: every module and case of shared/opa-policies/README.md
** in both ABI folders, through both evaluation paths (opa_eval and the
** context API), with the README's custom builtins custom.func0..4 (and
** custom.func) implemented here as the README says. Plus: missing
** builtins at load, abort, fuel and deadline traps, bundles, 100 hot
** replacements under concurrent decisions, random inputs.
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

#include "wasmgate/policy.h"

#ifndef WG_OPA_DIR
#error "WG_OPA_DIR must name shared/opa-policies"
#endif

/* Built a second time with WG_TEST_AOT (ctest unit/policy_aot_readme):
** every policy load() makes is then compiled by the AOT tier (cache in
** WG_AOT_CACHE, -O1) and must be running on it before it is evaluated. */
static wg_policy_aot *g_aot;

static const char *RBAC_DATA =
    "{\"user_roles\":{\"alice\":[\"admin\"],\"bob\":[\"employee\",\"billing\"],"
    "\"eve\":[\"customer\"]},\"role_grants\":{\"customer\":[{\"action\":\"read\","
    "\"type\":\"dog\"},{\"action\":\"read\",\"type\":\"cat\"},{\"action\":"
    "\"adopt\",\"type\":\"dog\"},{\"action\":\"adopt\",\"type\":\"cat\"}],"
    "\"employee\":[{\"action\":\"read\",\"type\":\"dog\"},{\"action\":\"read\","
    "\"type\":\"cat\"},{\"action\":\"update\",\"type\":\"dog\"},{\"action\":"
    "\"update\",\"type\":\"cat\"}],\"billing\":[{\"action\":\"read\",\"type\":"
    "\"finance\"},{\"action\":\"update\",\"type\":\"finance\"}]}}";

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
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

/* ---- the README's custom builtins (JavaScript '+' semantics) ---- */

static void js_str(const json_t *v, char *out, size_t n) {
  if (json_is_string(v)) {
    snprintf(out, n, "%s", json_string_value(v));
  } else if (json_is_integer(v)) {
    snprintf(out, n, "%lld", (long long)json_integer_value(v));
  } else if (json_is_real(v)) {
    snprintf(out, n, "%g", json_real_value(v));
  } else if (json_is_boolean(v)) {
    snprintf(out, n, "%s", json_is_true(v) ? "true" : "false");
  } else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, n, "%s", s ? s : "");
    free(s);
  }
}

static json_t *js_plus(json_t *const *a, size_t n, bool first_as_json) {
  bool all_num = !first_as_json;
  for (size_t i = 0; i < n; i++) all_num = all_num && json_is_number(a[i]);
  if (all_num) {
    bool ints = true;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
      ints = ints && json_is_integer(a[i]);
      sum += json_number_value(a[i]);
    }
    return ints ? json_integer((json_int_t)sum) : json_real(sum);
  }
  char buf[1024] = "", piece[512];
  for (size_t i = 0; i < n; i++) {
    if (i == 0 && first_as_json) {
      char *s = json_dumps(a[0], JSON_COMPACT | JSON_ENCODE_ANY);
      snprintf(piece, sizeof piece, "%s", s);
      free(s);
    } else {
      js_str(a[i], piece, sizeof piece);
    }
    strncat(buf, piece, sizeof buf - strlen(buf) - 1);
  }
  return json_string(buf);
}

static json_t *c_func(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)n; (void)e;
  char s[512];
  js_str(a[0], s, sizeof s);
  char out[600];
  snprintf(out, sizeof out, "hello %s", s);
  return json_string(out);
}
static json_t *c_func0(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)a; (void)n; (void)e;
  return json_string("func0");
}
static json_t *c_func1(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)n; (void)e;
  char s[512], out[600];
  js_str(a[0], s, sizeof s);
  snprintf(out, sizeof out, "func1:%s", s);
  return json_string(out);
}
static json_t *c_plus(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)e;
  return js_plus(a, n, false);
}
static json_t *c_func4(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)e;
  return js_plus(a, n, true);
}

static wg_policy_builtins *test_builtins(void) {
  wg_policy_builtins *b = wg_policy_builtins_new();
  assert_non_null(b);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func", 1, c_func, NULL), WG_OK);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func0", 0, c_func0, NULL), WG_OK);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func1", 1, c_func1, NULL), WG_OK);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func2", 2, c_plus, NULL), WG_OK);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func3", 3, c_plus, NULL), WG_OK);
  assert_int_equal(wg_policy_builtins_add(b, "custom.func4", 4, c_func4, NULL), WG_OK);
  return b;
}

static wg_policy *load(const char *abi, const char *file, const char *data,
                       bool ctx, wg_error *err) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s/%s", WG_OPA_DIR, abi, file);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy_builtins *b = test_builtins();
  wg_policy_opts o = {0};
  o.data = data;
  o.data_len = data ? strlen(data) : 0;
  o.context_api = ctx;
  wg_error_clear(err);
  wg_policy *p = wg_policy_load(bytes, n, b, &o, err);
  wg_policy_builtins_free(b);
  free(bytes);
  if (p && g_aot) {
    wg_error aerr;
    wg_error_clear(&aerr);
    if (wg_policy_aot_compile(g_aot, p, &aerr) != WG_OK) {
      fail_msg("%s/%s: AOT: %s", abi, file, aerr.message);
    }
    assert_true(wg_policy_is_aot(p));
  }
  return p;
}

/* ---- the README tables ---- */

typedef struct tcase {
  const char *module, *entrypoint, *data, *input, *result;
} tcase;

#define RBAC "@rbac"
static const tcase common[] = {
    {"example.wasm", NULL, "{\"world\":\"world\"}", "{\"message\":\"world\"}", "[{\"result\":true}]"},
    {"example.wasm", NULL, "{\"world\":\"world\"}", "{\"message\":\"mars\"}", "[{\"result\":false}]"},
    {"rbac.wasm", "app/rbac/allow", RBAC, "{\"user\":\"alice\",\"action\":\"delete\",\"type\":\"dog\"}", "[{\"result\":true}]"},
    {"rbac.wasm", "app/rbac/allow", RBAC, "{\"user\":\"eve\",\"action\":\"update\",\"type\":\"dog\"}", "[{\"result\":false}]"},
    {"multi.wasm", "example/one", "{}", "{\"someProp\":\"thisValue\",\"anotherProp\":\"thatValue\"}", "[{\"result\":{\"myOtherRule\":true,\"myRule\":true,\"myCompositeRule\":true}}]"},
    {"multi.wasm", "example/one/myCompositeRule", "{}", "{\"someProp\":\"thisValue\",\"anotherProp\":\"thatValue\"}", "[{\"result\":true}]"},
    {"multi.wasm", "example", "{}", "{\"someProp\":\"thisValue\"}", "[{\"result\":{\"one\":{\"myOtherRule\":false,\"myRule\":true}}}]"},
    {"math-builtin.wasm", NULL, "{}", "{\"firstNumber\":\"2\",\"secondNumber\":\"3\"}", "[{\"result\":5}]"},
    {"simplebuiltincall.wasm", NULL, "{}", "{}", "[{\"result\":{\"result\":\"hello Jane\",\"someep\":false}}]"},
    {"builtincall.wasm", NULL, "{}", "{}", "[{\"result\":{\"result4\":\"[\\\"s1-1\\\",\\\"s1-2\\\"]s2s3s4\",\"result2\":3,\"result3\":\"s1s2false\",\"result0\":\"func0\",\"result1\":\"func1:s1\"}}]"},
};
static const tcase only13[] = {
    {"rbac.wasm", "app/rbac/allow", RBAC, "{\"user\":\"bob\",\"action\":\"update\",\"type\":\"finance\"}", "[{\"result\":true}]"},
    {"rbac.wasm", "app/rbac", RBAC, "{\"user\":\"bob\",\"action\":\"read\",\"type\":\"cat\"}", "[{\"result\":{\"allow\":true,\"user_is_granted\":[{\"type\":\"cat\",\"action\":\"read\"},{\"type\":\"dog\",\"action\":\"read\"},{\"type\":\"finance\",\"action\":\"read\"},{\"type\":\"cat\",\"action\":\"update\"},{\"type\":\"dog\",\"action\":\"update\"},{\"type\":\"finance\",\"action\":\"update\"}]}}]"},
};
static const tcase only12[] = {
    {"rbac.wasm", "app/rbac/allow", RBAC, "{\"user\":\"bob\",\"action\":\"update\",\"type\":\"finance\"}", "[{\"result\":false}]"},
    {"rbac.wasm", "app/rbac", RBAC, "{\"user\":\"bob\",\"action\":\"read\",\"type\":\"cat\"}", "[{\"result\":{\"allow\":false}}]"},
};

static int ncases_run;

static void run_case(const char *abi, const tcase *c, bool ctx) {
  const char *data = strcmp(c->data, RBAC) ? c->data : RBAC_DATA;
  wg_error err;
  wg_policy *p = load(abi, c->module, data, ctx, &err);
  if (!p) fail_msg("%s/%s: load: %s", abi, c->module, err.message);
  json_t *in = json_loads(c->input, 0, NULL), *got = NULL;
  json_t *want = json_loads(c->result, 0, NULL);
  assert_non_null(in);
  assert_non_null(want);
  /* Twice: the second decision runs on the reused (reset) instance. */
  for (int round = 0; round < 2; round++) {
    wg_error_clear(&err);
    wg_err e = wg_policy_eval_json(p, c->entrypoint, in, &got, &err);
    if (e) fail_msg("%s/%s %s: %s", abi, c->module, c->entrypoint, err.message);
    if (!json_equal(got, want)) {
      char *g = json_dumps(got, JSON_COMPACT);
      fail_msg("%s/%s %s (%s): got %s want %s", abi, c->module,
               c->entrypoint ? c->entrypoint : "(default)",
               ctx ? "context" : "opa_eval", g, c->result);
    }
    json_decref(got);
  }
  ncases_run++;
  json_decref(in);
  json_decref(want);
  wg_policy_release(p);
}

static void readme_cases(const char *abi, bool ctx) {
  for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
    run_case(abi, &common[i], ctx);
  }
  const tcase *extra = strcmp(abi, "abi-1.3") ? only12 : only13;
  for (size_t i = 0; i < 2; i++) run_case(abi, &extra[i], ctx);
}

static void abort_case(const char *abi, bool ctx, const char *msg) {
  wg_error err;
  wg_policy *p = load(abi, "abort.wasm", "{}", ctx, &err);
  if (!p) fail_msg("abort.wasm: load: %s", err.message);
  json_t *in = json_object(), *got = NULL;
  for (int round = 0; round < 2; round++) {
    wg_error_clear(&err);
    wg_err e = wg_policy_eval_json(p, "aborttestpkg/q", in, &got, &err);
    assert_true(wg_is_trap(e));
    assert_null(got);
    if (!strstr(err.message, msg)) fail_msg("abort message: %s", err.message);
  }
  json_decref(in);
  wg_policy_release(p);
}

static void test_abi13_opa_eval(void **st) {
  (void)st;
  readme_cases("abi-1.3", false);
  abort_case("abi-1.3", false, "abort.rego:6:1: var assignment conflict");
}
static void test_abi13_context(void **st) {
  (void)st;
  readme_cases("abi-1.3", true);
  abort_case("abi-1.3", true, "abort.rego:6:1: var assignment conflict");
}
static void test_abi12_opa_eval(void **st) {
  (void)st;
  readme_cases("abi-1.2", false);
  abort_case("abi-1.2", false, "abort.rego:4:1: var assignment conflict");
}
static void test_abi12_context(void **st) {
  (void)st;
  readme_cases("abi-1.2", true);
  abort_case("abi-1.2", true, "abort.rego:4:1: var assignment conflict");
}

static void test_metadata(void **st) {
  (void)st;
  wg_error err;
  wg_policy *p = load("abi-1.3", "multi.wasm", "{}", false, &err);
  assert_non_null(p);
  assert_int_equal(wg_policy_abi_major(p), 1);
  assert_int_equal(wg_policy_abi_minor(p), 3);
  assert_true(wg_policy_entrypoint_id(p, "example/one") >= 0);
  assert_true(wg_policy_entrypoint_id(p, "example.one") >= 0);
  assert_int_equal(wg_policy_entrypoint_id(p, "nope"), -1);
  json_t *got = NULL;
  wg_error_clear(&err);
  assert_int_equal(wg_policy_eval_json(p, "nope", NULL, &got, &err),
                   WG_ENOTFOUND);
  /* Not JSON: refused, and the instance still works after. */
  wg_error_clear(&err);
  assert_int_equal(wg_policy_eval(p, "example", "{nope", 5, NULL, NULL, &err),
                   WG_EINVAL);
  wg_policy_release(p);
  p = load("abi-1.2", "example.wasm", "{}", false, &err);
  assert_non_null(p);
  assert_int_equal(wg_policy_abi_minor(p), 2);
  wg_policy_release(p);
}

static void test_missing_builtins(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/abi-1.3/builtincall.wasm", WG_OPA_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy_builtins *b = wg_policy_builtins_new();
  wg_policy_builtins_add(b, "custom.func2", 2, c_plus, NULL);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_policy_load(bytes, n, b, NULL, &err));
  assert_int_equal(err.code, WG_ENOTFOUND);
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof name, "custom.func%d", i);
    if (i == 2) {
      assert_null(strstr(err.message, name));
    } else if (!strstr(err.message, name)) {
      fail_msg("missing %s not named: %s", name, err.message);
    }
  }
  wg_policy_builtins_free(b);
  free(bytes);
}

static void test_bundles(void **st) {
  (void)st;
  const char *abis[] = {"abi-1.3", "abi-1.2"};
  for (int i = 0; i < 2; i++) {
    wg_error err;
    wg_policy *p = load(abis[i], "bundle-example.tar.gz", NULL, false, &err);
    if (!p) fail_msg("%s bundle: %s", abis[i], err.message);
    json_t *in = json_pack("{ss}", "message", "world"), *got = NULL;
    wg_error_clear(&err);
    assert_int_equal(wg_policy_eval_json(p, "example/hello", in, &got, &err),
                     WG_OK);
    json_t *want = json_loads("[{\"result\":false}]", 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    wg_policy_release(p);
    /* The same bundle with data given: now data.world is there. */
    p = load(abis[i], "bundle-example.tar.gz", "{\"world\":\"world\"}", false,
             &err);
    assert_non_null(p);
    assert_int_equal(wg_policy_eval_json(p, NULL, in, &got, &err), WG_OK);
    json_decref(want);
    want = json_loads("[{\"result\":true}]", 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    json_decref(in);
    wg_policy_release(p);
  }
  /* A truncated bundle and garbage are refused with a message. */
  char path[512];
  snprintf(path, sizeof path, "%s/abi-1.3/bundle-example.tar.gz", WG_OPA_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_error err;
  wg_error_clear(&err);
  assert_null(wg_policy_load(bytes, n / 2, NULL, NULL, &err));
  assert_true(err.message[0] != 0);
  wg_error_clear(&err);
  assert_null(wg_policy_load((const uint8_t *)"\0asm\1\0\0\0", 8, NULL, NULL,
                             &err));
  free(bytes);
}

static void test_fuel_and_deadline(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/abi-1.3/rbac.wasm", WG_OPA_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  wg_policy_builtins *b = wg_policy_builtins_new();
  /* Enough fuel to load (data {}), too little for a big input. */
  wg_policy_opts o = {0};
  o.fuel = 200000;
  wg_error err;
  wg_error_clear(&err);
  wg_policy *p = wg_policy_load(bytes, n, b, &o, &err);
  if (!p) fail_msg("load: %s", err.message);
  size_t cap = 4u << 20, len = 0;
  char *big = malloc(cap);
  len += (size_t)snprintf(big, cap, "{\"user\":\"x\",\"pad\":[");
  for (int i = 0; i < 200000; i++) {
    len += (size_t)snprintf(big + len, cap - len, "%s%d", i ? "," : "", i);
  }
  len += (size_t)snprintf(big + len, cap - len, "]}");
  wg_error_clear(&err);
  wg_err e = wg_policy_eval(p, "app/rbac/allow", big, len, NULL, NULL, &err);
  assert_int_equal(e, WG_TRAP_FUEL);
  /* The policy still answers small inputs afterwards. */
  const char *small = "{\"user\":\"alice\"}";
  wg_error_clear(&err);
  assert_int_equal(wg_policy_eval(p, "app/rbac/allow", small, strlen(small),
                                  NULL, NULL, &err), WG_OK);
  wg_policy_release(p);
  /* Unmetered but a 1 ms deadline: interrupted. */
  o.fuel = -1;
  o.timeout_ms = 1;
  /* loading runs the policy too (data): on a busy machine that alone can
  ** pass 1 ms, which must then be the deadline's doing */
  p = NULL;
  for (int i = 0; i < 100 && !p; i++) {
    wg_error_clear(&err);
    p = wg_policy_load(bytes, n, b, &o, &err);
    if (!p) assert_non_null(strstr(err.message, "deadline"));
  }
  assert_non_null(p);
  int interrupted = 0;
  for (int i = 0; i < 5 && !interrupted; i++) {
    wg_error_clear(&err);
    e = wg_policy_eval(p, "app/rbac/allow", big, len, NULL, NULL, &err);
    interrupted = e == WG_TRAP_INTERRUPT;
  }
  assert_true(interrupted);
  assert_non_null(strstr(err.message, "deadline"));
  wg_policy_release(p);
  free(big);
  free(bytes);
  wg_policy_builtins_free(b);
}

/* ---- hot reload: 100 replacements under concurrent decisions ---- */

typedef struct race {
  wg_policy_set *set;
  volatile int stop;
  int bad, decisions;
} race;

static void *decider(void *arg) {
  race *r = arg;
  int bad = 0, n = 0;
  while (!r->stop) {
    wg_policy_info info;
    wg_policy *p = wg_policy_set_get(r->set, "hello", &info);
    if (!p) continue;
    char in[64];
    int len = snprintf(in, sizeof in, "{\"message\":\"v%llu\"}",
                       (unsigned long long)info.version);
    json_t *got = NULL, *in_j = json_loads(in, 0, NULL);
    wg_error err;
    wg_error_clear(&err);
    char res[128] = "";
    wg_err e = wg_policy_eval_json(p, NULL, in_j, &got, &err);
    json_decref(in_j);
    if (e == WG_OK) {
      char *s = json_dumps(got, JSON_COMPACT);
      snprintf(res, sizeof res, "%s", s ? s : "");
      free(s);
      json_decref(got);
    }
    (void)len;
    if (e != WG_OK || strcmp(res, "[{\"result\":true}]") != 0) bad++;
    n++;
    wg_policy_release(p);
  }
  __atomic_add_fetch(&r->bad, bad, __ATOMIC_RELAXED);
  __atomic_add_fetch(&r->decisions, n, __ATOMIC_RELAXED);
  return NULL;
}

static void test_hot_reload_race(void **st) {
  (void)st;
  char path[512];
  snprintf(path, sizeof path, "%s/abi-1.3/example.wasm", WG_OPA_DIR);
  size_t n;
  uint8_t *bytes = read_all(path, &n);
  race r = {wg_policy_set_new(), 0, 0, 0};
  wg_error err;
  for (int i = 0; i <= 100; i++) {
    char data[64];
    snprintf(data, sizeof data, "{\"world\":\"v%d\"}", i + 1);
    wg_policy_opts o = {0};
    o.data = data;
    o.data_len = strlen(data);
    wg_error_clear(&err);
    wg_policy *p = wg_policy_load(bytes, n, NULL, &o, &err);
    assert_non_null(p);
    wg_policy_info info;
    assert_int_equal(wg_policy_set_put(r.set, "hello", "", true, p, &info),
                     WG_OK);
    assert_int_equal(info.version, (uint64_t)i + 1);
    if (i == 0) {
      pthread_t t[3];
      for (int k = 0; k < 3; k++) pthread_create(&t[k], NULL, decider, &r);
      /* Keep the threads; join below after the replacements. */
      for (int j = 1; j <= 100; j++) {
        snprintf(data, sizeof data, "{\"world\":\"v%d\"}", j + 1);
        o.data = data;
        o.data_len = strlen(data);
        wg_error_clear(&err);
        p = wg_policy_load(bytes, n, NULL, &o, &err);
        assert_non_null(p);
        assert_int_equal(wg_policy_set_put(r.set, "hello", "", true, p, &info),
                         WG_OK);
        assert_int_equal(info.version, (uint64_t)j + 1);
      }
      r.stop = 1;
      for (int k = 0; k < 3; k++) pthread_join(t[k], NULL);
      break;
    }
  }
  assert_int_equal(r.bad, 0);
  assert_true(r.decisions > 0);
  /* Another owner cannot replace it; delete works once. */
  wg_policy *p = wg_policy_load(bytes, n, NULL, NULL, &err);
  assert_int_equal(wg_policy_set_put(r.set, "hello", "tenant-a", true, p, NULL),
                   WG_EEXIST);
  assert_int_equal(wg_policy_set_delete(r.set, "hello"), WG_OK);
  assert_int_equal(wg_policy_set_delete(r.set, "hello"), WG_ENOTFOUND);
  wg_policy_set_free(r.set);
  free(bytes);
}

/* ---- random inputs never crash ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

static json_t *random_json(int depth) {
  switch (rnd() % (depth > 4 ? 5 : 7)) {
    case 0: return json_null();
    case 1: return json_boolean(rnd() & 1);
    case 2: return json_integer((json_int_t)(int32_t)rnd());
    case 3: return json_real((double)rnd() / 7.0);
    case 4: {
      char s[16];
      static const char *words[] = {"alice", "bob", "eve", "read", "dog",
                                    "update", "finance", "\xc3\xa9t\xc3\xa9"};
      snprintf(s, sizeof s, "%s", words[rnd() % 8]);
      return json_string(s);
    }
    case 5: {
      json_t *a = json_array();
      for (uint32_t i = rnd() % 5; i > 0; i--) {
        json_array_append_new(a, random_json(depth + 1));
      }
      return a;
    }
    default: {
      static const char *keys[] = {"user", "action", "type", "x", "message"};
      json_t *o = json_object();
      for (uint32_t i = rnd() % 5; i > 0; i--) {
        json_object_set_new(o, keys[rnd() % 5], random_json(depth + 1));
      }
      return o;
    }
  }
}

static void test_random_inputs(void **st) {
  (void)st;
  wg_error err;
  wg_policy *p = load("abi-1.3", "rbac.wasm", RBAC_DATA, false, &err);
  assert_non_null(p);
  for (int i = 0; i < 2000; i++) {
    json_t *in = random_json(0), *got = NULL;
    wg_error_clear(&err);
    wg_err e = wg_policy_eval_json(p, i % 2 ? "app/rbac" : "app/rbac/allow",
                                   in, &got, &err);
    if (e != WG_OK) fail_msg("input %d: %s", i, err.message);
    assert_true(json_is_array(got));
    json_decref(got);
    json_decref(in);
  }
  /* Random bytes: refused or evaluated, never a crash. */
  for (int i = 0; i < 500; i++) {
    char buf[64];
    size_t len = rnd() % sizeof buf;
    for (size_t k = 0; k < len; k++) buf[k] = (char)(rnd() % 128);
    if (i % 3 == 0 && len) buf[0] = '{';
    wg_error_clear(&err);
    wg_err e = wg_policy_eval(p, "app/rbac/allow", buf, len, NULL, NULL, &err);
    assert_true(e == WG_OK || e == WG_EINVAL);
  }
  wg_policy_release(p);
}

int main(void) {
#ifdef WG_TEST_AOT
  wg_policy_aot_config ac = {.cache_dir = WG_AOT_CACHE, .opt = "-O1"};
  wg_error aerr;
  wg_error_clear(&aerr);
  g_aot = wg_policy_aot_new(&ac, &aerr);
  if (!g_aot) {
    fprintf(stderr, "AOT tier unavailable: %s\n", aerr.message);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_abi13_opa_eval),
      cmocka_unit_test(test_abi13_context),
      cmocka_unit_test(test_abi12_opa_eval),
      cmocka_unit_test(test_abi12_context),
      cmocka_unit_test(test_metadata),
      cmocka_unit_test(test_missing_builtins),
      cmocka_unit_test(test_bundles),
      cmocka_unit_test(test_random_inputs),
  };
  /* Fuel is not metered on the AOT tier; the race is test_aot.c's. */
  (void)test_fuel_and_deadline;
  (void)test_hot_reload_race;
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  printf("README cases run on the AOT tier (x2 decisions each): %d\n",
         ncases_run);
  wg_policy_aot_free(g_aot);
  return rc;
#else
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_abi13_opa_eval),
      cmocka_unit_test(test_abi13_context),
      cmocka_unit_test(test_abi12_opa_eval),
      cmocka_unit_test(test_abi12_context),
      cmocka_unit_test(test_metadata),
      cmocka_unit_test(test_missing_builtins),
      cmocka_unit_test(test_bundles),
      cmocka_unit_test(test_fuel_and_deadline),
      cmocka_unit_test(test_hot_reload_race),
      cmocka_unit_test(test_random_inputs),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  printf("README cases run (x2 decisions each): %d\n", ncases_run);
  return rc;
#endif
}
