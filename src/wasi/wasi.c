/*
** The WASI context: configuration, the import table, the resolver and the
** trampoline every host function goes through, running a command, results.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "wasi/wasi_int.h"

#define WGI_MODULE "wasi_snapshot_preview1"

typedef struct wgi_import {
  const char *name;
  const char *sig;
  wgi_handler fn;
} wgi_import;

static const wgi_import imports[] = {
#define WGI_FUNC(name, sig, fn) {#name, sig, fn},
#include "wasi/imports.def"
#undef WGI_FUNC
};
#define NIMPORTS (sizeof imports / sizeof imports[0])

/* A host function's user pointer: the context and its row of the table. */
struct wgi_binding {
  wg_wasi *w;
  const wgi_import *imp;
};


size_t wg_wasi_func_count(void) { return NIMPORTS; }

const char *wg_wasi_func_name(size_t i, const char **signature) {
  if (i >= NIMPORTS) return NULL;
  if (signature) *signature = imports[i].sig;
  return imports[i].name;
}

/* ------------------------------------------------------------------ */
/* errno                                                               */

uint32_t wgi_errno(int e) {
  switch (e) {
    case 0: return WGI_ESUCCESS;
    case E2BIG: return WGI_E2BIG;
    case EACCES: return WGI_EACCES;
    case EADDRINUSE: return WGI_EADDRINUSE;
    case EADDRNOTAVAIL: return WGI_EADDRNOTAVAIL;
    case EAFNOSUPPORT: return WGI_EAFNOSUPPORT;
    case EAGAIN: return WGI_EAGAIN;
    case EALREADY: return WGI_EALREADY;
    case EBADF: return WGI_EBADF;
    case EBADMSG: return WGI_EBADMSG;
    case EBUSY: return WGI_EBUSY;
    case ECANCELED: return WGI_ECANCELED;
    case ECHILD: return WGI_ECHILD;
    case ECONNABORTED: return WGI_ECONNABORTED;
    case ECONNREFUSED: return WGI_ECONNREFUSED;
    case ECONNRESET: return WGI_ECONNRESET;
    case EDEADLK: return WGI_EDEADLK;
    case EDESTADDRREQ: return WGI_EDESTADDRREQ;
    case EDOM: return WGI_EDOM;
    case EDQUOT: return WGI_EDQUOT;
    case EEXIST: return WGI_EEXIST;
    case EFAULT: return WGI_EFAULT;
    case EFBIG: return WGI_EFBIG;
    case EHOSTUNREACH: return WGI_EHOSTUNREACH;
    case EIDRM: return WGI_EIDRM;
    case EILSEQ: return WGI_EILSEQ;
    case EINPROGRESS: return WGI_EINPROGRESS;
    case EINTR: return WGI_EINTR;
    case EINVAL: return WGI_EINVAL;
    case EIO: return WGI_EIO;
    case EISCONN: return WGI_EISCONN;
    case EISDIR: return WGI_EISDIR;
    case ELOOP: return WGI_ELOOP;
    case EMFILE: return WGI_EMFILE;
    case EMLINK: return WGI_EMLINK;
    case EMSGSIZE: return WGI_EMSGSIZE;
    case EMULTIHOP: return WGI_EMULTIHOP;
    case ENAMETOOLONG: return WGI_ENAMETOOLONG;
    case ENETDOWN: return WGI_ENETDOWN;
    case ENETRESET: return WGI_ENETRESET;
    case ENETUNREACH: return WGI_ENETUNREACH;
    case ENFILE: return WGI_ENFILE;
    case ENOBUFS: return WGI_ENOBUFS;
    case ENODEV: return WGI_ENODEV;
    case ENOENT: return WGI_ENOENT;
    case ENOEXEC: return WGI_ENOEXEC;
    case ENOLCK: return WGI_ENOLCK;
    case ENOLINK: return WGI_ENOLINK;
    case ENOMEM: return WGI_ENOMEM;
    case ENOMSG: return WGI_ENOMSG;
    case ENOPROTOOPT: return WGI_ENOPROTOOPT;
    case ENOSPC: return WGI_ENOSPC;
    case ENOSYS: return WGI_ENOSYS;
    case ENOTCONN: return WGI_ENOTCONN;
    case ENOTDIR: return WGI_ENOTDIR;
    case ENOTEMPTY: return WGI_ENOTEMPTY;
    case ENOTRECOVERABLE: return WGI_ENOTRECOVERABLE;
    case ENOTSOCK: return WGI_ENOTSOCK;
    case ENOTSUP: return WGI_ENOTSUP;   /* == EOPNOTSUPP on Linux */
    case ENOTTY: return WGI_ENOTTY;
    case ENXIO: return WGI_ENXIO;
    case EOVERFLOW: return WGI_EOVERFLOW;
    case EOWNERDEAD: return WGI_EOWNERDEAD;
    case EPERM: return WGI_EPERM;
    case EPIPE: return WGI_EPIPE;
    case EPROTO: return WGI_EPROTO;
    case EPROTONOSUPPORT: return WGI_EPROTONOSUPPORT;
    case EPROTOTYPE: return WGI_EPROTOTYPE;
    case ERANGE: return WGI_ERANGE;
    case EROFS: return WGI_EROFS;
    case ESPIPE: return WGI_ESPIPE;
    case ESRCH: return WGI_ESRCH;
    case ESTALE: return WGI_ESTALE;
    case ETIMEDOUT: return WGI_ETIMEDOUT;
    case ETXTBSY: return WGI_ETXTBSY;
    case EXDEV: return WGI_EXDEV;
    default: return WGI_EIO;
  }
}

