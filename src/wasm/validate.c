/*
** The validator and compiler: checks a decoded module against the spec's
** validation rules and, in the same pass over each function body, emits the
** internal code the interpreter runs.
**
** Internal code: 32-bit words; an instruction is an opcode (wgw_op) followed
** by its operands. Operands name frame slots: a function's frame holds its
** locals (params first) then its operand stack, so the operand at stack
** height k lives in slot nlocals + k, known here statically. Branch targets
** are offsets relative to the word that holds them; values carried by a
** branch are moved into place by MOVE instructions before the jump. Nothing
** is decoded at run time.
**
** Fuel: each loop head (LOOP_HEAD) and each function entry (ENTER) carries
** the number of instructions of its region: the loop body, or the function
** body, without nested loops. It is charged when the region is entered, so
** every backward jump and every call pays for the code it may run.
*/
#include <stdarg.h>
#include <stdio.h>

#include "wasm/wasm_int.h"

enum { CTL_BLOCK, CTL_LOOP, CTL_IF, CTL_ELSE, CTL_FUNC };

typedef struct ctl {
  uint8_t kind;
  bool unreachable;         /* code after br/return/unreachable */
  bool dead;                /* entered from unreachable code: emit nothing */
  uint32_t height;          /* operand height at entry, below the params */
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
  uint32_t head;            /* loop: code index of LOOP_HEAD */
  uint32_t patches;         /* forward jump sites to the end (site + 1) */
  uint32_t else_site;       /* if: BR_UNLESS offset word (+1), 0 = none */
  uint32_t fuel_site;       /* loop/func: word holding the fuel cost */
  uint32_t fuel;            /* instructions counted in this region */
  uint32_t prev_fuel;       /* index of the enclosing counting ctl */
} ctl;

typedef struct comp {
  wg_module *m;
  wgw_reader r;
  wg_error *err;
  uint32_t funcidx;
  const wgw_func *fn;
  uint32_t nl;              /* locals: slot of operand 0 */
  uint8_t *vals;            /* operand types; 0 = unknown */
  uint32_t height, cap_vals, max_height;
  ctl *ctls;
  uint32_t nctls, cap_ctls;
  uint32_t fuel_idx;        /* ctl whose region counts instructions */
  uint32_t *code;
  size_t ncode, cap_code;
  wgw_trapsite *traps;
  size_t ntraps, cap_traps;
  uint32_t op_off;          /* byte offset of the current instruction */
} comp;

#define TRY(x) do { if ((e = (x)) != WG_OK) return e; } while (0)

static wg_err fail(comp *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static wg_err fail(comp *c, const char *fmt, ...) {
  wg_error *e = c->err;
  if (e && e->code == WG_OK) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->code = WG_EINVALID;
    e->offset = c->op_off;
    e->func = c->funcidx;
    e->section = 10;
    snprintf(e->message, sizeof e->message,
             "invalid function %u at offset 0x%x: %s", c->funcidx, c->op_off,
             msg);
  }
  return WG_EINVALID;
}

static wg_err nomem(comp *c) {
  return wg_error_set(c->err, WG_ENOMEM, NULL);
}

static const char *tname(uint8_t t) {
  switch (t) {
    case WG_I32: return "i32";
    case WG_I64: return "i64";
    case WG_F32: return "f32";
    case WG_F64: return "f64";
    case WG_V128: return "v128";
    case WG_FUNCREF: return "funcref";
    case WG_EXTERNREF: return "externref";
    default: return "unknown";
  }
}

/* ------------------------------------------------------------------ */
/* Emission                                                            */

static inline bool live(const comp *c) {
  const ctl *t = &c->ctls[c->nctls - 1];
  return !t->unreachable && !t->dead;
}

static wg_err grow_code(comp *c, size_t need) {
  if (c->ncode + need <= c->cap_code) return WG_OK;
  size_t cap = c->cap_code ? c->cap_code * 2 : 1024;
  while (cap < c->ncode + need) cap *= 2;
  if (cap > UINT32_MAX / 2) return wg_error_set(c->err, WG_EIMPLIMIT, "code too large");
  uint32_t *p = wg_grow_array(c->code, c->cap_code, cap, sizeof *p);
  if (!p) return nomem(c);
  c->code = p;
  c->cap_code = cap;
  return WG_OK;
}

static wg_err emit(comp *c, int n, ...) {
  wg_err e;
  TRY(grow_code(c, (size_t)n));
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) c->code[c->ncode++] = va_arg(ap, uint32_t);
  va_end(ap);
  return WG_OK;
}
#define EMIT(...) TRY(emit(c, WG_NARGS(__VA_ARGS__), __VA_ARGS__))
#define WG_NARGS(...) WG_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1)
#define WG_NARGS_(a, b, c, d, e, f, g, h, n, ...) n

static wg_err note_trap(comp *c) {
  if (c->ntraps == c->cap_traps) {
    size_t cap = c->cap_traps ? c->cap_traps * 2 : 64;
    wgw_trapsite *p = wg_grow_array(c->traps, c->cap_traps, cap, sizeof *p);
    if (!p) return nomem(c);
    c->traps = p;
    c->cap_traps = cap;
  }
  c->traps[c->ntraps].ip = (uint32_t)c->ncode;
  c->traps[c->ntraps].off = c->op_off;
  c->ntraps++;
  return WG_OK;
}

