/*
** OPA's Wasm ABI (major 1): loading, the instance pool, evaluation.
**
** A policy version owns its compiled module and a pool of warm instances.
** An instance is made once (instantiate, parse the data document, note the
** heap pointer just above it: data_heap) and then serves any number of
** decisions: each one resets the heap pointer to data_heap, so everything
** an evaluation allocated is dropped at once, as the SDKs do. An instance
** whose evaluation trapped (opa_abort, a builtin error, fuel, deadline,
** bounds) is freed instead of going back to the pool.
**
** Per decision, ABI >= 1.2 (fast path, one guest call):
**   copy the input JSON to data_heap (growing memory through opa_malloc
**   when it does not fit), opa_eval(0, ep, data, in, len, in+len, 0)
** ABI < 1.2 or opts.context_api (the context API):
**   opa_heap_ptr_set(data_heap), opa_malloc + opa_json_parse the input,
**   opa_eval_ctx_new/set_input/set_data/set_entrypoint, eval,
**   opa_json_dump(opa_eval_ctx_get_result)
** ABI 1.3: opa_heap_blocks_stash() after the data is parsed, so that the
** data's free blocks are never handed out to a decision.
*/
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot/aot.h"
#include "base/alloc.h"
#include "policy/policy_int.h"

#define DEFAULT_FUEL 100000000
#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_MAX_MEMORY (64u << 20)
#define MAX_NAMES 4096           /* entrypoints, builtins */

/* The exports an instance uses. X(field, name, required) */
#define EXPORT_MAP(X)                                        \
  X(malloc, "opa_malloc", true)                              \
  X(json_parse, "opa_json_parse", true)                      \
  X(json_dump, "opa_json_dump", true)                        \
  X(heap_get, "opa_heap_ptr_get", true)                      \
  X(heap_set, "opa_heap_ptr_set", true)                      \
  X(ctx_new, "opa_eval_ctx_new", true)                       \
  X(set_input, "opa_eval_ctx_set_input", true)               \
  X(set_data, "opa_eval_ctx_set_data", true)                 \
  X(set_ep, "opa_eval_ctx_set_entrypoint", true)             \
  X(get_result, "opa_eval_ctx_get_result", true)             \
  X(eval, "eval", true)                                      \
  X(builtins, "builtins", true)                              \
  X(entrypoints, "entrypoints", true)                        \
  X(opa_eval, "opa_eval", false)                             \
  X(stash, "opa_heap_blocks_stash", false)

typedef struct pinst pinst;

/* An export on either tier: the interpreter's function or the AOT
** object's export index. */
typedef struct gfn {
  wg_func *f;
  int x;
  bool ok;                      /* the module exports it */
} gfn;

struct wg_policy {
  atomic_int refs;
  wg_module *mod;
  int major, minor;
  bool fast;                    /* opa_eval */
  char **entry;                 /* entrypoint names by id */
  size_t nentry;
  char **bnames;                /* builtin names by id */
  wgp_builtin *bi;              /* resolved, by id */
  size_t nbi;
  char *data;                   /* the data document, JSON */
  size_t data_len;
  char revision[128];
  char sha[65];
  int64_t fuel;
  uint64_t timeout_ns;
  uint64_t max_pages;
  void (*println)(void *, const char *, size_t);
  void *println_user;
  pthread_mutex_t lock;         /* the pools */
  pinst *pool;                  /* interpreter instances */
  /* The AOT tier (tier.c builds it in the background): once aot is set
  ** (release; decisions load it with acquire), new decisions run on
  ** aot_pool's instances; decisions already running finish on theirs. */
  wga_object *_Atomic aot;
  atomic_bool aot_broken;       /* an AOT instance failed to start */
  uint8_t *aot_imp;             /* function import -> host_imports index */
  uint32_t naot_imp, aot_imp_cap;
  pinst *aot_pool;
};

struct pinst {
  wg_policy *p;
  wg_store *store;
  wg_instance *inst;            /* the interpreter's, or */
  wga_instance *aot;            /* the AOT tier's */
  wg_error aot_trap;            /* the last AOT call's trap */
  wg_memory *mem;
#define F_FIELD(field, name, req) gfn f_##field;
  EXPORT_MAP(F_FIELD)
#undef F_FIELD
  uint32_t data_addr, data_heap;
  wgp_watch watch;
  wg_error *err;                /* the running evaluation's, for builtins */
  pinst *next;                  /* in the pool */
};

/* ------------------------------------------------------------------ */
/* Guest calls and guest memory                                        */

static wg_err gcall(pinst *pi, gfn f, const uint32_t *a, size_t n,
                    uint32_t *ret) {
  if (pi->aot) {
    uint64_t slots[8] = {0};
    for (size_t i = 0; i < n; i++) slots[i] = a[i];
    wg_error_clear(&pi->aot_trap);
    wg_err e = wga_call(pi->aot, f.x, slots, &pi->aot_trap);
    if (e == WG_OK && ret) *ret = (uint32_t)slots[0];
    return e;
  }
  wg_val args[8], res[1];
  for (size_t i = 0; i < n; i++) {
    args[i].type = WG_I32;
    args[i].of.i32 = a[i];
  }
  wg_err e = wg_call(pi->store, f.f, args, n, res, ret ? 1 : 0);
  if (e == WG_OK && ret) *ret = res[0].of.i32;
  return e;
}

