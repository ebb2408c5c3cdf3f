/*
** The binary decoder: bytes -> wg_module (not yet validated).
**
** Every read goes through a wgw_reader bounded by (p, end); every declared
** count is checked against the bytes left before anything is allocated (an
** entry takes at least one byte). Nothing here exits or asserts on input.
*/
#include <stdarg.h>
#include <stdio.h>

#include "wasm/wasm_int.h"

const wgw_opinfo wgw_ops[WGOP_COUNT] = {
#define WG_OP(prefix, code, name, text, imm, sig, msize, trap) \
  {prefix, code, WG_IMM_##imm, msize, trap, text, sig},
#define WG_IOP(name, words) {0xFF, 0, 0, 0, 1, #name, ""},
#include "wasm/opcodes.def"
};

uint16_t wgw_op_by_byte[256];
uint16_t wgw_op_by_fc[32];

void wgw_ops_init(void) {
  static atomic_int done;
  if (atomic_load(&done)) return;
  for (int i = 0; i < 256; i++) wgw_op_by_byte[i] = 0xFFFF;
  for (int i = 0; i < 32; i++) wgw_op_by_fc[i] = 0xFFFF;
  for (int i = 0; i < WGOP_COUNT; i++) {
    if (wgw_ops[i].prefix == 0) wgw_op_by_byte[wgw_ops[i].code] = (uint16_t)i;
    else if (wgw_ops[i].prefix == 0xFC) wgw_op_by_fc[wgw_ops[i].code] = (uint16_t)i;
  }
  atomic_store(&done, 1);
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */

wg_err wgw_fail(wgw_reader *r, wg_err code, const char *fmt, ...) {
  wg_error *e = r->err;
  if (e && e->code == WG_OK) {
    e->code = code;
    e->offset = wgw_offset(r);
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

wg_err wgw_read_u8(wgw_reader *r, uint8_t *out) {
  if (r->p >= r->end) return wgw_fail(r, WG_EEOF, NULL);
  *out = *r->p++;
  return WG_OK;
}

/* Reads an LEB128 of at most `bits` bits; signed when sgn. */
static wg_err read_leb(wgw_reader *r, unsigned bits, bool sgn, uint64_t *out) {
  uint64_t result = 0;
  unsigned shift = 0;
  unsigned maxbytes = (bits + 6) / 7;
  for (unsigned i = 0;; i++) {
    if (r->p >= r->end) return wgw_fail(r, WG_EEOF, NULL);
    uint8_t b = *r->p++;
    if (i == maxbytes - 1) {
      /* the last byte: no continuation, unused bits zero or sign copies */
      if (b & 0x80) return wgw_fail(r, WG_ELEB, NULL);
      unsigned used = bits - shift;          /* 1..7 bits still needed */
      uint8_t extra = (uint8_t)(b & 0x7F) >> used;
      if (sgn) {
        bool neg = (b >> (used - 1)) & 1;
        uint8_t want = neg ? (uint8_t)(0x7F >> used) : 0;
        if (extra != want) return wgw_fail(r, WG_ELEBRANGE, NULL);
      } else if (extra) {
        return wgw_fail(r, WG_ELEBRANGE, NULL);
      }
      result |= (uint64_t)(b & 0x7F) << shift;
      shift += 7;
      break;
    }
    result |= (uint64_t)(b & 0x7F) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  if (sgn && shift < 64 && (result >> (shift - 1)) & 1)
    result |= ~(uint64_t)0 << shift;
  if (!sgn && shift < 64 && bits < 64) result &= ((uint64_t)1 << bits) - 1;
  *out = result;
  return WG_OK;
}

wg_err wgw_read_u32(wgw_reader *r, uint32_t *out) {
  uint64_t v = 0;
  wg_err e = read_leb(r, 32, false, &v);
  *out = (uint32_t)v;
  return e;
}

wg_err wgw_read_s32(wgw_reader *r, int32_t *out) {
  uint64_t v = 0;
  wg_err e = read_leb(r, 32, true, &v);
  *out = (int32_t)(uint32_t)v;
  return e;
}

wg_err wgw_read_s33(wgw_reader *r, int64_t *out) {
  uint64_t v = 0;
  wg_err e = read_leb(r, 33, true, &v);
  *out = (int64_t)v;
  return e;
}

wg_err wgw_read_u64(wgw_reader *r, uint64_t *out) {
  return read_leb(r, 64, false, out);
}

wg_err wgw_read_s64(wgw_reader *r, int64_t *out) {
  uint64_t v = 0;
  wg_err e = read_leb(r, 64, true, &v);
  *out = (int64_t)v;
  return e;
}

wg_err wgw_read_bytes(wgw_reader *r, size_t n, const uint8_t **out) {
  if (n > wgw_left(r)) return wgw_fail(r, WG_EEOF, NULL);
  *out = r->p;
  r->p += n;
  return WG_OK;
}

static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) { i++; continue; }
    uint32_t cp = 0;
    size_t len = 0;
    if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
    else return false;
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

wg_err wgw_read_name(wgw_reader *r, wg_name *out) {
  uint32_t n = 0;
  const uint8_t *p = NULL;
  wg_err e;
  if ((e = wgw_read_u32(r, &n)) || (e = wgw_read_bytes(r, n, &p))) return e;
  if (!utf8_valid(p, n)) {
    r->p = p;
    return wgw_fail(r, WG_EUTF8, NULL);
  }
  out->ptr = (const char *)p;
  out->len = n;
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Pieces                                                              */

#define TRY(x) do { if ((e = (x)) != WG_OK) goto fail; } while (0)

/* Reads a count and checks it against the bytes left (each entry takes at
** least min_bytes). */
static wg_err read_count(wgw_reader *r, uint32_t min_bytes, const char *what,
                         uint32_t *out) {
  wg_err e = wgw_read_u32(r, out);
  if (e) return e;
  if ((uint64_t)*out * min_bytes > wgw_left(r))
    return wgw_fail(r, WG_ECOUNT, "%s count %u exceeds the %zu bytes left",
                    what, *out, wgw_left(r));
  return WG_OK;
}

static bool is_valtype(uint8_t t) {
  return t == WG_I32 || t == WG_I64 || t == WG_F32 || t == WG_F64 ||
         t == WG_V128 || t == WG_FUNCREF || t == WG_EXTERNREF;
}

static wg_err read_valtype(wgw_reader *r, uint8_t *out) {
  wg_err e = wgw_read_u8(r, out);
  if (e) return e;
  if (!is_valtype(*out)) {
    r->p--;
    return wgw_fail(r, WG_EMALFORMED, "malformed value type 0x%02x", *out);
  }
  return WG_OK;
}

static wg_err read_reftype(wgw_reader *r, uint8_t *out) {
  wg_err e = wgw_read_u8(r, out);
  if (e) return e;
  if (*out != WG_FUNCREF && *out != WG_EXTERNREF) {
    r->p--;
    return wgw_fail(r, WG_EMALFORMED, "malformed reference type 0x%02x", *out);
  }
  return WG_OK;
}

static wg_err read_limits(wgw_reader *r, wg_limits *lim, bool mem) {
  uint8_t flag = 0;
  uint32_t v = 0;
  wg_err e = wgw_read_u8(r, &flag);
  if (e) return e;
  if (flag > 1) {
    r->p--;
    return wgw_fail(r, mem ? WG_ELEBRANGE : WG_EMALFORMED,
                    "malformed limits flags 0x%02x", flag);
  }
  if ((e = wgw_read_u32(r, &v))) return e;
  lim->min = v;
  lim->has_max = flag == 1;
  lim->max = 0;
  if (lim->has_max) {
    if ((e = wgw_read_u32(r, &v))) return e;
    lim->max = v;
  }
  return WG_OK;
}

/* Finds the extent of a constant expression (through its `end`). Only the
** constant instructions of Wasm 2.0 may appear; the validator checks types. */
static wg_err read_expr(wgw_reader *r, wgw_expr *out) {
  const uint8_t *start = r->p;
  wg_err e;
  for (;;) {
    uint8_t op = 0;
    if ((e = wgw_read_u8(r, &op))) return e;
    switch (op) {
      case 0x0B:
        out->off = (uint32_t)(start - r->base);
        out->len = (uint32_t)(r->p - start);
        return WG_OK;
      case 0x41: { int32_t v; if ((e = wgw_read_s32(r, &v))) return e; break; }
      case 0x42: { int64_t v; if ((e = wgw_read_s64(r, &v))) return e; break; }
      case 0x43: { const uint8_t *p; if ((e = wgw_read_bytes(r, 4, &p))) return e; break; }
      case 0x44: { const uint8_t *p; if ((e = wgw_read_bytes(r, 8, &p))) return e; break; }
      case 0xD0: { uint8_t t; if ((e = read_reftype(r, &t))) return e; break; }
      case 0xD2:
      case 0x23: { uint32_t x; if ((e = wgw_read_u32(r, &x))) return e; break; }
      default:
        r->p--;
        return wgw_fail(r, WG_EINVALID,
                        "constant expression required (opcode 0x%02x)", op);
    }
  }
}

static void *alloc_n(wgw_reader *r, size_t n, size_t size, wg_err *e) {
  void *p = wg_alloc_array(n, size);
  if (!p) *e = wgw_fail(r, WG_ENOMEM, NULL);
  return p;
}
#define ALLOC(ptr, n) \
  do { if (!((ptr) = alloc_n(r, (n), sizeof *(ptr), &e))) goto fail; } while (0)

/* ------------------------------------------------------------------ */
/* Sections                                                            */

static wg_err sec_type(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 3, "type", &n));
  ALLOC(m->types, n);
  m->ntypes = n;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t form = 0;
    uint32_t np = 0, nr = 0;
    TRY(wgw_read_u8(r, &form));
    if (form != 0x60) {
      r->p--;
      return wgw_fail(r, WG_EMALFORMED, "malformed function type 0x%02x", form);
    }
    TRY(read_count(r, 1, "parameter", &np));
    const uint8_t *pp = r->p;
    r->p += np;
    TRY(read_count(r, 1, "result", &nr));
    wgw_type *t = &m->types[i];
    ALLOC(t->vt, (size_t)np + nr);
    t->nparams = np;
    t->nresults = nr;
    const uint8_t *resume = r->p;
    r->p = pp;
    for (uint32_t k = 0; k < np; k++) TRY(read_valtype(r, &t->vt[k]));
    r->p = resume;
    for (uint32_t k = 0; k < nr; k++) TRY(read_valtype(r, &t->vt[np + k]));
  }
fail:
  return e;
}

static wg_err sec_import(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 4, "import", &n));
  ALLOC(m->imports, n);
  m->nimports = n;
  /* Import entries become the first entries of each index space; sizes
  ** are fixed up once the defining sections are known. Count first. */
  const uint8_t *start = r->p;
  for (int pass = 0; pass < 2; pass++) {
    r->p = start;
    uint32_t nf = 0, nt = 0, nm = 0, ng = 0;
    for (uint32_t i = 0; i < n; i++) {
      wgw_import im = {0};
      uint8_t kind = 0;
      TRY(wgw_read_name(r, &im.module));
      TRY(wgw_read_name(r, &im.name));
      TRY(wgw_read_u8(r, &kind));
      im.kind = kind;
      switch (kind) {
        case WG_EXTERN_FUNC: {
          uint32_t t = 0;
          TRY(wgw_read_u32(r, &t));
          if (pass) m->func_types[nf] = t;
          im.index = nf++;
          break;
        }
        case WG_EXTERN_TABLE: {
          wgw_tabletype tt;
          TRY(read_reftype(r, &tt.elem));
          TRY(read_limits(r, &tt.lim, false));
          if (pass) m->tables[nt] = tt;
          im.index = nt++;
          break;
        }
        case WG_EXTERN_MEMORY: {
          wgw_memtype mt;
          TRY(read_limits(r, &mt.lim, true));
          if (pass) m->mems[nm] = mt;
          im.index = nm++;
          break;
        }
        case WG_EXTERN_GLOBAL: {
          wgw_globaltype gt = {0};
          uint8_t mut = 0;
          TRY(read_valtype(r, &gt.type));
          TRY(wgw_read_u8(r, &mut));
          if (mut > 1) {
            r->p--;
            return wgw_fail(r, WG_EMALFORMED, "malformed mutability");
          }
          gt.mut = mut;
          if (pass) m->globals[ng] = gt;
          im.index = ng++;
          break;
        }
        default:
          r->p--;
          return wgw_fail(r, WG_EMALFORMED, "malformed import kind %u", kind);
      }
      if (pass) m->imports[i] = im;
    }
    if (!pass) {
      m->nimports = n;
      m->nfunc_imports = m->nfuncs = nf;
      m->ntable_imports = m->ntables = nt;
      m->nmem_imports = m->nmems = nm;
      m->nglobal_imports = m->nglobals = ng;
      ALLOC(m->func_types, nf);
      ALLOC(m->tables, nt);
      ALLOC(m->mems, nm);
      ALLOC(m->globals, ng);
    }
  }
fail:
  return e;
}

