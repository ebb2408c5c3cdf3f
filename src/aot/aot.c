/*
** The AOT tier's builder and loader (aot.h): find the tools, translate a
** module with wasm2c, rewrite the output so that it checks the interrupt
** word and bounds its depth (wga_mid.h), generate the glue between the
** module and wasmgate (wga_so.h), compile it into a shared object in the
** cache, load it, and instantiate and call it.
**
** The build, in a fresh directory under the cache (mkdtemp):
**   m.wasm  the module's bytes
**   m.c/h   `wasm2c -n m m.wasm -o m.c`, then rewritten in place:
**           `#include "m.h"` gains `#include "wga_mid.h"` after it,
**           FUNC_PROLOGUE; -> WGA_ENTER;  FUNC_EPILOGUE; -> WGA_LEAVE;
**           `goto w2c_L` (a branch to a loop head: wasm2c names loop
**           labels L and block labels B) -> `WGA_BACKEDGE goto w2c_L`
**   wga.c   includes m.c, defines one thunk per function import (calling
**           wga_host.call), the export dispatch, and the descriptor
**   out.so  cc OPT -fPIC -shared ... wga.c, renamed to <cache>/<key>.so
** Every tool runs through posix_spawn (execve, no shell) in its own
** process group, with stdout+stderr captured (the first 4 KiB) and a time
** limit after which the whole group is killed.
*/
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aot/aot.h"
#include "aot/aot_glue.h"       /* generated: wga_so_h_text, wga_mid_h_text */
#include "aot/wga_so.h"
#include "base/alloc.h"
#include "base/buf.h"

extern char **environ;

#define GEN_VERSION "wasmgate-aot-gen 1"
#define TOOL_OUT_MAX 4096
#define DEFAULT_TIMEOUT_MS 300000u
#define VERSION_TIMEOUT_MS 30000u     /* `tool --version` */
#define PATHLEN 1024
#define C_MAX (256u << 20)        /* wasm2c output we accept */

struct wga_toolchain {
  char cache[PATHLEN];
  char wasm2c[PATHLEN];
  char cc[PATHLEN];
  char include[PATHLEN];        /* holds wasm-rt.h */
  char opt[32];
  char wasm2c_version[128];
  char cc_version[256];
  uint32_t timeout_ms;
  atomic_bool cancel;           /* wga_toolchain_cancel */
};

typedef struct xfunc {
  char *name;                   /* the export name, NUL-terminated copy */
  size_t len;
} xfunc;

struct wga_object {
  atomic_int refs;
  void *dl;
  const wga_so *so;
  char key[WGA_KEY_LEN + 1];
  char path[PATHLEN + 80];
  xfunc *exports;
  uint32_t nexports;
};

struct wga_instance {
  wga_object *o;
  wga_host host;                /* the object keeps a pointer to it */
  wga_host_fn fn;
  void *user;
  wg_error trap;                /* why a host import failed */
  void *ctx;
};

/* ------------------------------------------------------------------ */
/* Tools                                                               */

/* name as an executable path: itself when it holds a '/', else the first
** match on PATH. */
static bool find_exe(const char *name, char *out, size_t n) {
  if (!name || !*name) return false;
  if (strchr(name, '/')) {
    if (access(name, X_OK) != 0 || strlen(name) >= n) return false;
    snprintf(out, n, "%s", name);
    return true;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t dl = colon ? (size_t)(colon - path) : strlen(path);
    if (dl && dl + strlen(name) + 2 <= n) {
      snprintf(out, n, "%.*s/%s", (int)dl, path, name);
      struct stat st;
      if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) {
        return true;
      }
    }
    path += dl + (colon ? 1 : 0);
  }
  return false;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs argv (argv[0] an absolute path) with stdin /dev/null and
