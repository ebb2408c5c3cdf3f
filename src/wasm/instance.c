/*
** Stores, run-time objects (functions, memories, tables, globals), linking
** and instantiation, and calls from the host.
*/
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>

#include "wasm/wasm_int.h"

/* ------------------------------------------------------------------ */
/* Stores                                                              */

wg_store *wg_store_new(const wg_store_config *cfg) {
  wg_store *s = wg_new(wg_store);
  if (!s) return NULL;
  if (cfg) s->cfg = *cfg;
  else s->cfg.fuel = -1;
  if (!s->cfg.max_call_depth) s->cfg.max_call_depth = WG_DEFAULT_CALL_DEPTH;
  if (!s->cfg.max_stack_slots) s->cfg.max_stack_slots = WG_DEFAULT_STACK_SLOTS;
  if (!s->cfg.max_table_elems || s->cfg.max_table_elems > WG_MAX_TABLE_ELEMS)
    s->cfg.max_table_elems = WG_MAX_TABLE_ELEMS;
  if (!s->cfg.max_memory_pages || s->cfg.max_memory_pages > WG_MAX_PAGES)
    s->cfg.max_memory_pages = WG_MAX_PAGES;
  wg_store_set_fuel(s, s->cfg.fuel);
  /* Not zeroed: every slot is written before it is read (ENTER zeroes
  ** locals), and large blocks come from mmap, so untouched pages of a deep
  ** stack cost nothing. */
  s->stack = wg_realloc_(NULL, 0, (size_t)s->cfg.max_stack_slots * sizeof *s->stack);
  s->frames = wg_realloc_(NULL, 0, ((size_t)s->cfg.max_call_depth + 1) * sizeof *s->frames);
  if (!s->stack || !s->frames) {
    wg_store_free(s);
    return NULL;
  }
  s->stack_end = s->stack + s->cfg.max_stack_slots;
  s->sp = s->stack;
  s->frames_end = s->frames + s->cfg.max_call_depth + 1;
  s->fsp = s->frames;
  wg_error_clear(&s->trap);
  return s;
}

void wg_store_free(wg_store *s) {
  if (!s) return;
  for (wg_instance *i = s->insts, *n; i; i = n) {
    n = i->next;
    const wg_module *m = i->mod;
    for (uint32_t k = 0; k < m->nelems; k++)
      if (i->elem_vals) wg_free(i->elem_vals[k], (size_t)m->elems[k].count * 8 + 8);
    wg_free_array(i->elem_vals, m->nelems);
    wg_free_array(i->elem_len, m->nelems);
    wg_free_array(i->data_len, m->ndatas);
    wg_free_array(i->funcs, m->nfuncs);
    wg_free_array(i->tables, m->ntables);
    wg_free_array(i->mems, m->nmems);
    wg_free_array(i->globals, m->nglobals);
    wg_module_release(i->mod);
    wg_free_obj(i);
  }
  for (wg_func *f = s->funcs, *n; f; f = n) { n = f->next; wg_free_obj(f); }
  for (wg_memory *mm = s->mems, *n; mm; mm = n) {
    n = mm->next;
    wgw_map_give(mm->data, mm->size, mm->reserved);
    wg_free_obj(mm);
  }
  for (wg_table *t = s->tables, *n; t; t = n) {
    n = t->next;
    wg_free_array(t->elems, t->size ? t->size : 1);
    wg_free_obj(t);
  }
  for (wg_global *g = s->globals, *n; g; g = n) { n = g->next; wg_free_obj(g); }
  for (size_t k = 0; k < s->nblocks; k++) {
    size_t *b = (size_t *)s->blocks[k] - 1;
    wg_free(b, *b + sizeof *b);
  }
  wg_free_array(s->blocks, s->capblocks);
  wg_free_array(s->stack, s->cfg.max_stack_slots);
  wg_free_array(s->frames, (size_t)s->cfg.max_call_depth + 1);
  wg_free_obj(s);
}

/* Allocations that live as long as the store (host function types). */
void *wgw_store_alloc(wg_store *s, size_t size) {
  if (s->nblocks == s->capblocks) {
    size_t cap = s->capblocks ? s->capblocks * 2 : 8;
    void **b = wg_grow_array(s->blocks, s->capblocks, cap, sizeof *b);
    if (!b) return NULL;
    s->blocks = b;
    s->capblocks = cap;
  }
  size_t *p = wg_alloc_array(size + sizeof *p, 1);
  if (!p) return NULL;
  *p = size;
  s->blocks[s->nblocks++] = p + 1;
  return p + 1;
}