/* Grows one of the index-space arrays to hold `more` defined entries. */
#define GROW(arr, count, more)                                              \
  do {                                                                      \
    void *g_ = wg_grow_array((arr), (count), (size_t)(count) + (more),      \
                             sizeof *(arr));                                \
    if (!g_) { e = wgw_fail(r, WG_ENOMEM, NULL); goto fail; }              \
    (arr) = g_;                                                             \
  } while (0)

static wg_err sec_function(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 1, "function", &n));
  if ((uint64_t)m->nfuncs + n > UINT32_MAX / 2)
    return wgw_fail(r, WG_EIMPLIMIT, "too many functions");
  GROW(m->func_types, m->nfuncs, n);
  uint32_t first = m->nfuncs;
  m->nfuncs += n;
  ALLOC(m->funcs, n);
  for (uint32_t i = 0; i < n; i++) {
    TRY(wgw_read_u32(r, &m->func_types[first + i]));
    m->funcs[i].type = m->func_types[first + i];
  }
fail:
  return e;
}

static wg_err sec_table(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 2, "table", &n));
  GROW(m->tables, m->ntables, n);
  m->ntables += n;
  for (uint32_t i = 0; i < n; i++) {
    wgw_tabletype *t = &m->tables[m->ntables - n + i];
    TRY(read_reftype(r, &t->elem));
    TRY(read_limits(r, &t->lim, false));
  }
