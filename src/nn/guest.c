/*
** The guest side of wasi_ephemeral_nn: the 12 host functions read their
** arguments through the checked accessor (wg_memory_translate), call an
** operation (wg_nn_call: in this process, or through a wg_nn_proxy's
** transport in a worker) and write its outputs back. Out-values go
** through guest pointers as little-endian u32, written only on success
** (get_output* also writes the needed size with errno 7). A pointer or
** length that does not fit the guest's memory gives errno 1 before
** anything is sent; a caller without a memory traps, as in WasmEdge.
**
** The wire format of wg_nn_serve (little-endian):
**   call    u32 op, u32 h, u32 a, u32 b, u32 n, u64 size, u64 deadline
**           (the worker's run's, monotonic ms, 0: none), then two parts,
**           each u32 length (0xffffffff: absent) + bytes
**   answer  u32 errno, u32 value, u8 interrupted,
**           then one part (get_output*'s bytes)
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "nn/nn_int.h"

#define ABSENT UINT32_MAX
#define CALL_HEADER 36u           /* op, h, a, b, n, size, deadline */
#define REPLY_HEADER 9u
/* Waiting for the worker's own watchdog after the server said
** "interrupted" (the two clocks start a dispatch apart). */
#define SETTLE_MS 2000

/* ------------------------------------------------------------------ */
/* Wire format                                                         */

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static wg_err buf_u32(wg_buf *b, uint32_t v) {
  uint8_t t[4];
  put32(t, v);
  return wg_buf_append(b, t, 4);
}

static wg_err buf_part(wg_buf *b, const uint8_t *p, uint32_t n) {
  wg_err e = buf_u32(b, p ? n : ABSENT);
  if (!e && p && n) e = wg_buf_append(b, p, n);
  return e;
}

static wg_err buf_u64(wg_buf *b, uint64_t v) {
  wg_err e = buf_u32(b, (uint32_t)v);
  return e ? e : buf_u32(b, (uint32_t)(v >> 32));
}

/* Appends the call message of a (with the run's deadline) to b. */
static wg_err encode_call(wg_buf *b, const wg_nn_call_args *a,
                          uint64_t deadline_ms) {
  wg_err e = WG_OK;
  uint32_t head[5] = {(uint32_t)a->op, a->h, a->a, a->b, a->n};
  for (int i = 0; i < 5 && !e; i++) e = buf_u32(b, head[i]);
  if (!e) e = buf_u64(b, a->size);
  if (!e) e = buf_u64(b, deadline_ms);
  for (int i = 0; i < 2 && !e; i++) e = buf_part(b, a->data[i], a->len[i]);
  return e;
}

/* The most a part may hold: the model bytes of `load`, else an input. */
static uint32_t part_limit(uint32_t op, int i) {
  return op == WG_NN_OP_LOAD && i == 0 ? WG_NN_MAX_REMOTE_MODEL : WG_NN_MAX_INPUT;
}

wg_err wgn_decode_call(const uint8_t *msg, size_t n, wg_nn_call_args *a,
                       uint64_t *deadline_ms, wg_error *err) {
  memset(a, 0, sizeof *a);
  *deadline_ms = 0;
  if (n < CALL_HEADER + 8)
    return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: a call of %zu bytes "
                        "is too short", n);
  uint32_t op = get32(msg);
  if (op >= WG_NN_NOPS)
    return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: unknown call %u", op);
  a->op = (wg_nn_op)op;
  a->h = get32(msg + 4);
  a->a = get32(msg + 8);
  a->b = get32(msg + 12);
  a->n = get32(msg + 16);
  a->size = (uint64_t)get32(msg + 20) | (uint64_t)get32(msg + 24) << 32;
  *deadline_ms = (uint64_t)get32(msg + 28) | (uint64_t)get32(msg + 32) << 32;
  size_t at = CALL_HEADER;
  for (int i = 0; i < 2; i++) {
    if (n - at < 4)
      return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: the parts do not "
                          "add up to the call's %zu bytes", n);
    uint32_t len = get32(msg + at);
    at += 4;
    if (len == ABSENT) continue;
    if (len > part_limit(op, i))
      return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: part %d of %u "
                          "bytes is above its limit (%u)", i, len,
                          part_limit(op, i));
    if (n - at < len)
      return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: the parts do not "
                          "add up to the call's %zu bytes", n);
    a->data[i] = msg + at;
    a->len[i] = len;
    at += len;
  }
  if (at != n)
    return wg_error_set(err, WG_EINVAL, "wasi_ephemeral_nn: the parts do not "
                        "add up to the call's %zu bytes", n);
  return WG_OK;
}