/* ------------------------------------------------------------------ */
/* Contexts                                                            */

void wg_wasi_config_init(wg_wasi_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->stdin_fd = -1;
  cfg->stdout_fd = -1;
  cfg->stderr_fd = -1;
  cfg->max_output = 1u << 20;
}

static char *dup_str(const char *s, size_t *len) {
  size_t n = strlen(s);
  char *d = wg_realloc_(NULL, 0, n + 1);
  if (d) memcpy(d, s, n + 1);
  *len = n;
  return d;
}

static void free_strs(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++)
    if (v[i]) wg_free(v[i], strlen(v[i]) + 1);
  wg_free_array(v, n ? n : 1);
}

/* Copies n strings; *bytes gets their total size with NULs. */
static wg_err copy_strs(const char *const *src, size_t n, char ***out,
                        size_t *bytes, const char *what, wg_error *err) {
  *out = NULL;
  *bytes = 0;
  if (n == 0) return WG_OK;
  if (!src) return wg_error_set(err, WG_EINVAL, "wasi: %s is NULL", what);
  if (n > WG_WASI_MAX_ARGS)
    return wg_error_set(err, WG_ELIMIT, "wasi: more than %u %s entries",
                        WG_WASI_MAX_ARGS, what);
  char **v = wg_new_array(char *, n);
  if (!v) return wg_error_set(err, WG_ENOMEM, NULL);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len;
    if (!src[i]) {
      free_strs(v, n);
      return wg_error_set(err, WG_EINVAL, "wasi: %s[%zu] is NULL", what, i);
    }
    v[i] = dup_str(src[i], &len);
    if (!v[i]) {
      free_strs(v, n);
      return wg_error_set(err, WG_ENOMEM, NULL);
    }
    total += len + 1;
    if (total > WG_WASI_MAX_ARG_BYTES) {
      free_strs(v, n);
      return wg_error_set(err, WG_ELIMIT, "wasi: %s larger than %u bytes",
                          what, WG_WASI_MAX_ARG_BYTES);
    }
  }
  *out = v;
  *bytes = total;
  return WG_OK;
}

static bool env_says_no_openat2(void) {
  const char *v = getenv("WASMGATE_NO_OPENAT2");
  return v && v[0] && strcmp(v, "0") != 0;
}

