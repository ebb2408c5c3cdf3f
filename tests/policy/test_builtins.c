/*
** The host builtins shipped with wasmgate, called directly through the
** registry: sprintf, regex.*, time.*, json.is_valid, json.match_schema,
** and the registry's own rules.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

static wg_policy_builtins *reg;

/* Calls name with the JSON array args; compares with want (JSON) or
** expects an error when want is NULL. */
static void call(const char *name, const char *args, const char *want) {
  const wgp_builtin *b = wgp_builtins_find(reg, name);
  if (!b) fail_msg("no builtin %s", name);
  json_t *a = json_loads(args, JSON_DECODE_ANY, NULL);
  assert_non_null(a);
  json_t *v[4] = {0};
  for (size_t i = 0; i < json_array_size(a) && i < 4; i++) {
    v[i] = json_array_get(a, i);
  }
  wg_error err;
  wg_error_clear(&err);
  json_t *r = b->fn(b->user, v, json_array_size(a), &err);
  if (!want) {
    if (r) fail_msg("%s%s: expected an error", name, args);
    assert_true(err.message[0] != 0);
  } else {
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!r || !json_equal(r, w)) {
      char *g = r ? json_dumps(r, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
      fail_msg("%s%s: got %s want %s (%s)", name, args, g ? g : "error",
               want, err.message);
    }
    json_decref(w);
  }
  json_decref(r);
  json_decref(a);
}

static void test_sprintf(void **st) {
  (void)st;
  call("sprintf", "[\"%s is %d years\", [\"bob\", 42]]", "\"bob is 42 years\"");
  call("sprintf", "[\"%v|%v|%v\", [[1,\"a\"], {\"k\":true}, 1.5]]",
       "\"[1,\\\"a\\\"]|{\\\"k\\\":true}|1.5\"");
  call("sprintf", "[\"%.2f %x %X %o %b %t %q %%\", [3.14159, 255, 255, 8, 5, true, \"hi\"]]",
       "\"3.14 ff FF 10 101 true \\\"hi\\\" %\"");
  call("sprintf", "[\"%5d|%-4s|%05d\", [42, \"ab\", 7]]", "\"   42|ab  |00007\"");
  call("sprintf", "[\"%d %d\", [1]]", "\"1 %!d(MISSING)\"");
  call("sprintf", "[1, []]", NULL);
}

static void test_regex(void **st) {
  (void)st;
  call("regex.match", "[\"^[a-z]+$\", \"abc\"]", "true");
  call("regex.match", "[\"^[a-z]+$\", \"ab1\"]", "false");
  call("regex.match", "[\"(\", \"x\"]", NULL);
  call("regex.find_n", "[\"[0-9]+\", \"a1b22c333\", -1]", "[\"1\",\"22\",\"333\"]");
  call("regex.find_n", "[\"[0-9]+\", \"a1b22c333\", 2]", "[\"1\",\"22\"]");
  call("regex.find_n", "[\"x\", \"abc\", -1]", "[]");
  call("regex.replace", "[\"hello world\", \"o\", \"0\"]", "\"hell0 w0rld\"");
  call("regex.replace", "[\"2024-01-02\", \"(\\\\d+)-(\\\\d+)-(\\\\d+)\", \"$3/$2/${1}\"]",
       "\"02/01/2024\"");
  call("regex.split", "[\",\\\\s*\", \"a, b,c\"]", "[\"a\",\"b\",\"c\"]");
}

static void test_time(void **st) {
  (void)st;
  call("time.parse_rfc3339_ns", "[\"1970-01-01T00:00:00Z\"]", "0");
  call("time.parse_rfc3339_ns", "[\"2017-06-02T19:00:00.000000001-07:00\"]",
       "1496455200000000001");
  call("time.parse_rfc3339_ns", "[\"2024-02-29T12:30:45.5+01:00\"]",
       "1709206245500000000");
  call("time.parse_rfc3339_ns", "[\"yesterday\"]", NULL);
  call("time.parse_rfc3339_ns", "[\"2024-13-01T00:00:00Z\"]", NULL);
  const wgp_builtin *b = wgp_builtins_find(reg, "time.now_ns");
  wg_error err;
  json_t *r = b->fn(NULL, NULL, 0, &err);
  assert_true(json_integer_value(r) > 1700000000000000000ll);
  json_decref(r);
}