wg_err wgn_encode_reply(wg_buf *b, const wg_nn_call_result *r) {
  wg_err e = buf_u32(b, r->err);
  if (!e) e = buf_u32(b, r->value);
  uint8_t flag = r->interrupted;
  if (!e) e = wg_buf_append(b, &flag, 1);
  bool data = !r->err && r->data;
  if (!e) e = buf_part(b, data ? r->data : NULL, data ? r->value : 0);
  return e;
}

/* An answer into *r (pointing into msg); false when malformed. */
static bool decode_reply(const uint8_t *msg, size_t n, wg_nn_call_result *r) {
  memset(r, 0, sizeof *r);
  if (n < REPLY_HEADER + 4 || msg[8] > 1) return false;
  r->err = get32(msg);
  r->value = get32(msg + 4);
  r->interrupted = msg[8];
  uint32_t len = get32(msg + REPLY_HEADER);
  if (len == ABSENT) return n == REPLY_HEADER + 4;
  if (len != n - REPLY_HEADER - 4 || len != r->value || r->err) return false;
  r->data = msg + REPLY_HEADER + 4;
  return true;
}

/* ------------------------------------------------------------------ */
/* Marshalling                                                         */

typedef struct gcall {
  wgn_front *f;
  wg_memory *mem;
  bool failed;              /* no answer: trap */
  bool interrupted;
} gcall;

/* The checked door into guest memory. */
static uint8_t *gmem(gcall *c, uint32_t ptr, uint64_t len) {
  return (uint8_t *)wg_memory_translate(c->mem, ptr, len);
}

static uint32_t arg(const uint64_t *a, int i) { return (uint32_t)a[i]; }

/* Runs one call; its errno (r filled). */
static uint32_t call(gcall *c, const wg_nn_call_args *a, wg_nn_call_result *r) {
  if (!c->f->call(c->f->user, a, r)) {
    c->failed = true;
    return WG_NN_RUNTIME_ERROR;
  }
  if (r->interrupted) c->interrupted = true;
  return r->err;
}

/* The handle result of a successful call into out. */
static uint32_t call_put(gcall *c, const wg_nn_call_args *a, uint8_t *out) {
  wg_nn_call_result r;
  uint32_t e = call(c, a, &r);
  if (!e) put32(out, r.value);
  return e;
}

static uint32_t g_load(gcall *c, const uint64_t *a) {
  uint32_t blen = arg(a, 1);
  const uint8_t *arr = gmem(c, arg(a, 0), (uint64_t)blen * 8);
  uint8_t *out = gmem(c, arg(a, 4), 4);
  if (!arr || !out || blen == 0) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = WG_NN_OP_LOAD, .a = arg(a, 2), .b = arg(a, 3), .n = blen};
  for (uint32_t i = 0; i < blen; i++) {
    uint32_t p = get32(arr + 8 * (size_t)i), n = get32(arr + 8 * (size_t)i + 4);
    const uint8_t *d = gmem(c, p, n);
    if (!d) return WG_NN_INVALID_ARGUMENT;
    if (i < 2) {
      q.data[i] = d;
      q.len[i] = n;
    }
  }
  q.size = q.len[0];
  if (q.len[1] > WG_NN_MAX_CONFIG) return WG_NN_TOO_LARGE;
  if (c->f->remote && q.len[0] > WG_NN_MAX_REMOTE_MODEL) {
    q.data[0] = NULL;              /* too large to cross: errno 7 there */
    q.len[0] = 0;
  }
  return call_put(c, &q, out);
}