** stdout+stderr into out (first TOOL_OUT_MAX bytes kept). WG_OK when it
** exits 0; otherwise WG_EIO with the exit status and the first line of its
** output that says "error". Past timeout_ms, or once *cancel is set, its
** whole process group is killed (cc's cc1 and as too). */
static wg_err run_tool(const char *const *argv, uint32_t timeout_ms,
                       const atomic_bool *cancel, wg_buf *out,
                       wg_error *err) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    return wg_error_set(err, WG_EIO, "pipe: %s", strerror(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    return wg_error_set(err, WG_EIO, "cannot run %s: %s", argv[0],
                        strerror(rc));
  }
  uint64_t deadline = now_ms() + timeout_ms;
  bool timed_out = false, eof = false, cancelled = false;
  int status = 0;
  for (;;) {
    uint64_t t = now_ms();
    if (t >= deadline || (cancel && atomic_load(cancel))) {
      cancelled = t < deadline;
      timed_out = true;
      break;
    }
    if (!eof) {
      struct pollfd p = {pfd[0], POLLIN, 0};
      uint64_t wait = deadline - t;
      int pr = poll(&p, 1, wait > 100 ? 100 : (int)wait);
      if (pr > 0) {
        char buf[4096];
        ssize_t r = read(pfd[0], buf, sizeof buf);
        if (r > 0) {
          size_t room = out->len < TOOL_OUT_MAX ? TOOL_OUT_MAX - out->len : 0;
          if (room) wg_buf_append(out, buf, (size_t)r < room ? (size_t)r : room);
          continue;
        }
        if (r == 0) eof = true;
      }
    } else {
      struct timespec ts = {0, 5000000};
      nanosleep(&ts, NULL);
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(pfd[0]);
  if (cancelled) {
    return wg_error_set(err, WG_EIO, "%s: cancelled (shutting down)",
                        argv[0]);
  }
  if (timed_out) {
    return wg_error_set(err, WG_EIO, "%s did not finish within %u ms",
                        argv[0], timeout_ms);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    /* The first line that says "error", else the start of the output. */
    const char *o = out->data ? (const char *)out->data : "";
    size_t n = out->len, from = 0, len = n;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && o[j] != '\n') j++;
      if (memmem(o + i, j - i, "error", 5)) {
        from = i;
        len = j - i;
        break;
      }
      i = j + 1;
    }
    return wg_error_set(err, WG_EIO, "%s failed (%s %d): %.*s", argv[0],
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status)
                                          : WTERMSIG(status),
                        (int)(len > 400 ? 400 : len), o + from);
  }
  return WG_OK;
}

/* The first line the tool prints for --version. */
static wg_err tool_version(const char *exe, uint32_t timeout_ms, char *out,
                           size_t n, wg_error *err) {
  const char *argv[] = {exe, "--version", NULL};
  wg_buf b;
  wg_buf_init(&b, TOOL_OUT_MAX + 1);
  wg_err e = run_tool(argv, timeout_ms, NULL, &b, err);
  size_t len = 0;
  while (len < b.len && b.data[len] != '\n') len++;
  snprintf(out, n, "%.*s", (int)len, b.data ? (const char *)b.data : "");
  wg_buf_free(&b);
  return e;
}

/* mkdir -p, then: a directory we own that nobody else may write. */
static wg_err prepare_dir(const char *dir, wg_error *err) {
  char p[PATHLEN];
  snprintf(p, sizeof p, "%s", dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    mkdir(p, 0700);
    *s = '/';
  }
  if (mkdir(p, 0700) != 0 && errno != EEXIST) {
    return wg_error_set(err, WG_EIO, "AOT cache %s: %s", dir, strerror(errno));
  }
  struct stat st;
  if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return wg_error_set(err, WG_EIO, "AOT cache %s is not a directory", dir);
  }
  if (st.st_uid != geteuid() || (st.st_mode & 022)) {
    return wg_error_set(err, WG_EINVAL,
                        "AOT cache %s must belong to this user and not be "
                        "writable by others (it holds code that is loaded)",
                        dir);
  }
  return WG_OK;
}

