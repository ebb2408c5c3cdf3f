/*
** wasi_driver: runs a WASI command module with the engine and src/wasi, for
** tests (until `wasmgate run` links WASI).
**
**   wasi_driver [options] module.wasm [guest args...]
**
**   --dir HOST::GUEST[:ro]   preopen HOST as GUEST (fds 3, 4, ... in order)
**   --dir HOST[:ro]          preopen HOST under its own name
**   --env K=V                one guest environment variable (none by default)
**   --stdin-file PATH        stdin from a host file; --stdin-text STR: bytes
**                            (default: empty, EOF at once)
**   --inherit-stdout         stdout/stderr go to the driver's fds 1 and 2
**                            (default: captured, then copied there at the end)
**   --max-fds N --max-write N --max-output N    limits (wg_wasi_config)
**   --no-openat2             the portable path walk
**   --report                 a last line on stderr:
**                            "report: exit=N trap=NAME limits=LIST out_trunc=0 err_trunc=0"
**
** Exit status: the guest's (proc_exit code, 0 when _start returns), 134
** after a trap, 125 when the driver itself fails.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasmgate/engine.h"
#include "wasmgate/wasi.h"

#define MAXV 256

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  while (b) {
    size_t k = fread(b + n, 1, cap - n, f);
    n += k;
    if (k == 0) break;
    if (n == cap) {
      uint8_t *nb = realloc(b, cap *= 2);
      if (!nb) { free(b); b = NULL; }
      else b = nb;
    }
  }
  fclose(f);
  *len = n;
  return b;
}

static unsigned long long num(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s) {
    fprintf(stderr, "wasi_driver: bad number '%s'\n", s);
    exit(125);
  }
  return v;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k <= 0) return;
    p += k;
    n -= (size_t)k;
  }
}

int main(int argc, char **argv) {
  wg_wasi_config cfg;
  wg_wasi_config_init(&cfg);
  wg_wasi_preopen pre[MAXV];
  const char *env[MAXV];
  const char *gargv[MAXV];
  size_t npre = 0, nenv = 0, nargs = 0;
  bool report = false, inherit = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(o, "--report")) { report = true; continue; }
    if (!strcmp(o, "--no-openat2")) { cfg.no_openat2 = true; continue; }
    if (!strcmp(o, "--inherit-stdout")) { inherit = true; continue; }
    if (!v) { fprintf(stderr, "wasi_driver: %s needs a value\n", o); return 125; }
    i++;
    if (!strcmp(o, "--dir") && npre < MAXV) {
      char *spec = strdup(v);
      wg_wasi_preopen *p = &pre[npre++];
      size_t l = strlen(spec);
      p->readonly = l > 3 && !strcmp(spec + l - 3, ":ro");
      if (p->readonly) spec[l - 3] = 0;
      char *sep = strstr(spec, "::");
      if (sep) { *sep = 0; p->guest_path = sep + 2; }
      else p->guest_path = spec;
      p->host_path = spec;
    } else if (!strcmp(o, "--env") && nenv < MAXV) {
      env[nenv++] = v;
    } else if (!strcmp(o, "--stdin-file")) {
      cfg.stdin_fd = open(v, O_RDONLY | O_CLOEXEC);
      if (cfg.stdin_fd < 0) { perror(v); return 125; }
    } else if (!strcmp(o, "--stdin-text")) {
      cfg.stdin_bytes = (const uint8_t *)v;
      cfg.stdin_len = strlen(v);
    } else if (!strcmp(o, "--max-fds")) {
      cfg.max_open_fds = (uint32_t)num(v);
    } else if (!strcmp(o, "--max-write")) {
      cfg.max_write_bytes = num(v);
    } else if (!strcmp(o, "--max-output")) {
      cfg.max_output = (size_t)num(v);
    } else {
      fprintf(stderr, "wasi_driver: unknown option %s\n", o);
      return 125;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: wasi_driver [options] module.wasm [args...]\n");
    return 125;
  }
  const char *path = argv[i];
  for (; i < argc && nargs < MAXV; i++) gargv[nargs++] = argv[i];
  cfg.argv = gargv;
  cfg.argc = nargs;
  cfg.env = env;
  cfg.envc = nenv;
  cfg.preopens = pre;
  cfg.npreopens = npre;
  if (inherit) {
    cfg.stdout_fd = 1;
    cfg.stderr_fd = 2;
  }

  size_t len;
  uint8_t *bytes = read_file(path, &len);
  if (!bytes) { perror(path); return 125; }
  wg_error err;
  wg_error_clear(&err);
  wg_module *m = wg_module_load(bytes, len, &err);
  free(bytes);
  if (!m) {
    fprintf(stderr, "wasi_driver: %s: %s\n", path, err.message);
    return 125;
  }
  wg_wasi *w = wg_wasi_new(&cfg, &err);
  if (!w) {
    fprintf(stderr, "wasi_driver: %s\n", err.message);
    return 125;
  }
  wg_store_config scfg = {0};
  scfg.fuel = -1;
  wg_store *s = wg_store_new(&scfg);
  wg_wasi_result res;
  wg_err e = wg_wasi_run(w, s, m, &res, &err);
  size_t olen, elen;
  bool otr, etr;
  const uint8_t *out = wg_wasi_stdout(w, &olen, &otr);
  const uint8_t *er = wg_wasi_stderr(w, &elen, &etr);
  write_all(1, out, olen);
  write_all(2, er, elen);
  int status = res.exit_code & 255;
  if (e) {
    fprintf(stderr, "wasi_driver: %s: %s\n", wg_err_name(e), err.message);
    status = wg_is_trap(e) ? 134 : 125;
  }
  if (report) {
    char lim[64] = "";
    unsigned l = res.limits;
    snprintf(lim, sizeof lim, "%s%s%s%s", l ? "" : "none",
             (l & WG_WASI_LIMIT_FDS) ? "fds," : "",
             (l & WG_WASI_LIMIT_WRITE) ? "write," : "",
             (l & WG_WASI_LIMIT_OUTPUT) ? "output," : "");
    size_t ll = strlen(lim);
    if (ll && lim[ll - 1] == ',') lim[ll - 1] = 0;
    fprintf(stderr, "report: exit=%d trap=%s limits=%s out_trunc=%d err_trunc=%d\n",
            res.exit_code, e ? wg_err_name(e) : "none", lim, otr, etr);
  }
  wg_store_free(s);
  wg_wasi_free(w);
  wg_module_release(m);
  for (size_t k = 0; k < npre; k++) free((char *)pre[k].host_path);
  return status;
}