/* The name as load_by_name* passes it (a name too long for any model is
** sent empty, with its length in size: not found). */
static void set_name(wg_nn_call_args *q, const uint8_t *name, uint32_t len) {
  q->size = len;
  q->data[0] = len <= WG_NN_MAX_NAME ? name : NULL;
  q->len[0] = len <= WG_NN_MAX_NAME ? len : 0;
}

static uint32_t g_load_by_name(gcall *c, const uint64_t *a) {
  uint32_t len = arg(a, 1);
  const uint8_t *name = gmem(c, arg(a, 0), len);
  uint8_t *out = gmem(c, arg(a, 2), 4);
  if (!name || !out) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = WG_NN_OP_LOAD_BY_NAME};
  set_name(&q, name, len);
  return call_put(c, &q, out);
}

static uint32_t g_load_by_name_with_config(gcall *c, const uint64_t *a) {
  uint32_t len = arg(a, 1), cfglen = arg(a, 3);
  const uint8_t *name = gmem(c, arg(a, 0), len);
  const uint8_t *cfg = gmem(c, arg(a, 2), cfglen);
  uint8_t *out = gmem(c, arg(a, 4), 4);
  if (!name || !cfg || !out) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG, .b = cfglen};
  set_name(&q, name, len);
  if (cfglen <= WG_NN_MAX_CONFIG) {
    q.data[1] = cfg;
    q.len[1] = cfglen;
  }
  return call_put(c, &q, out);
}

/* unload, finalize_execution_context, compute, compute_single, fini_single:
** one handle. */
static uint32_t g_handle(gcall *c, wg_nn_op op, const uint64_t *a) {
  wg_nn_call_args q = {.op = op, .h = arg(a, 0)};
  wg_nn_call_result r;
  return call(c, &q, &r);
}

static uint32_t g_unload(gcall *c, const uint64_t *a) {
  return g_handle(c, WG_NN_OP_UNLOAD, a);
}

static uint32_t g_finalize(gcall *c, const uint64_t *a) {
  return g_handle(c, WG_NN_OP_FINALIZE_EXECUTION_CONTEXT, a);
}

static uint32_t g_compute(gcall *c, const uint64_t *a) {
  return g_handle(c, WG_NN_OP_COMPUTE, a);
}

static uint32_t g_compute_single(gcall *c, const uint64_t *a) {
  return g_handle(c, WG_NN_OP_COMPUTE_SINGLE, a);
}

static uint32_t g_fini_single(gcall *c, const uint64_t *a) {
  return g_handle(c, WG_NN_OP_FINI_SINGLE, a);
}

static uint32_t g_init_execution_context(gcall *c, const uint64_t *a) {
  uint8_t *out = gmem(c, arg(a, 1), 4);
  if (!out) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = WG_NN_OP_INIT_EXECUTION_CONTEXT, .h = arg(a, 0)};
  return call_put(c, &q, out);
}

/* The tensor struct: dims_ptr, dims_len (u32 count), type (low byte; the
** rest is padding in WAMR's layout), data_ptr, data_len. */
static uint32_t g_set_input(gcall *c, const uint64_t *a) {
  const uint8_t *t = gmem(c, arg(a, 2), 20);
  if (!t) return WG_NN_INVALID_ARGUMENT;
  uint32_t dims_len = get32(t + 4), dlen = get32(t + 16);
  if (!gmem(c, get32(t), (uint64_t)dims_len * 4)) return WG_NN_INVALID_ARGUMENT;
  const uint8_t *data = gmem(c, get32(t + 12), dlen);
  if (!data) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = WG_NN_OP_SET_INPUT, .h = arg(a, 0), .a = arg(a, 1),
                       .b = t[8], .size = dlen};
  if (dlen <= WG_NN_MAX_INPUT) {
    q.data[0] = data;
    q.len[0] = dlen;
  }
  wg_nn_call_result r;
  return call(c, &q, &r);
}

