/*
** Codecs of the RUN and RESULT frames (worker_int.h).
*/
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "sandbox/worker_int.h"

static bool plain_val(wg_valtype t) {
  return t == WG_I32 || t == WG_I64 || t == WG_F32 || t == WG_F64;
}

static bool ref_val(wg_valtype t) {
  return t == WG_FUNCREF || t == WG_EXTERNREF;
}

/* A value: u8 type, u64 low bits, u64 high bits (v128 only). A reference
** means nothing in another process: it crosses as null (0) or non-null
** (1), and only null is accepted as an argument. */
static wg_err put_val(wg_buf *b, const wg_val *v) {
  uint64_t lo = v->type == WG_I32 || v->type == WG_F32 ? v->of.i32
                : v->type == WG_V128 ? v->of.v128[0]
                : ref_val(v->type)   ? v->of.ref != 0
                                     : v->of.i64;
  wg_err e = wgf_put_u8(b, (uint8_t)v->type);
  if (!e) e = wgf_put_u64(b, lo);
  if (!e) e = wgf_put_u64(b, v->type == WG_V128 ? v->of.v128[1] : 0);
  return e;
}

static bool get_val(wgf_reader *r, wg_val *v) {
  memset(v, 0, sizeof *v);
  v->type = (wg_valtype)wgf_get_u8(r);
  uint64_t lo = wgf_get_u64(r), hi = wgf_get_u64(r);
  if (v->type == WG_I32 || v->type == WG_F32) {
    v->of.i32 = (uint32_t)lo;
  } else if (v->type == WG_V128) {
    v->of.v128[0] = lo;
    v->of.v128[1] = hi;
  } else if (plain_val(v->type) || ref_val(v->type)) {
    v->of.i64 = lo;
  } else {
    return false;
  }
  return true;
}

static unsigned stdio_mask(const wg_exec_request *req) {
  return (req->stdin_bytes == NULL && req->stdin_fd >= 0 ? 1u : 0u) |
         (req->stdout_fd >= 0 ? 2u : 0u) | (req->stderr_fd >= 0 ? 4u : 0u);
}

size_t wgw_run_fds(const wg_exec_request *req, int *fds) {
  size_t n = 0;
  for (size_t i = 0; i < req->ndirs && i < WGW_MAX_DIRS; i++)
    fds[n++] = req->dirs[i].host_fd;
  unsigned mask = stdio_mask(req);
  if (mask & 1u) fds[n++] = req->stdin_fd;
  if (mask & 2u) fds[n++] = req->stdout_fd;
  if (mask & 4u) fds[n++] = req->stderr_fd;
  return n;
}

wg_err wgw_encode_run(wg_buf *b, const char *key, const wg_exec_request *req) {
  return wgw_encode_run_nn(b, key, req, false);
}

wg_err wgw_encode_run_nn(wg_buf *b, const char *key, const wg_exec_request *req,
                         bool nn) {
  /* req->host lives in the caller's process only (WASI-NN crosses as
  ** NN_CALL frames: nn) */
  if (!key || strlen(key) >= WGW_KEY_MAX || req->ndirs > WGW_MAX_DIRS ||
      req->ninvoke_args > 16 || req->host) {
    return WG_EINVAL;
  }
  wgf_begin(b, WGW_RUN);
  wg_err e = wgf_put_str(b, key);
  if (!e) e = wgf_put_str(b, req->function);
  if (!e) e = wgf_put_u32(b, (uint32_t)req->argc);
  for (size_t i = 0; !e && i < req->argc; i++) e = wgf_put_str(b, req->argv[i]);
  if (!e) e = wgf_put_u32(b, (uint32_t)req->envc);
  for (size_t i = 0; !e && i < req->envc; i++) e = wgf_put_str(b, req->env[i]);
  if (!e) e = wgf_put_u32(b, (uint32_t)req->ndirs);
  for (size_t i = 0; !e && i < req->ndirs; i++) {
    if (req->dirs[i].host_path || req->dirs[i].host_fd < 0) return WG_EINVAL;
    e = wgf_put_str(b, req->dirs[i].guest_path);
    if (!e) e = wgf_put_u8(b, req->dirs[i].readonly);
  }
  if (!e) e = wgf_put_u8(b, (uint8_t)stdio_mask(req));
  if (!e) e = wgf_put_u8(b, req->stdin_bytes != NULL);
  if (!e) e = wgf_put_bytes(b, req->stdin_bytes, req->stdin_bytes ?
                                                    req->stdin_len : 0);
  const wg_exec_limits *l = &req->limits;
  if (!e) e = wgf_put_u64(b, (uint64_t)l->fuel);
  if (!e) e = wgf_put_u64(b, l->memory_bytes);
  if (!e) e = wgf_put_u64(b, l->timeout_ms);
  if (!e) e = wgf_put_u64(b, l->max_output_bytes);
  if (!e) e = wgf_put_u32(b, l->max_open_fds);
  if (!e) e = wgf_put_u64(b, l->max_write_bytes);
  if (!e) e = wgf_put_u32(b, l->max_call_depth);
  if (!e) e = wgf_put_u64(b, l->max_table_elems);
  if (!e) e = wgf_put_u32(b, (uint32_t)req->ninvoke_args);
  for (size_t i = 0; !e && i < req->ninvoke_args; i++) {
    const wg_val *v = &req->invoke_args[i];
    if (ref_val(v->type) && v->of.ref != 0) return WG_EINVAL;
    e = put_val(b, v);
  }
  if (!e) e = wgf_put_u8(b, nn);
  return e;
}