fail:
  return e;
}

static wg_err sec_memory(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 2, "memory", &n));
  GROW(m->mems, m->nmems, n);
  m->nmems += n;
  for (uint32_t i = 0; i < n; i++)
    TRY(read_limits(r, &m->mems[m->nmems - n + i].lim, true));
fail:
  return e;
}

static wg_err sec_global(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 3, "global", &n));
  GROW(m->globals, m->nglobals, n);
  m->nglobals += n;
  for (uint32_t i = 0; i < n; i++) {
    wgw_globaltype *g = &m->globals[m->nglobals - n + i];
    uint8_t mut = 0;
    TRY(read_valtype(r, &g->type));
    TRY(wgw_read_u8(r, &mut));
    if (mut > 1) {
      r->p--;
      return wgw_fail(r, WG_EMALFORMED, "malformed mutability");
    }
    g->mut = mut;
    TRY(read_expr(r, &g->init));
  }
fail:
  return e;
}

static wg_err sec_export(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 3, "export", &n));
  ALLOC(m->exports, n);
  m->nexports = n;
  for (uint32_t i = 0; i < n; i++) {
    wgw_export *x = &m->exports[i];
    uint8_t kind = 0;
    TRY(wgw_read_name(r, &x->name));
    TRY(wgw_read_u8(r, &kind));
    if (kind > WG_EXTERN_GLOBAL) {
      r->p--;
      return wgw_fail(r, WG_EMALFORMED, "malformed export kind %u", kind);
    }
    x->kind = kind;
    TRY(wgw_read_u32(r, &x->index));
  }