/* Links a jump-offset word at `site` into the forward list of label l. */
static void link_forward(comp *c, ctl *l, uint32_t site) {
  c->code[site] = l->patches;
  l->patches = site + 1;
}

static void patch_to_here(comp *c, uint32_t list) {
  while (list) {
    uint32_t site = list - 1;
    list = c->code[site];
    c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
  }
}

static inline uint32_t slot(const comp *c, uint32_t h) { return c->nl + h; }

/* ------------------------------------------------------------------ */
/* Operand and control stacks                                          */

static wg_err push(comp *c, uint8_t t) {
  if (c->height == c->cap_vals) {
    uint32_t cap = c->cap_vals ? c->cap_vals * 2 : 64;
    if (cap > 1u << 20) return wg_error_set(c->err, WG_EIMPLIMIT, "operand stack too deep");
    uint8_t *p = wg_grow_array(c->vals, c->cap_vals, cap, 1);
    if (!p) return nomem(c);
    c->vals = p;
    c->cap_vals = cap;
  }
  c->vals[c->height++] = t;
  if (c->height > c->max_height) c->max_height = c->height;
  return WG_OK;
}

/* Pops one operand that must have type `want` (0 = any); *got its type. */
static wg_err pop(comp *c, uint8_t want, uint8_t *got) {
  ctl *t = &c->ctls[c->nctls - 1];
  if (c->height == t->height) {
    if (t->unreachable) {
      if (got) *got = 0;
      return WG_OK;
    }
    return fail(c, "type mismatch: expected %s but the stack is empty",
                want ? tname(want) : "a value");
  }
  uint8_t v = c->vals[--c->height];
  if (want && v && v != want)
    return fail(c, "type mismatch: expected %s, got %s", tname(want), tname(v));
  if (got) *got = v;
  return WG_OK;
}

static wg_err pop_types(comp *c, const uint8_t *ts, uint32_t n) {
  wg_err e;
  for (uint32_t i = n; i-- > 0;) TRY(pop(c, ts[i], NULL));
  return WG_OK;
}

static wg_err push_types(comp *c, const uint8_t *ts, uint32_t n) {
  wg_err e;
  for (uint32_t i = 0; i < n; i++) TRY(push(c, ts[i]));
  return WG_OK;
}

static wg_err push_ctl(comp *c, uint8_t kind, const uint8_t *params,
                       uint32_t np, const uint8_t *results, uint32_t nr) {
  if (c->nctls == c->cap_ctls) {
    uint32_t cap = c->cap_ctls ? c->cap_ctls * 2 : 16;
    if (cap > 1u << 16) return wg_error_set(c->err, WG_EIMPLIMIT, "blocks nested too deeply");
    ctl *p = wg_grow_array(c->ctls, c->cap_ctls, cap, sizeof *p);
    if (!p) return nomem(c);
    c->ctls = p;
    c->cap_ctls = cap;
  }
  ctl *t = &c->ctls[c->nctls];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->params = params;
  t->nparams = np;
  t->results = results;
  t->nresults = nr;
  t->height = c->height - np;
  if (c->nctls) {
    const ctl *up = &c->ctls[c->nctls - 1];
    t->dead = up->dead || up->unreachable;
  }
  c->nctls++;
  return WG_OK;
}

static void set_unreachable(comp *c) {
  ctl *t = &c->ctls[c->nctls - 1];
  c->height = t->height;
  t->unreachable = true;
}

static inline uint32_t label_arity(const ctl *l) {
  return l->kind == CTL_LOOP ? l->nparams : l->nresults;
}
static inline const uint8_t *label_types(const ctl *l) {
  return l->kind == CTL_LOOP ? l->params : l->results;
}

/* Checks that the top of the stack holds the label's types, without popping. */
static wg_err check_label_values(comp *c, const ctl *l) {
  uint32_t n = label_arity(l);
  const uint8_t *ts = label_types(l);
  const ctl *t = &c->ctls[c->nctls - 1];
  for (uint32_t i = 0; i < n; i++) {
    uint8_t want = ts[n - 1 - i];
    if (c->height < t->height + i + 1) {
      if (t->unreachable) continue;
      return fail(c, "type mismatch: branch expects %u values", n);
    }
    uint8_t v = c->vals[c->height - 1 - i];
    if (v && v != want)
      return fail(c, "type mismatch: branch expects %s, got %s", tname(want),
                  tname(v));
  }
  return WG_OK;
}

/* Emits the moves that put a branch's values where label l wants them. */
static wg_err emit_moves(comp *c, uint32_t dst_h, uint32_t n) {
  wg_err e;
  uint32_t src_h = c->height - n;
  if (src_h == dst_h) return WG_OK;
  for (uint32_t i = 0; i < n; i++) EMIT(WGOP_MOVE, slot(c, dst_h + i), slot(c, src_h + i));
  return WG_OK;
}

static bool needs_moves(const comp *c, const ctl *l) {
  uint32_t n = label_arity(l);
  if (l->kind == CTL_FUNC) return true;
  return c->height - n != l->height;
}

