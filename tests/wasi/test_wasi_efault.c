/* Bad guest pointers: every WASI function that takes a pointer answers
** FAULT (21) for one that is out of bounds, crosses the end of memory, or
** (for iovec arrays) whose array or any buffer does, and does nothing else:
** no crash, no file created, no output. Calls go through guests/wrappers.wat
** (one page of memory, 65536 bytes) so that they come from the instance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test.h"

#define END 65536u          /* first byte past memory */
#define FAULT 21
#define OK 0

typedef struct env {
  char *t, *root, *before;
  wg_module *m;
  wg_wasi *w;
  wg_store *s;
  wg_instance *inst;
  uint8_t *mem;
} env;

static env E;

static int setup(void **state) {
  (void)state;
  E.t = wt_sandbox();
  E.root = strdup(wt_path(E.t, "root"));
  wt_write(wt_path(E.root, "file"), "hello\n");
  mkdir(wt_path(E.root, "dir"), 0755);
  if (symlink("file", wt_path(E.root, "link"))) return -1;
  FILE *f = fopen(wt_guest("wrappers.wasm"), "rb");
  if (!f) return -1;
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  wg_error err;
  wg_error_clear(&err);
  E.m = wg_module_load(buf, n, &err);
  if (!E.m) return -1;
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  static const char *argv[] = {"wrappers", "arg"};
  static const char *envv[] = {"K=V"};
  static wg_wasi_preopen pre;
  pre = (wg_wasi_preopen){E.root, "/", false, -1};
  cfg.argv = argv;
  cfg.argc = 2;
  cfg.env = envv;
  cfg.envc = 1;
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  cfg.no_openat2 = wt_walk_mode();
  static const uint8_t in[] = "stdin bytes";
  cfg.stdin_bytes = in;
  cfg.stdin_len = sizeof in - 1;
  E.w = wg_wasi_new(&cfg, &err);
  wg_store_config scfg = {0};
  scfg.fuel = -1;
  E.s = wg_store_new(&scfg);
  wg_wasi_bind_store(E.w, E.s);
  E.inst = wg_instance_new(E.s, E.m, wg_wasi_resolve, E.w, &err);
  if (!E.inst) return -1;
  wg_extern x;
  if (wg_instance_export(E.inst, (wg_name){"memory", 6}, &x)) return -1;
  E.mem = wg_memory_translate(x.of.memory, 0, END);
  E.before = wt_snapshot(E.t);
  return E.mem ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  wg_store_free(E.s);
  wg_wasi_free(E.w);
  wg_module_release(E.m);
  wt_rmrf(E.t);
  free(E.t);
  free(E.root);
  free(E.before);
  return 0;
}

/* Calls wrapper name with raw arguments (i64 where its type says so). */
static uint32_t call(const char *name, int n, ...) {
  wg_extern x;
  assert_int_equal(wg_instance_export(E.inst, (wg_name){name, (uint32_t)strlen(name)}, &x), WG_OK);
  wg_functype ft = wg_func_type(x.of.func);
  assert_int_equal(ft.nparams, n);
  wg_val args[16], res[1];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    uint64_t v = va_arg(ap, uint64_t);
    args[i].type = (wg_valtype)ft.params[i];
    if (args[i].type == WG_I64) args[i].of.i64 = v;
    else args[i].of.i32 = (uint32_t)v;
  }
  va_end(ap);
  wg_err e = wg_call(E.s, x.of.func, args, (size_t)n, res, 1);
  assert_int_equal(e, WG_OK);
  return ft.nresults ? res[0].of.i32 : 0;
}
#define C(name, ...) call(name, WT_NARGS(__VA_ARGS__), __VA_ARGS__)
#define WT_NARGS(...) WT_NARGS_(__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define WT_NARGS_(a, b, c, d, e, f, g, h, i, n, ...) n
#define U(x) ((uint64_t)(x))

/* Puts a C string at guest address at; returns its length. */
static uint64_t str(uint32_t at, const char *s) {
  size_t n = strlen(s);
  memcpy(E.mem + at, s, n);
  return n;
}

