/* Guest programs through the WASI API: files and directories, args and
** environment, clocks, randomness, a stdin-to-stdout filter, proc_exit and
** the output caps. Outputs are checked exactly. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test.h"

static void files_and_directories(void **state) {
  (void)state;
  char *t = wt_sandbox();
  char *before = wt_snapshot(t);
  const char *argv[] = {"files"};
  wg_wasi_preopen pre = {wt_path(t, "root"), "/", false, -1};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 1;
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  wt_run r;
  wt_run_guest("files.wasm", &cfg, &r);
  assert_int_equal(r.trap, WG_OK);
  assert_int_equal(r.exit_code, 0);
  assert_string_equal(r.out,
    "read 23: first line\nsecond line\n"
    "sub: deeper f0 f1 f2\n"
    "sub: deeper f1 f2 renamed\n"
    "sub/deeper: notes.txt\n"
    ".: sub\n"
    "size 23 dir 0\n"
    "sub is dir 1\n"
    "rmdir sub: ENOTEMPTY\n"
    "sub: deeper f2 renamed\n"
    "renamed holds '09'\n");
  char *c = wt_read(wt_path(t, "root/sub/deeper/notes.txt"));
  assert_string_equal(c, "first line\nsecond line\n");
  free(c);
  c = wt_read(wt_path(t, "root/sub/f2"));
  assert_string_equal(c, "222");
  free(c);
  char *after = wt_snapshot(t);
  assert_string_equal(before, after);
  free(before);
  free(after);
  wt_run_free(&r);
  wt_rmrf(t);
  free(t);
}

static void args_and_environment(void **state) {
  (void)state;
  setenv("WASMGATE_HOST_SECRET", "must-not-leak", 1);
  const char *argv[] = {"envargs", "one", "two three", "quote\"d", ""};
  const char *env[] = {"A=1", "B=x y", "C=new\nline"};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 5;
  cfg.env = env;
  cfg.envc = 3;
  wt_run r;
  wt_run_guest("envargs.wasm", &cfg, &r);
  assert_int_equal(r.exit_code, 0);
  assert_string_equal(r.out,
    "argc 5\nargv[0] envargs\nargv[1] one\nargv[2] two three\n"
    "argv[3] quote\"d\nargv[4] \n"
    "env A=1\nenv B=x y\nenv C=new\nline\nenvc 3\n");
  wt_run_free(&r);
  /* no env given: the guest sees none, whatever the host has */
  cfg.env = NULL;
  cfg.envc = 0;
  cfg.argc = 1;
  wt_run_guest("envargs.wasm", &cfg, &r);
  assert_string_equal(r.out, "argc 1\nargv[0] envargs\nenvc 0\n");
  wt_run_free(&r);
}

static void clocks(void **state) {
  (void)state;
  const char *argv[] = {"clocks"};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 1;
  wt_run r;
  wt_run_guest("clocks.wasm", &cfg, &r);
  assert_string_equal(r.out,
    "realtime res ok\nrealtime time ok\nmonotonic res ok\nmonotonic time ok\n"
    "process res ok\nprocess time ok\nthread res ok\nthread time ok\n"
    "realtime after 2020 ok\nbad clock INVAL ok\nbad clock res INVAL ok\n"
    "poll clock ok\n");
  assert_int_equal(r.exit_code, 0);
  wt_run_free(&r);
}

static void random_bytes(void **state) {
  (void)state;
  const char *argv[] = {"random"};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 1;
  wt_run r;
  wt_run_guest("random.wasm", &cfg, &r);
  assert_string_equal(r.out, "random ok\n");
  assert_int_equal(r.exit_code, 0);
  wt_run_free(&r);
}

static void filter_stdin_to_stdout(void **state) {
  (void)state;
  const char *argv[] = {"filter", "7"};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 1;
  static const char text[] = "Hello, sandbox!\nline 2\n";
  cfg.stdin_bytes = (const uint8_t *)text;
  cfg.stdin_len = strlen(text);
  wt_run r;
  wt_run_guest("filter.wasm", &cfg, &r);
  assert_string_equal(r.out, "HELLO, SANDBOX!\nLINE 2\n");
  assert_string_equal(r.err, "bytes 23\n");
  assert_int_equal(r.exit_code, 0);
  assert_false(r.exited);
  wt_run_free(&r);
  /* empty stdin: EOF at once; proc_exit(7) ends the run with 7 */
  cfg.stdin_bytes = NULL;
  cfg.stdin_len = 0;
  cfg.argc = 2;
  wt_run_guest("filter.wasm", &cfg, &r);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "bytes 0\n");
  assert_true(r.exited);
  assert_int_equal(r.exit_code, 7);
  assert_int_equal(r.trap, WG_OK);
  wt_run_free(&r);
  /* stdin from a host fd, stdout to a host fd */
  char *t = wt_sandbox();
  wt_write(wt_path(t, "in.txt"), "from a file\n");
  int in = open(wt_path(t, "in.txt"), O_RDONLY);
  int out = open(wt_path(t, "out.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cfg.stdin_fd = in;
  cfg.stdout_fd = out;
  cfg.argc = 1;
  wt_run_guest("filter.wasm", &cfg, &r);
  close(in);
  close(out);
  assert_string_equal(r.out, "");           /* not captured */
  assert_string_equal(r.err, "bytes 12\n");
  char *c = wt_read(wt_path(t, "out.txt"));
  assert_string_equal(c, "FROM A FILE\n");
  free(c);
  wt_run_free(&r);
  wt_rmrf(t);
  free(t);
}

static void output_cap_and_discard(void **state) {
  (void)state;
  const char *argv[] = {"spam", "100000"};
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  cfg.argv = argv;
  cfg.argc = 2;
  cfg.max_output = 10;
  wt_run r;
  wt_run_guest("spam.wasm", &cfg, &r);
  /* cut at the cap; the guest saw every write succeed and went on */
  assert_int_equal(r.out_len, 10);
  assert_string_equal(r.out, "abcdefghij");
  assert_true(r.out_trunc);
  assert_string_equal(r.err, "done\n");
  assert_false(r.err_trunc);
  assert_int_equal(r.limits, WG_WASI_LIMIT_OUTPUT);
  assert_int_equal(r.exit_code, 0);
  wt_run_free(&r);
  /* exactly at the cap: not truncated */
  argv[1] = "10";
  wt_run_guest("spam.wasm", &cfg, &r);
  assert_string_equal(r.out, "abcdefghij");
  assert_false(r.out_trunc);
  assert_int_equal(r.limits, 0);
  wt_run_free(&r);
  /* max_output 0: discarded, not a limit */
  cfg.max_output = 0;
  argv[1] = "5000";
  wt_run_guest("spam.wasm", &cfg, &r);
  assert_int_equal(r.out_len, 0);
  assert_int_equal(r.err_len, 0);
  assert_false(r.out_trunc);
  assert_int_equal(r.limits, 0);
  assert_int_equal(r.exit_code, 0);
  wt_run_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(files_and_directories),
    cmocka_unit_test(args_and_environment),
    cmocka_unit_test(clocks),
    cmocka_unit_test(random_bytes),
    cmocka_unit_test(filter_stdin_to_stdout),
    cmocka_unit_test(output_cap_and_discard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