fail:
  return e;
}

static wg_err sec_start(wg_module *m, wgw_reader *r) {
  uint32_t x = 0;
  wg_err e = wgw_read_u32(r, &x);
  if (!e) m->start = x;
  return e;
}

static wg_err sec_element(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 2, "element segment", &n));
  ALLOC(m->elems, n);
  m->nelems = n;
  for (uint32_t i = 0; i < n; i++) {
    wgw_elem *s = &m->elems[i];
    uint32_t flags = 0;
    TRY(wgw_read_u32(r, &flags));
    if (flags > 7) {
      r->p--;
      return wgw_fail(r, WG_EMALFORMED, "malformed elements segment kind %u",
                      flags);
    }
    s->type = WG_FUNCREF;
    s->mode = (flags & 1) ? ((flags & 2) ? WGW_SEG_DECLARATIVE : WGW_SEG_PASSIVE)
                          : WGW_SEG_ACTIVE;
    if (s->mode == WGW_SEG_ACTIVE) {
      if (flags & 2) TRY(wgw_read_u32(r, &s->table));
      TRY(read_expr(r, &s->offset));
    }
    s->exprs = flags & 4;
    if (flags & 3) {           /* an elemkind or reftype byte is present */
      uint8_t k = 0;
      if (s->exprs) {
        TRY(read_reftype(r, &k));
        s->type = k;
      } else {
        TRY(wgw_read_u8(r, &k));
        if (k != 0) {
          r->p--;
          return wgw_fail(r, WG_EMALFORMED, "malformed element kind 0x%02x", k);
        }
      }
    }
    TRY(read_count(r, 1, "element", &s->count));
    if (s->exprs) {
      ALLOC(s->items, s->count);
      for (uint32_t k = 0; k < s->count; k++) TRY(read_expr(r, &s->items[k]));
    } else {
      ALLOC(s->funcs, s->count);
      for (uint32_t k = 0; k < s->count; k++) TRY(wgw_read_u32(r, &s->funcs[k]));
    }
  }