static void iov(uint32_t at, uint32_t buf, uint32_t len) {
  for (int i = 0; i < 4; i++) {
    E.mem[at + i] = (uint8_t)(buf >> (8 * i));
    E.mem[at + 4 + i] = (uint8_t)(len >> (8 * i));
  }
}

static uint32_t rd32(uint32_t at) {
  return (uint32_t)E.mem[at] | (uint32_t)E.mem[at + 1] << 8 |
         (uint32_t)E.mem[at + 2] << 16 | (uint32_t)E.mem[at + 3] << 24;
}

static void args_env_clocks_random(void **state) {
  (void)state;
  assert_int_equal(C("args_sizes_get", U(END), U(0)), FAULT);
  assert_int_equal(C("args_sizes_get", U(0), U(END - 2)), FAULT);
  assert_int_equal(C("args_sizes_get", U(0), U(4)), OK);
  assert_int_equal(rd32(0), 2);
  assert_int_equal(rd32(4), 13);                 /* "wrappers\0arg\0" */
  assert_int_equal(C("args_get", U(END - 4), U(100)), FAULT);   /* 2 pointers: 8 bytes */
  assert_int_equal(C("args_get", U(0), U(END - 12)), FAULT);    /* 13 bytes */
  assert_int_equal(C("args_get", U(0), U(0xFFFFFFFF)), FAULT);
  assert_int_equal(C("args_get", U(0), U(100)), OK);
  assert_string_equal((char *)E.mem + rd32(4), "arg");
  assert_int_equal(C("environ_sizes_get", U(0xFFFFFFFC), U(0)), FAULT);
  assert_int_equal(C("environ_get", U(END), U(100)), FAULT);
  assert_int_equal(C("environ_get", U(0), U(END - 3)), FAULT); /* "K=V\0" */
  assert_int_equal(C("environ_get", U(0), U(END - 4)), OK);
  assert_int_equal(C("clock_res_get", U(1), U(END - 7)), FAULT);
  assert_int_equal(C("clock_time_get", U(1), U(0), U(END - 4)), FAULT);
  assert_int_equal(C("clock_time_get", U(1), U(0), U(END - 8)), OK);
  assert_int_equal(C("random_get", U(END - 10), U(11)), FAULT);
  assert_int_equal(C("random_get", U(0), U(0xFFFFFFFF)), FAULT);
  assert_int_equal(C("random_get", U(END), U(0)), OK);      /* empty at the end */
  assert_int_equal(C("random_get", U(END + 1), U(0)), FAULT);
}

