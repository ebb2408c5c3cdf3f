/* The YAML configuration: every kind of key, and every refusal with its
** line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "server/srv.h"

static bool parse(wg_config *c, const char *text, char *msg) {
  srv_config_defaults(c);
  return srv_config_parse(c, text, strlen(text), msg, 256);
}

static void test_defaults(void **state) {
  (void)state;
  static wg_config c;
  char msg[256];
  assert_true(parse(&c, "", msg));
  assert_string_equal(c.listen_host, "127.0.0.1");
  assert_int_equal(c.listen_port, 8080);
  assert_string_equal(c.data_dir, "./wasmgate-data");
  /* not set: SRV_HTTP_THREADS, or with models gateway.event_threads */
  assert_int_equal(c.http_threads, 0);
  srv_config_finish(&c);
  assert_string_equal(c.scratch_dir, "./wasmgate-data/scratch");
  assert_string_equal(c.audit_path, "./wasmgate-data/audit.log");
  assert_int_equal(c.tenant_defaults.max_modules, 100);
  /* Not above 32 KiB: libmicrohttpd would map each connection's pool. */
  assert_int_equal(c.max_header_bytes, 32 * 1024);
  assert_true(parse(&c, "# only a comment\n", msg));
}

static void test_every_type(void **state) {
  (void)state;
  static wg_config c;
  char msg[256];
  const char *y =
      "server:\n"
      "  listen: \"[::1]:9000\"\n"
      "  threads: 4\n"
      "  max_header_bytes: 16KiB\n"
      "limits:\n"
      "  max_module_bytes: 2MB\n"
      "data_dir: /var/lib/wg\n"
      "executions:\n"
      "  store_output: yes\n"
      "tenant_defaults:\n"
      "  max_fuel: 1000\n"
      "  requests_per_minute: 10\n";
  assert_true(parse(&c, y, msg));
  assert_string_equal(c.listen_host, "::1");
  assert_int_equal(c.listen_port, 9000);
  assert_int_equal(c.http_threads, 4);
  assert_int_equal(c.max_header_bytes, 16 * 1024);
  assert_int_equal(c.max_module_bytes, 2000000);
  assert_string_equal(c.data_dir, "/var/lib/wg");
  assert_true(c.store_output);
  assert_int_equal(c.tenant_defaults.max_fuel, 1000);
  assert_int_equal(c.tenant_defaults.requests_per_minute, 10);
  assert_int_equal(c.tenant_defaults.max_modules, 100);
}

static void test_refusals(void **state) {
  (void)state;
  static wg_config c;
  char msg[256];
  static const struct {
    const char *yaml, *msg;
  } cases[] = {
      {"server:\n  lisen: x\n", "line 2: unknown key 'server.lisen'"},
      {"server:\n  threads: 0\n",
       "line 2: server.threads: '0' is not a number in [1, 256]"},
      {"server:\n  threads: two\n",
       "line 2: server.threads: 'two' is not a number in [1, 256]"},
      {"server:\n  listen: localhost\n",
       "line 2: server.listen: 'localhost' is not HOST:PORT"},
      {"server:\n  listen: \"h:70000\"\n",
       "line 2: server.listen: 'h:70000' is not HOST:PORT"},
      {"executions:\n  store_output: maybe\n",
       "line 2: executions.store_output: 'maybe' is not true or false"},
      {"tenant_defaults:\n  max_fuel: -1\n",
       "line 2: tenant_defaults.max_fuel: '-1' is not a positive number"},
      {"tenant_defaults:\n  max_fuul: 1\n",
       "line 2: tenant_defaults: unknown quota 'max_fuul'"},
      {"server: [1, 2]\n", "line 1: 'server': lists are not settings"},
      {"just a string\n", "line 1: expected a mapping of settings"},
      {"a: b: c\n", "line 1: mapping values are not allowed in this context"},
      {"server:\n  threads: 1\n  threads: 2\n  bad: 3\n",
       "line 4: unknown key 'server.bad'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    assert_false(parse(&c, cases[i].yaml, msg));
    assert_string_equal(msg, cases[i].msg);
  }
}

static void test_listen(void **state) {
  (void)state;
  static wg_config c;
  srv_config_defaults(&c);
  assert_true(srv_config_listen(&c, "0.0.0.0:0"));
  assert_string_equal(c.listen_host, "0.0.0.0");
  assert_int_equal(c.listen_port, 0);
  assert_false(srv_config_listen(&c, ":80"));
  assert_false(srv_config_listen(&c, "host:"));
  assert_false(srv_config_listen(&c, "host:+80"));
  assert_false(srv_config_listen(&c, "[::1:80"));
}

/* config/wasmgate.example.yaml documents the defaults: it must parse, and
** to exactly them. */
static void test_example_file_is_the_defaults(void **state) {
  (void)state;
  static wg_config a, b;
  char msg[256];
  srv_config_defaults(&a);
  srv_config_defaults(&b);
  if (!srv_config_load(&b, WG_EXAMPLE_CONFIG, msg, sizeof msg)) fail_msg("%s", msg);
  assert_memory_equal(&a, &b, sizeof a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_every_type),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_listen),
      cmocka_unit_test(test_example_file_is_the_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