/* Returns from the function: results to slots 0.., then RET. */
static wg_err emit_return(comp *c) {
  wg_err e;
  uint32_t n = c->ctls[0].nresults;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t src = slot(c, c->height - n + i);
    if (src != i) EMIT(WGOP_MOVE, i, src);
  }
  EMIT(WGOP_RET);
  return WG_OK;
}

/* Emits an unconditional branch to label l (values already checked). */
static wg_err emit_branch(comp *c, ctl *l) {
  wg_err e;
  if (l->kind == CTL_FUNC) return emit_return(c);
  TRY(emit_moves(c, l->height, label_arity(l)));
  EMIT(WGOP_JUMP, 0);
  uint32_t site = (uint32_t)c->ncode - 1;
  if (l->kind == CTL_LOOP) c->code[site] = (uint32_t)((int32_t)l->head - (int32_t)site);
  else link_forward(c, l, site);
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* Immediates                                                          */

static wg_err read_blocktype(comp *c, const uint8_t **params, uint32_t *np,
                             const uint8_t **results, uint32_t *nr) {
  static const uint8_t single[] = {WG_I32, WG_I64, WG_F32, WG_F64, WG_V128,
                                   WG_FUNCREF, WG_EXTERNREF};
  int64_t v = 0;
  wg_err e;
  TRY(wgw_read_s33(&c->r, &v));
  *np = 0;
  *params = NULL;
  if (v == -64) {
    *nr = 0;
    *results = NULL;
    return WG_OK;
  }
  if (v < 0) {
    uint8_t t = (uint8_t)(v & 0x7F);
    for (size_t i = 0; i < sizeof single; i++)
      if (single[i] == t) {
        if (t == WG_V128) return fail(c, "v128 (SIMD) is not supported yet");
        *results = &single[i];
        *nr = 1;
        return WG_OK;
      }
    return wgw_fail(&c->r, WG_EMALFORMED, "malformed block type");
  }
  if ((uint64_t)v >= c->m->ntypes) return fail(c, "unknown type %lld", (long long)v);
  const wgw_type *ft = &c->m->types[v];
  *params = ft->vt;
  *np = ft->nparams;
  *results = ft->vt + ft->nparams;
  *nr = ft->nresults;
  return WG_OK;
}

static wg_err read_idx(comp *c, uint32_t limit, const char *what, uint32_t *out) {
  wg_err e;
  TRY(wgw_read_u32(&c->r, out));
  if (*out >= limit) return fail(c, "unknown %s %u", what, *out);
  return WG_OK;
}

static wg_err read_memarg(comp *c, uint32_t msize, uint32_t *offset) {
  uint32_t align = 0;
  wg_err e;
  TRY(wgw_read_u32(&c->r, &align));
  TRY(wgw_read_u32(&c->r, offset));
  if (c->m->nmems == 0) return fail(c, "unknown memory 0");
  if (align >= 32 || (1u << align) > msize)
    return fail(c, "alignment must not be larger than natural");
  return WG_OK;
}

static wg_err read_memidx(comp *c) {
  uint8_t b = 0;
  wg_err e;
  TRY(wgw_read_u8(&c->r, &b));
  if (b != 0) return wgw_fail(&c->r, WG_EMALFORMED, "zero byte expected");
  if (c->m->nmems == 0) return fail(c, "unknown memory 0");
  return WG_OK;
}

static uint8_t sigtype(char ch) {
  switch (ch) {
    case 'i': return WG_I32;
    case 'I': return WG_I64;
    case 'f': return WG_F32;
    case 'F': return WG_F64;
    default: return 0;
  }
}

/* ------------------------------------------------------------------ */
/* Instructions                                                        */

/* A numeric or memory instruction described fully by its signature. */
static wg_err simple_op(comp *c, uint32_t op) {
  const wgw_opinfo *oi = &wgw_ops[op];
  const char *sig = oi->sig;
  const char *colon = strchr(sig, ':');
  uint32_t np = (uint32_t)(colon - sig);
  uint32_t offset = 0;
  wg_err e;
  if (oi->imm == WG_IMM_MEM) TRY(read_memarg(c, oi->msize, &offset));
  for (uint32_t i = np; i-- > 0;) TRY(pop(c, sigtype(sig[i]), NULL));
  uint32_t a = slot(c, c->height);
  bool has_result = colon[1] != 0;
  if (has_result) TRY(push(c, sigtype(colon[1])));
  if (!live(c)) return WG_OK;
  switch (op) {
    case WGOP_I32_WRAP_I64:           /* same bits in the slot: no code */
    case WGOP_I32_REINTERPRET_F32:
    case WGOP_I64_REINTERPRET_F64:
    case WGOP_F32_REINTERPRET_I32:
    case WGOP_F64_REINTERPRET_I64:
      return WG_OK;
  }
  if (oi->trap) TRY(note_trap(c));
  if (oi->imm == WG_IMM_MEM) {
    if (has_result) EMIT(op, a, a, offset);
    else EMIT(op, a, a + 1, offset);
  } else if (np == 2) {
    EMIT(op, a, a, a + 1);
  } else {
    EMIT(op, a, a);
  }
  return WG_OK;
}

static wg_err op_block(comp *c, uint32_t op) {
  const uint8_t *params = NULL, *results = NULL;
  uint32_t np = 0, nr = 0;
  wg_err e;
  TRY(read_blocktype(c, &params, &np, &results, &nr));
  uint32_t cond = 0;
  if (op == WGOP_IF) {
    TRY(pop(c, WG_I32, NULL));
    cond = slot(c, c->height);
  }
  TRY(pop_types(c, params, np));
  TRY(push_types(c, params, np));
  bool was_live = live(c);
  TRY(push_ctl(c, op == WGOP_BLOCK ? CTL_BLOCK : op == WGOP_LOOP ? CTL_LOOP : CTL_IF,
               params, np, results, nr));
  ctl *t = &c->ctls[c->nctls - 1];
  if (!was_live) return WG_OK;
  if (op == WGOP_LOOP) {
    TRY(note_trap(c));
    t->head = (uint32_t)c->ncode;
    EMIT(WGOP_LOOP_HEAD, 0);
    t->fuel_site = (uint32_t)c->ncode - 1;
    t->prev_fuel = c->fuel_idx;
    c->fuel_idx = c->nctls - 1;
  } else if (op == WGOP_IF) {
    EMIT(WGOP_BR_UNLESS, cond, 0);
    t->else_site = (uint32_t)c->ncode;    /* site + 1 */
  }
  return WG_OK;
}

static wg_err op_else(comp *c) {
  ctl *t = &c->ctls[c->nctls - 1];
  wg_err e;
  if (t->kind != CTL_IF) return fail(c, "else without a matching if");
  TRY(pop_types(c, t->results, t->nresults));
  if (c->height != t->height) return fail(c, "type mismatch: values left at the end of the block");
  if (live(c)) {
    EMIT(WGOP_JUMP, 0);
    link_forward(c, t, (uint32_t)c->ncode - 1);
  }
  if (t->else_site) {
    uint32_t site = t->else_site - 1;
    c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
    t->else_site = 0;
  }
  t->kind = CTL_ELSE;
  t->unreachable = false;
  c->height = t->height;
  return push_types(c, t->params, t->nparams);
}

static wg_err op_end(comp *c, bool *done) {
  ctl *t = &c->ctls[c->nctls - 1];
  wg_err e;
  TRY(pop_types(c, t->results, t->nresults));
  if (c->height != t->height) return fail(c, "type mismatch: values left at the end of the block");
  if (t->kind == CTL_IF) {
    /* no else: the implicit else passes the params through */
    if (t->nparams != t->nresults ||
        (t->nparams && memcmp(t->params, t->results, t->nparams) != 0))
      return fail(c, "type mismatch: if without else must not change the stack");
    if (t->else_site) {
      uint32_t site = t->else_site - 1;
      c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
    }
  }
  if (t->kind == CTL_FUNC) {
    c->height += t->nresults;   /* the results, for emit_return */
    if (live(c)) TRY(emit_return(c));
    c->height -= t->nresults;
    *done = true;
    c->nctls--;
    return WG_OK;
  }
  if (t->kind == CTL_LOOP && !t->dead) {
    c->code[t->fuel_site] = t->fuel;
    c->fuel_idx = t->prev_fuel;
  }
  patch_to_here(c, t->patches);
  const uint8_t *results = t->results;
  uint32_t nr = t->nresults;
  c->nctls--;
  return push_types(c, results, nr);
}

static wg_err op_br(comp *c, uint32_t op) {
  uint32_t depth = 0;
  wg_err e;
  TRY(wgw_read_u32(&c->r, &depth));
  if (depth >= c->nctls) return fail(c, "unknown label %u", depth);
  ctl *l = &c->ctls[c->nctls - 1 - depth];
  if (op == WGOP_BR) {
    TRY(check_label_values(c, l));
    if (live(c)) TRY(emit_branch(c, l));
    set_unreachable(c);
    return WG_OK;
  }
  /* br_if */
  TRY(pop(c, WG_I32, NULL));
  uint32_t cond = slot(c, c->height);
  TRY(check_label_values(c, l));
  /* the label's values stay; in unreachable code they take its types */
  uint32_t n = label_arity(l);
  const uint8_t *ts = label_types(l);
  TRY(pop_types(c, ts, n));
  TRY(push_types(c, ts, n));
  if (!live(c)) return WG_OK;
  if (!needs_moves(c, l)) {
    EMIT(WGOP_BR_IF_NZ, cond, 0);
    uint32_t site = (uint32_t)c->ncode - 1;
    if (l->kind == CTL_LOOP) c->code[site] = (uint32_t)((int32_t)l->head - (int32_t)site);
    else link_forward(c, l, site);
    return WG_OK;
  }
  EMIT(WGOP_BR_UNLESS, cond, 0);
  uint32_t skip = (uint32_t)c->ncode - 1;
  TRY(emit_branch(c, l));
  c->code[skip] = (uint32_t)((int32_t)c->ncode - (int32_t)skip);
  return WG_OK;
}

static wg_err op_br_table(comp *c) {
  uint32_t n = 0;
  wg_err e;
  TRY(wgw_read_u32(&c->r, &n));
  if (n > wgw_left(&c->r)) return wgw_fail(&c->r, WG_ECOUNT, "br_table count exceeds the bytes left");
  const uint8_t *labels = c->r.p;
  uint32_t depth = 0;
  for (uint32_t i = 0; i < n; i++) TRY(wgw_read_u32(&c->r, &depth));
  uint32_t def = 0;
  TRY(wgw_read_u32(&c->r, &def));
  if (def >= c->nctls) return fail(c, "unknown label %u", def);
  TRY(pop(c, WG_I32, NULL));
  uint32_t cond = slot(c, c->height);
  ctl *dl = &c->ctls[c->nctls - 1 - def];
  uint32_t arity = label_arity(dl);
  const uint8_t *end = c->r.p;
  c->r.p = labels;
  for (uint32_t i = 0; i <= n; i++) {
    if (i < n) TRY(wgw_read_u32(&c->r, &depth));
    else depth = def;
    if (depth >= c->nctls) return fail(c, "unknown label %u", depth);
    ctl *l = &c->ctls[c->nctls - 1 - depth];
    if (label_arity(l) != arity) return fail(c, "type mismatch: br_table labels have different arities");
    TRY(check_label_values(c, l));
  }
  bool emitting = live(c);
  if (emitting) {
    TRY(note_trap(c));
    EMIT(WGOP_BR_TBL, cond, n);
    uint32_t table = (uint32_t)c->ncode;
    TRY(grow_code(c, (size_t)n + 1));
    c->ncode += (size_t)n + 1;
    c->r.p = labels;
    for (uint32_t i = 0; i <= n; i++) {
      if (i < n) TRY(wgw_read_u32(&c->r, &depth));
      else depth = def;
      ctl *l = &c->ctls[c->nctls - 1 - depth];
      uint32_t site = table + i;
      if (!needs_moves(c, l)) {
        if (l->kind == CTL_LOOP) c->code[site] = (uint32_t)((int32_t)l->head - (int32_t)site);
        else link_forward(c, l, site);
      } else {
        c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
        TRY(emit_branch(c, l));
      }
    }
  }
  c->r.p = end;
  set_unreachable(c);
  return WG_OK;
}

static wg_err do_call(comp *c, uint32_t funcidx) {
  const wgw_type *ft = &c->m->types[c->m->func_types[funcidx]];
  wg_err e;
  TRY(pop_types(c, ft->vt, ft->nparams));
  uint32_t base = slot(c, c->height);
  TRY(push_types(c, ft->vt + ft->nparams, ft->nresults));
  if (!live(c)) return WG_OK;
  TRY(note_trap(c));
  if (funcidx >= c->m->nfunc_imports) EMIT(WGOP_CALL_LOCAL, funcidx - c->m->nfunc_imports, base);
  else EMIT(WGOP_CALL_FUNC, funcidx, base);
  return WG_OK;
}

static wg_err op_call_indirect(comp *c) {
  uint32_t typeidx = 0, table = 0;
  wg_err e;
  TRY(read_idx(c, c->m->ntypes, "type", &typeidx));
  TRY(read_idx(c, c->m->ntables, "table", &table));
  if (c->m->tables[table].elem != WG_FUNCREF)
    return fail(c, "type mismatch: call_indirect on a table of %s",
                tname(c->m->tables[table].elem));
  const wgw_type *ft = &c->m->types[typeidx];
  TRY(pop(c, WG_I32, NULL));
  uint32_t idx = slot(c, c->height);
  TRY(pop_types(c, ft->vt, ft->nparams));
  uint32_t base = slot(c, c->height);
  TRY(push_types(c, ft->vt + ft->nparams, ft->nresults));
  if (!live(c)) return WG_OK;
  TRY(note_trap(c));
  EMIT(WGOP_CALL_IND, typeidx, table, base, idx);
  return WG_OK;
}

static bool is_num(uint8_t t) {
  return t == WG_I32 || t == WG_I64 || t == WG_F32 || t == WG_F64 || t == WG_V128;
}
static bool is_ref(uint8_t t) { return t == WG_FUNCREF || t == WG_EXTERNREF; }

static wg_err op_select(comp *c, uint32_t op) {
  wg_err e;
  uint8_t t = 0;
  if (op == WGOP_SELECT_T) {
    uint32_t n = 0;
    TRY(wgw_read_u32(&c->r, &n));
    if (n != 1) return fail(c, "invalid result arity for select");
    TRY(wgw_read_u8(&c->r, &t));
    if (!is_num(t) && !is_ref(t)) return wgw_fail(&c->r, WG_EMALFORMED, "malformed value type");
  }
  TRY(pop(c, WG_I32, NULL));
  uint8_t t1 = 0, t2 = 0;
  TRY(pop(c, t, &t1));
  TRY(pop(c, t, &t2));
  if (op == WGOP_SELECT) {
    if ((t1 && !is_num(t1)) || (t2 && !is_num(t2)))
      return fail(c, "type mismatch: select without a type needs numeric operands");
    if (t1 && t2 && t1 != t2) return fail(c, "type mismatch: select operands differ");
    t = t1 ? t1 : t2;
  }
  uint32_t a = slot(c, c->height);
  TRY(push(c, t));
  if (live(c)) EMIT(WGOP_SELECT, a, a, a + 1, a + 2);
  return WG_OK;
}

static wg_err local_type(comp *c, uint32_t *idx, uint8_t *t) {
  wg_err e;
  TRY(read_idx(c, c->fn->nlocals, "local", idx));
  *t = c->fn->local_types[*idx];
  return WG_OK;
}

static wg_err op_variable(comp *c, uint32_t op) {
  uint32_t x = 0;
  uint8_t t = 0;
  wg_err e;
  switch (op) {
    case WGOP_LOCAL_GET:
      TRY(local_type(c, &x, &t));
      TRY(push(c, t));
      if (live(c)) EMIT(WGOP_MOVE, slot(c, c->height - 1), x);
      return WG_OK;
    case WGOP_LOCAL_SET:
      TRY(local_type(c, &x, &t));
      TRY(pop(c, t, NULL));
      if (live(c)) EMIT(WGOP_MOVE, x, slot(c, c->height));
      return WG_OK;
    case WGOP_LOCAL_TEE:
      TRY(local_type(c, &x, &t));
      TRY(pop(c, t, NULL));
      TRY(push(c, t));
      if (live(c)) EMIT(WGOP_MOVE, x, slot(c, c->height - 1));
      return WG_OK;
    case WGOP_GLOBAL_GET:
      TRY(read_idx(c, c->m->nglobals, "global", &x));
      TRY(push(c, c->m->globals[x].type));
      if (live(c)) EMIT(WGOP_GLOBAL_GET, slot(c, c->height - 1), x);
      return WG_OK;
    default: /* global.set */
      TRY(read_idx(c, c->m->nglobals, "global", &x));
      if (!c->m->globals[x].mut) return fail(c, "global %u is immutable", x);
      TRY(pop(c, c->m->globals[x].type, NULL));
      if (live(c)) EMIT(WGOP_GLOBAL_SET, x, slot(c, c->height));
      return WG_OK;
  }
}

static wg_err op_table(comp *c, uint32_t op) {
  wg_err e;
  uint32_t x = 0, y = 0;
  uint32_t s = 0;
  if (op == WGOP_ELEM_DROP) {
    TRY(read_idx(c, c->m->nelems, "elem segment", &x));
    if (live(c)) EMIT(op, x);
    return WG_OK;
  }
  if (op == WGOP_TABLE_INIT) {
    TRY(read_idx(c, c->m->nelems, "elem segment", &y));
    TRY(read_idx(c, c->m->ntables, "table", &x));
    if (c->m->elems[y].type != c->m->tables[x].elem)
      return fail(c, "type mismatch: table.init of %s into a table of %s",
                  tname(c->m->elems[y].type), tname(c->m->tables[x].elem));
    TRY(pop(c, WG_I32, NULL));
    TRY(pop(c, WG_I32, NULL));
    TRY(pop(c, WG_I32, NULL));
    s = slot(c, c->height);
    if (live(c)) { TRY(note_trap(c)); EMIT(op, x, y, s, s + 1, s + 2); }
    return WG_OK;
  }
  if (op == WGOP_TABLE_COPY) {
    TRY(read_idx(c, c->m->ntables, "table", &x));
    TRY(read_idx(c, c->m->ntables, "table", &y));
    if (c->m->tables[x].elem != c->m->tables[y].elem)
      return fail(c, "type mismatch: table.copy between tables of different types");
    TRY(pop(c, WG_I32, NULL));
    TRY(pop(c, WG_I32, NULL));
    TRY(pop(c, WG_I32, NULL));
    s = slot(c, c->height);
    if (live(c)) { TRY(note_trap(c)); EMIT(op, x, y, s, s + 1, s + 2); }
    return WG_OK;
  }
  TRY(read_idx(c, c->m->ntables, "table", &x));
  uint8_t et = c->m->tables[x].elem;
  switch (op) {
    case WGOP_TABLE_GET:
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      TRY(push(c, et));
      if (live(c)) { TRY(note_trap(c)); EMIT(op, s, s, x); }
      return WG_OK;
    case WGOP_TABLE_SET:
      TRY(pop(c, et, NULL));
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      if (live(c)) { TRY(note_trap(c)); EMIT(op, x, s, s + 1); }
      return WG_OK;
    case WGOP_TABLE_SIZE:
      s = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(op, s, x);
      return WG_OK;
    case WGOP_TABLE_GROW:
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, et, NULL));
      s = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(op, s, s, s + 1, x);
      return WG_OK;
    default: /* table.fill */
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, et, NULL));
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      if (live(c)) { TRY(note_trap(c)); EMIT(op, x, s, s + 1, s + 2); }
      return WG_OK;
  }
}