static void fd_calls(void **state) {
  (void)state;
  /* fd_write to stdout: array out, array crossing the end, buffer out,
  ** result out; nothing may reach the output */
  uint64_t n = str(1000, "leak");
  iov(0, 1000, (uint32_t)n);
  assert_int_equal(C("fd_write", U(1), U(END), U(1), U(64)), FAULT);
  assert_int_equal(C("fd_write", U(1), U(END - 4), U(1), U(64)), FAULT);
  assert_int_equal(C("fd_write", U(1), U(0), U(0x20000000), U(64)), FAULT);
  iov(8, END - 2, 4);                            /* second iovec crosses */
  assert_int_equal(C("fd_write", U(1), U(0), U(2), U(64)), FAULT);
  iov(8, 0xFFFFFFFF, 1);
  assert_int_equal(C("fd_write", U(1), U(0), U(2), U(64)), FAULT);
  assert_int_equal(C("fd_write", U(1), U(0), U(1), U(END - 3)), FAULT);
  size_t len;
  wg_wasi_stdout(E.w, &len, NULL);
  assert_int_equal(len, 0);
  /* the same with good pointers works */
  assert_int_equal(C("fd_write", U(1), U(0), U(1), U(64)), OK);
  assert_int_equal(rd32(64), 4);
  wg_wasi_stdout(E.w, &len, NULL);
  assert_int_equal(len, 4);
  /* fd_read from stdin: a bad pointer consumes nothing */
  iov(0, 2000, 5);
  assert_int_equal(C("fd_read", U(0), U(0), U(1), U(END)), FAULT);
  iov(0, END - 4, 5);
  assert_int_equal(C("fd_read", U(0), U(0), U(1), U(64)), FAULT);
  iov(0, 2000, 5);
  assert_int_equal(C("fd_read", U(0), U(0), U(1), U(64)), OK);
  assert_int_equal(rd32(64), 5);
  assert_memory_equal(E.mem + 2000, "stdin", 5);
  /* a file fd for pread/pwrite/seek/tell/filestat */
  uint64_t pl = str(3000, "file");
  const uint64_t rights = 0x3FFFFFFF;
  assert_int_equal(C("path_open", U(3), U(0), U(3000), pl, U(0), rights, rights, U(0), U(68)), OK);
  uint32_t fd = rd32(68);
  iov(0, 2000, 5);
  assert_int_equal(C("fd_pread", U(fd), U(0), U(1), U(0), U(END - 1)), FAULT);
  assert_int_equal(C("fd_pread", U(fd), U(END - 7), U(1), U(0), U(64)), FAULT);
  assert_int_equal(C("fd_pwrite", U(fd), U(0), U(1), U(0), U(0xFFFFFFFF)), FAULT);
  iov(0, END, 1);
  assert_int_equal(C("fd_pwrite", U(fd), U(0), U(1), U(0), U(64)), FAULT);
  assert_int_equal(C("fd_seek", U(fd), U(0), U(0), U(END - 7)), FAULT);
  assert_int_equal(C("fd_tell", U(fd), U(END)), FAULT);
  assert_int_equal(C("fd_fdstat_get", U(fd), U(END - 23)), FAULT);
  assert_int_equal(C("fd_filestat_get", U(fd), U(END - 63)), FAULT);
  assert_int_equal(C("fd_filestat_get", U(fd), U(END - 64)), OK);
  assert_int_equal(C("fd_prestat_get", U(3), U(END - 7)), FAULT);
  assert_int_equal(C("fd_prestat_dir_name", U(3), U(END), U(1)), FAULT);
  assert_int_equal(C("fd_prestat_dir_name", U(3), U(END - 1), U(1)), OK);
  assert_int_equal(E.mem[END - 1], '/');
  assert_int_equal(C("fd_readdir", U(3), U(END - 100), U(101), U(0), U(64)), FAULT);
  assert_int_equal(C("fd_readdir", U(3), U(1000), U(100), U(0), U(END - 3)), FAULT);
  assert_int_equal(C("fd_close", U(fd)), OK);
  char *c = wt_read(wt_path(E.root, "file"));
  assert_string_equal(c, "hello\n");             /* pwrite wrote nothing */
  free(c);
}

static void path_calls(void **state) {
  (void)state;
  uint64_t pl = str(3000, "newfile");
  const uint64_t rights = 0x3FFFFFFF;
  /* path pointer out / crossing, huge length, result pointer out */
  assert_int_equal(C("path_open", U(3), U(0), U(END - 3), U(7), U(1), rights, rights, U(0), U(68)), FAULT);
  assert_int_equal(C("path_open", U(3), U(0), U(3000), U(0xFFFFFFFF), U(1), rights, rights, U(0), U(68)), FAULT);
  assert_int_equal(C("path_open", U(3), U(0), U(3000), pl, U(1), rights, rights, U(0), U(END - 2)), FAULT);
  assert_int_equal(C("path_create_directory", U(3), U(END - 3), U(7)), FAULT);
  assert_int_equal(C("path_filestat_get", U(3), U(0), U(END), U(1), U(100)), FAULT);
  uint64_t fl = str(3100, "file");
  assert_int_equal(C("path_filestat_get", U(3), U(0), U(3100), fl, U(END - 32)), FAULT);
  assert_int_equal(C("path_filestat_set_times", U(3), U(0), U(END - 1), U(4), U(0), U(0), U(5)), FAULT);
  assert_int_equal(C("path_link", U(3), U(0), U(END), U(4), U(3), U(3000), pl), FAULT);
  assert_int_equal(C("path_link", U(3), U(0), U(3100), fl, U(3), U(END - 1), U(7)), FAULT);
  uint64_t ll = str(3200, "link");
  assert_int_equal(C("path_readlink", U(3), U(3200), ll, U(END - 2), U(10), U(64)), FAULT);
  assert_int_equal(C("path_readlink", U(3), U(3200), ll, U(2000), U(10), U(END - 2)), FAULT);
  assert_int_equal(C("path_readlink", U(3), U(END - 2), ll, U(2000), U(10), U(64)), FAULT);
  assert_int_equal(C("path_readlink", U(3), U(3200), ll, U(2000), U(10), U(64)), OK);
  assert_int_equal(rd32(64), 4);
  assert_int_equal(C("path_remove_directory", U(3), U(END - 1), U(3)), FAULT);
  assert_int_equal(C("path_rename", U(3), U(END - 1), U(4), U(3), U(3000), pl), FAULT);
  assert_int_equal(C("path_rename", U(3), U(3100), fl, U(3), U(END - 1), U(7)), FAULT);
  assert_int_equal(C("path_symlink", U(END - 1), U(4), U(3), U(3000), pl), FAULT);
  assert_int_equal(C("path_symlink", U(3100), fl, U(3), U(END - 1), U(7)), FAULT);
  assert_int_equal(C("path_unlink_file", U(3), U(0xFFFFFFFF), U(1)), FAULT);
  /* nothing was created, renamed or removed */
  char *after = wt_snapshot(E.t);
  assert_string_equal(E.before, after);
  free(after);
  struct stat st;
  assert_int_not_equal(stat(wt_path(E.root, "newfile"), &st), 0);
  assert_int_equal(stat(wt_path(E.root, "file"), &st), 0);
  assert_int_equal(stat(wt_path(E.root, "dir"), &st), 0);
}