static uint32_t get_output(gcall *c, const uint64_t *a, wg_nn_op op) {
  uint32_t max = arg(a, 3);
  uint8_t *dst = gmem(c, arg(a, 2), max);
  uint8_t *written = gmem(c, arg(a, 4), 4);
  if (!dst || !written) return WG_NN_INVALID_ARGUMENT;
  wg_nn_call_args q = {.op = op, .h = arg(a, 0), .a = arg(a, 1), .b = max};
  wg_nn_call_result r;
  uint32_t e = call(c, &q, &r);
  if (e == WG_NN_TOO_LARGE) put32(written, r.value);
  if (e) return e;
  if (r.value > max) return WG_NN_RUNTIME_ERROR;   /* never from wg_nn_call */
  if (r.value) memcpy(dst, r.data, r.value);
  put32(written, r.value);
  return WG_NN_SUCCESS;
}

static uint32_t g_get_output(gcall *c, const uint64_t *a) {
  return get_output(c, a, WG_NN_OP_GET_OUTPUT);
}

static uint32_t g_get_output_single(gcall *c, const uint64_t *a) {
  return get_output(c, a, WG_NN_OP_GET_OUTPUT_SINGLE);
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */

typedef uint32_t (*g_handler)(gcall *c, const uint64_t *a);

/* Sorted by name; every parameter and the result are i32. */
static const struct nn_func {
  const char *name;
  uint8_t nparams;
  g_handler fn;
} funcs[WGN_NFUNCS] = {
    {"compute", 1, g_compute},
    {"compute_single", 1, g_compute_single},
    {"finalize_execution_context", 1, g_finalize},
    {"fini_single", 1, g_fini_single},
    {"get_output", 5, g_get_output},
    {"get_output_single", 5, g_get_output_single},
    {"init_execution_context", 2, g_init_execution_context},
    {"load", 5, g_load},
    {"load_by_name", 3, g_load_by_name},
    {"load_by_name_with_config", 5, g_load_by_name_with_config},
    {"set_input", 3, g_set_input},
    {"unload", 1, g_unload},
};

static const uint8_t i32s[6] = {WG_I32, WG_I32, WG_I32, WG_I32, WG_I32, WG_I32};

/* An interrupted answer from the server: the worker's own watchdog marks
** the store at its deadline, so that the run ends as the timeout it is. */
static void settle(wgn_front *f) {
  for (int i = 0; i < SETTLE_MS && f->store && !wg_store_interrupted(f->store); i++) {
    struct timespec t = {0, 1000000};
    nanosleep(&t, NULL);
  }
}

static wg_err run_call(wg_host_call *hc, uint64_t *stack, const struct nn_func *fn) {
  gcall c = {wg_host_user(hc), wg_host_memory(hc), false, false};
  if (!c.mem)
    return wg_host_trap(hc, WG_TRAP_HOST,
                        "wasi_ephemeral_nn.%s: the caller has no memory", fn->name);
  uint32_t r = fn->fn(&c, stack);
  if (c.failed)
    return wg_host_trap(hc, WG_TRAP_HOST,
                        "wasi_ephemeral_nn.%s: the server did not answer", fn->name);
  if (c.interrupted) {
    if (c.f->remote) settle(c.f);
    return wg_host_trap(hc, WG_TRAP_INTERRUPT,
                        "interrupted during wasi_ephemeral_nn.%s", fn->name);
  }
  stack[0] = r;
  return WG_OK;
}

/* One trampoline per function (the engine passes one user pointer). */
#define NN_TRAMPOLINE(i)                                                      \
  static wg_err tramp_##i(wg_host_call *call, uint64_t *stack) {             \
    return run_call(call, stack, &funcs[i]);                                  \
  }

NN_TRAMPOLINE(0) NN_TRAMPOLINE(1) NN_TRAMPOLINE(2) NN_TRAMPOLINE(3)
NN_TRAMPOLINE(4) NN_TRAMPOLINE(5) NN_TRAMPOLINE(6) NN_TRAMPOLINE(7)
NN_TRAMPOLINE(8) NN_TRAMPOLINE(9) NN_TRAMPOLINE(10) NN_TRAMPOLINE(11)