static wg_err op_memory(comp *c, uint32_t op) {
  wg_err e;
  uint32_t s = 0, x = 0;
  switch (op) {
    case WGOP_MEMORY_SIZE:
      TRY(read_memidx(c));
      s = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(op, s);
      return WG_OK;
    case WGOP_MEMORY_GROW:
      TRY(read_memidx(c));
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(op, s, s);
      return WG_OK;
    case WGOP_MEMORY_FILL:
    case WGOP_MEMORY_COPY:
      TRY(read_memidx(c));
      if (op == WGOP_MEMORY_COPY) TRY(read_memidx(c));
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      if (live(c)) { TRY(note_trap(c)); EMIT(op, s, s + 1, s + 2); }
      return WG_OK;
    case WGOP_MEMORY_INIT:
      TRY(wgw_read_u32(&c->r, &x));
      if (!c->m->has_datacount)
        return wgw_fail(&c->r, WG_ENODATACOUNT, "data count section required");
      if (x >= c->m->datacount) return fail(c, "unknown data segment %u", x);
      TRY(read_memidx(c));
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, WG_I32, NULL));
      TRY(pop(c, WG_I32, NULL));
      s = slot(c, c->height);
      if (live(c)) { TRY(note_trap(c)); EMIT(op, x, s, s + 1, s + 2); }
      return WG_OK;
    default: /* data.drop */
      TRY(wgw_read_u32(&c->r, &x));
      if (!c->m->has_datacount)
        return wgw_fail(&c->r, WG_ENODATACOUNT, "data count section required");
      if (x >= c->m->datacount) return fail(c, "unknown data segment %u", x);
      if (live(c)) EMIT(op, x);
      return WG_OK;
  }
}

