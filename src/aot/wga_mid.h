/*
** wasmgate's wasm-rt runtime for one AOT object. Not compiled into
** wasmgate: src/aot/aot.c embeds this file as text and the build includes
** it into wasm2c's output right after the generated header (so that
** Z_m_instance_t is complete). It replaces wabt's wasm-rt-impl.c:
**
**  - memory and tables come from the host's accounting allocator, and no
**    memory grows beyond host->max_pages;
**  - traps longjmp to the innermost wga_run of the calling thread (never
**    a process-wide jmp_buf, never a signal handler);
**  - WGA_ENTER (function entry) bounds the call depth and the C stack and
**    checks the interrupt word; WGA_BACKEDGE (before every branch back to
**    a loop head) checks the interrupt word. aot.c rewrites wasm2c's
**    FUNC_PROLOGUE / FUNC_EPILOGUE / `goto w2c_L...` into these macros.
**
** Why longjmp is acceptable here, and only here (STYLE, "keep longjmp
** out"): the frames it unwinds are generated guest code and wga_run's
** caller, which hold no host resource (no lock, no allocation, no fd).
** A host import never traps by itself: it returns an error flag and the
** import thunk longjmps after the host frame has returned.
*/
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>

#include "wga_so.h"

typedef struct wga_rt {
  const wga_host *host;
  atomic_uint *intr;
  uint32_t depth, max_depth;
  uintptr_t stack_limit;          /* lowest frame address allowed */
  jmp_buf *jb;                    /* innermost wga_run */
  wasm_rt_memory_t *mem;          /* the memory the host sees */
  wasm_rt_memory_t imported;      /* an imported memory lives here */
} wga_rt;

typedef struct wga_ctx {
  Z_m_instance_t inst;            /* first: generated code casts back */
  wga_rt rt;
} wga_ctx;

#define WGA_STACK_BUDGET (512u * 1024u)

static __thread wga_rt *wga_cur;  /* the instance running on this thread */
static int wga_init_failed;

WASM_RT_NO_RETURN static void wga_stop(wga_rt *rt, int code) {
  longjmp(*rt->jb, code);
}

#define WGA_RT(i) (&((wga_ctx *)(void *)(i))->rt)
#define WGA_ENTER                                                        \
  wga_rt *const wga_r = WGA_RT(instance);                                \
  if (UNLIKELY(++wga_r->depth > wga_r->max_depth ||                      \
               (uintptr_t)__builtin_frame_address(0) < wga_r->stack_limit)) \
    wga_stop(wga_r, WGA_T_EXHAUSTION);                                   \
  if (UNLIKELY(atomic_load_explicit(wga_r->intr, memory_order_relaxed))) \
    wga_stop(wga_r, WGA_T_INTERRUPT)
#define WGA_LEAVE --wga_r->depth
#define WGA_BACKEDGE                                                     \
  if (UNLIKELY(atomic_load_explicit(wga_r->intr, memory_order_relaxed))) \
    wga_stop(wga_r, WGA_T_INTERRUPT);                                    \
  else

void wasm_rt_trap(wasm_rt_trap_t code) {
  wga_rt *rt = wga_cur;
  if (!rt || !rt->jb) abort();    /* a trap outside any call: a bug */
  longjmp(*rt->jb, code ? (int)code : WGA_T_UNREACHABLE);
}

bool wasm_rt_is_initialized(void) { return true; }

static void *wga_alloc(size_t old, void *p, size_t size) {
  const wga_host *h = wga_cur->host;
  return h->alloc(h->user, p, old, size);
}

/* ---- function types: one registry per object ---- */

#define WGA_MAX_TYPES 4096
#define WGA_TYPE_POOL 65536
static uint32_t wga_type_at[WGA_MAX_TYPES + 1];
static uint8_t wga_type_pool[WGA_TYPE_POOL];
static uint32_t wga_ntypes;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  uint8_t sig[2 + 512];
  uint32_t n = params + results;
  if (n > 512) {
    wga_init_failed = 1;
    return 0;
  }
  sig[0] = (uint8_t)params;
  sig[1] = (uint8_t)(params >> 8);
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < n; i++) sig[2 + i] = (uint8_t)va_arg(ap, int);
  va_end(ap);
  n += 2;
  for (uint32_t t = 0; t < wga_ntypes; t++) {
    uint32_t at = wga_type_at[t], len = wga_type_at[t + 1] - at;
    if (len == n && memcmp(wga_type_pool + at, sig, n) == 0) return t;
  }
  uint32_t at = wga_type_at[wga_ntypes];
  if (wga_ntypes >= WGA_MAX_TYPES || at + n > WGA_TYPE_POOL) {
    wga_init_failed = 1;
    return 0;
  }
  memcpy(wga_type_pool + at, sig, n);
  wga_type_at[++wga_ntypes] = at + n;
  return wga_ntypes - 1;
}

/* ---- memories ---- */