static void poll_and_sockets(void **state) {
  (void)state;
  /* one clock subscription at 0: userdata 7, relative timeout 0 */
  memset(E.mem, 0, 48);
  E.mem[0] = 7;
  E.mem[8] = 0;                                   /* EVENTTYPE_CLOCK */
  E.mem[16] = 1;                                  /* monotonic */
  assert_int_equal(C("poll_oneoff", U(END - 47), U(100), U(1), U(200)), FAULT);
  assert_int_equal(C("poll_oneoff", U(0), U(END - 31), U(1), U(200)), FAULT);
  assert_int_equal(C("poll_oneoff", U(0), U(100), U(1), U(END)), FAULT);
  assert_int_equal(C("poll_oneoff", U(0), U(100), U(0x10000000), U(200)), FAULT);
  assert_int_equal(C("poll_oneoff", U(0), U(100), U(1), U(200)), OK);
  assert_int_equal(rd32(200), 1);
  assert_int_equal(E.mem[100], 7);
  /* sockets: pointers first, then BADF / NOTSOCK */
  assert_int_equal(C("sock_accept", U(3), U(0), U(END)), FAULT);
  assert_int_equal(C("sock_accept", U(3), U(0), U(64)), 57);
  assert_int_equal(C("sock_accept", U(99), U(0), U(64)), 8);
  iov(0, 1000, 4);
  assert_int_equal(C("sock_recv", U(3), U(END - 4), U(1), U(0), U(64), U(68)), FAULT);
  assert_int_equal(C("sock_recv", U(3), U(0), U(1), U(0), U(END - 2), U(68)), FAULT);
  assert_int_equal(C("sock_recv", U(3), U(0), U(1), U(0), U(64), U(END - 1)), FAULT);
  assert_int_equal(C("sock_recv", U(3), U(0), U(1), U(0), U(64), U(68)), 57);
  assert_int_equal(C("sock_send", U(3), U(0), U(1), U(0), U(END)), FAULT);
  assert_int_equal(C("sock_send", U(1), U(0), U(1), U(0), U(64)), 57);
  assert_int_equal(C("sock_shutdown", U(1), U(3)), 57);
  assert_int_equal(C("sock_shutdown", U(77), U(3)), 8);
  /* no pointer: fine whatever */
  assert_int_equal(C("proc_raise", U(9)), 58);
  assert_int_equal(call("sched_yield", 0), OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(args_env_clocks_random),
    cmocka_unit_test(fd_calls),
    cmocka_unit_test(path_calls),
    cmocka_unit_test(poll_and_sockets),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