static wg_err op_const(comp *c, uint32_t op) {
  wg_err e;
  uint32_t s = slot(c, c->height);
  bool emitting = live(c);
  switch (op) {
    case WGOP_I32_CONST: {
      int32_t v = 0;
      TRY(wgw_read_s32(&c->r, &v));
      TRY(push(c, WG_I32));
      if (emitting) EMIT(WGOP_I32_CONST, s, (uint32_t)v);
      return WG_OK;
    }
    case WGOP_I64_CONST: {
      int64_t v = 0;
      TRY(wgw_read_s64(&c->r, &v));
      TRY(push(c, WG_I64));
      if (emitting) EMIT(WGOP_I64_CONST, s, (uint32_t)(uint64_t)v, (uint32_t)((uint64_t)v >> 32));
      return WG_OK;
    }
    case WGOP_F32_CONST: {
      const uint8_t *p = NULL;
      uint32_t v = 0;
      TRY(wgw_read_bytes(&c->r, 4, &p));
      memcpy(&v, p, 4);
      TRY(push(c, WG_F32));
      if (emitting) EMIT(WGOP_I32_CONST, s, v);
      return WG_OK;
    }
    default: {
      const uint8_t *p = NULL;
      uint64_t v = 0;
      TRY(wgw_read_bytes(&c->r, 8, &p));
      memcpy(&v, p, 8);
      TRY(push(c, WG_F64));
      if (emitting) EMIT(WGOP_I64_CONST, s, (uint32_t)v, (uint32_t)(v >> 32));
      return WG_OK;
    }
  }
}