wga_toolchain *wga_toolchain_new(const wga_toolchain_config *c,
                                 wg_error *err) {
  if (!c || !c->cache_dir || !*c->cache_dir ||
      strlen(c->cache_dir) >= PATHLEN - 100) {
    wg_error_set(err, WG_EINVAL, "AOT: no cache directory (or too long)");
    return NULL;
  }
  wga_toolchain *t = wg_new(wga_toolchain);
  if (!t) {
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  snprintf(t->cache, sizeof t->cache, "%s", c->cache_dir);
  snprintf(t->opt, sizeof t->opt, "%s", c->opt ? c->opt : "-O2");
  t->timeout_ms = c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
  const char *w = c->wasm2c ? c->wasm2c : getenv("WASMGATE_WASM2C");
  const char *cc = c->cc ? c->cc : getenv("WASMGATE_CC");
  if (!w) w = "wasm2c";
  if (!cc) cc = "cc";
  wg_err e = WG_OK;
  if (t->opt[0] != '-' || strchr(t->opt, ' ')) {
    e = wg_error_set(err, WG_EINVAL, "AOT: bad optimisation flag '%s'",
                     t->opt);
  } else if (!find_exe(w, t->wasm2c, sizeof t->wasm2c)) {
    e = wg_error_set(err, WG_ENOTFOUND,
                     "AOT tier unavailable: wasm2c not found ('%s'%s; "
                     "Debian package wabt)", w,
                     strchr(w, '/') ? "" : " on PATH");
  } else if (!find_exe(cc, t->cc, sizeof t->cc)) {
    e = wg_error_set(err, WG_ENOTFOUND,
                     "AOT tier unavailable: C compiler not found ('%s'%s)",
                     cc, strchr(cc, '/') ? "" : " on PATH");
  }
  if (e == WG_OK) {
    /* wasm-rt.h of the same wabt: <prefix>/bin/wasm2c -> <prefix>/include */
    char *slash = strrchr(t->wasm2c, '/');
    int dl = slash ? (int)(slash - t->wasm2c) : 0;
    char h[PATHLEN + 32];
    snprintf(h, sizeof h, "%.*s/../include/wasm-rt.h", dl, t->wasm2c);
    if (access(h, R_OK) == 0) {
      snprintf(t->include, sizeof t->include, "%.*s/../include", dl, t->wasm2c);
    } else if (access("/usr/include/wasm-rt.h", R_OK) == 0) {
      snprintf(t->include, sizeof t->include, "/usr/include");
    } else {
      e = wg_error_set(err, WG_ENOTFOUND,
                       "AOT tier unavailable: wasm-rt.h not found next to %s",
                       t->wasm2c);
    }
  }
  if (e == WG_OK) {
    e = tool_version(t->wasm2c, VERSION_TIMEOUT_MS, t->wasm2c_version,
                     sizeof t->wasm2c_version, err);
  }
  if (e == WG_OK) {
    e = tool_version(t->cc, VERSION_TIMEOUT_MS, t->cc_version,
                     sizeof t->cc_version, err);
  }
  if (e == WG_OK) e = prepare_dir(t->cache, err);
  if (e) {
    wg_free_obj(t);
    return NULL;
  }
  return t;
}

void wga_toolchain_cancel(wga_toolchain *t) { atomic_store(&t->cancel, true); }

void wga_toolchain_free(wga_toolchain *t) {
  if (t) wg_free_obj(t);
}

/* ------------------------------------------------------------------ */
/* The generated C                                                     */

/* wasm2c's name mangling (1.0.32): "Z_" then each byte, letters, digits
** and '_' as themselves except 'Z', anything else as Z + two hex digits. */
static void mangle(wg_buf *b, const char *p, size_t n) {
  wg_buf_append(b, "Z_", 2);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Y') ||
                 (c >= '0' && c <= '9') || c == '_';
    if (plain) {
      wg_buf_append(b, &p[i], 1);
    } else {
      wg_buf_printf(b, "Z%02X", c);
    }
  }
}

static const char *ctype(uint8_t t) {
  switch (t) {
    case WG_I32: return "u32";
    case WG_I64: return "u64";
    case WG_F32: return "f32";
    case WG_F64: return "f64";
    default: return NULL;
  }
}

static void slot_get(wg_buf *b, uint8_t t, uint32_t i) {
  if (t == WG_F32) {
    wg_buf_printf(b, "wga_get_f32(s[%u])", i);
  } else if (t == WG_F64) {
    wg_buf_printf(b, "wga_get_f64(s[%u])", i);
  } else {
    wg_buf_printf(b, "(%s)s[%u]", ctype(t), i);
  }
}

static const char *slot_put(uint8_t t) {
  return t == WG_F32 ? "wga_put_f32" : t == WG_F64 ? "wga_put_f64"
                                                   : "(uint64_t)";
}

static bool functype_ok(const wg_functype *ft) {
  if (ft->nresults > 1) return false;
  for (uint32_t i = 0; i < ft->nparams; i++) {
    if (!ctype(ft->params[i])) return false;
  }
  return ft->nresults == 0 || ctype(ft->results[0]);
}

static bool name_seen(const wg_module *m, uint32_t upto, wg_name mod) {
  for (uint32_t j = 0; j < upto; j++) {
    wg_import_desc d = wg_module_import(m, j);
    if (d.module.len == mod.len && !memcmp(d.module.ptr, mod.ptr, mod.len)) {
      return true;
    }
  }
  return false;
}