fail:
  return e;
}

static wg_err sec_datacount(wg_module *m, wgw_reader *r) {
  wg_err e = wgw_read_u32(r, &m->datacount);
  m->has_datacount = true;
  return e;
}

static wg_err sec_code(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 2, "code", &n));
  uint32_t ndefined = m->nfuncs - m->nfunc_imports;
  if (n != ndefined)
    return wgw_fail(r, WG_EFUNCCODE,
                    "function and code section have inconsistent lengths "
                    "(%u functions, %u bodies)", ndefined, n);
  for (uint32_t i = 0; i < n; i++) {
    wgw_func *f = &m->funcs[i];
    uint32_t size = 0;
    TRY(wgw_read_u32(r, &size));
    if (size > wgw_left(r)) return wgw_fail(r, WG_EEOF, "function body overruns the section");
    wgw_reader body = {r->base, r->p, r->p + size, r->err};
    r->p += size;
    uint32_t ngroups = 0;
    TRY(read_count(&body, 2, "local group", &ngroups));
    /* First pass: total count, checked before allocating. */
    const uint8_t *groups = body.p;
    uint64_t total = f->type < m->ntypes ? m->types[f->type].nparams : 0;
    for (uint32_t g = 0; g < ngroups; g++) {
      uint32_t cnt = 0;
      uint8_t t = 0;
      TRY(wgw_read_u32(&body, &cnt));
      TRY(read_valtype(&body, &t));
      total += cnt;
      if (total > UINT32_MAX)
        return wgw_fail(&body, WG_EMALFORMED, "too many locals");
    }
    if (total > 50000)
      return wgw_fail(&body, WG_EIMPLIMIT, "too many locals (%llu, limit 50000)",
                      (unsigned long long)total);
    if (f->type >= m->ntypes) {
      /* the validator reports the bad type index */
      f->nlocals = 0;
    } else {
      const wgw_type *ft = &m->types[f->type];
      ALLOC(f->local_types, total);
      memcpy(f->local_types, ft->vt, ft->nparams);
      uint32_t k = ft->nparams;
      body.p = groups;
      for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt = 0;
        uint8_t t = 0;
        TRY(wgw_read_u32(&body, &cnt));
        TRY(read_valtype(&body, &t));
        memset(f->local_types + k, t, cnt);
        k += cnt;
      }
      f->nlocals = k;
    }
    f->body_off = (uint32_t)(body.p - r->base);
    f->body_len = (uint32_t)(body.end - body.p);
  }