/* Guest memory on either tier: [addr, addr + n) or NULL. */
static void *gmem(pinst *pi, uint64_t addr, uint64_t n) {
  return pi->aot ? wga_memory_translate(pi->aot, addr, n)
                 : wg_memory_translate(pi->mem, addr, n);
}

static uint64_t gmem_size(pinst *pi) {
  return pi->aot ? wga_memory_size(pi->aot) : wg_memory_size(pi->mem);
}

/* The NUL-terminated string at addr, or NULL when it runs off memory. */
static const char *gstr(pinst *pi, uint32_t addr, size_t *len) {
  uint64_t size = gmem_size(pi);
  if (addr >= size) return NULL;
  const char *s = gmem(pi, addr, size - addr);
  const char *z = s ? memchr(s, 0, size - addr) : NULL;
  if (!z) return NULL;
  *len = (size_t)(z - s);
  return s;
}

/* Copies JSON text into the guest and parses it there: *val. */
static wg_err gput_json(pinst *pi, const char *s, size_t n, uint32_t *val,
                        wg_error *err) {
  uint32_t a[2], addr;
  a[0] = (uint32_t)n;
  wg_err e = gcall(pi, pi->f_malloc, a, 1, &addr);
  if (e) return e;
  void *dst = gmem(pi, addr, n);
  if (!dst) return wg_error_set(err, WG_TRAP_MEMORY, "opa_malloc: bad block");
  memcpy(dst, s, n);
  a[0] = addr;
  a[1] = (uint32_t)n;
  if ((e = gcall(pi, pi->f_json_parse, a, 2, val))) return e;
  if (*val == 0) return wg_error_set(err, WG_EINVAL, "not valid JSON");
  return WG_OK;
}

/* opa_json_dump(val) parsed by jansson; NULL after setting err. */
static json_t *gget_json(pinst *pi, uint32_t val, wg_error *err) {
  uint32_t s;
  if (gcall(pi, pi->f_json_dump, &val, 1, &s) != WG_OK) {
    wg_error_set(err, WG_TRAP_HOST, "opa_json_dump trapped");
    return NULL;
  }
  size_t len;
  const char *p = gstr(pi, s, &len);
  json_t *j = p ? json_loadb(p, len, JSON_DECODE_ANY, NULL) : NULL;
  if (!j) wg_error_set(err, WG_EINVAL, "opa_json_dump: not JSON");
  return j;
}

/* ------------------------------------------------------------------ */
/* Imports                                                             */

/* The imports, written once for both tiers: each gets the instance and
** its argument slots (result in slots[0]) and returns WG_OK, or a trap code
** with the trap's message in *trap. The tier's adapter (h_* for the
** interpreter, aot_host for the AOT tier) turns that into its trap. */
typedef wg_err (*imp_fn)(pinst *pi, uint64_t *stack, wg_error *trap);

static wg_err imp_abort(pinst *pi, uint64_t *stack, wg_error *trap) {
  size_t len = 0;
  const char *m = gstr(pi, (uint32_t)stack[0], &len);
  if (pi->err) {
    wg_error_set(pi->err, WG_TRAP_HOST, "opa_abort: %.*s",
                 m ? (int)(len > 200 ? 200 : len) : 0, m ? m : "");
  }
  return wg_error_set(trap, WG_TRAP_HOST, "opa_abort: %.*s",
                      m ? (int)(len > 200 ? 200 : len) : 0, m ? m : "");
}

static wg_err imp_println(pinst *pi, uint64_t *stack, wg_error *trap) {
  (void)trap;
  size_t len = 0;
  const char *m = gstr(pi, (uint32_t)stack[0], &len);
  if (m && pi->p->println) pi->p->println(pi->p->println_user, m, len);
  return WG_OK;
}

/* opa_builtinN(id, ctx, a1..aN): dumps the arguments, calls the host
** function, parses its result into the guest. */
static wg_err imp_builtin(pinst *pi, uint64_t *stack, size_t n,
                          wg_error *trap) {
  wg_policy *p = pi->p;
  uint32_t id = (uint32_t)stack[0];
  wg_error local;
  wg_error_clear(&local);
  wg_error *err = pi->err ? pi->err : &local;
  if (id >= p->nbi || !p->bi[id].fn) {
    wg_error_set(err, WG_TRAP_HOST, "unknown builtin id %u", id);
    return wg_error_set(trap, WG_TRAP_HOST, "unknown builtin id %u", id);
  }
  const wgp_builtin *b = &p->bi[id];
  if (b->arity >= 0 && (size_t)b->arity != n) {
    wg_error_set(err, WG_TRAP_HOST, "%s: called with %zu arguments, takes %d",
                 b->name, n, b->arity);
    return wg_error_set(trap, WG_TRAP_HOST, "builtin arity mismatch");
  }
  json_t *args[4] = {NULL, NULL, NULL, NULL};
  json_t *res = NULL;
  wg_err e = WG_OK;
  for (size_t i = 0; i < n && e == WG_OK; i++) {
    if (!(args[i] = gget_json(pi, (uint32_t)stack[2 + i], err))) {
      e = WG_TRAP_HOST;
    }
  }
  if (e == WG_OK) {
    wg_error berr;
    wg_error_clear(&berr);
    res = b->fn(b->user, args, n, &berr);
    if (!res) {
      wg_error_set(err, WG_TRAP_HOST, "%s: %s", b->name,
                   berr.code ? berr.message : "failed");
      e = WG_TRAP_HOST;
    }
  }
  uint32_t val = 0;
  if (e == WG_OK) {
    char *text = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
      wg_error_set(err, WG_ENOMEM, "%s: cannot encode its result", b->name);
      e = WG_TRAP_HOST;
    } else {
      e = gput_json(pi, text, strlen(text), &val, err);
      free(text);  /* checksrc: allow */ /* jansson's malloc */
    }
  }
  for (size_t i = 0; i < n; i++) json_decref(args[i]);
  json_decref(res);
  if (e) {
    return wg_error_set(trap, WG_TRAP_HOST, "builtin %s failed", b->name);
  }
  stack[0] = val;
  return WG_OK;
}