static wg_err op_ref(comp *c, uint32_t op) {
  wg_err e;
  uint32_t s = slot(c, c->height);
  if (op == WGOP_REF_NULL) {
    uint8_t t = 0;
    TRY(wgw_read_u8(&c->r, &t));
    if (!is_ref(t)) return wgw_fail(&c->r, WG_EMALFORMED, "malformed reference type");
    TRY(push(c, t));
    if (live(c)) EMIT(WGOP_I64_CONST, s, 0, 0);
    return WG_OK;
  }
  if (op == WGOP_REF_IS_NULL) {
    uint8_t t = 0;
    TRY(pop(c, 0, &t));
    if (t && !is_ref(t)) return fail(c, "type mismatch: ref.is_null of %s", tname(t));
    s = slot(c, c->height);
    TRY(push(c, WG_I32));
    if (live(c)) EMIT(op, s, s);
    return WG_OK;
  }
  uint32_t x = 0;
  TRY(read_idx(c, c->m->nfuncs, "function", &x));
  if (!(c->m->declared_funcs[x / 8] & (1u << (x % 8))))
    return fail(c, "undeclared function reference %u", x);
  TRY(push(c, WG_FUNCREF));
  if (live(c)) EMIT(op, s, x);
  return WG_OK;
}

static wg_err instruction(comp *c, bool *done) {
  uint8_t b = 0;
  uint32_t op = 0;
  wg_err e;
  c->op_off = (uint32_t)wgw_offset(&c->r);
  TRY(wgw_read_u8(&c->r, &b));
  if (b == 0xFC) {
    uint32_t sub = 0;
    TRY(wgw_read_u32(&c->r, &sub));
    op = sub < 32 ? wgw_op_by_fc[sub] : 0xFFFF;
    if (op == 0xFFFF) return wgw_fail(&c->r, WG_EMALFORMED, "illegal opcode 0xfc %u", sub);
  } else if (b == 0xFD) {
    return wgw_fail(&c->r, WG_EMALFORMED, "SIMD instructions (0xfd) are not supported yet");
  } else {
    op = wgw_op_by_byte[b];
    if (op == 0xFFFF) return wgw_fail(&c->r, WG_EMALFORMED, "illegal opcode 0x%02x", b);
  }
  c->ctls[c->fuel_idx].fuel++;
  const wgw_opinfo *oi = &wgw_ops[op];
  if (oi->sig[0]) return simple_op(c, op);
  switch (op) {
    case WGOP_UNREACHABLE:
      if (live(c)) { TRY(note_trap(c)); EMIT(WGOP_TRAP, WG_TRAP_UNREACHABLE); }
      set_unreachable(c);
      return WG_OK;
    case WGOP_NOP: return WG_OK;
    case WGOP_BLOCK: case WGOP_LOOP: case WGOP_IF: return op_block(c, op);
    case WGOP_ELSE: return op_else(c);
    case WGOP_END: return op_end(c, done);
    case WGOP_BR: case WGOP_BR_IF: return op_br(c, op);
    case WGOP_BR_TABLE: return op_br_table(c);
    case WGOP_RETURN:
      TRY(pop_types(c, c->ctls[0].results, c->ctls[0].nresults));
      c->height += c->ctls[0].nresults;
      if (live(c)) TRY(emit_return(c));
      set_unreachable(c);
      return WG_OK;
    case WGOP_CALL: {
      uint32_t x = 0;
      TRY(read_idx(c, c->m->nfuncs, "function", &x));
      return do_call(c, x);
    }
    case WGOP_CALL_INDIRECT: return op_call_indirect(c);
    case WGOP_REF_NULL: case WGOP_REF_IS_NULL: case WGOP_REF_FUNC: return op_ref(c, op);
    case WGOP_DROP: return pop(c, 0, NULL);
    case WGOP_SELECT: case WGOP_SELECT_T: return op_select(c, op);
    case WGOP_LOCAL_GET: case WGOP_LOCAL_SET: case WGOP_LOCAL_TEE:
    case WGOP_GLOBAL_GET: case WGOP_GLOBAL_SET: return op_variable(c, op);
    case WGOP_TABLE_GET: case WGOP_TABLE_SET: case WGOP_TABLE_INIT:
    case WGOP_ELEM_DROP: case WGOP_TABLE_COPY: case WGOP_TABLE_GROW:
    case WGOP_TABLE_SIZE: case WGOP_TABLE_FILL: return op_table(c, op);
    case WGOP_MEMORY_SIZE: case WGOP_MEMORY_GROW: case WGOP_MEMORY_INIT:
    case WGOP_DATA_DROP: case WGOP_MEMORY_COPY: case WGOP_MEMORY_FILL:
      return op_memory(c, op);
    case WGOP_I32_CONST: case WGOP_I64_CONST: case WGOP_F32_CONST:
    case WGOP_F64_CONST: return op_const(c, op);
    default:
      return wgw_fail(&c->r, WG_EMALFORMED, "illegal opcode %s", oi->name);
  }
}

