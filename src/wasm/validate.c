/*
** Module-level validation: the rules outside function bodies (limits,
** constant expressions, exports, segments, declared function references),
** then every function body through the compiler (compile.c).
*/
#include <stdarg.h>
#include <stdio.h>

#include "wasm/wasm_int.h"


/* ------------------------------------------------------------------ */
/* Module-level rules                                                  */

static wg_err vfail(wg_error *err, int section, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static wg_err vfail(wg_error *err, int section, const char *fmt, ...) {
  if (err && err->code == WG_OK) {
    va_list ap;
    va_start(ap, fmt);
    err->code = WG_EINVALID;
    err->section = section;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return WG_EINVALID;
}

static wg_err check_limits(const wg_limits *l, uint64_t bound, const char *what,
                           wg_error *err, int sec) {
  if (l->min > bound)
    return vfail(err, sec, "%s size must be at most %llu", what, (unsigned long long)bound);
  if (l->has_max && l->max > bound)
    return vfail(err, sec, "%s size must be at most %llu", what, (unsigned long long)bound);
  if (l->has_max && l->max < l->min)
    return vfail(err, sec, "size minimum must not be greater than maximum");
  return WG_OK;
}

/* Validates a constant expression of type want. Only imported immutable
** globals may be read (Wasm 2.0). */
static wg_err check_const(wg_module *m, const wgw_expr *x, uint8_t want,
                          wg_error *err, int sec) {
  wgw_reader r = {m->bytes, m->bytes + x->off, m->bytes + x->off + x->len, err};
  uint8_t have = 0;
  int count = 0;
  for (;;) {
    uint8_t op = 0;
    if (wgw_read_u8(&r, &op)) return WG_EEOF;
    if (op == 0x0B) break;
    count++;
    switch (op) {
      case 0x41: { int32_t v; wgw_read_s32(&r, &v); have = WG_I32; break; }
      case 0x42: { int64_t v; wgw_read_s64(&r, &v); have = WG_I64; break; }
      case 0x43: r.p += 4; have = WG_F32; break;
      case 0x44: r.p += 8; have = WG_F64; break;
      case 0xD0: wgw_read_u8(&r, &have); break;
      case 0xD2: {
        uint32_t f = 0;
        wgw_read_u32(&r, &f);
        if (f >= m->nfuncs) return vfail(err, sec, "unknown function %u", f);
        have = WG_FUNCREF;
        break;
      }
      case 0x23: {
        uint32_t g = 0;
        wgw_read_u32(&r, &g);
        if (g >= m->nglobal_imports)
          return vfail(err, sec, "unknown global %u (constant expressions may "
                       "only read imported globals)", g);
        if (m->globals[g].mut)
          return vfail(err, sec, "constant expression required (global %u is mutable)", g);
        have = m->globals[g].type;
        break;
      }
    }
  }
  if (count != 1 || have != want)
    return vfail(err, sec, "type mismatch in constant expression: expected %s",
                 wg_valtype_name(want));
  return WG_OK;
}

static void mark_declared(wg_module *m, uint32_t f) {
  if (f < m->nfuncs) m->declared_funcs[f / 8] |= (uint8_t)(1u << (f % 8));
}

static void declare_expr(wg_module *m, const wgw_expr *x) {
  const uint8_t *p = m->bytes + x->off;
  if (x->len >= 2 && p[0] == 0xD2) {
    wgw_reader r = {m->bytes, p + 1, p + x->len, NULL};
    uint32_t f = 0;
    if (!wgw_read_u32(&r, &f)) mark_declared(m, f);
  }
}

static wg_err check_module(wg_module *m, wg_error *err) {
  wg_err e;
  for (uint32_t i = 0; i < m->ntypes; i++) {
    const wgw_type *t = &m->types[i];
    for (uint32_t k = 0; k < t->nparams + t->nresults; k++)
      if (t->vt[k] == WG_V128) return vfail(err, 1, "v128 (SIMD) is not supported yet");
  }
  for (uint32_t i = 0; i < m->nfuncs; i++)
    if (m->func_types[i] >= m->ntypes)
      return vfail(err, i < m->nfunc_imports ? 2 : 3, "unknown type %u", m->func_types[i]);
  for (uint32_t i = 0; i < m->ntables; i++)
    if ((e = check_limits(&m->tables[i].lim, UINT32_MAX, "table", err, 4))) return e;
  if (m->nmems > 1) return vfail(err, 5, "multiple memories");
  for (uint32_t i = 0; i < m->nmems; i++)
    if ((e = check_limits(&m->mems[i].lim, WG_MAX_PAGES, "memory", err, 5)))
      return vfail(err, 5, "memory size must be at most 65536 pages (4GiB)");
  for (uint32_t i = 0; i < m->nglobals; i++)
    if (m->globals[i].type == WG_V128) return vfail(err, 6, "v128 (SIMD) is not supported yet");
  m->declared_funcs = wg_alloc_array(m->nfuncs / 8 + 1, 1);
  if (!m->declared_funcs) return wg_error_set(err, WG_ENOMEM, NULL);
  for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
    if ((e = check_const(m, &m->globals[i].init, m->globals[i].type, err, 6))) return e;
    declare_expr(m, &m->globals[i].init);
  }
  for (uint32_t i = 0; i < m->nexports; i++) {
    const wgw_export *x = &m->exports[i];
    uint32_t limit = x->kind == WG_EXTERN_FUNC ? m->nfuncs
                   : x->kind == WG_EXTERN_TABLE ? m->ntables
                   : x->kind == WG_EXTERN_MEMORY ? m->nmems : m->nglobals;
    if (x->index >= limit) return vfail(err, 7, "unknown export index %u", x->index);
    if (x->kind == WG_EXTERN_FUNC) mark_declared(m, x->index);
    for (uint32_t k = 0; k < i; k++)
      if (m->exports[k].name.len == x->name.len &&
          memcmp(m->exports[k].name.ptr, x->name.ptr, x->name.len) == 0)
        return vfail(err, 7, "duplicate export name");
  }
  if (m->start >= 0) {
    if ((uint64_t)m->start >= m->nfuncs) return vfail(err, 8, "unknown function %lld", (long long)m->start);
    const wgw_type *t = &m->types[m->func_types[m->start]];
    if (t->nparams || t->nresults) return vfail(err, 8, "start function must be [] -> []");
  }
  for (uint32_t i = 0; i < m->nelems; i++) {
    wgw_elem *s = &m->elems[i];
    if (s->mode == WGW_SEG_ACTIVE) {
      if (s->table >= m->ntables) return vfail(err, 9, "unknown table %u", s->table);
      if ((e = check_const(m, &s->offset, WG_I32, err, 9))) return e;
      if (m->tables[s->table].elem != s->type)
        return vfail(err, 9, "type mismatch: element segment of %s for a table of %s",
                     wg_valtype_name(s->type), wg_valtype_name(m->tables[s->table].elem));
    }
    for (uint32_t k = 0; k < s->count; k++) {
      if (s->exprs) {
        if ((e = check_const(m, &s->items[k], s->type, err, 9))) return e;
        declare_expr(m, &s->items[k]);
      } else {
        if (s->funcs[k] >= m->nfuncs) return vfail(err, 9, "unknown function %u", s->funcs[k]);
        mark_declared(m, s->funcs[k]);
      }
    }
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    wgw_data *d = &m->datas[i];
    if (d->mode != WGW_SEG_ACTIVE) continue;
    if (d->mem >= m->nmems) return vfail(err, 11, "unknown memory %u", d->mem);
    if ((e = check_const(m, &d->offset, WG_I32, err, 11))) return e;
  }
  return WG_OK;
}

wg_err wgw_validate(wg_module *m, wg_error *err) {
  wg_err e;
  wgw_ops_init();
  if ((e = check_module(m, err))) return e;
  return wgw_compile(m, err);
}