#define IMP_BUILTIN(n)                                                   \
  static wg_err imp_builtin##n(pinst *pi, uint64_t *s, wg_error *t) {    \
    return imp_builtin(pi, s, n, t);                                     \
  }
IMP_BUILTIN(0)
IMP_BUILTIN(1)
IMP_BUILTIN(2)
IMP_BUILTIN(3)
IMP_BUILTIN(4)

/* The interpreter's adapters. */
#define H_ADAPTER(name)                                                  \
  static wg_err h_##name(wg_host_call *c, uint64_t *stack) {             \
    wg_error t;                                                          \
    wg_error_clear(&t);                                                  \
    wg_err e = imp_##name(wg_host_user(c), stack, &t);                   \
    return e ? wg_host_trap(c, e, "%s", t.message) : WG_OK;              \
  }
H_ADAPTER(abort)
H_ADAPTER(println)
H_ADAPTER(builtin0)
H_ADAPTER(builtin1)
H_ADAPTER(builtin2)
H_ADAPTER(builtin3)
H_ADAPTER(builtin4)

static const struct {
  const char *name;
  wg_host_fn fn;                /* interpreter */
  imp_fn imp;                   /* AOT */
  uint32_t nparams, nresults;
} host_imports[] = {
    {"opa_abort", h_abort, imp_abort, 1, 0},
    {"opa_println", h_println, imp_println, 1, 0},
    {"opa_builtin0", h_builtin0, imp_builtin0, 2, 1},
    {"opa_builtin1", h_builtin1, imp_builtin1, 3, 1},
    {"opa_builtin2", h_builtin2, imp_builtin2, 4, 1},
    {"opa_builtin3", h_builtin3, imp_builtin3, 5, 1},
    {"opa_builtin4", h_builtin4, imp_builtin4, 6, 1},
};
#define NHOST_IMPORTS (sizeof host_imports / sizeof host_imports[0])

static bool name_is(wg_name n, const char *s) {
  return n.len == strlen(s) && memcmp(n.ptr, s, n.len) == 0;
}

static bool all_i32(const uint8_t *t, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (t[i] != WG_I32) return false;
  }
  return true;
}

static wg_err resolve(void *user, wg_name module, wg_name name,
                      const wg_externtype *type, wg_extern *out) {
  pinst *pi = user;
  if (!name_is(module, "env")) return WG_EUNKNOWNIMPORT;
  if (name_is(name, "memory") && type->kind == WG_EXTERN_MEMORY) {
    if (pi->mem || type->of.memory.is64) return WG_EIMPORTTYPE;
    wg_limits l = type->of.memory.limits;
    if (l.min > pi->p->max_pages) return WG_ELIMIT;
    if (!l.has_max || l.max > pi->p->max_pages) l.max = pi->p->max_pages;
    l.has_max = true;
    pi->mem = wg_memory_new(pi->store, l);
    if (!pi->mem) return WG_ENOMEM;
    out->kind = WG_EXTERN_MEMORY;
    out->of.memory = pi->mem;
    return WG_OK;
  }
  for (size_t i = 0; i < NHOST_IMPORTS; i++) {
    if (!name_is(name, host_imports[i].name)) continue;
    const wg_functype *ft = &type->of.func;
    if (type->kind != WG_EXTERN_FUNC ||
        ft->nparams != host_imports[i].nparams ||
        ft->nresults != host_imports[i].nresults ||
        !all_i32(ft->params, ft->nparams) ||
        !all_i32(ft->results, ft->nresults)) {
      return WG_EIMPORTTYPE;
    }
    wg_func *f = wg_func_new_host(pi->store, ft, host_imports[i].fn, pi);
    if (!f) return WG_ENOMEM;
    out->kind = WG_EXTERN_FUNC;
    out->of.func = f;
    return WG_OK;
  }
  return WG_EUNKNOWNIMPORT;
}

/* ------------------------------------------------------------------ */
/* Instances                                                           */

static void pinst_free(pinst *pi) {
  if (!pi) return;
  if (pi->watch.store) wgp_watch_remove(&pi->watch);
  wga_instance_free(pi->aot);
  wg_store_free(pi->store);
  wg_free_obj(pi);
}

static void start_call(pinst *pi, wg_error *err) {
  pi->err = err;
  wg_store_set_fuel(pi->store, pi->p->fuel);
  wgp_watch_arm(&pi->watch, wgp_now_ns() + pi->p->timeout_ns);
}

/* Turns the outcome of a guest call into the evaluation's error. */
static wg_err end_call(pinst *pi, wg_err e, wg_error *err) {
  bool fired = wgp_watch_disarm(&pi->watch);
  pi->err = NULL;
  if (e == WG_OK) return WG_OK;
  if (fired || e == WG_TRAP_INTERRUPT) {
    return wg_error_set(err, WG_TRAP_INTERRUPT,
                        "policy evaluation exceeded its deadline (%llu ms)",
                        (unsigned long long)(pi->p->timeout_ns / 1000000u));
  }
  if (e == WG_TRAP_FUEL) {
    return wg_error_set(err, e, "policy evaluation ran out of fuel (%lld)",
                        (long long)pi->p->fuel);
  }
  const wg_error *t = pi->aot ? &pi->aot_trap : wg_store_trap(pi->store);
  return wg_error_set(err, e, "policy trapped: %s",
                      t && t->message[0] ? t->message : wg_strerror(e));
}