wg_wasi *wg_wasi_new(const wg_wasi_config *cfg, wg_error *err) {
  wg_wasi *w = wg_new(wg_wasi);
  if (!w) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  w->stdin_fd = -1;
  w->out[0].fd = w->out[1].fd = -1;
  if (copy_strs(cfg->argv, cfg->argc, &w->argv, &w->argv_bytes, "argv", err))
    goto fail;
  w->argc = cfg->argc;
  if (copy_strs(cfg->env, cfg->envc, &w->env, &w->env_bytes, "env", err))
    goto fail;
  w->envc = cfg->envc;
  w->max_write = cfg->max_write_bytes ? cfg->max_write_bytes : UINT64_MAX;
  w->max_fds = cfg->max_open_fds ? cfg->max_open_fds : WG_WASI_DEFAULT_MAX_FDS;
  if (w->max_fds > WG_WASI_MAX_FDS) {
    wg_error_set(err, WG_EINVAL, "wasi: max_open_fds above %u", WG_WASI_MAX_FDS);
    goto fail;
  }
  w->openat2 = !cfg->no_openat2 && !env_says_no_openat2() &&
               wgi_openat2_available();
  w->funcs = wg_new_array(wg_func *, NIMPORTS);
  w->binds = wg_new_array(struct wgi_binding, NIMPORTS);
  if (!w->funcs || !w->binds) {
    wg_error_set(err, WG_ENOMEM, NULL);
    goto fail;
  }
  if (wgi_fds_init(w, cfg, err)) goto fail;
  return w;
fail:
  wg_wasi_free(w);
  return NULL;
}

void wg_wasi_free(wg_wasi *w) {
  if (!w) return;
  wgi_fds_free(w);
  free_strs(w->argv, w->argc);
  free_strs(w->env, w->envc);
  if (w->funcs) wg_free_array(w->funcs, NIMPORTS);
  if (w->binds) wg_free_array(w->binds, NIMPORTS);
  wg_free_obj(w);
}