/* Writes wga.c for m into b. */
static wg_err gen_glue(const wg_module *m, const char *key, wg_buf *b,
                       wg_error *err) {
  wg_buf_printf(b, "/* Generated by wasmgate (src/aot/aot.c). */\n"
                   "#include \"m.c\"\n\n");
  uint32_t nimp = wg_module_import_count(m), nfimp = 0, nenv = 0;
  bool imported_mem = false;
  wg_limits mem_limits = {0, 0, false};
  for (uint32_t i = 0; i < nimp; i++) {
    wg_import_desc d = wg_module_import(m, i);
    if (!name_seen(m, i, d.module)) nenv++;
    if (d.type.kind == WG_EXTERN_MEMORY) {
      if (imported_mem || d.type.of.memory.is64) {
        return wg_error_set(err, WG_EINVAL,
                            "AOT: only one 32-bit memory is supported");
      }
      imported_mem = true;
      mem_limits = d.type.of.memory.limits;
      wg_buf_printf(b, "wasm_rt_memory_t *");
      mangle(b, d.module.ptr, d.module.len);
      mangle(b, d.name.ptr, d.name.len);
      wg_buf_printf(b, "(struct ");
      mangle(b, d.module.ptr, d.module.len);
      wg_buf_printf(b, "_instance_t *e) {\n"
                       "  return &((wga_rt *)(void *)e)->imported;\n}\n\n");
      continue;
    }
    if (d.type.kind != WG_EXTERN_FUNC) {
      return wg_error_set(err, WG_EINVAL, "AOT: imported %s are not supported",
                          d.type.kind == WG_EXTERN_TABLE ? "tables"
                                                         : "globals");
    }
    const wg_functype *ft = &d.type.of.func;
    if (!functype_ok(ft)) {
      return wg_error_set(err, WG_EINVAL,
                          "AOT: import %.*s.%.*s has an unsupported type",
                          (int)d.module.len, d.module.ptr, (int)d.name.len,
                          d.name.ptr);
    }
    wg_buf_printf(b, "%s ", ft->nresults ? ctype(ft->results[0]) : "void");
    mangle(b, d.module.ptr, d.module.len);
    mangle(b, d.name.ptr, d.name.len);
    wg_buf_printf(b, "(struct ");
    mangle(b, d.module.ptr, d.module.len);
    wg_buf_printf(b, "_instance_t *e");
    for (uint32_t p = 0; p < ft->nparams; p++) {
      wg_buf_printf(b, ", %s a%u", ctype(ft->params[p]), p);
    }
    uint32_t ns = ft->nparams ? ft->nparams : 1;
    wg_buf_printf(b, ") {\n  uint64_t s[%u] = {0};\n", ns);
    for (uint32_t p = 0; p < ft->nparams; p++) {
      uint8_t t = ft->params[p];
      wg_buf_printf(b, "  s[%u] = %s(a%u);\n", p, slot_put(t), p);
    }
    wg_buf_printf(b, "  wga_host_call((wga_rt *)(void *)e, %uu, s);\n", nfimp);
    if (ft->nresults) {
      wg_buf_printf(b, "  return ");
      slot_get(b, ft->results[0], 0);
      wg_buf_printf(b, ";\n");
    }
    wg_buf_printf(b, "}\n\n");
    nfimp++;
  }
  /* instantiate */
  wg_buf_printf(b, "static void wga_body_instantiate(wga_ctx *c, uint32_t i, "
                   "uint64_t *s) {\n  (void)i;\n  (void)s;\n");
  if (imported_mem) {
    uint64_t max = mem_limits.has_max ? mem_limits.max : 65536;
    if (mem_limits.min > 65536) mem_limits.min = 65536;
    wg_buf_printf(b, "  wasm_rt_allocate_memory(&c->rt.imported, %lluu, "
                     "%lluu);\n  c->rt.mem = &c->rt.imported;\n",
                  (unsigned long long)mem_limits.min,
                  (unsigned long long)(max > 65536 ? 65536 : max));
  }
  wg_buf_printf(b, "  Z_m_instantiate(&c->inst");
  for (uint32_t i = 0; i < nenv; i++) wg_buf_printf(b, ", (void *)&c->rt");
  wg_buf_printf(b, ");\n}\n\n");
  /* calls */
  wg_buf_printf(b, "static void wga_body_call(wga_ctx *c, uint32_t i, "
                   "uint64_t *s) {\n  switch (i) {\n");
  uint32_t nexp = wg_module_export_count(m), nf = 0;
  for (uint32_t i = 0; i < nexp; i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.type.kind != WG_EXTERN_FUNC) continue;
    const wg_functype *ft = &d.type.of.func;
    if (!functype_ok(ft)) {
      return wg_error_set(err, WG_EINVAL,
                          "AOT: export %.*s has an unsupported type",
                          (int)d.name.len, d.name.ptr);
    }
    wg_buf_printf(b, "    case %u: ", nf++);
    if (ft->nresults) wg_buf_printf(b, "s[0] = %s(", slot_put(ft->results[0]));
    wg_buf_printf(b, "Z_m");
    mangle(b, d.name.ptr, d.name.len);
    wg_buf_printf(b, "(&c->inst");
    for (uint32_t p = 0; p < ft->nparams; p++) {
      wg_buf_printf(b, ", ");
      slot_get(b, ft->params[p], p);
    }
    wg_buf_printf(b, ")%s;\n      break;\n", ft->nresults ? ")" : "");
  }
  wg_buf_printf(b, "    default: wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);\n"
                   "  }\n}\n\n");
  wg_buf_printf(b,
      "static void wga_init(void) {\n"
      "  static pthread_once_t once = PTHREAD_ONCE_INIT;\n"
      "  pthread_once(&once, Z_m_init_module);\n"
      "}\n\n"
      "static int wga_instantiate(void *ctx, const wga_host *h) {\n"
      "  wga_ctx *c = ctx;\n"
      "  c->rt.host = h;\n"
      "  c->rt.intr = h->interrupt;\n"
      "  c->rt.max_depth = h->max_depth;\n"
      "  if (wga_init_failed) return WGA_T_NOMEM;\n"
      "  return wga_run(c, wga_body_instantiate, 0, NULL);\n"
      "}\n\n"
      "static int wga_call(void *ctx, uint32_t i, uint64_t *s) {\n"
      "  return wga_run(ctx, wga_body_call, i, s);\n"
      "}\n\n"
      "static void wga_free(void *ctx) {\n"
      "  wga_ctx *c = ctx;\n"
      "  wga_rt *saved = wga_cur;\n"
      "  if (!c->rt.host) return;\n"
      "  wga_cur = &c->rt;\n"
      "  Z_m_free(&c->inst);\n"
      "  wasm_rt_free_memory(&c->rt.imported);\n"
      "  wga_cur = saved;\n"
      "}\n\n"
      "__attribute__((visibility(\"default\"))) const wga_so wga_so_desc = {\n"
      "  WGA_SO_ABI, \"%s\", %uu, %uu, sizeof(wga_ctx), wga_init,\n"
      "  wga_instantiate, wga_call, wga_free, wga_memory};\n",
      key, nfimp, nf);
  if (b->len >= b->max) {
    return wg_error_set(err, WG_ELIMIT, "AOT: glue too large");
  }
  return WG_OK;
}