static const wg_host_fn tramps[WGN_NFUNCS] = {
    tramp_0, tramp_1, tramp_2, tramp_3, tramp_4, tramp_5,
    tramp_6, tramp_7, tramp_8, tramp_9, tramp_10, tramp_11,
};

static bool names_eq(wg_name n, const char *s) {
  size_t len = strlen(s);
  return n.len == len && memcmp(n.ptr, s, len) == 0;
}

void wgn_front_bind(wgn_front *f, wg_store *s) {
  if (f->store != s) memset(f->funcs, 0, sizeof f->funcs);
  f->store = s;
}

wg_err wgn_front_resolve(wgn_front *f, wg_name module, wg_name name,
                         const wg_externtype *type, wg_extern *out) {
  if (!names_eq(module, WG_NN_MODULE)) return WG_EUNKNOWNIMPORT;
  size_t i = 0;
  while (i < WGN_NFUNCS && !names_eq(name, funcs[i].name)) i++;
  if (i == WGN_NFUNCS) return WG_EUNKNOWNIMPORT;
  wg_functype ft = {funcs[i].nparams, 1, i32s, i32s};
  if (type->kind != WG_EXTERN_FUNC || type->of.func.nparams != ft.nparams ||
      type->of.func.nresults != 1 || type->of.func.results[0] != WG_I32)
    return WG_EIMPORTTYPE;
  for (uint32_t k = 0; k < ft.nparams; k++)
    if (type->of.func.params[k] != WG_I32) return WG_EIMPORTTYPE;
  if (!f->store) return WG_EINVAL;
  if (!f->funcs[i]) {
    f->funcs[i] = wg_func_new_host(f->store, &ft, tramps[i], f);
    if (!f->funcs[i]) return WG_ENOMEM;
  }
  out->kind = WG_EXTERN_FUNC;
  out->of.func = f->funcs[i];
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* The proxy (a worker process)                                        */

struct wg_nn_proxy {
  wgn_front front;
  wg_nn_transport fn;
  void *user;
  uint64_t deadline_ms;     /* the run's (bind), sent with every call */
  wg_buf msg;
};

static bool proxy_call(void *user, const wg_nn_call_args *a, wg_nn_call_result *r) {
  wg_nn_proxy *p = user;
  wg_buf_reset(&p->msg);
  const uint8_t *reply;
  size_t n;
  if (encode_call(&p->msg, a, p->deadline_ms) ||
      p->fn(p->user, p->msg.data, p->msg.len, &reply, &n))
    return false;
  return decode_reply(reply, n, r);
}

wg_nn_proxy *wg_nn_proxy_new(wg_nn_transport fn, void *user) {
  wg_nn_proxy *p = wg_new(wg_nn_proxy);
  if (!p) return NULL;
  p->fn = fn;
  p->user = user;
  p->front.call = proxy_call;
  p->front.user = p;
  p->front.remote = true;
  wg_buf_init(&p->msg, WG_NN_MAX_MESSAGE);
  return p;
}

void wg_nn_proxy_free(wg_nn_proxy *p) {
  if (!p) return;
  wg_buf_free(&p->msg);
  wg_free_obj(p);
}

static wg_err proxy_resolve(void *user, wg_name module, wg_name name,
                            const wg_externtype *type, wg_extern *out) {
  wg_nn_proxy *p = user;
  return wgn_front_resolve(&p->front, module, name, type, out);
}

static void proxy_bind(void *user, wg_store *s, uint64_t deadline_ms) {
  wg_nn_proxy *p = user;
  p->deadline_ms = deadline_ms;    /* the server stops a compute by it */
  wgn_front_bind(&p->front, s);
}

wg_exec_host wg_nn_proxy_host(wg_nn_proxy *p) {
  return (wg_exec_host){proxy_resolve, proxy_bind, p};
}
