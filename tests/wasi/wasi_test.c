/* Helpers for the WASI tests: see wasi_test.h. */
#include <ftw.h>
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

#ifndef WG_WASI_GUESTS
#error "WG_WASI_GUESTS must name the folder of the built guests"
#endif

const char *wt_guest(const char *name) {
  static char buf[4][1024];
  static int k;
  char *b = buf[k++ & 3];
  snprintf(b, sizeof buf[0], "%s/%s", WG_WASI_GUESTS, name);
  return b;
}

const char *wt_path(const char *a, const char *b) {
  static char buf[8][1024];
  static int k;
  char *p = buf[k++ & 7];
  snprintf(p, sizeof buf[0], "%s/%s", a, b);
  return p;
}

bool wt_walk_mode(void) {
  const char *v = getenv("WASMGATE_NO_OPENAT2");
  return v && v[0] && strcmp(v, "0") != 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
  fclose(f);
  if (b) b[n] = 0;
  *len = (size_t)n;
  return b;
}

void wt_run_guest(const char *name, wg_wasi_config *cfg, wt_run *r) {
  memset(r, 0, sizeof *r);
  size_t len;
  uint8_t *bytes = slurp(wt_guest(name), &len);
  if (!bytes) fail_msg("cannot read guest %s", wt_guest(name));
  wg_error err;
  wg_error_clear(&err);
  wg_module *m = wg_module_load(bytes, len, &err);
  free(bytes);
  if (!m) fail_msg("load %s: %s", name, err.message);
  cfg->no_openat2 = wt_walk_mode();
  wg_wasi *w = wg_wasi_new(cfg, &err);
  if (!w) fail_msg("wg_wasi_new: %s", err.message);
  wg_store_config scfg = {0};
  scfg.fuel = -1;
  wg_store *s = wg_store_new(&scfg);
  wg_wasi_result res;
  wg_wasi_run(w, s, m, &res, &err);
  r->exit_code = res.exit_code;
  r->exited = res.exited;
  r->trap = res.trap;
  r->limits = res.limits;
  r->openat2 = wg_wasi_uses_openat2(w);
  const uint8_t *o = wg_wasi_stdout(w, &r->out_len, &r->out_trunc);
  r->out = malloc(r->out_len + 1);
  memcpy(r->out, o, r->out_len + 1);
  o = wg_wasi_stderr(w, &r->err_len, &r->err_trunc);
  r->err = malloc(r->err_len + 1);
  memcpy(r->err, o, r->err_len + 1);
  wg_store_free(s);
  wg_wasi_free(w);
  wg_module_release(m);
  /* The mode must be the one asked for (openat2 exists on the test hosts). */
  assert_int_equal(r->openat2, !wt_walk_mode());
}

void wt_run_free(wt_run *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}

char *wt_fsprobe(const char *root, bool ro, const char *const *ops) {
  return wt_fsprobe_ex(root, ro, 0, 0, ops, NULL);
}

char *wt_fsprobe_ex(const char *root, bool ro, uint32_t max_fds,
                    uint64_t max_write, const char *const *ops,
                    unsigned *limits) {
  const char *argv[64] = {"fsprobe"};
  size_t n = 1;
  while (ops[n - 1] && n < 63) { argv[n] = ops[n - 1]; n++; }
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  wg_wasi_preopen pre = {root, "/", ro, -1};
  cfg.argv = argv;
  cfg.argc = n;
  cfg.preopens = &pre;
  cfg.npreopens = 1;
  cfg.max_open_fds = max_fds;
  cfg.max_write_bytes = max_write;
  wt_run r;
  wt_run_guest("fsprobe.wasm", &cfg, &r);
  if (limits) *limits = r.limits;
  if (r.trap || r.exit_code)
    fail_msg("fsprobe failed: trap %d exit %d: %s", r.trap, r.exit_code, r.err);
  char *out = r.out;
  r.out = NULL;
  wt_run_free(&r);
  return out;
}

void wt_write(const char *path, const char *content) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  fputs(content, f);
  fclose(f);
}

char *wt_read(const char *path) {
  size_t len;
  return (char *)slurp(path, &len);
}

char *wt_sandbox(void) {
  char tmpl[] = "/tmp/wg-wasi-XXXXXX";
  if (!mkdtemp(tmpl)) fail_msg("mkdtemp");
  char *t = strdup(tmpl);
  mkdir(wt_path(t, "root"), 0755);
  mkdir(wt_path(t, "outside"), 0755);
  wt_write(wt_path(t, "outside/sentinel"), "SENTINEL\n");
  return t;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(p);
}

void wt_rmrf(const char *path) {
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* snapshot: walk T (physically), skipping T/root */
static char *snap_buf;
static size_t snap_len, snap_cap;
static size_t snap_skip_len;
static const char *snap_skip;

static void snap_add(const char *s) {
  size_t n = strlen(s);
  if (snap_len + n + 1 > snap_cap) {
    snap_cap = (snap_len + n + 1) * 2;
    snap_buf = realloc(snap_buf, snap_cap);
  }
  memcpy(snap_buf + snap_len, s, n + 1);
  snap_len += n;
}

static int snap_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)f;
  if (!strncmp(p, snap_skip, snap_skip_len) &&
      (p[snap_skip_len] == 0 || p[snap_skip_len] == '/'))
    return 0;
  char line[2048];
  snprintf(line, sizeof line, "%s mode %o size %lld mtime %lld.%09ld nlink %lu\n",
           p, st->st_mode, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
           st->st_mtim.tv_nsec, (unsigned long)st->st_nlink);
  snap_add(line);
  if (flag == FTW_SL) {
    char target[1024] = "";
    ssize_t n = readlink(p, target, sizeof target - 1);
    if (n > 0) target[n] = 0;
    snap_add("  -> ");
    snap_add(target);
    snap_add("\n");
  } else if (S_ISREG(st->st_mode)) {
    char *c = wt_read(p);
    snap_add("  = ");
    snap_add(c ? c : "(unreadable)");
    snap_add("\n");
    free(c);
  }
  return 0;
}

char *wt_snapshot(const char *t) {
  snap_buf = NULL;
  snap_len = snap_cap = 0;
  snap_add("");
  char skip[1024];
  snprintf(skip, sizeof skip, "%s/root", t);
  snap_skip = skip;
  snap_skip_len = strlen(skip);
  nftw(t, snap_one, 16, FTW_PHYS);
  return snap_buf;
}