/* The AOT tier's adapter for the imports (see imp_fn). */
static wg_err aot_host(void *user, wga_instance *inst, uint32_t import,
                       uint64_t *slots) {
  pinst *pi = user;
  if (import >= pi->p->naot_imp) {
    return wga_host_trap(inst, WG_TRAP_HOST, "unknown import %u", import);
  }
  wg_error t;
  wg_error_clear(&t);
  wg_err e = host_imports[pi->p->aot_imp[import]].imp(pi, slots, &t);
  return e ? wga_host_trap(inst, e, "%s", t.message) : WG_OK;
}

/* Creates an instance holding the data document: on the AOT object aot,
** or on the interpreter when aot is NULL. */
static pinst *pinst_new(wg_policy *p, wga_object *aot, wg_error *err) {
  pinst *pi = wg_new(pinst);
  if (!pi) {
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  pi->p = p;
  wg_store_config sc = {.max_memory_pages = p->max_pages, .fuel = p->fuel};
  if (aot) {                    /* the store only lends its interrupt word */
    sc.max_call_depth = 1;
    sc.max_stack_slots = 16;
  }
  pi->store = wg_store_new(&sc);
  if (!pi->store) {
    wg_free_obj(pi);
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  pi->watch.store = pi->store;
  wgp_watch_add(&pi->watch);
  wg_error ierr;
  wg_error_clear(&ierr);
  start_call(pi, err);
  if (aot) {
    wga_instance_config ac = {.interrupt = wg_store_interrupt_word(pi->store),
                              .max_pages = (uint32_t)p->max_pages,
                              .host = aot_host,
                              .user = pi};
    pi->aot = wga_instance_new(aot, &ac, &ierr);
  } else {
    pi->inst = wg_instance_new(pi->store, p->mod, resolve, pi, &ierr);
  }
  bool made = pi->inst || pi->aot;
  wg_err e = end_call(pi, made ? WG_OK : ierr.code, err);
  if (!made) {
    wg_error_set(err, ierr.code, "cannot instantiate the policy: %s",
                 ierr.message);
    pinst_free(pi);
    return NULL;
  }
  wg_extern x;
#define F_LOOKUP(field, name, req)                                          \
  if (e == WG_OK) {                                                          \
    if (aot) {                                                               \
      pi->f_##field.x = wga_object_export(aot, name);                        \
      pi->f_##field.ok = pi->f_##field.x >= 0;                               \
    } else if (wg_instance_export(pi->inst, (wg_name){name, sizeof name - 1}, \
                                  &x) == WG_OK &&                            \
               x.kind == WG_EXTERN_FUNC) {                                   \
      pi->f_##field.f = x.of.func;                                           \
      pi->f_##field.ok = true;                                               \
    }                                                                        \
    if (!pi->f_##field.ok && req) {                                                        \
      e = wg_error_set(err, WG_EUNKNOWNEXPORT,                               \
                       "not an OPA policy: no export '%s'", name);           \
    }                                                                        \
  }
  EXPORT_MAP(F_LOOKUP)
#undef F_LOOKUP
  if (e == WG_OK && !aot && !pi->mem) {
    if (wg_instance_export(pi->inst, (wg_name){"memory", 6}, &x) == WG_OK &&
        x.kind == WG_EXTERN_MEMORY) {
      pi->mem = x.of.memory;
    } else {
      e = wg_error_set(err, WG_EUNKNOWNEXPORT, "not an OPA policy: no memory");
    }
  }
  if (e == WG_OK) {
    start_call(pi, err);
    e = gput_json(pi, p->data, p->data_len, &pi->data_addr, err);
    if (e == WG_OK && p->minor >= 3 && pi->f_stash.ok) {
      e = gcall(pi, pi->f_stash, NULL, 0, NULL);
    }
    if (e == WG_OK) e = gcall(pi, pi->f_heap_get, NULL, 0, &pi->data_heap);
    e = end_call(pi, e, err);
    if (e == WG_EINVAL) wg_error_set(err, e, "the data document is not JSON");
  }
  if (e) {
    pinst_free(pi);
    return NULL;
  }
  return pi;
}

static wga_object *aot_of(wg_policy *p) {
  wga_object *o = atomic_load_explicit(&p->aot, memory_order_acquire);
  return o && !atomic_load_explicit(&p->aot_broken, memory_order_relaxed)
             ? o
             : NULL;
}

/* An instance for one decision: the AOT tier's once it is ready. */
static pinst *pool_take(wg_policy *p, wg_error *err) {
  wga_object *aot = aot_of(p);
  pthread_mutex_lock(&p->lock);
  pinst **head = aot ? &p->aot_pool : &p->pool;
  pinst *pi = *head;
  if (pi) *head = pi->next;
  pthread_mutex_unlock(&p->lock);
  if (pi) return pi;
  if (aot) {
    wg_error aerr;
    wg_error_clear(&aerr);
    if ((pi = pinst_new(p, aot, &aerr))) return pi;
    /* Cannot happen with a working object (the builder warmed one):
    ** serve from the interpreter from now on, and say why once. */
    if (!atomic_exchange(&p->aot_broken, true)) {
      fprintf(stderr, "wasmgate: policy %.12s: AOT instance failed (%s); "
              "back to the interpreter\n", p->sha, aerr.message);
    }
  }
  return pinst_new(p, NULL, err);
}

static void pool_give(wg_policy *p, pinst *pi) {
  if (!pi->aot && aot_of(p)) {  /* the interpreter's are no longer used */
    pinst_free(pi);
    return;
  }
  pthread_mutex_lock(&p->lock);
  pinst **head = pi->aot ? &p->aot_pool : &p->pool;
  pi->next = *head;
  *head = pi;
  pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (v[i]) wg_free(v[i], strlen(v[i]) + 1);
  }
  if (v) wg_free_array(v, n);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = wg_realloc_(NULL, 0, n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Reads an object {name: id} from the export f into a vector by id. */
static wg_err read_names(pinst *pi, gfn f, const char *what, char ***out,
                         size_t *nout, wg_error *err) {
  uint32_t val;
  start_call(pi, err);
  wg_err e = gcall(pi, f, NULL, 0, &val);
  json_t *o = NULL;
  if (e == WG_OK && !(o = gget_json(pi, val, err))) e = WG_EINVAL;
  e = end_call(pi, e, err);
  if (e) return e;
  if (!json_is_object(o) || json_object_size(o) > MAX_NAMES) {
    json_decref(o);
    return wg_error_set(err, WG_EINVAL, "%s() is not an object", what);
  }
  size_t n = json_object_size(o);
  char **v = n ? wg_new_array(char *, n) : NULL;
  const char *k;
  json_t *id;
  if (n && !v) e = wg_error_set(err, WG_ENOMEM, "out of memory");
  json_object_foreach(o, k, id) {
    if (e) break;
    json_int_t i = json_integer_value(id);
    if (!json_is_integer(id) || i < 0 || (size_t)i >= n || v[i]) {
      e = wg_error_set(err, WG_EINVAL, "%s(): bad id for '%s'", what, k);
    } else if (!(v[i] = dup_str(k))) {
      e = wg_error_set(err, WG_ENOMEM, "out of memory");
    }
  }
  json_decref(o);
  if (e) {
    free_names(v, n);
    return e;
  }
  *out = v;
  *nout = n;
  return WG_OK;
}

static bool global_i32(wg_instance *inst, const char *name, int *out) {
  wg_extern x;
  if (wg_instance_export(inst, (wg_name){name, (uint32_t)strlen(name)}, &x) !=
          WG_OK ||
      x.kind != WG_EXTERN_GLOBAL) {
    return false;
  }
  wg_val v = wg_global_get(x.of.global);
  if (v.type != WG_I32) return false;
  *out = (int)(int32_t)v.of.i32;
  return true;
}

/* Resolves every builtin the module declares; names the missing ones. */
static wg_err resolve_builtins(wg_policy *p, const wg_policy_builtins *b,
                               wg_error *err) {
  if (!p->nbi) return WG_OK;
  p->bi = wg_new_array(wgp_builtin, p->nbi);
  if (!p->bi) return wg_error_set(err, WG_ENOMEM, "out of memory");
  wg_buf missing;
  wg_buf_init(&missing, 200);
  size_t nmissing = 0;
  for (size_t i = 0; i < p->nbi; i++) {
    const wgp_builtin *f = b ? wgp_builtins_find(b, p->bnames[i]) : NULL;
    if (f) {
      p->bi[i] = *f;
      p->bi[i].name = p->bnames[i];
    } else {
      wg_buf_printf(&missing, "%s%s", nmissing++ ? ", " : "", p->bnames[i]);
    }
  }
  wg_err e = WG_OK;
  if (nmissing) {
    e = wg_error_set(err, WG_ENOTFOUND,
                     "the policy needs builtins nobody provides: %s",
                     missing.data ? (const char *)missing.data : "?");
  }
  wg_buf_free(&missing);
  return e;
}

static void policy_free(wg_policy *p) {
  while (p->pool) {
    pinst *pi = p->pool;
    p->pool = pi->next;
    pinst_free(pi);
  }
  while (p->aot_pool) {
    pinst *pi = p->aot_pool;
    p->aot_pool = pi->next;
    pinst_free(pi);
  }
  wga_object_release(atomic_load(&p->aot));
  if (p->aot_imp) wg_free(p->aot_imp, p->aot_imp_cap);
  free_names(p->entry, p->nentry);
  free_names(p->bnames, p->nbi);
  if (p->bi) wg_free_array(p->bi, p->nbi);
  if (p->data) wg_free(p->data, p->data_len + 1);
  if (p->mod) wg_module_release(p->mod);
  pthread_mutex_destroy(&p->lock);
  wg_free_obj(p);
}

wg_policy *wg_policy_load(const uint8_t *bytes, size_t len,
                          const wg_policy_builtins *b,
                          const wg_policy_opts *o, wg_error *err) {
  static const wg_policy_opts none;
  if (!o) o = &none;
  wg_policy *p = wg_new(wg_policy);
  if (!p) {
    wg_error_set(err, WG_ENOMEM, "out of memory");
    return NULL;
  }
  atomic_init(&p->refs, 1);
  pthread_mutex_init(&p->lock, NULL);
  p->fuel = o->fuel ? o->fuel : DEFAULT_FUEL;
  p->timeout_ns = (o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS) *
                  1000000ull;
  uint64_t maxmem = o->max_memory_bytes ? o->max_memory_bytes
                                        : DEFAULT_MAX_MEMORY;
  p->max_pages = (maxmem + WG_PAGE_SIZE - 1) / WG_PAGE_SIZE;
  p->println = o->println;
  p->println_user = o->println_user;
  uint8_t sha[32];
  SHA256(bytes, len, sha);
  for (int i = 0; i < 32; i++) {
    snprintf(p->sha + 2 * i, 3, "%02x", sha[i]);
  }

  wgp_bundle bundle;
  memset(&bundle, 0, sizeof bundle);
  const uint8_t *wasm = bytes;
  size_t wasm_len = len;
  const char *data = o->data;
  size_t data_len = o->data_len;
  pinst *pi = NULL;
  wg_err e = WG_OK;
  if (wgp_is_gzip(bytes, len)) {
    if ((e = wgp_bundle_read(bytes, len, &bundle, err))) goto fail;
    wasm = bundle.wasm.data;
    wasm_len = bundle.wasm.len;
    memcpy(p->revision, bundle.revision, sizeof p->revision);
    if (!data && bundle.data.len) {
      data = (const char *)bundle.data.data;
      data_len = bundle.data.len;
    }
  }
  if (!data) {
    data = "{}";
    data_len = 2;
  }
  p->data = wg_realloc_(NULL, 0, data_len + 1);
  if (!p->data) {
    e = wg_error_set(err, WG_ENOMEM, "out of memory");
    goto fail;
  }
  memcpy(p->data, data, data_len);
  p->data[data_len] = 0;
  p->data_len = data_len;

  wg_error merr;
  wg_error_clear(&merr);
  p->mod = wg_module_load(wasm, wasm_len, &merr);
  if (!p->mod) {
    e = wg_error_set(err, merr.code ? merr.code : WG_EINVAL,
                     "invalid policy module: %s", merr.message);
    goto fail;
  }
  /* Read the ABI version, names and builtins with a data-less instance. */
  const char *real_data = p->data;
  size_t real_len = p->data_len;
  p->data = (char *)"{}";
  p->data_len = 2;
  p->major = p->minor = -1;
  p->nbi = 0;
  pi = pinst_new(p, NULL, err);
  p->data = (char *)real_data;
  p->data_len = real_len;
  if (!pi) {
    e = err && err->code ? err->code : WG_EINVAL;
    goto fail;
  }
  bool versioned = global_i32(pi->inst, "opa_wasm_abi_version", &p->major);
  if (versioned) {
    if (!global_i32(pi->inst, "opa_wasm_abi_minor_version", &p->minor)) {
      p->minor = 0;
    }
    if (p->major != 1) {
      e = wg_error_set(err, WG_EVERSION,
                       "unsupported OPA Wasm ABI version %d.%d (need 1.x)",
                       p->major, p->minor);
      goto fail;
    }
  } else {
    p->major = -1;
    p->minor = 0;
  }
  p->fast = p->minor >= 2 && pi->f_opa_eval.ok && !o->context_api;
  if ((e = read_names(pi, pi->f_entrypoints, "entrypoints", &p->entry,
                      &p->nentry, err)) ||
      (e = read_names(pi, pi->f_builtins, "builtins", &p->bnames, &p->nbi,
                      err)) ||
      (e = resolve_builtins(p, b, err))) {
    goto fail;
  }
  pinst_free(pi);
  /* Warm the pool with one instance holding the real data. */
  if (!(pi = pinst_new(p, NULL, err))) {
    e = err && err->code ? err->code : WG_EINVAL;
    goto fail;
  }
  pool_give(p, pi);
  wgp_bundle_free(&bundle);
  /* Served by the interpreter from now; the AOT object follows. */
  if (o->aot) wg_policy_aot_submit(o->aot, p);
  return p;
fail:
  (void)e;
  pinst_free(pi);
  wgp_bundle_free(&bundle);
  policy_free(p);
  return NULL;
}

void wg_policy_retain(wg_policy *p) { atomic_fetch_add(&p->refs, 1); }

const wg_module *wgp_policy_module(const wg_policy *p) { return p->mod; }
bool wgp_policy_shared(wg_policy *p) { return atomic_load(&p->refs) > 1; }

bool wg_policy_is_aot(wg_policy *p) { return aot_of(p) != NULL; }

static wg_err attach_aot(wg_policy *p, wga_object *o, wg_error *err);

wg_err wgp_policy_attach_aot(wg_policy *p, wga_object *o, wg_error *err) {
  static pthread_mutex_t attaching = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&attaching);
  wg_err e = attach_aot(p, o, err);
  pthread_mutex_unlock(&attaching);
  return e;
}

static wg_err attach_aot(wg_policy *p, wga_object *o, wg_error *err) {
  if (atomic_load(&p->aot)) {
    wga_object_release(o);
    return WG_OK;
  }
  uint32_t n = wg_module_import_count(p->mod);
  uint8_t *map = wg_realloc_(NULL, 0, n ? n : 1);
  if (!map) {
    wga_object_release(o);
    return wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  uint32_t nf = 0;
  for (uint32_t i = 0; i < n; i++) {
    wg_import_desc d = wg_module_import(p->mod, i);
    if (d.type.kind != WG_EXTERN_FUNC) continue;
    size_t k = 0;
    while (k < NHOST_IMPORTS && !name_is(d.name, host_imports[k].name)) k++;
    if (k == NHOST_IMPORTS) {   /* NEVER: the interpreter bound them all */
      wg_free(map, n ? n : 1);
      wga_object_release(o);
      return wg_error_set(err, WG_EUNKNOWNIMPORT, "unknown import %.*s",
                          (int)d.name.len, d.name.ptr);
    }
    map[nf++] = (uint8_t)k;
  }
  p->aot_imp = map;
  p->naot_imp = nf;
  p->aot_imp_cap = n ? n : 1;
  /* Warm one instance with the data: the object must work before any
  ** decision is sent to it. */
  pinst *pi = pinst_new(p, o, err);
  if (!pi) {
    wga_object_release(o);
    return err && err->code ? err->code : WG_EINVAL;
  }
  pthread_mutex_lock(&p->lock);
  pi->next = p->aot_pool;
  p->aot_pool = pi;
  pinst *old = p->pool;
  p->pool = NULL;
  atomic_store_explicit(&p->aot, o, memory_order_release);
  pthread_mutex_unlock(&p->lock);
  while (old) {
    pinst *next = old->next;
    pinst_free(old);
    old = next;
  }
  return WG_OK;
}

void wg_policy_release(wg_policy *p) {
  if (p && atomic_fetch_sub(&p->refs, 1) == 1) policy_free(p);
}

int wg_policy_abi_major(const wg_policy *p) { return p->major; }
int wg_policy_abi_minor(const wg_policy *p) { return p->minor; }
size_t wg_policy_entrypoint_count(const wg_policy *p) { return p->nentry; }
const char *wg_policy_entrypoint(const wg_policy *p, size_t id) {
  return id < p->nentry ? p->entry[id] : NULL;
}
size_t wg_policy_builtin_count(const wg_policy *p) { return p->nbi; }
const char *wg_policy_builtin(const wg_policy *p, size_t id) {
  return id < p->nbi ? p->bnames[id] : NULL;
}
const char *wg_policy_revision(const wg_policy *p) { return p->revision; }
const char *wg_policy_sha256(const wg_policy *p) { return p->sha; }

int wg_policy_entrypoint_id(const wg_policy *p, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < p->nentry; i++) {
    const char *e = p->entry[i];
    if (strlen(e) != n) continue;
    size_t j = 0;
    while (j < n && (e[j] == name[j] || (e[j] == '/' && name[j] == '.'))) j++;
    if (j == n) return (int)i;
  }
  return -1;
}

/* ------------------------------------------------------------------ */
/* A JSON syntax check (RFC 8259, no allocation): the fast path hands the
** input to opa_eval, which would treat malformed input as undefined. */

typedef struct jscan {
  const char *p, *end;
} jscan;

static void jws(jscan *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
                           *j->p == '\r')) {
    j->p++;
  }
}

