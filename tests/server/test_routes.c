/* Route matching: literal segments, {captures}, 404 vs 405 with Allow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"

static void h(srv_req *r) { (void)r; }

static const srv_route table[] = {
    {"GET", "/healthz", h, 0, 0, 0},
    {"GET", "/v1/modules", h, 0, 0, 0},
    {"POST", "/v1/modules", h, 0, 0, 0},
    {"GET", "/v1/modules/{id}", h, 0, 0, 0},
    {"DELETE", "/v1/modules/{id}", h, 0, 0, 0},
    {"POST", "/v1/modules/{id}/executions", h, 0, 0, 0},
    {"GET", "/a/{x}/b/{y}", h, 0, 0, 0},
};
#define N (sizeof table / sizeof table[0])

static int match(const char *m, const char *path, srv_params *p, size_t *i,
                 char *allow) {
  return srv_route_match(table, N, m, path, p, i, allow, 64);
}

static void test_literal_and_capture(void **state) {
  (void)state;
  srv_params p;
  size_t i;
  char allow[64];
  assert_int_equal(match("GET", "/healthz", &p, &i, allow), SRV_MATCH_OK);
  assert_int_equal(i, 0);
  assert_int_equal(p.n, 0);
  assert_int_equal(match("GET", "/v1/modules/sha256:ab", &p, &i, allow),
                   SRV_MATCH_OK);
  assert_int_equal(i, 3);
  assert_string_equal(srv_params_get(&p, "id"), "sha256:ab");
  assert_string_equal(srv_params_get(&p, "nope"), "");
  assert_int_equal(match("POST", "/v1/modules/m1/executions", &p, &i, allow),
                   SRV_MATCH_OK);
  assert_int_equal(i, 5);
  assert_string_equal(srv_params_get(&p, "id"), "m1");
  assert_int_equal(match("GET", "/a/1/b/2", &p, &i, allow), SRV_MATCH_OK);
  assert_string_equal(srv_params_get(&p, "x"), "1");
  assert_string_equal(srv_params_get(&p, "y"), "2");
}

static void test_not_found(void **state) {
  (void)state;
  srv_params p;
  size_t i;
  char allow[64];
  const char *misses[] = {"/", "", "/healthz/", "/v1/modules/", "/v1/modules//",
                          "/v1/modules/x/executions/", "/v1/modulesx",
                          "/V1/modules", "//healthz", "/a/1/b", "healthz"};
  for (size_t k = 0; k < sizeof misses / sizeof *misses; k++) {
    assert_int_equal(match("GET", misses[k], &p, &i, allow),
                     SRV_MATCH_NO_PATH);
  }
}

static void test_method_not_allowed(void **state) {
  (void)state;
  srv_params p;
  size_t i;
  char allow[64];
  assert_int_equal(match("PUT", "/v1/modules", &p, &i, allow),
                   SRV_MATCH_NO_METHOD);
  assert_string_equal(allow, "GET, POST");
  assert_int_equal(match("POST", "/v1/modules/x", &p, &i, allow),
                   SRV_MATCH_NO_METHOD);
  assert_string_equal(allow, "GET, DELETE");
  assert_int_equal(match("get", "/healthz", &p, &i, allow),
                   SRV_MATCH_NO_METHOD);   /* methods are case-sensitive */
}

static void test_capture_too_long(void **state) {
  (void)state;
  char path[400] = "/v1/modules/";
  memset(path + strlen(path), 'a', SRV_PARAM_MAX);
  srv_params p;
  size_t i;
  char allow[64];
  assert_int_equal(match("GET", path, &p, &i, allow), SRV_MATCH_NO_PATH);
  path[strlen(path) - 1] = 0;   /* SRV_PARAM_MAX - 1 bytes: fits */
  assert_int_equal(match("GET", path, &p, &i, allow), SRV_MATCH_OK);
}

static void test_real_table(void **state) {
  (void)state;
  srv_params p;
  size_t i;
  char allow[64];
  assert_int_equal(srv_route_match(srv_routes, srv_nroutes, "POST",
                                   "/v1/modules/sha256:00/executions", &p, &i,
                                   allow, sizeof allow),
                   SRV_MATCH_OK);
  assert_true(srv_routes[i].flags & SRV_ASYNC);
  assert_true(srv_routes[i].flags & SRV_EXEC);
  assert_int_equal(srv_routes[i].auth, SRV_AUTH_TENANT);
  assert_int_equal(srv_route_match(srv_routes, srv_nroutes, "DELETE",
                                   "/v1/admin/keys/key_1", &p, &i, allow,
                                   sizeof allow),
                   SRV_MATCH_OK);
  assert_int_equal(srv_routes[i].auth, SRV_AUTH_ADMIN);
  assert_string_equal(srv_params_get(&p, "key_id"), "key_1");
  /* Every pattern is matched by itself (no row shadows another). */
  for (size_t k = 0; k < srv_nroutes; k++) {
    char path[256];
    snprintf(path, sizeof path, "%s", srv_routes[k].pattern);
    for (char *c = path; *c; c++) {
      if (*c == '{') *c = 'X';
      if (*c == '}') *c = 'Y';
    }
    assert_int_equal(srv_route_match(srv_routes, srv_nroutes,
                                     srv_routes[k].method, path, &p, &i,
                                     allow, sizeof allow),
                     SRV_MATCH_OK);
    assert_string_equal(srv_routes[i].pattern, srv_routes[k].pattern);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_literal_and_capture),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_method_not_allowed),
      cmocka_unit_test(test_capture_too_long),
      cmocka_unit_test(test_real_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