void wgw_run_free(wgw_run *r) {
  wg_free_array(r->strs, r->nstrs);
  r->strs = NULL;
  r->nstrs = 0;
}

wg_err wgw_decode_run(const wg_buf *payload, const int *fds, size_t nfds,
                      wgw_run *out) {
  memset(out, 0, sizeof *out);
  wgf_reader r;
  wgf_reader_init(&r, payload->data, payload->len);
  wg_exec_request *q = &out->req;
  wg_exec_request_init(q);
  const char *key = wgf_get_str(&r);
  if (!key || strlen(key) >= WGW_KEY_MAX) return WG_EINVAL;
  memcpy(out->key, key, strlen(key) + 1);
  q->function = wgf_get_str(&r);
  uint32_t argc = wgf_get_u32(&r);
  /* every string takes at least 5 bytes: bound the count before allocating */
  if (r.bad || argc > payload->len / 5) return WG_EINVAL;
  const char **argv = wg_new_array(const char *, (size_t)argc + 1);
  if (!argv) return WG_ENOMEM;
  for (uint32_t i = 0; i < argc; i++) argv[i] = wgf_get_str(&r);
  uint32_t envc = wgf_get_u32(&r);
  if (r.bad || envc > payload->len / 5) {
    wg_free_array(argv, (size_t)argc + 1);
    return WG_EINVAL;
  }
  out->nstrs = (size_t)argc + envc + 1;
  out->strs = wg_grow_array(argv, (size_t)argc + 1, out->nstrs,
                            sizeof *argv);
  if (!out->strs) {
    wg_free_array(argv, (size_t)argc + 1);
    out->nstrs = 0;
    return WG_ENOMEM;
  }
  for (uint32_t i = 0; i < envc; i++) out->strs[argc + i] = wgf_get_str(&r);
  for (size_t i = 0; i < (size_t)argc + envc; i++)
    if (!out->strs[i]) r.bad = true;
  q->argv = out->strs;
  q->argc = argc;
  q->env = out->strs + argc;
  q->envc = envc;
  uint32_t ndirs = wgf_get_u32(&r);
  if (ndirs > WGW_MAX_DIRS || ndirs > nfds) goto bad;
  for (uint32_t i = 0; i < ndirs; i++) {
    out->dirs[i].guest_path = wgf_get_str(&r);
    out->dirs[i].readonly = wgf_get_u8(&r) != 0;
    out->dirs[i].host_fd = fds[i];
    if (!out->dirs[i].guest_path) goto bad;
  }
  q->dirs = out->dirs;
  q->ndirs = ndirs;
  unsigned mask = wgf_get_u8(&r);
  size_t k = ndirs;
  if (mask & ~7u) goto bad;
  if (mask & 1u) q->stdin_fd = k < nfds ? fds[k++] : -1;
  if (mask & 2u) q->stdout_fd = k < nfds ? fds[k++] : -1;
  if (mask & 4u) q->stderr_fd = k < nfds ? fds[k++] : -1;
  if (k != nfds || (mask & 1u && q->stdin_fd < 0) ||
      (mask & 2u && q->stdout_fd < 0) || (mask & 4u && q->stderr_fd < 0))
    goto bad;
  bool has_stdin = wgf_get_u8(&r) != 0;
  size_t n;
  const uint8_t *in = wgf_get_bytes(&r, &n);
  q->stdin_bytes = has_stdin ? in : NULL;
  q->stdin_len = n;
  wg_exec_limits *l = &q->limits;
  l->fuel = (int64_t)wgf_get_u64(&r);
  l->memory_bytes = wgf_get_u64(&r);
  l->timeout_ms = wgf_get_u64(&r);
  l->max_output_bytes = wgf_get_u64(&r);
  l->max_open_fds = wgf_get_u32(&r);
  l->max_write_bytes = wgf_get_u64(&r);
  l->max_call_depth = wgf_get_u32(&r);
  l->max_table_elems = wgf_get_u64(&r);
  uint32_t nargs = wgf_get_u32(&r);
  if (nargs > 16) goto bad;
  for (uint32_t i = 0; i < nargs; i++) {
    wg_val *v = &out->args[i];
    if (!get_val(&r, v) || (ref_val(v->type) && v->of.ref)) goto bad;
  }
  q->invoke_args = out->args;
  q->ninvoke_args = nargs;
  unsigned nn = wgf_get_u8(&r);
  if (nn > 1) goto bad;
  out->nn = nn;
  if (!wgf_done(&r)) goto bad;
  return WG_OK;
bad:
  wgw_run_free(out);
  return WG_EINVAL;
}