/* Replaces every occurrence of from by to in [p, p+n) into out. */
static void replace_all(wg_buf *out, const char *p, size_t n,
                        const char *const *from, const char *const *to,
                        size_t nrep, size_t *counts) {
  size_t i = 0, start = 0;
  while (i < n) {
    size_t k;
    for (k = 0; k < nrep; k++) {
      size_t fl = strlen(from[k]);
      if (n - i >= fl && p[i] == from[k][0] && !memcmp(p + i, from[k], fl)) {
        wg_buf_append(out, p + start, i - start);
        wg_buf_append(out, to[k], strlen(to[k]));
        i += fl;
        start = i;
        counts[k]++;
        break;
      }
    }
    if (k == nrep) i++;
  }
  wg_buf_append(out, p + start, n - start);
}

/* Reads a whole file into b (capped by b's max). */
static wg_err read_file(const char *path, wg_buf *b, wg_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return wg_error_set(err, WG_EIO, "%s: %s", path, strerror(errno));
  char buf[65536];
  ssize_t r;
  wg_err e = WG_OK;
  while ((r = read(fd, buf, sizeof buf)) > 0) {
    if ((e = wg_buf_append(b, buf, (size_t)r))) break;
  }
  close(fd);
  if (e || r < 0) return wg_error_set(err, e ? e : WG_EIO, "%s: cannot read",
                                      path);
  return WG_OK;
}

static wg_err write_file(const char *dir, const char *name, const void *p,
                         size_t n, wg_error *err) {
  char path[PATHLEN + 64];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return wg_error_set(err, WG_EIO, "%s: %s", path, strerror(errno));
  const uint8_t *q = p;
  while (n) {
    ssize_t w = write(fd, q, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      close(fd);
      return wg_error_set(err, WG_EIO, "%s: %s", path, strerror(errno));
    }
    q += w;
    n -= (size_t)w;
  }
  if (close(fd) != 0) {
    return wg_error_set(err, WG_EIO, "%s: %s", path, strerror(errno));
  }
  return WG_OK;
}

/* wasm2c's m.c rewritten with the checks (see the top of this file). */
static wg_err rewrite(const char *dir, wg_error *err) {
  char path[PATHLEN + 64];
  snprintf(path, sizeof path, "%s/m.c", dir);
  wg_buf in, out;
  wg_buf_init(&in, C_MAX);
  wg_buf_init(&out, C_MAX + C_MAX / 4);
  wg_err e = read_file(path, &in, err);
  if (e == WG_OK) {
    static const char *const from[] = {"#include \"m.h\"\n", "FUNC_PROLOGUE;",
                                       "FUNC_EPILOGUE;", "goto w2c_L"};
    static const char *const to[] = {"#include \"m.h\"\n#include \"wga_mid.h\"\n",
                                     "WGA_ENTER;", "WGA_LEAVE;",
                                     "WGA_BACKEDGE goto w2c_L"};
    size_t counts[4] = {0, 0, 0, 0};
    replace_all(&out, (const char *)in.data, in.len, from, to, 4, counts);
    if (out.len >= out.max) {
      e = wg_error_set(err, WG_ELIMIT, "AOT: generated C too large");
    } else if (counts[0] != 1 || counts[1] != counts[2]) {
      e = wg_error_set(err, WG_EINVAL,
                       "AOT: unexpected wasm2c output (%s); this wasm2c "
                       "version is not supported", path);
    } else {
      e = write_file(dir, "m.c", out.data, out.len, err);
    }
  }
  wg_buf_free(&in);
  wg_buf_free(&out);
  return e;
}

