/* The audit log's hash chain: intact logs verify, and the first modified,
** removed or reordered line is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/audit.h"

static char dir[64], path[128];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/wg-audit-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/audit.log", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char p[160];
  unlink(path);
  snprintf(p, sizeof p, "%s.head", path);
  unlink(p);
  snprintf(p, sizeof p, "%s.head.tmp", path);
  unlink(p);
  rmdir(dir);
  return 0;
}

/* Writes n lines (after what is there) and closes the log. */
static void write_lines(int n, int first) {
  srv_audit *a;
  assert_int_equal(srv_audit_open(path, &a, NULL), WG_OK);
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "req_%d", first + i);
    uint8_t h[32] = {1, 2, 3};
    srv_audit_entry e = {.request_id = id, .tenant = "acme",
                         .principal = "tenant", .route = "GET /x",
                         .path = "/x\"\\\x01\xff", .status = 200,
                         .input_sha256 = h, .decision = "allow",
                         .latency_ms = 1.5};
    srv_audit_write(a, &e);
  }
  srv_audit_close(a);
}

static char lines[16][2048];
static int nlines;

static void load(void) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  nlines = 0;
  while (nlines < 16 && fgets(lines[nlines], sizeof lines[0], f)) nlines++;
  fclose(f);
}

static void store(void) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (int i = 0; i < nlines; i++) fputs(lines[i], f);
  fclose(f);
}

static int verify(char *report, uint64_t *bad) {
  return srv_audit_verify(path, report, 512, bad);
}

static void test_intact_and_resumed(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(3, 1);
  write_lines(2, 4);               /* reopened: the chain continues */
  assert_int_equal(verify(report, &bad), 0);
  assert_string_equal(report, "ok: 5 lines, chain intact");
  load();
  assert_int_equal(nlines, 5);
  assert_non_null(strstr(lines[0], "\"seq\":1,\"prev\":\"0000000000"));
  assert_non_null(strstr(lines[4], "\"seq\":5,"));
  assert_non_null(strstr(lines[0], "\"path\":\"/x\\\"\\\\\\u0001\\u00ff\""));
}

static void test_modified_line(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(6, 1);
  load();
  char *p = strstr(lines[2], "\"status\":200");
  p[10] = '1';                      /* 200 -> 201 on line 3 */
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 3);
  assert_string_equal(report, "FAILED: line 3: modified (its SHA-256 does "
                              "not match the prev of line 4)");
}

static void test_removed_line(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(6, 1);
  load();
  memmove(lines[2], lines[3], sizeof lines[0] * 3);
  nlines--;
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 3);
  assert_string_equal(report, "FAILED: line 3: seq 4 where 3 was expected: "
                              "line(s) removed before it");
}

static void test_reordered_lines(void **state) {
  (void)state;
  char report[512], tmp[2048];
  uint64_t bad;
  write_lines(6, 1);
  load();
  memcpy(tmp, lines[3], sizeof tmp);
  memcpy(lines[3], lines[4], sizeof tmp);
  memcpy(lines[4], tmp, sizeof tmp);
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 4);
  assert_string_equal(report, "FAILED: line 4: seq 5 where 4 was expected: "
                              "lines reordered");
}

static void test_truncated_end(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(6, 1);               /* close wrote the head: seq 6 */
  load();
  nlines = 4;
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 5);
  assert_non_null(strstr(report, "FAILED: line 5: missing: the log ends at "
                                 "seq 4 but"));
}

static void test_last_line_modified(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(3, 1);
  load();
  strstr(lines[2], "acme")[0] = 'X';
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 3);
  assert_non_null(strstr(report, "FAILED: line 3: modified (does not match "));
}

static void test_garbage_line(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  write_lines(3, 1);
  load();
  snprintf(lines[1], sizeof lines[1], "not json\n");
  store();
  assert_int_equal(verify(report, &bad), 1);
  assert_int_equal(bad, 2);
  assert_string_equal(report, "FAILED: line 2: modified (not an audit "
                              "record)");
}

static void test_unreadable(void **state) {
  (void)state;
  char report[512];
  uint64_t bad;
  assert_int_equal(srv_audit_verify("/nonexistent/audit.log", report,
                                    sizeof report, &bad), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_intact_and_resumed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_modified_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_removed_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reordered_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_last_line_modified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