int64_t wg_store_fuel(const wg_store *s) { return s->metered ? s->fuel : -1; }

void wg_store_set_fuel(wg_store *s, int64_t fuel) {
  s->metered = fuel >= 0;
  s->fuel = fuel >= 0 ? fuel : INT64_MAX;
}

void wg_store_interrupt(wg_store *s) {
  atomic_store_explicit(&s->interrupt, 1, memory_order_relaxed);
}
void wg_store_clear_interrupt(wg_store *s) { atomic_store(&s->interrupt, 0); }
bool wg_store_interrupted(const wg_store *s) {
  return atomic_load_explicit(&s->interrupt, memory_order_relaxed) != 0;
}
atomic_uint *wg_store_interrupt_word(wg_store *s) { return &s->interrupt; }
const wg_error *wg_store_trap(const wg_store *s) { return &s->trap; }
void wg_store_exit(wg_store *s, int code) { s->exit_code = code; }
int wg_store_exit_code(const wg_store *s) { return s->exit_code; }
bool wg_store_limit_hit(const wg_store *s) { return s->limit_hit; }
uint64_t wg_store_peak_memory(const wg_store *s) { return s->mem_peak; }
void *wg_store_user(const wg_store *s) { return s->user; }
void wg_store_set_user(wg_store *s, void *user) { s->user = user; }

/* ------------------------------------------------------------------ */
/* Host calls                                                          */

void *wg_host_user(const wg_host_call *call) { return call->func->user; }
wg_store *wg_host_store(const wg_host_call *call) { return call->store; }
wg_instance *wg_host_instance(const wg_host_call *call) { return call->inst; }

wg_memory *wg_host_memory(const wg_host_call *call) {
  if (!call->inst || call->inst->mod->nmems == 0) return NULL;
  return call->inst->mems[0];
}

wg_err wg_host_trap(wg_host_call *call, wg_err code, const char *fmt, ...) {
  wg_error *e = &call->store->trap;
  if (e->code == WG_OK) {
    e->code = code;
    if (fmt) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(e->message, sizeof e->message, fmt, ap);
      va_end(ap);
    } else {
      snprintf(e->message, sizeof e->message, "%s", wg_strerror(code));
    }
  }
  return code;
}

/* ------------------------------------------------------------------ */
/* Objects                                                             */

wg_func *wg_func_new_host(wg_store *s, const wg_functype *type, wg_host_fn fn,
                          void *user) {
  wg_func *f = wg_new(wg_func);
  if (!f) return NULL;
  uint8_t *vt = wgw_store_alloc(s, (size_t)type->nparams + type->nresults);
  if (!vt) {
    wg_free_obj(f);
    return NULL;
  }
  if (type->nparams) memcpy(vt, type->params, type->nparams);
  if (type->nresults) memcpy(vt + type->nparams, type->results, type->nresults);
  f->type = (wgw_type){type->nparams, type->nresults, vt};
  f->host = fn;
  f->user = user;
  f->next = s->funcs;
  s->funcs = f;
  return f;
}

wg_functype wg_func_type(const wg_func *f) {
  return (wg_functype){f->type.nparams, f->type.nresults, f->type.vt,
                       f->type.vt + f->type.nparams};
}

static void account(wg_store *s, int64_t delta) {
  s->mem_total += (uint64_t)delta;
  if (s->mem_total > s->mem_peak) s->mem_peak = s->mem_total;
}