static void remove_build_dir(const char *dir) {
  static const char *const files[] = {"m.wasm", "m.c", "m.h", "wga.c",
                                      "wga_so.h", "wga_mid.h", "out.so"};
  char path[PATHLEN + 64];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

/* Builds the object for m into final (atomically). */
static wg_err build(wga_toolchain *t, const wg_module *m, const char *key,
                    const char *final, wg_error *err) {
  char dir[PATHLEN + 32];
  snprintf(dir, sizeof dir, "%s/build-XXXXXX", t->cache);
  if (!mkdtemp(dir)) {
    return wg_error_set(err, WG_EIO, "AOT: mkdtemp in %s: %s", t->cache,
                        strerror(errno));
  }
  wg_buf glue, log;
  wg_buf_init(&glue, 64u << 20);
  wg_buf_init(&log, TOOL_OUT_MAX + 1);
  char wasm[PATHLEN + 64], c[PATHLEN + 64], so[PATHLEN + 64],
      inc1[PATHLEN + 64], inc2[PATHLEN + 64], gluec[PATHLEN + 64];
  snprintf(wasm, sizeof wasm, "%s/m.wasm", dir);
  snprintf(c, sizeof c, "%s/m.c", dir);
  snprintf(so, sizeof so, "%s/out.so", dir);
  snprintf(gluec, sizeof gluec, "%s/wga.c", dir);
  snprintf(inc1, sizeof inc1, "-I%s", dir);
  snprintf(inc2, sizeof inc2, "-I%s", t->include);
  wg_err e = write_file(dir, "m.wasm", wg_module_bytes(m), wg_module_size(m),
                        err);
  if (e == WG_OK) e = gen_glue(m, key, &glue, err);
  if (e == WG_OK) {
    e = write_file(dir, "wga.c", glue.data, glue.len, err);
  }
  if (e == WG_OK) {
    e = write_file(dir, "wga_so.h", wga_so_h_text, strlen(wga_so_h_text), err);
  }
  if (e == WG_OK) {
    e = write_file(dir, "wga_mid.h", wga_mid_h_text, strlen(wga_mid_h_text),
                   err);
  }
  if (e == WG_OK) {
    const char *argv[] = {t->wasm2c, "-n", "m", "-o", c, wasm, NULL};
    e = run_tool(argv, t->timeout_ms, &t->cancel, &log, err);
  }
  if (e == WG_OK) e = rewrite(dir, err);
  if (e == WG_OK) {
    wg_buf_reset(&log);
    const char *argv[] = {t->cc, t->opt, "-fPIC", "-shared",
                          "-fvisibility=hidden", "-ffp-contract=off",
                          "-fno-strict-aliasing", "-DNDEBUG",
                          "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
                          "-DWASM_RT_USE_STACK_DEPTH_COUNT=0", "-w", inc1, inc2,
                          "-o", so, gluec, "-Wl,--no-undefined", "-lm", NULL};
    e = run_tool(argv, t->timeout_ms, &t->cancel, &log, err);
  }
  if (e == WG_OK && rename(so, final) != 0) {
    e = wg_error_set(err, WG_EIO, "AOT: rename to %s: %s", final,
                     strerror(errno));
  }
  wg_buf_free(&glue);
  wg_buf_free(&log);
  /* WASMGATE_AOT_KEEP=1 keeps a failed build's files, for diagnosis. */
  const char *keep = getenv("WASMGATE_AOT_KEEP");
  if (e == WG_OK || !keep || strcmp(keep, "1") != 0) remove_build_dir(dir);
  return e;
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */

static wg_err make_key(wga_toolchain *t, const wg_module *m, char *key,
                       wg_error *err) {
  wg_buf b;
  wg_buf_init(&b, wg_module_size(m) + (1u << 20));
  wg_buf_printf(&b, "%s\nabi %d\nwasm2c %s\n%s\ncc %s\n%s\nflags %s\n",
                GEN_VERSION, WGA_SO_ABI, t->wasm2c, t->wasm2c_version, t->cc,
                t->cc_version, t->opt);
  wg_buf_append(&b, wga_so_h_text, strlen(wga_so_h_text));
  wg_buf_append(&b, wga_mid_h_text, strlen(wga_mid_h_text));
  wg_err e = wg_buf_append(&b, wg_module_bytes(m), wg_module_size(m));
  uint8_t md[32];
  if (e || !SHA256(b.data, b.len, md)) {
    wg_buf_free(&b);
    return wg_error_set(err, WG_ENOMEM, "AOT: cannot hash the module (%s)",
                        e ? "out of memory" : "SHA-256 unavailable");
  }
  wg_buf_free(&b);
  for (int i = 0; i < 32; i++) snprintf(key + 2 * i, 3, "%02x", md[i]);
  return WG_OK;
}

static void object_free(wga_object *o) {
  if (o->exports) {
    for (uint32_t i = 0; i < o->nexports; i++) {
      wg_free(o->exports[i].name, o->exports[i].len + 1);
    }
    wg_free_array(o->exports, o->nexports);
  }
  if (o->dl) dlclose(o->dl);
  wg_free_obj(o);
}

/* Loads path and checks it is the object for key. On failure *why says
** what was wrong (for the rebuild log). */
static bool load(wga_object *o, const char *why_prefix, wg_error *why) {
  struct stat st;
  if (lstat(o->path, &st) != 0) {
    wg_error_set(why, WG_ENOTFOUND, "%s: not cached", why_prefix);
    return false;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
    wg_error_set(why, WG_EINVAL, "%s: %s is not a private regular file",
                 why_prefix, o->path);
    return false;
  }
  o->dl = dlopen(o->path, RTLD_NOW | RTLD_LOCAL);
  if (!o->dl) {
    const char *m = dlerror();
    wg_error_set(why, WG_EINVAL, "%s: %s", why_prefix, m ? m : "dlopen failed");
    return false;
  }
  const wga_so *so = dlsym(o->dl, WGA_SO_SYMBOL);
  if (!so || so->abi != WGA_SO_ABI ||
      memcmp(so->key, o->key, WGA_KEY_LEN + 1) != 0) {
    wg_error_set(why, WG_EINVAL, "%s: %s is not the object for this key",
                 why_prefix, o->path);
    dlclose(o->dl);
    o->dl = NULL;
    return false;
  }
  o->so = so;
  return true;
}

wga_object *wga_object_get(wga_toolchain *t, const wg_module *m,
                           bool *from_cache, wg_error *err) {
  wga_object *o = wg_new(wga_object);
  if (!o) {
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_init(&o->refs, 1);
  wg_err e = make_key(t, m, o->key, err);
  uint32_t nexp = wg_module_export_count(m), nf = 0;
  for (uint32_t i = 0; i < nexp; i++) {
    nf += wg_module_export(m, i).type.kind == WG_EXTERN_FUNC;
  }
  if (e == WG_OK && nf) {
    o->exports = wg_new_array(xfunc, nf);
    if (!o->exports) e = wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; e == WG_OK && i < nexp; i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.type.kind != WG_EXTERN_FUNC) continue;
    xfunc *x = &o->exports[o->nexports++];
    x->len = d.name.len;
    x->name = wg_realloc_(NULL, 0, x->len + 1);
    if (!x->name) {
      o->nexports--;
      e = wg_error_set(err, WG_ENOMEM, "out of memory");
      break;
    }
    memcpy(x->name, d.name.ptr, x->len);
    x->name[x->len] = 0;
  }
  if (e) {
    object_free(o);
    return NULL;
  }
  snprintf(o->path, sizeof o->path, "%s/%s.so", t->cache, o->key);
  wg_error why;
  wg_error_clear(&why);
  bool cached = load(o, "cache", &why);
  if (!cached) {
    if (why.code != WG_ENOTFOUND) unlink(o->path);  /* stale or corrupt */
    e = build(t, m, o->key, o->path, err);
    if (e == WG_OK && !load(o, "the object just built", err)) {
      e = err && err->code ? err->code : WG_EINVAL;
    }
    if (e) {
      object_free(o);
      return NULL;
    }
  }
  if (o->so->nexports != o->nexports) {
    wg_error_set(err, WG_EINVAL, "AOT: %s does not match the module", o->path);
    object_free(o);
    return NULL;
  }
  o->so->init();
  if (from_cache) *from_cache = cached;
  return o;
}

void wga_object_release(wga_object *o) {
  if (o && atomic_fetch_sub(&o->refs, 1) == 1) object_free(o);
}

const char *wga_object_key(const wga_object *o) { return o->key; }
const char *wga_object_path(const wga_object *o) { return o->path; }

int wga_object_export(const wga_object *o, const char *name) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < o->nexports; i++) {
    if (o->exports[i].len == n && !memcmp(o->exports[i].name, name, n)) {
      return (int)i;
    }
  }
  return -1;
}

