/*
** The in-process executor: one module run under hard limits in the calling
** thread. Every limit is enforced where it arises (the engine for memory,
** tables, fuel and call depth; WASI for fds, bytes written and output; the
** watchdog for wall time) and reported as one named reason.
*/
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sandbox/sandbox_int.h"
#include "wasmgate/sandbox.h"

static const char *const limit_names[] = {
#define WG__L(name, text) text,
    WG_LIMIT_MAP(WG__L)
#undef WG__L
};

const char *wg_limit_name(wg_limit_kind k) {
  return (unsigned)k < sizeof limit_names / sizeof *limit_names ? limit_names[k]
                                                                : "unknown";
}

void wg_exec_limits_default(wg_exec_limits *l) {
  l->fuel = -1;
  l->memory_bytes = (uint64_t)WG_MAX_PAGES * WG_PAGE_SIZE;
  l->timeout_ms = 0;
  l->max_output_bytes = 1u << 20;
  l->max_open_fds = WG_WASI_DEFAULT_MAX_FDS;
  l->max_write_bytes = 0;
  l->max_call_depth = WG_DEFAULT_CALL_DEPTH;
  l->max_table_elems = WG_MAX_TABLE_ELEMS;
}

void wg_exec_request_init(wg_exec_request *req) {
  memset(req, 0, sizeof *req);
  req->stdin_fd = -1;
  req->stdout_fd = -1;
  req->stderr_fd = -1;
}

void wg_exec_result_free(wg_exec_result *r) {
  wg_free(r->out, r->out_len + 1);
  wg_free(r->err, r->err_len + 1);
  r->out = r->err = NULL;
  r->out_len = r->err_len = 0;
}

/* Fills zero fields of a request's limits with the defaults. */
static wg_exec_limits effective(const wg_exec_limits *in) {
  wg_exec_limits d, l = *in;
  wg_exec_limits_default(&d);
  if (l.fuel == 0) l.fuel = d.fuel;
  if (!l.memory_bytes) l.memory_bytes = d.memory_bytes;
  if (!l.max_output_bytes) l.max_output_bytes = d.max_output_bytes;
  if (!l.max_open_fds) l.max_open_fds = d.max_open_fds;
  if (!l.max_call_depth) l.max_call_depth = d.max_call_depth;
  if (!l.max_table_elems) l.max_table_elems = d.max_table_elems;
  return l;
}

static uint8_t *copy_out(const uint8_t *p, size_t n) {
  uint8_t *q = wg_realloc_(NULL, 0, n + 1);
  if (!q) return NULL;
  if (n) memcpy(q, p, n);
  q[n] = 0;
  return q;
}

static void set_message(wg_exec_result *res, const char *msg) {
  snprintf(res->trap_message, sizeof res->trap_message, "%s", msg);
}

/* Which limit a run's end is due to, in order of precedence. */
static wg_limit_kind classify(wg_err trap, bool timed_out, const wg_store *s,
                              unsigned wasi_limits) {
  if (trap == WG_TRAP_FUEL) return WG_LIMIT_FUEL;
  if (timed_out && (trap == WG_TRAP_INTERRUPT || trap != WG_OK)) return WG_LIMIT_TIMEOUT;
  if (trap == WG_TRAP_STACK) return WG_LIMIT_CALL_DEPTH;
  if (wg_store_limit_hit(s)) return WG_LIMIT_MEMORY;
  if (wasi_limits & WG_WASI_LIMIT_FDS) return WG_LIMIT_FDS;
  if (wasi_limits & WG_WASI_LIMIT_WRITE) return WG_LIMIT_WRITE_BYTES;
  if (wasi_limits & WG_WASI_LIMIT_OUTPUT) return WG_LIMIT_OUTPUT;
  return WG_LIMIT_NONE;
}

/* Instantiates with WASI and calls a named export with the request's args. */
static wg_err invoke(wg_wasi *w, wg_store *s, const wg_exec_request *req,
                     wg_exec_result *res, wg_error *err) {
  wg_instance *inst = wg_instance_new(s, req->module, wg_wasi_resolve, w, err);
  if (!inst) return err->code;
  wg_extern ext;
  wg_name name = {req->function, (uint32_t)strlen(req->function)};
  if (wg_instance_export(inst, name, &ext) || ext.kind != WG_EXTERN_FUNC)
    return wg_error_set(err, WG_EUNKNOWNEXPORT, "no exported function '%s'",
                        req->function);
  wg_functype ft = wg_func_type(ext.of.func);
  if (ft.nresults > sizeof res->results / sizeof *res->results)
    return wg_error_set(err, WG_EIMPLIMIT, "function returns too many values");
  wg_err e = wg_call(s, ext.of.func, req->invoke_args, req->ninvoke_args,
                     res->results, ft.nresults);
  if (e == WG_TRAP_EXIT) {
    res->exit_code = wg_store_exit_code(s);
    return WG_OK;
  }
  if (e) {
    *err = *wg_store_trap(s);
    return e;
  }
  res->nresults = ft.nresults;
  return WG_OK;
}

void wgs_cancelled_result(wg_exec_result *res) {
  memset(res, 0, sizeof *res);
  res->out = copy_out(NULL, 0);
  res->err = copy_out(NULL, 0);
  if (!res->out || !res->err) wg_exec_result_free(res);
  res->exit_code = 1;
  res->trap = WG_TRAP_INTERRUPT;
  res->cancelled = true;
  set_message(res, "cancelled");
}