void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial,
                             uint32_t max) {
  wga_rt *rt = wga_cur;
  uint32_t cap = rt->host->max_pages < 65535u ? rt->host->max_pages : 65535u;
  if (max > cap) max = cap;
  if (initial > max) wga_stop(rt, WGA_T_MEMORY_LIMIT);
  size_t size = (size_t)initial * 65536u;
  m->data = NULL;
  if (size) {
    m->data = wga_alloc(0, NULL, size);
    if (!m->data) wga_stop(rt, WGA_T_NOMEM);
    memset(m->data, 0, size);
  }
  m->pages = initial;
  m->max_pages = max;
  m->size = (uint32_t)size;
  if (!rt->mem) rt->mem = m;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta) {
  uint32_t old = m->pages;
  if (delta == 0) return old;
  if (delta > m->max_pages - old) return (uint32_t)-1;
  size_t size = (size_t)(old + delta) * 65536u;
  uint8_t *p = wga_alloc(m->size, m->data, size);
  if (!p) return (uint32_t)-1;
  memset(p + m->size, 0, size - m->size);
  m->data = p;
  m->pages = old + delta;
  m->size = (uint32_t)size;
  return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *m) {
  if (m->data) wga_alloc(m->size, m->data, 0);
  m->data = NULL;
  m->size = m->pages = 0;
}

/* ---- tables ---- */

#define WGA_TABLE(kind, elem)                                              \
  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t *t,        \
                                       uint32_t n, uint32_t max) {         \
    t->data = NULL;                                                        \
    t->size = 0;                                                           \
    t->max_size = max;                                                     \
    if (n) {                                                               \
      t->data = wga_alloc(0, NULL, (size_t)n * sizeof(elem));              \
      if (!t->data) wga_stop(wga_cur, WGA_T_NOMEM);                        \
      for (uint32_t i = 0; i < n; i++) t->data[i] = wasm_rt_##kind##_null_value; \
    }                                                                      \
    t->size = n;                                                           \
  }                                                                        \
  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t *t,        \
                                       uint32_t delta, elem init) {        \
    uint32_t old = t->size;                                                \
    if (delta == 0) return old;                                            \
    if (delta > t->max_size - old || old + delta > (1u << 24))             \
      return (uint32_t)-1;                                                 \
    elem *p = wga_alloc((size_t)old * sizeof(elem), t->data,               \
                        (size_t)(old + delta) * sizeof(elem));             \
    if (!p) return (uint32_t)-1;                                           \
    for (uint32_t i = old; i < old + delta; i++) p[i] = init;              \
    t->data = p;                                                           \
    t->size = old + delta;                                                 \
    return old;                                                            \
  }                                                                        \
  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t *t) {          \
    if (t->data) wga_alloc((size_t)t->size * sizeof(elem), t->data, 0);    \
    t->data = NULL;                                                        \
    t->size = 0;                                                           \
  }
WGA_TABLE(funcref, wasm_rt_funcref_t)
WGA_TABLE(externref, wasm_rt_externref_t)

/* ---- slots (the host's uint64_t argument cells) ---- */

static inline f32 wga_get_f32(uint64_t s) {
  uint32_t b = (uint32_t)s;
  f32 v;
  memcpy(&v, &b, 4);
  return v;
}
static inline f64 wga_get_f64(uint64_t s) {
  f64 v;
  memcpy(&v, &s, 8);
  return v;
}
static inline uint64_t wga_put_f32(f32 v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return b;
}
static inline uint64_t wga_put_f64(f64 v) {
  uint64_t b;
  memcpy(&b, &v, 8);
  return b;
}

static void wga_host_call(wga_rt *rt, uint32_t idx, uint64_t *slots) {
  /* The host returns before we unwind: no host frame is jumped over. */
  if (rt->host->call(rt->host->user, idx, slots)) wga_stop(rt, WGA_T_HOST);
}

/* Runs body on ctx with a trap target; returns WGA_DONE or the trap. Nests
** (a host import may call back into the guest). */
static int wga_run(wga_ctx *c, void (*body)(wga_ctx *, uint32_t, uint64_t *),
                   uint32_t idx, uint64_t *slots) {
  wga_rt *rt = &c->rt;
  jmp_buf jb;
  jmp_buf *volatile saved_jb = rt->jb;
  wga_rt *volatile saved_cur = wga_cur;
  volatile uint32_t depth = rt->depth;
  volatile uintptr_t limit = rt->stack_limit;
  if (depth == 0) {
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    rt->stack_limit = here > WGA_STACK_BUDGET ? here - WGA_STACK_BUDGET : 0;
  }
  rt->jb = &jb;
  wga_cur = rt;
  int code = setjmp(jb);
  if (code == 0) body(c, idx, slots);
  rt->jb = saved_jb;
  wga_cur = saved_cur;
  rt->depth = depth;
  rt->stack_limit = limit;
  return code;
}

static uint8_t *wga_memory(void *ctx, uint64_t *size) {
  wga_rt *rt = &((wga_ctx *)ctx)->rt;
  if (!rt->mem || !rt->mem->data) {
    *size = 0;
    return NULL;
  }
  *size = rt->mem->size;
  return rt->mem->data;
}