/* ------------------------------------------------------------------ */
/* Instances                                                           */

static int host_call(void *user, uint32_t import, uint64_t *slots) {
  wga_instance *i = user;
  wg_err e = i->fn ? i->fn(i->user, i, import, slots)
                   : wga_host_trap(i, WG_TRAP_HOST, "no host for import %u",
                                   import);
  if (e && !i->trap.code) wga_host_trap(i, e, "host function failed");
  return e != WG_OK;
}

static void *host_alloc(void *user, void *p, size_t old, size_t size) {
  (void)user;
  return wg_realloc_(p, old, size);
}

/* A WGA_ outcome as the engine's trap code and message. */
static wg_err outcome(wga_instance *i, int code, wg_error *err) {
  wg_err e;
  switch (code) {
    case WGA_DONE: return WG_OK;
    case WGA_T_OOB: e = WG_TRAP_MEMORY; break;
    case WGA_T_INT_OVERFLOW: e = WG_TRAP_OVERFLOW; break;
    case WGA_T_DIV_BY_ZERO: e = WG_TRAP_DIVZERO; break;
    case WGA_T_INVALID_CONVERSION: e = WG_TRAP_CONVERSION; break;
    case WGA_T_UNREACHABLE: e = WG_TRAP_UNREACHABLE; break;
    case WGA_T_CALL_INDIRECT: e = WG_TRAP_INDIRECT; break;
    case WGA_T_EXHAUSTION: e = WG_TRAP_STACK; break;
    case WGA_T_INTERRUPT: e = WG_TRAP_INTERRUPT; break;
    case WGA_T_HOST:
      return wg_error_set(err, i->trap.code ? i->trap.code : WG_TRAP_HOST,
                          "%s", i->trap.message);
    case WGA_T_MEMORY_LIMIT:
      return wg_error_set(err, WG_ELIMIT,
                          "the module's initial memory exceeds the limit");
    case WGA_T_NOMEM: return wg_error_set(err, WG_ENOMEM, "out of memory");
    default: e = WG_TRAP_HOST; break;
  }
  return wg_error_set(err, e, "%s", wg_strerror(e));
}