wg_err wg_exec_run(const wg_exec_request *req, wg_exec_result *res) {
  memset(res, 0, sizeof *res);
  if (!req || !req->module) return WG_EINVAL;
  wg_exec_limits lim = effective(&req->limits);
  if (lim.memory_bytes < WG_PAGE_SIZE) {
    res->trap = WG_EINVAL;
    set_message(res, "memory limit below one page (64 KiB)");
    return WG_EINVAL;
  }

  if (wg_exec_cancel_fired(req->cancel)) {  /* no guest code at all */
    wgs_cancelled_result(res);
    return WG_OK;
  }
  wg_wasi_preopen pre[64];
  if (req->ndirs > sizeof pre / sizeof *pre) {
    res->trap = WG_ELIMIT;
    set_message(res, "too many preopened directories (at most 64)");
    return WG_ELIMIT;
  }
  for (size_t i = 0; i < req->ndirs; i++)
    pre[i] = (wg_wasi_preopen){req->dirs[i].host_path, req->dirs[i].guest_path,
                               req->dirs[i].readonly, req->dirs[i].host_fd};
  wg_wasi_config wc;
  wg_wasi_config_init(&wc);
  wc.argv = req->argv;
  wc.argc = req->argc;
  wc.env = req->env;
  wc.envc = req->envc;
  wc.preopens = pre;
  wc.npreopens = req->ndirs;
  wc.stdin_fd = req->stdin_bytes ? -1 : req->stdin_fd;
  wc.stdin_bytes = req->stdin_bytes;
  wc.stdin_len = req->stdin_len;
  wc.stdout_fd = req->stdout_fd;
  wc.stderr_fd = req->stderr_fd;
  wc.max_output = lim.max_output_bytes;
  wc.max_open_fds = lim.max_open_fds;
  wc.max_write_bytes = lim.max_write_bytes;

  wg_error err;
  wg_error_clear(&err);
  wg_wasi *w = wg_wasi_new(&wc, &err);
  if (!w) {
    res->trap = err.code;
    set_message(res, err.message);
    return err.code;
  }
  wg_store_config sc = {
      .max_memory_pages = lim.memory_bytes / WG_PAGE_SIZE,
      .max_table_elems = lim.max_table_elems,
      .max_call_depth = lim.max_call_depth,
      .fuel = lim.fuel,
  };
  wg_store *s = wg_store_new(&sc);
  if (!s) {
    wg_wasi_free(w);
    res->trap = WG_ENOMEM;
    set_message(res, "out of memory");
    return WG_ENOMEM;
  }
  wg_wasi_bind_store(w, s);

  wgs_watch watch = {0};
  bool watching = false;
  uint64_t t0 = wgs_now_ns();
  if (lim.timeout_ms || req->cancel) {
    watch.deadline_ns =
        lim.timeout_ms ? t0 + lim.timeout_ms * 1000000u : UINT64_MAX;
    watch.store = s;
    watch.wasi = w;
    watch.cancel = req->cancel;
    watching = wgs_watch_add(&watch) == WG_OK;
  }
  if (req->host) {
    wg_wasi_set_next(w, req->host->resolve, req->host->user);
    if (req->host->bind)
      req->host->bind(req->host->user, s,
                      lim.timeout_ms ? (t0 + 999999u) / 1000000u + lim.timeout_ms : 0);
  }

  wg_err e;
  unsigned wasi_limits;
  if (!req->function || strcmp(req->function, "_start") == 0) {
    wg_wasi_result wr;
    e = wg_wasi_run(w, s, req->module, &wr, &err);
    res->exit_code = wr.exit_code;
  } else {
    e = invoke(w, s, req, res, &err);
    if (e) res->exit_code = 1;
  }
  bool timed_out = watching && wgs_watch_remove(&watch);
  res->wall_ns = wgs_now_ns() - t0;
  wasi_limits = wg_wasi_limits(w);

  res->trap = e;
  if (e) set_message(res, err.message[0] ? err.message : wg_strerror(e));
  res->limit = classify(e, timed_out, s, wasi_limits);
  if (res->limit == WG_LIMIT_TIMEOUT && e == WG_TRAP_INTERRUPT)
    set_message(res, "wall-clock timeout");
  if (wg_is_trap(e) && !timed_out && wg_exec_cancel_fired(req->cancel)) {
    res->trap = WG_TRAP_INTERRUPT;  /* however the guest took the stop */
    res->limit = WG_LIMIT_NONE;
    res->cancelled = true;
    set_message(res, "cancelled");
  }
  if (lim.fuel >= 0) res->fuel_used = (uint64_t)(lim.fuel - wg_store_fuel(s));
  res->peak_memory_bytes = wg_store_peak_memory(s);

  size_t n;
  bool cut;
  const uint8_t *p = wg_wasi_stdout(w, &n, &cut);
  res->out = copy_out(p, n);
  res->out_len = res->out ? n : 0;
  res->out_truncated = cut;
  p = wg_wasi_stderr(w, &n, &cut);
  res->err = copy_out(p, n);
  res->err_len = res->err ? n : 0;
  res->err_truncated = cut;

  if (req->host && req->host->bind) req->host->bind(req->host->user, NULL, 0);
  wg_store_free(s);
  wg_wasi_free(w);
  /* a guest that trapped still ran; only failures to start are errors */
  if (e && !wg_is_trap(e)) return e;
  return WG_OK;
}