fail:
  return e;
}

static wg_err sec_data(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  uint32_t n = 0;
  TRY(read_count(r, 2, "data segment", &n));
  if (m->has_datacount && n != m->datacount)
    return wgw_fail(r, WG_EDATACOUNT,
                    "data count and data section have inconsistent lengths "
                    "(%u declared, %u segments)", m->datacount, n);
  ALLOC(m->datas, n);
  m->ndatas = n;
  for (uint32_t i = 0; i < n; i++) {
    wgw_data *d = &m->datas[i];
    uint32_t flags = 0, len = 0;
    const uint8_t *p = NULL;
    TRY(wgw_read_u32(r, &flags));
    if (flags > 2) {
      r->p--;
      return wgw_fail(r, WG_EMALFORMED, "malformed data segment kind %u", flags);
    }
    d->mode = flags == 1 ? WGW_SEG_PASSIVE : WGW_SEG_ACTIVE;
    if (flags == 2) TRY(wgw_read_u32(r, &d->mem));
    if (d->mode == WGW_SEG_ACTIVE) TRY(read_expr(r, &d->offset));
    TRY(wgw_read_u32(r, &len));
    TRY(wgw_read_bytes(r, len, &p));
    d->off = (uint32_t)(p - r->base);
    d->len = len;
  }
fail:
  return e;
}

/* The name section is advisory: a malformed one is ignored. */
static void sec_names(wg_module *m, wgw_reader *r) {
  wg_error ignored;
  wg_error_clear(&ignored);
  r->err = &ignored;
  while (wgw_left(r)) {
    uint8_t id = 0;
    uint32_t size = 0;
    if (wgw_read_u8(r, &id) || wgw_read_u32(r, &size) || size > wgw_left(r))
      return;
    wgw_reader sub = {r->base, r->p, r->p + size, &ignored};
    r->p += size;
    if (id != 1) continue;
    uint32_t n = 0;
    if (read_count(&sub, 2, "name", &n)) return;
    if (!m->func_names) {
      m->func_names = wg_alloc_array(m->nfuncs ? m->nfuncs : 1, sizeof(wg_name));
      if (!m->func_names) return;
    }
    for (uint32_t i = 0; i < n; i++) {
      uint32_t idx = 0;
      wg_name nm = {0};
      if (wgw_read_u32(&sub, &idx) || wgw_read_name(&sub, &nm)) return;
      if (idx < m->nfuncs) m->func_names[idx] = nm;
    }
  }
}

static wg_err sec_custom(wg_module *m, wgw_reader *r) {
  wg_err e = WG_OK;
  wg_name name = {0};
  TRY(wgw_read_name(r, &name));
  GROW(m->customs, m->ncustoms, 1);
  wgw_custom *c = &m->customs[m->ncustoms++];
  c->name = name;
  c->off = (uint32_t)(r->p - r->base);
  c->len = (uint32_t)wgw_left(r);
  (void)sec_names;   /* parsed by wgw_decode once nfuncs is final */
  r->p = r->end;
fail:
  return e;
}