static void test_json(void **st) {
  (void)st;
  call("json.is_valid", "[\"{\\\"a\\\":1}\"]", "true");
  call("json.is_valid", "[\"{a:1}\"]", "false");
  const char *schema =
      "{\"type\":\"object\",\"required\":[\"name\",\"age\"],"
      "\"additionalProperties\":false,\"properties\":{"
      "\"name\":{\"type\":\"string\",\"minLength\":2,\"pattern\":\"^[A-Z]\"},"
      "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
      "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},"
      "\"maxItems\":2}}}";
  char args[1024];
  snprintf(args, sizeof args, "[{\"name\":\"Bob\",\"age\":30,\"tags\":[\"a\"]}, %s]",
           schema);
  call("json.match_schema", args, "[true, []]");
  /* Schema given as a JSON string works the same. */
  json_t *s = json_string(schema);
  char *enc = json_dumps(s, JSON_ENCODE_ANY);
  snprintf(args, sizeof args, "[\"{\\\"name\\\":\\\"Bob\\\",\\\"age\\\":1}\", %s]", enc);
  call("json.match_schema", args, "[true, []]");
  free(enc);
  json_decref(s);
  /* Each failure is reported. */
  const wgp_builtin *b = wgp_builtins_find(reg, "json.match_schema");
  snprintf(args, sizeof args,
           "[{\"name\":\"b\",\"age\":-1,\"tags\":[\"a\",\"z\",\"b\"],\"x\":1}, %s]",
           schema);
  json_t *a = json_loads(args, 0, NULL);
  json_t *v[2] = {json_array_get(a, 0), json_array_get(a, 1)};
  wg_error err;
  json_t *r = b->fn(NULL, v, 2, &err);
  assert_true(json_is_false(json_array_get(r, 0)));
  json_t *errs = json_array_get(r, 1);
  /* name: minLength + pattern; age: minimum; tags: maxItems + enum; x. */
  assert_int_equal(json_array_size(errs), 6);
  json_t *e0 = json_array_get(errs, 0);
  assert_non_null(json_object_get(e0, "error"));
  assert_non_null(json_object_get(e0, "type"));
  assert_non_null(json_object_get(e0, "field"));
  assert_non_null(json_object_get(e0, "desc"));
  json_decref(r);
  json_decref(a);
  call("json.match_schema", "[{}, {\"type\":\"string\"}]",
       "[false, [{\"error\":\"(root): Invalid type. Expected: \\\"string\\\"\","
       "\"type\":\"invalid_type\",\"field\":\"(root)\","
       "\"desc\":\"Invalid type. Expected: \\\"string\\\"\"}]]");
  call("json.match_schema", "[\"{bad\", {}]", NULL);
}

static json_t *dummy(void *u, json_t *const *a, size_t n, wg_error *e) {
  (void)u; (void)a; (void)n; (void)e;
  return json_true();
}

static void test_registry(void **st) {
  (void)st;
  assert_int_equal(wg_policy_builtins_add(reg, "x.y", 5, dummy, NULL), WG_EINVAL);
  assert_int_equal(wg_policy_builtins_add(reg, "", 1, dummy, NULL), WG_EINVAL);
  assert_int_equal(wg_policy_builtins_add(reg, "x.y", 1, dummy, NULL), WG_OK);
  assert_non_null(wgp_builtins_find(reg, "x.y"));
  /* Replacing keeps one entry. */
  assert_int_equal(wg_policy_builtins_add(reg, "sprintf", 2, dummy, NULL), WG_OK);
  assert_ptr_equal(wgp_builtins_find(reg, "sprintf")->fn, dummy);
  assert_null(wgp_builtins_find(reg, "http.send"));
}

static int setup(void **st) {
  (void)st;
  reg = wg_policy_builtins_new();
  return reg ? 0 : 1;
}
static int teardown(void **st) {
  (void)st;
  wg_policy_builtins_free(reg);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sprintf), cmocka_unit_test(test_regex),
      cmocka_unit_test(test_time),    cmocka_unit_test(test_json),
      cmocka_unit_test(test_registry),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