static bool jlit(jscan *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return false;
  j->p += n;
  return true;
}

static bool jdigits(jscan *j) {
  const char *s = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  return j->p > s;
}

static bool jstring(jscan *j) {
  j->p++;                                  /* the opening quote */
  while (j->p < j->end) {
    unsigned char c = (unsigned char)*j->p++;
    if (c == '"') return true;
    if (c < 0x20) return false;
    if (c == '\\') {
      if (j->p >= j->end) return false;
      c = (unsigned char)*j->p++;
      if (c == 'u') {
        for (int i = 0; i < 4; i++, j->p++) {
          if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) ||
              !*j->p) {
            return false;
          }
        }
      } else if (!strchr("\"\\/bfnrt", c) || !c) {
        return false;
      }
    } else if (c >= 0x80) {                /* UTF-8 sequence */
      int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : -1;
      if (more < 0 || c > 0xF4) return false;
      for (int i = 0; i < more; i++, j->p++) {
        if (j->p >= j->end || ((unsigned char)*j->p & 0xC0) != 0x80) {
          return false;
        }
      }
    }
  }
  return false;
}

static bool jvalue(jscan *j, int depth) {
  jws(j);
  if (j->p >= j->end || depth > 512) return false;
  char c = *j->p;
  if (c == '"') return jstring(j);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->p++;
    jws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      return true;
    }
    for (;;) {
      if (c == '{') {
        jws(j);
        if (j->p >= j->end || *j->p != '"' || !jstring(j)) return false;
        jws(j);
        if (j->p >= j->end || *j->p++ != ':') return false;
      }
      if (!jvalue(j, depth + 1)) return false;
      jws(j);
      if (j->p >= j->end) return false;
      if (*j->p == close) {
        j->p++;
        return true;
      }
      if (*j->p++ != ',') return false;
    }
  }
  if (c == 't') return jlit(j, "true");
  if (c == 'f') return jlit(j, "false");
  if (c == 'n') return jlit(j, "null");
  if (c == '-') j->p++;
  if (j->p < j->end && *j->p == '0') {
    j->p++;
  } else if (!jdigits(j)) {
    return false;
  }
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (!jdigits(j)) return false;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (!jdigits(j)) return false;
  }
  return true;
}