wga_instance *wga_instance_new(wga_object *o, const wga_instance_config *c,
                               wg_error *err) {
  wga_instance *i = wg_new(wga_instance);
  void *ctx = i ? wg_alloc_array(1, o->so->ctx_size) : NULL;
  if (!ctx) {
    if (i) wg_free_obj(i);
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_fetch_add(&o->refs, 1);
  i->o = o;
  i->ctx = ctx;
  i->fn = c->host;
  i->user = c->user;
  i->host.user = i;
  i->host.call = host_call;
  i->host.alloc = host_alloc;
  i->host.interrupt = c->interrupt;
  i->host.max_pages = c->max_pages ? c->max_pages : 65535;
  i->host.max_depth = c->max_depth ? c->max_depth : 1000;
  wg_error_clear(&i->trap);
  wg_err e = outcome(i, o->so->instantiate(ctx, &i->host), err);
  if (e) {
    wga_instance_free(i);
    return NULL;
  }
  return i;
}

void wga_instance_free(wga_instance *i) {
  if (!i) return;
  i->o->so->free(i->ctx);
  wg_free(i->ctx, i->o->so->ctx_size);
  wga_object_release(i->o);
  wg_free_obj(i);
}

wg_err wga_call(wga_instance *i, int idx, uint64_t *slots, wg_error *err) {
  if (idx < 0 || (uint32_t)idx >= i->o->nexports) {
    return wg_error_set(err, WG_ENOTFOUND, "no such export");
  }
  wg_error saved = i->trap;     /* a nested call must not lose the outer's */
  wg_error_clear(&i->trap);
  int code = i->o->so->call(i->ctx, (uint32_t)idx, slots);
  wg_err e = outcome(i, code, err);
  if (!e) i->trap = saved;
  return e;
}

wg_err wga_host_trap(wga_instance *i, wg_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  i->trap.code = code;
  vsnprintf(i->trap.message, sizeof i->trap.message, fmt, ap);
  va_end(ap);
  return code;
}

void *wga_memory_translate(wga_instance *i, uint64_t offset, uint64_t len) {
  uint64_t size;
  uint8_t *base = i->o->so->memory(i->ctx, &size);
  if (!base || offset > size || len > size - offset) return NULL;
  return base + offset;
}

uint64_t wga_memory_size(wga_instance *i) {
  uint64_t size;
  i->o->so->memory(i->ctx, &size);
  return size;
}