wg_err wgw_memory_grow(wg_memory *mem, uint64_t delta, uint64_t *old) {
  uint64_t pages = mem->size / WG_PAGE_SIZE;
  *old = pages;
  if (delta == 0) return WG_OK;
  if (delta > mem->max_pages - pages) {
    uint64_t declared = mem->lim.has_max ? mem->lim.max : WG_MAX_PAGES;
    if (delta <= declared - pages && pages + delta <= WG_MAX_PAGES)
      mem->store->limit_hit = true;     /* the store's limit said no */
    return WG_ELIMIT;
  }
  uint64_t nsize = (pages + delta) * WG_PAGE_SIZE;
  /* bytes from size to reserved are zero (mapcache.c relies on it) */
  if (!mem->data) {
    uint64_t mapped;
    uint8_t *p = wgw_map_take(nsize, &mapped);
    if (!p) return WG_ENOMEM;
    mem->data = p;
    mem->reserved = mapped;
  } else if (nsize > mem->reserved) {
    void *p = mremap(mem->data, mem->reserved, nsize, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return WG_ENOMEM;
    mem->data = p;
    mem->reserved = nsize;
  }
  account(mem->store, (int64_t)(nsize - mem->size));
  mem->size = nsize;
  return WG_OK;
}

static wg_memory *memory_new(wg_store *s, wg_limits lim, wg_error *err) {
  wg_memory *mem = wg_new(wg_memory);
  if (!mem) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  mem->lim = lim;
  mem->store = s;
  mem->max_pages = lim.has_max && lim.max < s->cfg.max_memory_pages
                       ? lim.max : s->cfg.max_memory_pages;
  mem->next = s->mems;
  s->mems = mem;
  uint64_t old = 0;
  if (lim.min > mem->max_pages) {
    s->limit_hit = true;
    wg_error_set(err, WG_ELIMIT, "memory of %llu pages exceeds the limit of %llu pages",
                 (unsigned long long)lim.min, (unsigned long long)mem->max_pages);
    return NULL;
  }
  if (wgw_memory_grow(mem, lim.min, &old)) {
    wg_error_set(err, WG_ENOMEM, "cannot allocate %llu pages of memory",
                 (unsigned long long)lim.min);
    return NULL;
  }
  return mem;
}

wg_memory *wg_memory_new(wg_store *s, wg_limits limits) {
  return memory_new(s, limits, NULL);
}

wg_err wgw_table_grow(wg_table *t, uint64_t delta, uint64_t init, uint64_t *old) {
  *old = t->size;
  if (delta > t->max - t->size) {
    uint64_t declared = t->lim.has_max ? t->lim.max : UINT32_MAX;
    if (delta <= declared - t->size) t->store->limit_hit = true;
    return WG_ELIMIT;
  }
  if (delta == 0) return WG_OK;
  uint64_t n = t->size + delta;
  uint64_t *e = wg_grow_array(t->elems, t->size ? t->size : 1, n, sizeof *e);
  if (!e) return WG_ENOMEM;
  for (uint64_t k = t->size; k < n; k++) e[k] = init;
  t->elems = e;
  t->size = n;
  return WG_OK;
}

static wg_table *table_new(wg_store *s, uint8_t elem, wg_limits lim, wg_error *err) {
  wg_table *t = wg_new(wg_table);
  if (!t) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  t->elem = elem;
  t->lim = lim;
  t->store = s;
  t->max = lim.has_max && lim.max < s->cfg.max_table_elems ? lim.max
                                                             : s->cfg.max_table_elems;
  t->next = s->tables;
  s->tables = t;
  t->elems = wg_new_array(uint64_t, 1);
  uint64_t old = 0;
  if (!t->elems) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  if (lim.min > t->max) {
    s->limit_hit = true;
    wg_error_set(err, WG_ELIMIT, "table of %llu elements exceeds the limit of %llu",
                 (unsigned long long)lim.min, (unsigned long long)t->max);
    return NULL;
  }
  if (wgw_table_grow(t, lim.min, 0, &old)) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  return t;
}

wg_table *wg_table_new(wg_store *s, wg_valtype elem, wg_limits limits) {
  return table_new(s, (uint8_t)elem, limits, NULL);
}

uint64_t wg_table_size(const wg_table *t) { return t->size; }

wg_global *wg_global_new(wg_store *s, wg_val init, bool mut) {
  wg_global *g = wg_new(wg_global);
  if (!g) return NULL;
  g->type = (uint8_t)init.type;
  g->mut = true;
  wg_global_set(g, init);
  g->mut = mut;
  g->next = s->globals;
  s->globals = g;
  return g;
}

static uint64_t raw_of(wg_val v) {
  switch (v.type) {
    case WG_I32: case WG_F32: return v.of.i32;
    default: return v.of.i64;
  }
}

static wg_val val_of(uint8_t type, const uint64_t *raw) {
  wg_val v;
  memset(&v, 0, sizeof v);
  v.type = (wg_valtype)type;
  if (type == WG_I32 || type == WG_F32) v.of.i32 = (uint32_t)raw[0];
  else if (type == WG_V128) { v.of.v128[0] = raw[0]; v.of.v128[1] = raw[1]; }
  else v.of.i64 = raw[0];
  return v;
}

wg_val wg_global_get(const wg_global *g) { return val_of(g->type, g->val); }

wg_err wg_global_set(wg_global *g, wg_val v) {
  if ((uint8_t)v.type != g->type || !g->mut) return WG_EINVAL;
  g->val[0] = raw_of(v);
  g->val[1] = v.type == WG_V128 ? v.of.v128[1] : 0;
  return WG_OK;
}

void *wg_memory_translate(wg_memory *mem, uint64_t offset, uint64_t len) {
  static uint8_t empty;   /* what an empty range of an empty memory points to */
  if (!mem || offset > mem->size || len > mem->size - offset) return NULL;
  return mem->data ? mem->data + offset : &empty;
}
uint64_t wg_memory_size(const wg_memory *mem) { return mem->size; }
uint64_t wg_memory_pages(const wg_memory *mem) { return mem->size / WG_PAGE_SIZE; }

/* ------------------------------------------------------------------ */
/* Linking                                                             */

static bool limits_match(uint64_t cur, const wg_limits *have, const wg_limits *want) {
  if (cur < want->min) return false;
  if (!want->has_max) return true;
  return have->has_max && have->max <= want->max;
}

bool wgw_types_equal(const wgw_type *a, const wgw_type *b) {
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         memcmp(a->vt, b->vt, a->nparams + a->nresults) == 0;
}

bool wg_extern_matches(const wg_extern *ext, const wg_externtype *type) {
  if (!ext || ext->kind != type->kind) return false;
  switch (type->kind) {
    case WG_EXTERN_FUNC: {
      const wg_func *f = ext->of.func;
      const wg_functype *t = &type->of.func;
      return f && f->type.nparams == t->nparams && f->type.nresults == t->nresults &&
             (!t->nparams || memcmp(f->type.vt, t->params, t->nparams) == 0) &&
             (!t->nresults || memcmp(f->type.vt + t->nparams, t->results, t->nresults) == 0);
    }
    case WG_EXTERN_TABLE: {
      const wg_table *t = ext->of.table;
      return t && t->elem == type->of.table.elem &&
             limits_match(t->size, &t->lim, &type->of.table.limits);
    }
    case WG_EXTERN_MEMORY: {
      const wg_memory *mm = ext->of.memory;
      return mm && limits_match(mm->size / WG_PAGE_SIZE, &mm->lim, &type->of.memory.limits);
    }
    case WG_EXTERN_GLOBAL: {
      const wg_global *g = ext->of.global;
      return g && g->type == type->of.global.type && g->mut == type->of.global.mut;
    }
  }
  return false;
}

/* Evaluates a validated constant expression. */
static void const_eval(const wg_instance *inst, const wgw_expr *x, uint64_t *out) {
  const wg_module *m = inst->mod;
  wgw_reader r = {m->bytes, m->bytes + x->off, m->bytes + x->off + x->len, NULL};
  uint8_t op = 0x0B;
  out[0] = out[1] = 0;
  wgw_read_u8(&r, &op);
  switch (op) {
    case 0x41: { int32_t v = 0; wgw_read_s32(&r, &v); out[0] = (uint32_t)v; break; }
    case 0x42: { int64_t v = 0; wgw_read_s64(&r, &v); out[0] = (uint64_t)v; break; }
    case 0x43: { uint32_t v; memcpy(&v, r.p, 4); out[0] = v; break; }
    case 0x44: memcpy(&out[0], r.p, 8); break;
    case 0xD0: out[0] = 0; break;
    case 0xD2: { uint32_t f = 0; wgw_read_u32(&r, &f); out[0] = (uint64_t)(uintptr_t)inst->funcs[f]; break; }
    case 0x23: {
      uint32_t g = 0;
      wgw_read_u32(&r, &g);
      out[0] = inst->globals[g]->val[0];
      out[1] = inst->globals[g]->val[1];
      break;
    }
  }
}

wg_functype wgw_functype(const wg_module *m, uint32_t typeidx) {
  const wgw_type *t = &m->types[typeidx];
  return (wg_functype){t->nparams, t->nresults, t->vt, t->vt + t->nparams};
}

static wg_instance *inst_fail(wg_instance *inst, wg_error *err, wg_err code,
                              const char *msg) {
  (void)inst;
  if (msg) wg_error_set(err, code, "%s", msg);
  else wg_error_set(err, code, NULL);
  return NULL;
}

static wg_err run_start(wg_store *s, wg_func *f, wg_error *err) {
  wg_error_clear(&s->trap);
  wg_err e = wgw_invoke(s, f);
  if (e && err && err->code == WG_OK) *err = s->trap;
  return e;
}

wg_instance *wg_instance_new(wg_store *s, wg_module *m, wg_resolver resolve,
                             void *user, wg_error *err) {
  wg_error_clear(err);
  wg_instance *inst = wg_new(wg_instance);
  if (!inst) return inst_fail(NULL, err, WG_ENOMEM, NULL);
  wg_module_retain(m);
  inst->mod = m;
  inst->store = s;
  inst->next = s->insts;
  s->insts = inst;
  inst->funcs = wg_new_array(wg_func *, m->nfuncs);
  inst->tables = wg_new_array(wg_table *, m->ntables);
  inst->mems = wg_new_array(wg_memory *, m->nmems);
  inst->globals = wg_new_array(wg_global *, m->nglobals);
  inst->elem_vals = wg_new_array(uint64_t *, m->nelems);
  inst->elem_len = wg_new_array(uint32_t, m->nelems);
  inst->data_len = wg_new_array(uint32_t, m->ndatas);
  if (!inst->funcs || !inst->tables || !inst->mems || !inst->globals ||
      !inst->elem_vals || !inst->elem_len || !inst->data_len)
    return inst_fail(inst, err, WG_ENOMEM, NULL);

  /* imports */
  for (uint32_t i = 0; i < m->nimports; i++) {
    const wgw_import *im = &m->imports[i];
    wg_import_desc d = wg_module_import(m, i);
    wg_extern ext;
    memset(&ext, 0, sizeof ext);
    wg_err e = resolve ? resolve(user, im->module, im->name, &d.type, &ext)
                       : WG_EUNKNOWNIMPORT;
    if (e) {
      wg_error_set(err, e == WG_EIMPORTTYPE ? e : WG_EUNKNOWNIMPORT,
                   "%s: %.*s.%.*s", e == WG_EIMPORTTYPE ? "incompatible import type"
                   : "unknown import", (int)im->module.len, im->module.ptr,
                   (int)im->name.len, im->name.ptr);
      return NULL;
    }
    if (!wg_extern_matches(&ext, &d.type)) {
      wg_error_set(err, WG_EIMPORTTYPE, "incompatible import type: %.*s.%.*s",
                   (int)im->module.len, im->module.ptr, (int)im->name.len,
                   im->name.ptr);
      return NULL;
    }
    switch (im->kind) {
      case WG_EXTERN_FUNC: inst->funcs[im->index] = ext.of.func; break;
      case WG_EXTERN_TABLE: inst->tables[im->index] = ext.of.table; break;
      case WG_EXTERN_MEMORY: inst->mems[im->index] = ext.of.memory; break;
      case WG_EXTERN_GLOBAL: inst->globals[im->index] = ext.of.global; break;
    }
  }

  /* defined objects */
  for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
    wg_func *f = wg_new(wg_func);
    if (!f) return inst_fail(inst, err, WG_ENOMEM, NULL);
    f->type = m->types[m->func_types[i]];
    f->inst = inst;
    f->fn = &m->funcs[i - m->nfunc_imports];
    f->next = s->funcs;
    s->funcs = f;
    inst->funcs[i] = f;
  }
  for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
    if (!(inst->tables[i] = table_new(s, m->tables[i].elem, m->tables[i].lim, err)))
      return NULL;
  for (uint32_t i = m->nmem_imports; i < m->nmems; i++)
    if (!(inst->mems[i] = memory_new(s, m->mems[i].lim, err))) return NULL;
  for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
    wg_global *g = wg_new(wg_global);
    if (!g) return inst_fail(inst, err, WG_ENOMEM, NULL);
    g->type = m->globals[i].type;
    g->mut = m->globals[i].mut;
    g->next = s->globals;
    s->globals = g;
    inst->globals[i] = g;
    const_eval(inst, &m->globals[i].init, g->val);
  }

  /* element segments: evaluate their references */
  for (uint32_t i = 0; i < m->nelems; i++) {
    const wgw_elem *seg = &m->elems[i];
    uint64_t *vals = wg_new_array(uint64_t, (size_t)seg->count + 1);
    if (!vals) return inst_fail(inst, err, WG_ENOMEM, NULL);
    inst->elem_vals[i] = vals;
    for (uint32_t k = 0; k < seg->count; k++) {
      if (seg->exprs) {
        uint64_t v[2];
        const_eval(inst, &seg->items[k], v);
        vals[k] = v[0];
      } else {
        vals[k] = (uint64_t)(uintptr_t)inst->funcs[seg->funcs[k]];
      }
    }
    inst->elem_len[i] = seg->mode == WGW_SEG_PASSIVE ? seg->count : 0;
  }
  for (uint32_t i = 0; i < m->ndatas; i++)
    inst->data_len[i] = m->datas[i].mode == WGW_SEG_PASSIVE ? m->datas[i].len : 0;

  /* active segments, in order; a trap leaves earlier writes in place */
  for (uint32_t i = 0; i < m->nelems; i++) {
    const wgw_elem *seg = &m->elems[i];
    if (seg->mode != WGW_SEG_ACTIVE) continue;
    uint64_t off[2];
    const_eval(inst, &seg->offset, off);
    wg_table *t = inst->tables[seg->table];
    uint64_t d = (uint32_t)off[0];
    if (d + seg->count > t->size) {
      wg_error_set(err, WG_TRAP_TABLE, "out of bounds table access "
                   "(element segment %u)", i);
      return NULL;
    }
    if (seg->count) memcpy(t->elems + d, inst->elem_vals[i], (size_t)seg->count * 8);
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const wgw_data *seg = &m->datas[i];
    if (seg->mode != WGW_SEG_ACTIVE) continue;
    uint64_t off[2];
    const_eval(inst, &seg->offset, off);
    wg_memory *mem = inst->mems[seg->mem];
    uint64_t d = (uint32_t)off[0];
    if (d + seg->len > mem->size) {
      wg_error_set(err, WG_TRAP_MEMORY, "out of bounds memory access "
                   "(data segment %u)", i);
      return NULL;
    }
    if (seg->len) memcpy(mem->data + d, m->bytes + seg->off, seg->len);
  }
  if (m->start >= 0 && run_start(s, inst->funcs[m->start], err)) return NULL;
  return inst;
}