static bool json_ok(const char *s, size_t n) {
  jscan j = {s, s + n};
  if (!jvalue(&j, 0)) return false;
  jws(&j);
  return j.p == j.end;
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

/* Makes sure [data_heap, data_heap + need) is inside memory: the guest's
** allocator grows it (so that its idea of the heap top stays right). */
static wg_err make_room(pinst *pi, size_t need) {
  uint64_t end = (uint64_t)pi->data_heap + need + 64;
  if (end <= gmem_size(pi)) return WG_OK;
  if (end > (uint64_t)pi->p->max_pages * WG_PAGE_SIZE) return WG_TRAP_MEMORY;
  uint32_t a = pi->data_heap, addr;
  wg_err e = gcall(pi, pi->f_heap_set, &a, 1, NULL);
  a = (uint32_t)need + 64;
  if (e == WG_OK) e = gcall(pi, pi->f_malloc, &a, 1, &addr);
  if (e == WG_OK && end > gmem_size(pi)) e = WG_TRAP_MEMORY;
  return e;
}

static wg_err eval_fast(pinst *pi, uint32_t ep, const char *input,
                        size_t input_len, uint32_t *out, wg_error *err) {
  wg_err e = make_room(pi, input_len);
  if (e) return e;
  if (input_len) {
    void *dst = gmem(pi, pi->data_heap, input_len);
    if (!dst) return WG_TRAP_MEMORY;
    memcpy(dst, input, input_len);
  }
  uint32_t a[7] = {0, ep, pi->data_addr, input ? pi->data_heap : 0,
                   (uint32_t)input_len,
                   pi->data_heap + (uint32_t)input_len, 0};
  e = gcall(pi, pi->f_opa_eval, a, 7, out);
  if (e == WG_OK && *out == 0) {
    e = wg_error_set(err, WG_EINVAL, "input is not valid JSON");
  }
  return e;
}

static wg_err eval_ctx(pinst *pi, uint32_t ep, const char *input,
                       size_t input_len, uint32_t *out, wg_error *err) {
  uint32_t a[2] = {pi->data_heap, 0}, ctx, in = 0, res;
  wg_err e = gcall(pi, pi->f_heap_set, a, 1, NULL);
  if (e == WG_OK && input) e = gput_json(pi, input, input_len, &in, err);
  if (e == WG_OK) e = gcall(pi, pi->f_ctx_new, NULL, 0, &ctx);
  a[0] = ctx;
  if (e == WG_OK && input) {
    a[1] = in;
    e = gcall(pi, pi->f_set_input, a, 2, NULL);
  }
  if (e == WG_OK) {
    a[1] = pi->data_addr;
    e = gcall(pi, pi->f_set_data, a, 2, NULL);
  }
  if (e == WG_OK) {
    a[1] = ep;
    e = gcall(pi, pi->f_set_ep, a, 2, NULL);
  }
  if (e == WG_OK) e = gcall(pi, pi->f_eval, &ctx, 1, &res);
  if (e == WG_OK) e = gcall(pi, pi->f_get_result, &ctx, 1, &res);
  if (e == WG_OK) e = gcall(pi, pi->f_json_dump, &res, 1, out);
  return e;
}

wg_err wg_policy_eval(wg_policy *p, const char *entrypoint,
                      const char *input, size_t input_len,
                      wg_policy_sink sink, void *user, wg_error *err) {
  int ep = 0;
  if (entrypoint && *entrypoint) {
    ep = wg_policy_entrypoint_id(p, entrypoint);
    if (ep < 0) {
      return wg_error_set(err, WG_ENOTFOUND, "no entrypoint '%s'", entrypoint);
    }
  }
  if (input_len > (uint64_t)p->max_pages * WG_PAGE_SIZE) {
    return wg_error_set(err, WG_ELIMIT, "input larger than the policy memory");
  }
  if (input && !json_ok(input, input_len)) {
    return wg_error_set(err, WG_EINVAL, "input is not valid JSON");
  }
  pinst *pi = pool_take(p, err);
  if (!pi) return err && err->code ? err->code : WG_ENOMEM;
  uint32_t out = 0;
  start_call(pi, err);
  wg_err e = p->fast ? eval_fast(pi, (uint32_t)ep, input, input_len, &out, err)
                     : eval_ctx(pi, (uint32_t)ep, input, input_len, &out, err);
  if (e == WG_EINVAL) {
    wgp_watch_disarm(&pi->watch);
    pi->err = NULL;
    pool_give(p, pi);
    return wg_error_set(err, e, "input is not valid JSON");
  }
  e = end_call(pi, e, err);
  if (e) {
    pinst_free(pi);       /* its heap or stack may be anything now */
    return e;
  }
  size_t len;
  const char *s = gstr(pi, out, &len);
  if (!s) {
    pinst_free(pi);
    return wg_error_set(err, WG_TRAP_MEMORY, "the result runs off memory");
  }
  if (sink) sink(user, s, len);
  pool_give(p, pi);
  return WG_OK;
}

typedef struct json_sink {
  json_t *j;
} json_sink;

static void to_json(void *user, const char *s, size_t n) {
  ((json_sink *)user)->j = json_loadb(s, n, JSON_DECODE_ANY, NULL);
}

wg_err wg_policy_eval_json(wg_policy *p, const char *entrypoint,
                           const json_t *input, json_t **result,
                           wg_error *err) {
  char *text = NULL;
  if (input) {
    text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) return wg_error_set(err, WG_ENOMEM, "cannot encode the input");
  }
  json_sink js = {NULL};
  wg_err e = wg_policy_eval(p, entrypoint, text, text ? strlen(text) : 0,
                            to_json, &js, err);
  free(text);  /* checksrc: allow */ /* jansson's malloc */
  if (e == WG_OK && !js.j) {
    e = wg_error_set(err, WG_EINVAL, "the result is not JSON");
  }
  *result = e == WG_OK ? js.j : NULL;
  if (e) json_decref(js.j);
  return e;
}