wg_err wgw_encode_result(wg_buf *b, wg_err ret, const wg_exec_result *res,
                         uint64_t rss_bytes, uint64_t cpu_ns) {
  wgf_begin(b, WGW_RESULT);
  wg_err e = wgf_put_u32(b, (uint32_t)ret);
  if (!e) e = wgf_put_u32(b, (uint32_t)res->exit_code);
  if (!e) e = wgf_put_u32(b, (uint32_t)res->trap);
  if (!e) e = wgf_put_str(b, res->trap_message);
  if (!e) e = wgf_put_u32(b, (uint32_t)res->limit);
  if (!e) e = wgf_put_u32(b, (uint32_t)res->nresults);
  for (size_t i = 0; !e && i < res->nresults; i++)
    e = put_val(b, &res->results[i]);
  if (!e) e = wgf_put_u64(b, res->fuel_used);
  if (!e) e = wgf_put_u64(b, res->wall_ns);
  if (!e) e = wgf_put_u64(b, res->peak_memory_bytes);
  if (!e) e = wgf_put_bytes(b, res->out, res->out_len);
  if (!e) e = wgf_put_u8(b, res->out_truncated);
  if (!e) e = wgf_put_bytes(b, res->err, res->err_len);
  if (!e) e = wgf_put_u8(b, res->err_truncated);
  if (!e) e = wgf_put_u64(b, rss_bytes);
  if (!e) e = wgf_put_u64(b, cpu_ns);
  return e;
}

static uint8_t *copy_out(const uint8_t *p, size_t n) {
  uint8_t *q = wg_realloc_(NULL, 0, n + 1);
  if (!q) return NULL;
  if (n) memcpy(q, p, n);
  q[n] = 0;
  return q;
}

wg_err wgw_decode_result(const wg_buf *payload, wg_err *ret,
                         wg_exec_result *res, uint64_t *rss_bytes,
                         uint64_t *cpu_ns) {
  memset(res, 0, sizeof *res);
  wgf_reader r;
  wgf_reader_init(&r, payload->data, payload->len);
  *ret = (wg_err)wgf_get_u32(&r);
  res->exit_code = (int)wgf_get_u32(&r);
  res->trap = (wg_err)wgf_get_u32(&r);
  const char *msg = wgf_get_str(&r);
  snprintf(res->trap_message, sizeof res->trap_message, "%s", msg ? msg : "");
  res->limit = (wg_limit_kind)wgf_get_u32(&r);
  uint32_t nres = wgf_get_u32(&r);
  if (nres > sizeof res->results / sizeof *res->results) return WG_EINVAL;
  for (uint32_t i = 0; i < nres; i++)
    if (!get_val(&r, &res->results[i])) return WG_EINVAL;
  res->nresults = nres;
  res->fuel_used = wgf_get_u64(&r);
  res->wall_ns = wgf_get_u64(&r);
  res->peak_memory_bytes = wgf_get_u64(&r);
  size_t n_out, n_err;
  const uint8_t *out = wgf_get_bytes(&r, &n_out);
  res->out_truncated = wgf_get_u8(&r) != 0;
  const uint8_t *err = wgf_get_bytes(&r, &n_err);
  res->err_truncated = wgf_get_u8(&r) != 0;
  *rss_bytes = wgf_get_u64(&r);
  *cpu_ns = wgf_get_u64(&r);
  if (!wgf_done(&r)) return WG_EINVAL;
  res->out = copy_out(out, n_out);
  res->out_len = res->out ? n_out : 0;
  res->err = copy_out(err, n_err);
  res->err_len = res->err ? n_err : 0;
  if (!res->out || !res->err) {
    wg_exec_result_free(res);
    return WG_ENOMEM;
  }
  return WG_OK;
}