static wg_err compile_func(comp *c, uint32_t i) {
  wg_module *m = c->m;
  wgw_func *fn = &m->funcs[i];
  const wgw_type *ft = &m->types[fn->type];
  wg_err e;
  c->funcidx = m->nfunc_imports + i;
  c->fn = fn;
  c->nl = fn->nlocals;
  c->height = c->max_height = 0;
  c->nctls = 0;
  c->r.p = m->bytes + fn->body_off;
  c->r.end = c->r.p + fn->body_len;
  c->op_off = fn->body_off;
  for (uint32_t k = 0; k < fn->nlocals; k++)
    if (fn->local_types[k] == WG_V128) return fail(c, "v128 (SIMD) is not supported yet");
  fn->code = (uint32_t)c->ncode;
  fn->traps = (uint32_t)c->ntraps;
  TRY(push_ctl(c, CTL_FUNC, NULL, 0, ft->vt + ft->nparams, ft->nresults));
  c->fuel_idx = 0;
  TRY(note_trap(c));
  EMIT(WGOP_ENTER, 0, ft->nparams, fn->nlocals);
  c->ctls[0].fuel_site = (uint32_t)c->ncode - 3;
  bool done = false;
  while (!done) {
    if (c->r.p >= c->r.end) {
      c->op_off = (uint32_t)wgw_offset(&c->r);
      return wgw_fail(&c->r, WG_EEOF, "unexpected end of function body (missing end)");
    }
    TRY(instruction(c, &done));
  }
  if (c->r.p != c->r.end)
    return wgw_fail(&c->r, WG_ESECSIZE, "section size mismatch: bytes after the function's end");
  c->code[fn->code + 1] = c->ctls[0].fuel;
  (void)c->ctls;
  fn->frame_size = fn->nlocals + c->max_height + 1;
  fn->ntraps = (uint32_t)c->ntraps - fn->traps;
  return WG_OK;
}

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
                 tname(want));
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
                     tname(s->type), tname(m->tables[s->table].elem));
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
  comp cc;
  memset(&cc, 0, sizeof cc);
  comp *c = &cc;
  c->m = m;
  c->err = err;
  c->r.base = m->bytes;
  c->r.err = err;
  uint32_t ndef = m->nfuncs - m->nfunc_imports;
  for (uint32_t i = 0; i < ndef && !e; i++) e = compile_func(c, i);
  if (!e) {
    /* shrink to fit: the module keeps the code for its lifetime */
    uint32_t *code = wg_grow_array(c->code, c->cap_code, c->ncode ? c->ncode : 1, sizeof *code);
    if (code) { c->code = code; c->cap_code = c->ncode ? c->ncode : 1; }
    m->code = c->code;
    m->ncode = c->cap_code;
    m->trapsites = c->traps;
    m->ntrapsites = c->cap_traps;
    c->code = NULL;
    c->traps = NULL;
  }
  if (e && err && err->func < 0 && e != WG_ENOMEM && c->funcidx) err->func = c->funcidx;
  wg_free(c->code, c->cap_code * sizeof *c->code);
  wg_free(c->traps, c->cap_traps * sizeof *c->traps);
  wg_free(c->vals, c->cap_vals);
  wg_free(c->ctls, c->cap_ctls * sizeof *c->ctls);
  return e;
}