void wg_wasi_bind_store(wg_wasi *w, wg_store *s) {
  if (w->store != s) memset(w->funcs, 0, NIMPORTS * sizeof *w->funcs);
  w->store = s;
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */

static wg_err trampoline(wg_host_call *call, uint64_t *stack) {
  struct wgi_binding *b = wg_host_user(call);
  wgi_ctx c = {b->w, wg_host_memory(call), call};
  uint32_t r = b->imp->fn(&c, stack);
  if (r == WGI_RET_EXIT) {
    int code = wg_store_exit_code(wg_host_store(call));
    return wg_host_trap(call, WG_TRAP_EXIT, "exit with code %d", code);
  }
  if (b->imp->sig[strlen(b->imp->sig) - 1] == 'i')
    stack[0] = r;               /* every other function returns an errno */
  return WG_OK;
}

/* Parses "iI:i" into params and results; false on a malformed string. */
static bool parse_sig(const char *sig, uint8_t *vt, wg_functype *ft) {
  uint32_t n = 0, np = 0;
  bool results = false;
  for (const char *p = sig; *p; p++) {
    if (*p == ':') {
      if (results) return false;
      results = true;
      np = n;
      continue;
    }
    if (n >= 16) return false;
    if (*p == 'i') vt[n++] = WG_I32;
    else if (*p == 'I') vt[n++] = WG_I64;
    else return false;
  }
  if (!results) return false;
  ft->nparams = np;
  ft->nresults = n - np;
  ft->params = vt;
  ft->results = vt + np;
  return true;
}

static bool names_eq(wg_name n, const char *s) {
  size_t len = strlen(s);
  return n.len == len && memcmp(n.ptr, s, len) == 0;
}

static bool functype_eq(const wg_functype *a, const wg_functype *b) {
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         memcmp(a->params, b->params, a->nparams) == 0 &&
         memcmp(a->results, b->results, a->nresults) == 0;
}

wg_err wg_wasi_resolve(void *user, wg_name module, wg_name name,
                       const wg_externtype *type, wg_extern *out) {
  wg_wasi *w = user;
  if (!names_eq(module, WGI_MODULE))
    return w->next ? w->next(w->next_user, module, name, type, out)
                   : WG_EUNKNOWNIMPORT;
  size_t lo = 0, hi = NIMPORTS;          /* the table is sorted by name */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    size_t len = strlen(imports[mid].name);
    size_t m = len < name.len ? len : name.len;
    int c = memcmp(imports[mid].name, name.ptr, m);
    if (c == 0) c = len < name.len ? -1 : len > name.len;
    if (c == 0) { lo = mid; hi = mid + 1; break; }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo >= hi || !names_eq(name, imports[lo].name)) return WG_EUNKNOWNIMPORT;
  size_t i = lo;
  uint8_t vt[16];
  wg_functype ft;
  if (!parse_sig(imports[i].sig, vt, &ft)) return WG_EINVAL;
  if (type->kind != WG_EXTERN_FUNC || !functype_eq(&type->of.func, &ft))
    return WG_EIMPORTTYPE;
  if (!w->store) return WG_EINVAL;
  if (!w->funcs[i]) {
    w->binds[i] = (struct wgi_binding){w, &imports[i]};
    w->funcs[i] = wg_func_new_host(w->store, &ft, trampoline, &w->binds[i]);
    if (!w->funcs[i]) return WG_ENOMEM;
  }
  out->kind = WG_EXTERN_FUNC;
  out->of.func = w->funcs[i];
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

wg_err wg_wasi_run(wg_wasi *w, wg_store *s, wg_module *m, wg_wasi_result *res,
                   wg_error *err) {
  memset(res, 0, sizeof *res);
  wg_wasi_bind_store(w, s);
  wg_error local;
  wg_error_clear(&local);
  wg_instance *inst = wg_instance_new(s, m, wg_wasi_resolve, w, &local);
  wg_err e;
  if (!inst) {
    e = local.code ? local.code : WG_EINVAL;
    if (e == WG_TRAP_EXIT) goto exited;    /* proc_exit from a start function */
    if (err) *err = local;
    res->trap = e;
    res->exit_code = 1;
    res->limits = w->limits;
    return e;
  }
  wg_extern ex;
  e = wg_instance_export(inst, (wg_name){"_start", 6}, &ex);
  if (e || ex.kind != WG_EXTERN_FUNC) {
    e = wg_error_set(err, WG_EUNKNOWNEXPORT, "wasi: the module has no _start function");
    res->trap = e;
    res->exit_code = 1;
    res->limits = w->limits;
    return e;
  }
  e = wg_call(s, ex.of.func, NULL, 0, NULL, 0);
  if (e == WG_TRAP_EXIT) goto exited;
  res->limits = w->limits;
  if (e) {
    if (err) *err = *wg_store_trap(s);
    res->trap = e;
    res->exit_code = 1;
    return e;
  }
  return WG_OK;
exited:
  res->exited = true;
  res->exit_code = wg_store_exit_code(s);
  res->limits = w->limits;
  return WG_OK;
}

const uint8_t *wg_wasi_stdout(const wg_wasi *w, size_t *len, bool *truncated) {
  if (len) *len = w->out[0].buf.len;
  if (truncated) *truncated = w->out[0].truncated;
  return w->out[0].buf.data ? w->out[0].buf.data : (const uint8_t *)"";
}

const uint8_t *wg_wasi_stderr(const wg_wasi *w, size_t *len, bool *truncated) {
  if (len) *len = w->out[1].buf.len;
  if (truncated) *truncated = w->out[1].truncated;
  return w->out[1].buf.data ? w->out[1].buf.data : (const uint8_t *)"";
}

unsigned wg_wasi_limits(const wg_wasi *w) { return w->limits; }
uint64_t wg_wasi_bytes_written(const wg_wasi *w) { return w->written; }
bool wg_wasi_uses_openat2(const wg_wasi *w) { return w->openat2; }
void wg_wasi_cancel(wg_wasi *w) { atomic_store(&w->cancel, 1); }

void wg_wasi_set_next(wg_wasi *w, wg_resolver next, void *user) {
  w->next = next;
  w->next_user = user;
}