/* Order rank of each known section id; custom sections (0) go anywhere. */
static int section_rank(uint8_t id) {
  static const int8_t rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
  return id < 13 ? rank[id] : -1;
}

wg_err wgw_decode(wg_module *m, wg_error *err) {
  wgw_reader rd = {m->bytes, m->bytes, m->bytes + m->size, err};
  wgw_reader *r = &rd;
  wg_err e = WG_OK;
  const uint8_t *p = NULL;
  static const uint8_t magic[4] = {0, 'a', 's', 'm'};
  static const uint8_t version[4] = {1, 0, 0, 0};

  m->start = -1;
  if (m->size < 4 || memcmp(m->bytes, magic, 4) != 0)
    return wgw_fail(r, WG_EMAGIC, NULL);
  r->p += 4;
  if (m->size < 8 || memcmp(m->bytes + 4, version, 4) != 0)
    return wgw_fail(r, WG_EVERSION, NULL);
  r->p += 4;

  int last = 0;
  bool seen_func = false, seen_code = false;
  while (r->p < r->end) {
    uint8_t id = 0;
    uint32_t size = 0;
    int64_t sec_off = wgw_offset(r);
    TRY(wgw_read_u8(r, &id));
    if (err) err->section = id;
    int rank = section_rank(id);
    if (rank < 0) {
      r->p--;
      return wgw_fail(r, WG_ESECTION, "malformed section id %u", id);
    }
    TRY(wgw_read_u32(r, &size));
    TRY(wgw_read_bytes(r, size, &p));
    if (rank && rank <= last) {
      r->p = m->bytes + sec_off;
      return wgw_fail(r, WG_ESECORDER, "unexpected section id %u "
                      "(duplicate or out of order)", id);
    }
    if (rank) last = rank;
    wgw_reader sec = {m->bytes, p, p + size, err};
    if (err) err->section = id;
    switch (id) {
      case 0: TRY(sec_custom(m, &sec)); break;
      case 1: TRY(sec_type(m, &sec)); break;
      case 2: TRY(sec_import(m, &sec)); break;
      case 3: TRY(sec_function(m, &sec)); seen_func = true; break;
      case 4: TRY(sec_table(m, &sec)); break;
      case 5: TRY(sec_memory(m, &sec)); break;
      case 6: TRY(sec_global(m, &sec)); break;
      case 7: TRY(sec_export(m, &sec)); break;
      case 8: TRY(sec_start(m, &sec)); break;
      case 9: TRY(sec_element(m, &sec)); break;
      case 10: TRY(sec_code(m, &sec)); seen_code = true; break;
      case 11: TRY(sec_data(m, &sec)); break;
      case 12: TRY(sec_datacount(m, &sec)); break;
    }
    if (sec.p != sec.end)
      return wgw_fail(&sec, WG_ESECSIZE, "section size mismatch "
                      "(section %u has %zu bytes left over)", id, wgw_left(&sec));
  }
  if (err) err->section = -1;
  for (uint32_t i = 0; i < m->ncustoms; i++) {
    const wgw_custom *c = &m->customs[i];
    if (c->name.len == 4 && memcmp(c->name.ptr, "name", 4) == 0 && !m->func_names) {
      wgw_reader sub = {m->bytes, m->bytes + c->off, m->bytes + c->off + c->len, NULL};
      sec_names(m, &sub);
    }
  }
  if (seen_func && !seen_code && m->nfuncs > m->nfunc_imports)
    return wgw_fail(r, WG_EFUNCCODE,
                    "function and code section have inconsistent lengths");
  (void)seen_func;
  if (m->has_datacount && m->datacount != m->ndatas)
    return wgw_fail(r, WG_EDATACOUNT,
                    "data count and data section have inconsistent lengths");
fail:
  return e;
}