wg_module *wg_instance_module(const wg_instance *inst) { return inst->mod; }

wg_err wg_instance_export(const wg_instance *inst, wg_name name, wg_extern *out) {
  const wg_module *m = inst->mod;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const wgw_export *x = &m->exports[i];
    if (x->name.len != name.len || memcmp(x->name.ptr, name.ptr, name.len) != 0) continue;
    out->kind = (wg_externkind)x->kind;
    switch (x->kind) {
      case WG_EXTERN_FUNC: out->of.func = inst->funcs[x->index]; break;
      case WG_EXTERN_TABLE: out->of.table = inst->tables[x->index]; break;
      case WG_EXTERN_MEMORY: out->of.memory = inst->mems[x->index]; break;
      default: out->of.global = inst->globals[x->index]; break;
    }
    return WG_OK;
  }
  return WG_EUNKNOWNEXPORT;
}

wg_err wg_call(wg_store *s, wg_func *f, const wg_val *args, size_t nargs,
               wg_val *results, size_t nresults) {
  const wgw_type *t = &f->type;
  wg_error_clear(&s->trap);
  s->exit_code = 0;
  if (nargs != t->nparams || nresults < t->nresults)
    return wg_error_set(&s->trap, WG_ESIGNATURE, "expected %u arguments and %u "
                        "results, got %zu and %zu", t->nparams, t->nresults,
                        nargs, nresults);
  uint32_t need = t->nparams > t->nresults ? t->nparams : t->nresults;
  if (s->sp + need > s->stack_end)
    return wg_error_set(&s->trap, WG_TRAP_STACK, NULL);
  for (size_t i = 0; i < nargs; i++) {
    if ((uint8_t)args[i].type != t->vt[i])
      return wg_error_set(&s->trap, WG_ESIGNATURE, "argument %zu has the wrong type", i);
    s->sp[i] = raw_of(args[i]);
  }
  if (s->nested >= WG_MAX_HOST_REENTRY)   /* host re-entry uses the C stack */
    return wg_error_set(&s->trap, WG_TRAP_STACK, NULL);
  s->nested++;
  wg_err e = wgw_invoke(s, f);
  s->nested--;
  if (e) return e;
  for (uint32_t i = 0; i < t->nresults; i++)
    results[i] = val_of(t->vt[t->nparams + i], &s->sp[i]);
  return WG_OK;
}
