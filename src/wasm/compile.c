/*
** The function compiler: validates one function body with the spec's
** algorithm (operand and control stacks, polymorphic stack after
** unreachable code) and, in the same pass, emits the internal code the
** interpreter runs.
**
** Internal code: 32-bit words; an instruction is an opcode (wgw_op) followed
** by its operands. Operands name frame slots. A frame holds
**
**     [locals (params first)] [operand stack] [constants]
**
** so the operand at stack height k lives in slot nlocals + nconsts + k, known here
** statically. Each operand-stack entry also remembers where its value
** currently is: its own slot, a local's slot (local.get is deferred until
** the local changes or a block boundary needs the value in place) or a
** constant slot (constants are written once by ENTER). Instructions read
** their operands wherever they are and write their result to its own slot;
** a following local.set retargets that write to the local instead.
** Branch targets are offsets relative to the word that holds them; values
** carried by a branch are moved into place by MOVE instructions first. An
** i32 comparison followed by br_if or if becomes one compare-and-branch.
** Once a function is compiled, i32 operations and compare-and-branches
** whose operand is a constant take its value in the instruction, and so do
** MOVE and RET1 of one (apply_immediates); constants no instruction reads
** any more get no slot. ENTER zeroes only the locals that may be read
** before they are written (LOCAL_*).
**
** Fuel: each loop head (LOOP_HEAD) and each function entry (ENTER) carries
** the number of Wasm instructions of its region: the loop body, or the
** function body, without nested loops. It is charged when the region is
** entered, so every backward jump and every call pays for the code it may
** run. A backward jump lands just after its LOOP_HEAD and charges the cost
** itself (the word before its target), checking the interrupt word too.
*/
#include <stdarg.h>
#include <stdio.h>

#include "wasm/wasm_int.h"

enum { CTL_BLOCK, CTL_LOOP, CTL_IF, CTL_ELSE, CTL_FUNC };

/* What a local's first accesses say about its initial zero. A local.set
** outside every block runs before anything textually after it (no loop or
** branch can lead back in front of it), so a local whose first access is
** such a set never shows its initial value and ENTER need not zero it. */
enum { LOCAL_UNTOUCHED, LOCAL_SET_FIRST, LOCAL_READ_FIRST };

#define CONST_TAG 0x80000000u   /* a constant's slot while compiling: tag | index */
#define MAX_CONSTS 128          /* constants per function kept in slots */
#define ENTER_TABLE_ZEROS 16    /* at most this many zeroed locals are copied
                                   from ENTER's table with the constants */

typedef struct ctl {
  uint8_t kind;
  bool unreachable;         /* code after br/return/unreachable */
  bool dead;                /* entered from unreachable code: emit nothing */
  uint32_t height;          /* operand height at entry, below the params */
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
  uint32_t head;            /* loop: where its back-edges land (just after
                               LOOP_HEAD, whose fuel cost is the word before) */
  uint32_t patches;         /* forward jump sites to the end (site + 1) */
  uint32_t else_site;       /* if: offset word of its branch (+1), 0 = none */
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
  uint32_t *eslots;         /* where each operand's value is */
  uint32_t cap_eslots;
  uint32_t height, cap_vals, max_height;
  ctl *ctls;
  uint32_t nctls, cap_ctls;
  uint32_t fuel_idx;        /* ctl whose region counts instructions */
  uint32_t *code;
  size_t ncode, cap_code;
  wgw_trapsite *traps;
  size_t ntraps, cap_traps;
  uint32_t op_off;          /* byte offset of the current instruction */
  uint64_t consts[MAX_CONSTS];
  uint32_t nconsts;
  uint32_t *ssites;         /* code words naming a slot, patched at the end */
  uint32_t *calls;          /* CALL_LOCAL callee words, patched at the end */
  size_t ncalls, cap_calls;
  size_t nssites, cap_ssites;
  uint32_t *imms;           /* instructions that may take an immediate */
  size_t nimms, cap_imms;
  uint8_t *lstate;          /* per local: LOCAL_* (which ENTER must zero) */
  size_t cap_lstate;
  size_t last_start;        /* start of the last instruction emitted */
  size_t prev_start;        /* and of the one before it (for two-step fusion) */
  uint32_t prev_op;
  size_t barrier;           /* a label stands at this code index */
  uint32_t last_op;
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


/* ------------------------------------------------------------------ */
/* Emission                                                            */

static inline bool live(const comp *c) {
  const ctl *t = &c->ctls[c->nctls - 1];
  return !t->unreachable && !t->dead;
}

static wg_err grow(comp *c, void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return WG_OK;
  size_t ncap = *cap ? *cap * 2 : 256;
  while (ncap < need) ncap *= 2;
  if (ncap > UINT32_MAX / 2)
    return wg_error_set(c->err, WG_EIMPLIMIT, "function code too large");
  /* every GROW'n array is appended to (or, lstate, set) before it is read */
  void *q = wg_resize_array(*p, *cap, ncap, size);
  if (!q) return nomem(c);
  *p = q;
  *cap = ncap;
  return WG_OK;
}

#define GROW(arr, cap, need) grow(c, (void **)&(arr), &(cap), (need), sizeof *(arr))

static wg_err note_imm(comp *c);
static uint32_t immediate_form(uint32_t op, uint32_t *bword, bool *commutes);

/* Emits op and n operand words; bit i of `slots` says that word i+1 names a
** slot. Slot words are recorded: the frame layout is final only at the end
** of the function (constants sit between locals and the operand stack). */
static wg_err emit_ins(comp *c, uint32_t slots, int n, ...) {
  wg_err e;
  TRY(GROW(c->code, c->cap_code, c->ncode + (size_t)n));
  c->prev_start = c->last_start;
  c->prev_op = c->last_op;
  c->last_start = c->ncode;
  va_list ap;
  va_start(ap, n);
  bool reads_const = false;
  for (int i = 0; i < n; i++) {
    uint32_t w = va_arg(ap, uint32_t);
    if (i == 0) c->last_op = w;
    if (i > 0 && (slots >> (i - 1) & 1)) {
      TRY(GROW(c->ssites, c->cap_ssites, c->nssites + 1));
      c->ssites[c->nssites++] = (uint32_t)c->ncode;
      if (w & CONST_TAG) reads_const = true;
    }
    c->code[c->ncode++] = w;
  }
  va_end(ap);
  if (reads_const && immediate_form(c->last_op, NULL, NULL)) TRY(note_imm(c));
  return WG_OK;
}
#define WG_NARGS(...) WG_NARGS_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1)
#define WG_NARGS_(a, b, c, d, e, f, g, h, n, ...) n
/* EMIT(slotmask, op, operands...) */
#define EMIT(mask, ...) TRY(emit_ins(c, (mask), WG_NARGS(__VA_ARGS__), __VA_ARGS__))

/* Drops the last instruction (to fuse it into the next one). */
static void unemit_last(comp *c) {
  while (c->nssites && c->ssites[c->nssites - 1] >= c->last_start) c->nssites--;
  while (c->ntraps && c->traps[c->ntraps - 1].ip >= c->last_start) c->ntraps--;
  while (c->nimms && c->imms[c->nimms - 1] >= c->last_start) c->nimms--;
  c->ncode = c->last_start;
  /* the instruction before becomes the last one again (once) */
  c->last_start = c->prev_start;
  c->last_op = c->prev_op;
  c->prev_start = c->ncode;     /* invalid: no instruction ends there */
  c->prev_op = WGOP_NOP;
}

static wg_err note_trap_at(comp *c, uint32_t off) {
  wg_err e;
  TRY(GROW(c->traps, c->cap_traps, c->ntraps + 1));
  c->traps[c->ntraps].ip = (uint32_t)c->ncode;
  c->traps[c->ntraps].off = off;
  c->ntraps++;
  return WG_OK;
}

static wg_err note_trap(comp *c) { return note_trap_at(c, c->op_off); }

/* Notes that the instruction just emitted reads a constant that
** apply_immediates may move into the instruction itself. */
static wg_err note_imm(comp *c) {
  wg_err e;
  TRY(GROW(c->imms, c->cap_imms, c->nimms + 1));
  c->imms[c->nimms++] = (uint32_t)c->last_start;
  return WG_OK;
}

/* Links a jump-offset word at `site` into the forward list of label l. */
static void link_forward(comp *c, ctl *l, uint32_t site) {
  c->code[site] = l->patches;
  l->patches = site + 1;
}

static void patch_to_here(comp *c, uint32_t list) {
  if (list) c->barrier = c->ncode;
  while (list) {
    uint32_t site = list - 1;
    list = c->code[site];
    c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
  }
}

static void patch_site(comp *c, uint32_t site) {
  c->barrier = c->ncode;
  c->code[site] = (uint32_t)((int32_t)c->ncode - (int32_t)site);
}

static inline uint32_t slot(const comp *c, uint32_t h) { return c->nl + h; }
static inline bool is_local(const comp *c, uint32_t s) { return s < c->nl; }

/* ------------------------------------------------------------------ */
/* Operand and control stacks                                          */

static wg_err push_at(comp *c, uint8_t t, uint32_t where) {
  wg_err e;
  if (c->height == c->cap_vals) {
    uint32_t cap = c->cap_vals ? c->cap_vals * 2 : 64;
    if (cap > 1u << 20) return wg_error_set(c->err, WG_EIMPLIMIT, "operand stack too deep");
    if (c->cap_eslots < cap) {
      uint32_t *q = wg_grow_array(c->eslots, c->cap_eslots, cap, sizeof *q);
      if (!q) return nomem(c);
      c->eslots = q;
      c->cap_eslots = cap;
    }
    uint8_t *p = wg_grow_array(c->vals, c->cap_vals, cap, 1);
    if (!p) return nomem(c);
    c->vals = p;
    c->cap_vals = cap;
  }
  (void)e;
  c->vals[c->height] = t;
  c->eslots[c->height] = where;
  c->height++;
  if (c->height > c->max_height) c->max_height = c->height;
  return WG_OK;
}

static wg_err push(comp *c, uint8_t t) { return push_at(c, t, slot(c, c->height)); }

/* Pops one operand that must have type `want` (0 = any); *got its type and
** *where the slot its value is in (its own slot in unreachable code). */
static wg_err pop2(comp *c, uint8_t want, uint8_t *got, uint32_t *where) {
  ctl *t = &c->ctls[c->nctls - 1];
  if (c->height == t->height) {
    if (t->unreachable) {
      if (got) *got = 0;
      if (where) *where = slot(c, c->height);
      return WG_OK;
    }
    return fail(c, "type mismatch: expected %s but the stack is empty",
                want ? wg_valtype_name(want) : "a value");
  }
  uint8_t v = c->vals[--c->height];
  if (want && v && v != want)
    return fail(c, "type mismatch: expected %s, got %s", wg_valtype_name(want), wg_valtype_name(v));
  if (got) *got = v;
  if (where) *where = c->eslots[c->height];
  return WG_OK;
}

static wg_err pop(comp *c, uint8_t want, uint8_t *got) {
  return pop2(c, want, got, NULL);
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

/* Checks that the top n operands have types ts and gives them those types
** (unknown ones in unreachable code), leaving the values where they are. */
static wg_err retype_top(comp *c, const uint8_t *ts, uint32_t n) {
  wg_err e;
  uint32_t h0 = c->height;
  TRY(pop_types(c, ts, n));
  if (h0 - c->height == n) {
    c->height = h0;
    if (n) memcpy(c->vals + h0 - n, ts, n);
    return WG_OK;
  }
  return push_types(c, ts, n);   /* unreachable code: nothing is emitted */
}

/* Puts operand i's value into its own slot. */
static wg_err materialize(comp *c, uint32_t i) {
  wg_err e;
  uint32_t own = slot(c, i);
  if (c->eslots[i] == own) return WG_OK;
  if (live(c)) EMIT(3, WGOP_MOVE, own, c->eslots[i]);
  c->eslots[i] = own;
  return WG_OK;
}

/* Materializes operands from index `from` up that refer to locals (all of
** them when also_consts). */
static wg_err materialize_from(comp *c, uint32_t from, bool also_consts) {
  wg_err e;
  for (uint32_t i = from; i < c->height; i++) {
    uint32_t s = c->eslots[i];
    if (is_local(c, s) || (also_consts && (s & CONST_TAG))) TRY(materialize(c, i));
  }
  return WG_OK;
}

static wg_err push_ctl(comp *c, uint8_t kind, const uint8_t *params,
                       uint32_t np, const uint8_t *results, uint32_t nr) {
  wg_err e;
  if (c->nctls == c->cap_ctls) {
    uint32_t cap = c->cap_ctls ? c->cap_ctls * 2 : 16;
    if (cap > 1u << 16) return wg_error_set(c->err, WG_EIMPLIMIT, "blocks nested too deeply");
    ctl *p = wg_grow_array(c->ctls, c->cap_ctls, cap, sizeof *p);
    if (!p) return nomem(c);
    c->ctls = p;
    c->cap_ctls = cap;
  }
  (void)e;
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
      return fail(c, "type mismatch: branch expects %s, got %s", wg_valtype_name(want),
                  wg_valtype_name(v));
  }
  return WG_OK;
}

/* Moves the top n values to the slots of heights dst_h.. (dst <= src for
** values in their own slots; locals and constants are never targets). */
static wg_err emit_moves(comp *c, uint32_t dst_h, uint32_t n) {
  wg_err e;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t src = c->eslots[c->height - n + i], dst = slot(c, dst_h + i);
    if (src != dst) EMIT(3, WGOP_MOVE, dst, src);
  }
  return WG_OK;
}

/* Emits an unconditional jump (offset word left 0); *site is the index of
** its offset word. A MOVE just before, with no label between, is fused. */
static wg_err emit_jump(comp *c, uint32_t *site) {
  wg_err e;
  if (c->last_op == WGOP_MOVE && c->ncode > c->last_start &&
      c->last_start + 3 == c->ncode && c->barrier != c->ncode) {
    uint32_t d = c->code[c->last_start + 1], src = c->code[c->last_start + 2];
    bool dslot = c->nssites >= 2 && c->ssites[c->nssites - 2] == c->last_start + 1;
    unemit_last(c);
    EMIT(dslot ? 3 : 2, WGOP_MOVE_JUMP, d, src, 0);
  } else {
    EMIT(0, WGOP_JUMP, 0);
  }
  *site = (uint32_t)c->ncode - 1;
  return WG_OK;
}

static bool needs_moves(const comp *c, const ctl *l) {
  uint32_t n = label_arity(l);
  if (l->kind == CTL_FUNC) return true;
  for (uint32_t i = 0; i < n; i++)
    if (c->eslots[c->height - n + i] != slot(c, l->height + i)) return true;
  return false;
}

/* Returns from the function: one result with RET1 from wherever it is;
** several to slots 0.., then RET. Of several, those that sit in locals or
** constants are first copied to their own slots, since slots 0.. are
** locals and constants: moved in order, every later source then lies above
** every slot written before. Those copies run on the returning path only
** (br_if and br_table return from within a path), so the operands'
** recorded places do not change. */
static uint32_t return_src(const comp *c, uint32_t i, uint32_t n) {
  uint32_t s = c->eslots[i];
  return n > 1 && (is_local(c, s) || (s & CONST_TAG)) ? slot(c, i) : s;
}

static wg_err emit_return(comp *c) {
  wg_err e;
  uint32_t n = c->ctls[0].nresults, h0 = c->height - n;
  for (uint32_t i = h0; i < c->height; i++)
    if (return_src(c, i, n) != c->eslots[i]) EMIT(3, WGOP_MOVE, slot(c, i), c->eslots[i]);
  if (n == 1) {
    EMIT(1, WGOP_RET1, return_src(c, h0, n));
    return WG_OK;
  }
  /* slot i here is absolute (not an operand slot): only src is patched */
  for (uint32_t i = 0; i < n; i++) EMIT(2, WGOP_MOVE, i, return_src(c, h0 + i, n));
  EMIT(0, WGOP_RET);
  return WG_OK;
}

/* Emits an unconditional branch to label l (values already checked). */
static wg_err emit_branch(comp *c, ctl *l) {
  wg_err e;
  if (l->kind == CTL_FUNC) return emit_return(c);
  TRY(emit_moves(c, l->height, label_arity(l)));
  uint32_t site = 0;
  TRY(emit_jump(c, &site));
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
  *nr = 0;
  *results = NULL;
  if (v == -64) return WG_OK;
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

/* Can the last instruction's result (word 1) be retargeted, or the last
** instruction fused with the next? Only if it produced the top operand
** and no label stands between it and here. */
static bool last_is_fusable(const comp *c) {
  return c->ncode > c->last_start && c->barrier != c->ncode &&
         c->height && c->eslots[c->height - 1] == slot(c, c->height - 1) &&
         c->code[c->last_start + 1] == slot(c, c->height - 1);
}

static bool writes_word1(uint32_t op) {
  const wgw_opinfo *oi = &wgw_ops[op];
  if (oi->sig[0] && strchr(oi->sig, ':')[1]) return true;   /* numeric, loads */
  if (op >= WGOP_I32_LOAD_X && op <= WGOP_I32_LOAD16_S_X) return true;
  if (op >= WGOP_ADD_ADD && op <= WGOP_F64_MUL_MUL) return true;  /* fused pairs */
  if (op >= WGOP_F64_ADD_M && op <= WGOP_F64_MUL_MX) return true;  /* load + f64 op */
  return op == WGOP_GLOBAL_GET || op == WGOP_SELECT || op == WGOP_MOVE;
}

/* The form of a load or store whose address is the sum of two operands. */
static uint32_t indexed_access(uint32_t op) {
  switch (op) {
    case WGOP_I32_LOAD: return WGOP_I32_LOAD_X;
    case WGOP_I64_LOAD: return WGOP_I64_LOAD_X;
    case WGOP_F32_LOAD: return WGOP_F32_LOAD_X;
    case WGOP_F64_LOAD: return WGOP_F64_LOAD_X;
    case WGOP_I32_LOAD8_U: return WGOP_I32_LOAD8_U_X;
    case WGOP_I32_LOAD8_S: return WGOP_I32_LOAD8_S_X;
    case WGOP_I32_LOAD16_U: return WGOP_I32_LOAD16_U_X;
    case WGOP_I32_LOAD16_S: return WGOP_I32_LOAD16_S_X;
    case WGOP_I32_STORE: return WGOP_I32_STORE_X;
    case WGOP_I64_STORE: return WGOP_I64_STORE_X;
    case WGOP_F32_STORE: return WGOP_F32_STORE_X;
    case WGOP_F64_STORE: return WGOP_F64_STORE_X;
    case WGOP_I32_STORE8: return WGOP_I32_STORE8_X;
    case WGOP_I32_STORE16: return WGOP_I32_STORE16_X;
    default: return 0;
  }
}

/* Pairs of binary operations fused into one instruction when the first's
** result goes straight into the second (chosen from instruction-pair counts
** of bench/: address arithmetic, bit-field extraction, hash rounds). */
static uint32_t fused_binop(uint32_t first, uint32_t second, int k) {
  switch (second) {   /* k: which operand of second is first's result */
    case WGOP_I32_ADD:
      if (first == WGOP_I32_ADD) return WGOP_ADD_ADD;
      if (first == WGOP_I32_SHL) return WGOP_SHL_ADD;
      if (first == WGOP_I32_MUL) return WGOP_MUL_ADD;
      return 0;
    case WGOP_I32_AND:
      if (first == WGOP_I32_SHR_U) return WGOP_SHRU_AND;
      return 0;
    case WGOP_I32_SHR_S:
      if (first == WGOP_I32_SHL && k == 0) return WGOP_SHL_SHRS;
      return 0;
    case WGOP_I32_XOR:
      if (first == WGOP_I32_ROTL) return WGOP_ROTL_XOR;
      if (first == WGOP_I32_SHL) return WGOP_SHL_XOR;
      if (first == WGOP_I32_XOR) return WGOP_XOR_XOR;
      return 0;
    case WGOP_F64_ADD:
      if (first == WGOP_F64_MUL) return WGOP_F64_MUL_ADD;
      return 0;
    case WGOP_F64_SUB:
      if (first == WGOP_F64_MUL) return k == 0 ? WGOP_F64_MUL_SUB : WGOP_F64_SUB_MUL;
      return 0;
    case WGOP_F64_MUL:
      if (first == WGOP_F64_SUB) return WGOP_F64_SUBMUL;
      if (first == WGOP_F64_MUL) return WGOP_F64_MUL_MUL;
      return 0;
    default:
      return 0;
  }
}

/* The form of op that takes its operand b as an immediate, or 0; *bword
** is b's word in the instruction (a's is the one before) and *commutes says
** whether a and b may trade places (compare-and-branches mirror instead).
** A MOVE of a constant becomes I32_CONST and a RET1 of one RET1_I, when
** the value fits in 32 bits (both zero-extend). */
static uint32_t immediate_form(uint32_t op, uint32_t *bword, bool *commutes) {
  uint32_t x = 0, w = 3;
  bool comm = false;
  switch (op) {
    case WGOP_I32_ADD: x = WGOP_ADD_I; comm = true; break;
    case WGOP_I32_SUB: x = WGOP_SUB_I; break;
    case WGOP_I32_AND: x = WGOP_AND_I; comm = true; break;
    case WGOP_I32_OR: x = WGOP_OR_I; comm = true; break;
    case WGOP_I32_XOR: x = WGOP_XOR_I; comm = true; break;
    case WGOP_I32_MUL: x = WGOP_MUL_I; comm = true; break;
    case WGOP_I32_SHL: x = WGOP_SHL_I; break;
    case WGOP_I32_SHR_S: x = WGOP_SHR_S_I; break;
    case WGOP_I32_SHR_U: x = WGOP_SHR_U_I; break;
    case WGOP_MOVE: x = WGOP_I32_CONST; w = 2; break;     /* values < 2^32 */
    case WGOP_RET1: x = WGOP_RET1_I; w = 1; break;        /* values < 2^32 */
    default:
      if (op >= WGOP_BR_EQ && op <= WGOP_BR_GE_U) {
        x = op - WGOP_BR_EQ + WGOP_BR_EQ_I;
        w = 2;
        comm = true;
      }
  }
  if (bword) *bword = w;
  if (commutes) *commutes = comm;
  return x;
}

_Static_assert(WGOP_BR_GE_U_I - WGOP_BR_EQ_I == WGOP_BR_GE_U - WGOP_BR_EQ,
               "BR_*_I must follow the order of BR_EQ..BR_GE_U");

/* The compare-and-branch with its operands swapped (a < b is b > a). */
static uint32_t mirrored_branch(uint32_t br);

/* Once the function is compiled (fusion done): instructions noted by
** note_imm whose operand b (or a, where they may be swapped) is a constant
** get the constant's value in that word instead of a slot. Constants that
** no instruction reads any more are dropped, so ENTER copies fewer. */
static wg_err apply_immediates(comp *c) {
  size_t nrm = 0;      /* immediate words, ascending: no longer slot sites */
  for (size_t k = 0; k < c->nimms; k++) {
    uint32_t *w = c->code + c->imms[k];
    uint32_t bw = 0;
    bool comm = false;
    uint32_t x = immediate_form(w[0], &bw, &comm);
    if (!x) continue;
    if ((w[0] == WGOP_MOVE || w[0] == WGOP_RET1) &&
        (!(w[bw] & CONST_TAG) || c->consts[w[bw] & ~CONST_TAG] >> 32))
      continue;
    if (!(w[bw] & CONST_TAG)) {
      if (!comm || !(w[bw - 1] & CONST_TAG)) continue;
      uint32_t t = w[bw];
      w[bw] = w[bw - 1];
      w[bw - 1] = t;
      if (w[0] >= WGOP_BR_EQ && w[0] <= WGOP_BR_GE_U)
        x = mirrored_branch(w[0]) - WGOP_BR_EQ + WGOP_BR_EQ_I;
    }
    w[0] = x;
    w[bw] = (uint32_t)c->consts[w[bw] & ~CONST_TAG];
    c->imms[nrm++] = c->imms[k] + bw;     /* reuse: positions of the words */
  }
  /* drop those words from the slot sites (both lists ascend) */
  size_t j = 0, out = 0;
  for (size_t k = 0; k < c->nssites; k++) {
    while (j < nrm && c->imms[j] < c->ssites[k]) j++;
    if (j < nrm && c->imms[j] == c->ssites[k]) continue;
    c->ssites[out++] = c->ssites[k];
  }
  c->nssites = out;
  /* keep only the constants still read, renumbered in order */
  uint8_t used[MAX_CONSTS];
  uint32_t renum[MAX_CONSTS];
  memset(used, 0, sizeof used);
  for (size_t k = 0; k < c->nssites; k++) {
    uint32_t v = c->code[c->ssites[k]];
    if (v & CONST_TAG) used[v & ~CONST_TAG] = 1;
  }
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->nconsts; i++) {
    renum[i] = n;
    if (used[i]) c->consts[n++] = c->consts[i];
  }
  c->nconsts = n;
  for (size_t k = 0; k < c->nssites; k++) {
    uint32_t *v = &c->code[c->ssites[k]];
    if (*v & CONST_TAG) *v = CONST_TAG | renum[*v & ~CONST_TAG];
  }
  c->nimms = 0;
  return WG_OK;
}

/* An f64.add, f64.sub or f64.mul (result to dst, operands in[]) whose
** operand is the result of the f64.load just before (its own slot, not a
** local's): one instruction that loads and computes, trapping where the
** load would (its trap site keeps the load's offset). Not when both
** operands are the loaded value (the slot is no longer written). */
static wg_err fuse_f64_load(comp *c, uint32_t op, uint32_t dst,
                            const uint32_t *in, bool *done) {
  wg_err e;
  *done = false;
  if (c->ncode <= c->last_start || c->barrier == c->ncode) return WG_OK;
  uint32_t lop = c->last_op;
  if (lop != WGOP_F64_LOAD && lop != WGOP_F64_LOAD_X) return WG_OK;
  const uint32_t *w = c->code + c->last_start;
  uint32_t prev = w[1];
  if (prev < c->nl || (prev & CONST_TAG)) return WG_OK;
  int k = in[1] == prev ? 1 : in[0] == prev ? 0 : -1;
  if (k < 0 || in[0] == in[1]) return WG_OK;
  bool x = lop == WGOP_F64_LOAD_X;
  uint32_t b = w[2], cc = x ? w[3] : 0, off = x ? w[4] : w[3];
  uint32_t f = op == WGOP_F64_ADD ? WGOP_F64_ADD_M
             : op == WGOP_F64_MUL ? WGOP_F64_MUL_M
             : k == 1 ? WGOP_F64_SUB_M : WGOP_F64_RSUB_M;
  if (x) f += WGOP_F64_ADD_MX - WGOP_F64_ADD_M;
  uint32_t toff = c->op_off;   /* the load's trap site, kept */
  if (c->ntraps && c->traps[c->ntraps - 1].ip == c->last_start) toff = c->traps[c->ntraps - 1].off;
  unemit_last(c);
  TRY(note_trap_at(c, toff));
  if (x) EMIT(15, f, dst, in[1 - k], b, cc, off);
  else EMIT(7, f, dst, in[1 - k], b, off);
  *done = true;
  return WG_OK;
}

/* A numeric or memory instruction described fully by its signature. */
static wg_err simple_op(comp *c, uint32_t op) {
  const wgw_opinfo *oi = &wgw_ops[op];
  const char *sig = oi->sig;
  const char *colon = strchr(sig, ':');
  uint32_t np = (uint32_t)(colon - sig);
  uint32_t offset = 0;
  uint32_t in[2] = {0, 0};
  wg_err e;
  if (oi->imm == WG_IMM_MEM) TRY(read_memarg(c, oi->msize, &offset));
  for (uint32_t i = np; i-- > 0;) TRY(pop2(c, sigtype(sig[i]), NULL, &in[i]));
  uint32_t dst = slot(c, c->height);
  bool has_result = colon[1] != 0;
  switch (op) {
    case WGOP_I32_WRAP_I64:           /* same bits in the slot: no code */
    case WGOP_I32_REINTERPRET_F32:
    case WGOP_I64_REINTERPRET_F64:
    case WGOP_F32_REINTERPRET_I32:
    case WGOP_F64_REINTERPRET_I64:
      return push_at(c, sigtype(colon[1]), in[0]);
  }
  if (has_result) TRY(push(c, sigtype(colon[1])));
  if (!live(c)) return WG_OK;
  if (oi->imm == WG_IMM_MEM) {
    /* an address computed by the i32.add just before: one instruction */
    uint32_t x = indexed_access(op);
    if (x && c->last_op == WGOP_I32_ADD && c->ncode > c->last_start &&
        c->barrier != c->ncode && in[0] == slot(c, c->height - has_result) &&
        c->code[c->last_start + 1] == in[0]) {
      uint32_t a = c->code[c->last_start + 2], b = c->code[c->last_start + 3];
      unemit_last(c);
      TRY(note_trap(c));
      if (has_result) EMIT(7, x, dst, a, b, offset);
      else EMIT(7, x, a, b, in[1], offset);
      return WG_OK;
    }
    TRY(note_trap(c));
    if (has_result) EMIT(3, op, dst, in[0], offset);
    else EMIT(3, op, in[0], in[1], offset);
    return WG_OK;
  }
  if (oi->trap) TRY(note_trap(c));
  if (np == 2 && (op == WGOP_F64_ADD || op == WGOP_F64_SUB || op == WGOP_F64_MUL)) {
    bool done = false;
    TRY(fuse_f64_load(c, op, dst, in, &done));
    if (done) return WG_OK;
  }
  if (np == 2) {
    /* the result of the binary operation just before, consumed here (as
    ** operand k): one instruction */
    if (c->ncode > c->last_start && c->barrier != c->ncode) {
      uint32_t prev = c->code[c->last_start + 1];
      bool own = prev >= c->nl && !(prev & CONST_TAG);  /* not a local's */
      int k = !own ? -1 : in[0] == prev ? 0 : in[1] == prev ? 1 : -1;
      uint32_t f = k >= 0 ? fused_binop(c->last_op, op, k) : 0;
      if (f) {
        uint32_t a = c->code[c->last_start + 2], b = c->code[c->last_start + 3];
        unemit_last(c);
        EMIT(15, f, dst, a, b, in[1 - k]);
        return WG_OK;
      }
    }
    EMIT(7, op, dst, in[0], in[1]);
  } else {
    EMIT(3, op, dst, in[0]);
  }
  return WG_OK;
}

/* i32 comparison -> compare-and-branch; `inv` for "branch unless". */
static uint32_t fused_branch(uint32_t cmp, bool inv) {
  switch (cmp) {
    case WGOP_I32_EQZ: return inv ? WGOP_BR_NZ : WGOP_BR_Z;
    case WGOP_I32_EQ: return inv ? WGOP_BR_NE : WGOP_BR_EQ;
    case WGOP_I32_NE: return inv ? WGOP_BR_EQ : WGOP_BR_NE;
    case WGOP_I32_LT_S: return inv ? WGOP_BR_GE_S : WGOP_BR_LT_S;
    case WGOP_I32_LT_U: return inv ? WGOP_BR_GE_U : WGOP_BR_LT_U;
    case WGOP_I32_GT_S: return inv ? WGOP_BR_LE_S : WGOP_BR_GT_S;
    case WGOP_I32_GT_U: return inv ? WGOP_BR_LE_U : WGOP_BR_GT_U;
    case WGOP_I32_LE_S: return inv ? WGOP_BR_GT_S : WGOP_BR_LE_S;
    case WGOP_I32_LE_U: return inv ? WGOP_BR_GT_U : WGOP_BR_LE_U;
    case WGOP_I32_GE_S: return inv ? WGOP_BR_LT_S : WGOP_BR_GE_S;
    case WGOP_I32_GE_U: return inv ? WGOP_BR_LT_U : WGOP_BR_GE_U;
    case WGOP_I32_AND: return inv ? WGOP_BR_ANDZ : WGOP_BR_ANDNZ;
    default: return 0;
  }
}

/* The compare-and-branch with its operands swapped (a < b is b > a). */
static uint32_t mirrored_branch(uint32_t br) {
  switch (br) {
    case WGOP_BR_LT_S: return WGOP_BR_GT_S;
    case WGOP_BR_LT_U: return WGOP_BR_GT_U;
    case WGOP_BR_GT_S: return WGOP_BR_LT_S;
    case WGOP_BR_GT_U: return WGOP_BR_LT_U;
    case WGOP_BR_LE_S: return WGOP_BR_GE_S;
    case WGOP_BR_LE_U: return WGOP_BR_GE_U;
    case WGOP_BR_GE_S: return WGOP_BR_LE_S;
    case WGOP_BR_GE_U: return WGOP_BR_LE_U;
    default: return br;     /* EQ, NE */
  }
}

_Static_assert(WGOP_ADD_BR_GE_U - WGOP_ADD_BR_EQ == WGOP_BR_GE_U - WGOP_BR_EQ,
               "ADD_BR_* must follow the order of BR_EQ..BR_GE_U");

/* Emits a conditional branch on the operand just popped (its slot cond),
** taken when the value is non-zero (or zero when inv). Fuses a preceding
** i32 comparison. Returns the code index of the offset word. */
static wg_err emit_cond_branch(comp *c, uint32_t cond, bool inv, uint32_t *site) {
  wg_err e;
  c->height++;                       /* the condition, for last_is_fusable */
  bool fuse = last_is_fusable(c) && c->eslots[c->height - 1] == cond;
  c->height--;
  uint32_t f = fuse ? fused_branch(c->last_op, inv) : 0;
  if (f) {
    uint32_t a = c->code[c->last_start + 2];
    uint32_t b = c->last_op == WGOP_I32_EQZ ? 0 : c->code[c->last_start + 3];
    unemit_last(c);
    /* an i32.add writing one of the compared values just before: a loop's
    ** increment and bound test in one instruction (the sum is kept) */
    if (f >= WGOP_BR_EQ && f <= WGOP_BR_GE_U && c->ncode > c->last_start &&
        c->barrier != c->ncode &&
        (c->last_op == WGOP_I32_ADD ||
         (c->last_op == WGOP_I32_AND && (f == WGOP_BR_EQ || f == WGOP_BR_NE))) &&
        (c->code[c->last_start + 1] == a || c->code[c->last_start + 1] == b)) {
      uint32_t d = c->code[c->last_start + 1];
      uint32_t x = c->code[c->last_start + 2], y = c->code[c->last_start + 3];
      uint32_t other = d == a ? b : a;
      uint32_t g = d == a ? f : mirrored_branch(f);
      uint32_t fused = c->last_op == WGOP_I32_AND
                           ? (g == WGOP_BR_EQ ? WGOP_AND_BR_EQ : WGOP_AND_BR_NE)
                           : g - WGOP_BR_EQ + WGOP_ADD_BR_EQ;
      unemit_last(c);
      EMIT(15, fused, d, x, y, other, 0);
      *site = (uint32_t)c->ncode - 1;
      return WG_OK;
    }
    if (f == WGOP_BR_Z || f == WGOP_BR_NZ) {
      EMIT(1, f, a, 0);
      *site = (uint32_t)c->ncode - 1;
    } else {
      EMIT(3, f, a, b, 0);
      *site = (uint32_t)c->ncode - 1;
    }
    return WG_OK;
  }
  /* an i32.load whose result (kept) is tested: walking a linked list */
  if (c->last_op == WGOP_I32_LOAD && c->ncode > c->last_start &&
      c->barrier != c->ncode && c->code[c->last_start + 1] == cond) {
    uint32_t addr = c->code[c->last_start + 2], off = c->code[c->last_start + 3];
    unemit_last(c);
    /* the load's trap site went with it: it traps at the new instruction */
    TRY(note_trap(c));
    EMIT(3, inv ? WGOP_LOAD_BR_Z : WGOP_LOAD_BR_NZ, cond, addr, off, 0);
    *site = (uint32_t)c->ncode - 1;
    return WG_OK;
  }
  /* an i32.add whose result (kept: it may be a local's, through tee) is
  ** tested: a counting loop's decrement and test */
  if (c->last_op == WGOP_I32_ADD && c->ncode > c->last_start &&
      c->barrier != c->ncode && c->code[c->last_start + 1] == cond) {
    uint32_t a = c->code[c->last_start + 2], b = c->code[c->last_start + 3];
    unemit_last(c);
    EMIT(7, inv ? WGOP_ADD_BR_Z : WGOP_ADD_BR_NZ, cond, a, b, 0);
    *site = (uint32_t)c->ncode - 1;
    return WG_OK;
  }
  EMIT(1, inv ? WGOP_BR_Z : WGOP_BR_NZ, cond, 0);
  *site = (uint32_t)c->ncode - 1;
  return WG_OK;
}

static wg_err op_block(comp *c, uint32_t op) {
  const uint8_t *params = NULL, *results = NULL;
  uint32_t np = 0, nr = 0;
  wg_err e;
  TRY(read_blocktype(c, &params, &np, &results, &nr));
  uint32_t cond = 0;
  if (op == WGOP_IF) TRY(pop2(c, WG_I32, NULL, &cond));
  TRY(retype_top(c, params, np));
  bool was_live = live(c);
  /* Values in locals must not stay deferred across a block boundary: code
  ** inside may change the local on one path only. Params go to their own
  ** slots, since the block's code is shared by every way in. */
  if (was_live) {
    TRY(materialize_from(c, 0, false));
    TRY(materialize_from(c, c->height - np, true));
  }
  uint32_t site = 0;
  if (was_live && op == WGOP_IF) TRY(emit_cond_branch(c, cond, true, &site));
  TRY(push_ctl(c, op == WGOP_BLOCK ? CTL_BLOCK : op == WGOP_LOOP ? CTL_LOOP : CTL_IF,
               params, np, results, nr));
  ctl *t = &c->ctls[c->nctls - 1];
  if (!was_live) return WG_OK;
  if (op == WGOP_LOOP) {
    TRY(note_trap(c));
    EMIT(0, WGOP_LOOP_HEAD, 0);
    t->fuel_site = (uint32_t)c->ncode - 1;
    t->head = (uint32_t)c->ncode;      /* back-edges land after LOOP_HEAD */
    c->barrier = c->ncode;
    t->prev_fuel = c->fuel_idx;
    c->fuel_idx = c->nctls - 1;
  } else if (op == WGOP_IF) {
    t->else_site = site + 1;
  }
  return WG_OK;
}

/* Checks the block's results at its end (or else) and puts them in place. */
static wg_err close_results(comp *c, ctl *t) {
  wg_err e;
  TRY(pop_types(c, t->results, t->nresults));
  if (c->height != t->height) return fail(c, "type mismatch: values left at the end of the block");
  c->height += t->nresults;
  if (live(c)) TRY(emit_moves(c, t->height, t->nresults));
  c->height -= t->nresults;
  return WG_OK;
}

static wg_err op_else(comp *c) {
  ctl *t = &c->ctls[c->nctls - 1];
  wg_err e;
  if (t->kind != CTL_IF) return fail(c, "else without a matching if");
  TRY(close_results(c, t));
  if (live(c)) {
    uint32_t site = 0;
    TRY(emit_jump(c, &site));
    link_forward(c, t, site);
  }
  if (t->else_site) {
    patch_site(c, t->else_site - 1);
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
  if (t->kind == CTL_FUNC) {
    TRY(pop_types(c, t->results, t->nresults));
    if (c->height != t->height) return fail(c, "type mismatch: values left at the end of the block");
    c->height += t->nresults;   /* the results, for emit_return */
    if (live(c)) TRY(emit_return(c));
    c->height -= t->nresults;
    *done = true;
    c->nctls--;
    return WG_OK;
  }
  TRY(close_results(c, t));
  if (t->kind == CTL_IF) {
    /* no else: the implicit else passes the params through */
    if (t->nparams != t->nresults ||
        (t->nparams && memcmp(t->params, t->results, t->nparams) != 0))
      return fail(c, "type mismatch: if without else must not change the stack");
    if (t->else_site) patch_site(c, t->else_site - 1);
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
  uint32_t cond = 0;
  TRY(pop2(c, WG_I32, NULL, &cond));
  TRY(check_label_values(c, l));
  /* the label's values stay; in unreachable code they take its types */
  uint32_t n = label_arity(l);
  const uint8_t *ts = label_types(l);
  TRY(retype_top(c, ts, n));
  if (!live(c)) return WG_OK;
  uint32_t site = 0;
  if (!needs_moves(c, l)) {
    TRY(emit_cond_branch(c, cond, false, &site));
    if (l->kind == CTL_LOOP) c->code[site] = (uint32_t)((int32_t)l->head - (int32_t)site);
    else link_forward(c, l, site);
    return WG_OK;
  }
  TRY(emit_cond_branch(c, cond, true, &site));
  TRY(emit_branch(c, l));
  patch_site(c, site);
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
  uint32_t cond = 0;
  TRY(pop2(c, WG_I32, NULL, &cond));
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
  if (live(c)) {
    TRY(note_trap(c));
    EMIT(1, WGOP_BR_TBL, cond, n);
    uint32_t table = (uint32_t)c->ncode;
    TRY(GROW(c->code, c->cap_code, c->ncode + (size_t)n + 1));
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

/* Arguments of a call must sit in their own, consecutive slots. */
static wg_err do_call(comp *c, uint32_t funcidx) {
  const wgw_type *ft = &c->m->types[c->m->func_types[funcidx]];
  wg_err e;
  if (live(c) && c->height >= ft->nparams)
    TRY(materialize_from(c, c->height - ft->nparams, true));
  TRY(pop_types(c, ft->vt, ft->nparams));
  uint32_t base = slot(c, c->height);
  TRY(push_types(c, ft->vt + ft->nparams, ft->nresults));
  if (!live(c)) return WG_OK;
  TRY(note_trap(c));
  if (funcidx >= c->m->nfunc_imports) {
    /* the callee's code offset and frame size are filled in once every
    ** function is compiled (wgw_compile) */
    EMIT(2, WGOP_CALL_LOCAL, funcidx - c->m->nfunc_imports, base, 0);
    TRY(GROW(c->calls, c->cap_calls, c->ncalls + 1));
    c->calls[c->ncalls++] = (uint32_t)c->ncode - 3;
  }
  else EMIT(2, WGOP_CALL_FUNC, funcidx, base);
  return WG_OK;
}

static wg_err op_call_indirect(comp *c) {
  uint32_t typeidx = 0, table = 0;
  wg_err e;
  TRY(read_idx(c, c->m->ntypes, "type", &typeidx));
  TRY(read_idx(c, c->m->ntables, "table", &table));
  if (c->m->tables[table].elem != WG_FUNCREF)
    return fail(c, "type mismatch: call_indirect on a table of %s",
                wg_valtype_name(c->m->tables[table].elem));
  const wgw_type *ft = &c->m->types[typeidx];
  uint32_t idx = 0;
  TRY(pop2(c, WG_I32, NULL, &idx));
  if (live(c) && c->height >= ft->nparams)
    TRY(materialize_from(c, c->height - ft->nparams, true));
  TRY(pop_types(c, ft->vt, ft->nparams));
  uint32_t base = slot(c, c->height);
  TRY(push_types(c, ft->vt + ft->nparams, ft->nresults));
  if (!live(c)) return WG_OK;
  TRY(note_trap(c));
  EMIT(12, WGOP_CALL_IND, typeidx, table, base, idx);
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
  uint32_t sc = 0, s1 = 0, s2 = 0;
  TRY(pop2(c, WG_I32, NULL, &sc));
  uint8_t t1 = 0, t2 = 0;
  TRY(pop2(c, t, &t1, &s1));
  TRY(pop2(c, t, &t2, &s2));
  if (op == WGOP_SELECT) {
    if ((t1 && !is_num(t1)) || (t2 && !is_num(t2)))
      return fail(c, "type mismatch: select without a type needs numeric operands");
    if (t1 && t2 && t1 != t2) return fail(c, "type mismatch: select operands differ");
    t = t1 ? t1 : t2;
  }
  uint32_t dst = slot(c, c->height);
  TRY(push(c, t));
  if (live(c)) EMIT(15, WGOP_SELECT, dst, s2, s1, sc);
  return WG_OK;
}

static wg_err local_type(comp *c, uint32_t *idx, uint8_t *t) {
  wg_err e;
  TRY(read_idx(c, c->fn->nlocals, "local", idx));
  *t = c->fn->local_types[*idx];
  return WG_OK;
}

/* Writes the top operand (popped, in slot src) to local x. */
static wg_err set_local(comp *c, uint32_t x, uint32_t src, bool tee) {
  wg_err e;
  bool others = false;
  for (uint32_t i = 0; i < c->height; i++)
    if (c->eslots[i] == x) others = true;
  /* retarget the instruction that produced the value, if nothing else
  ** still reads the old value of x */
  c->height++;
  bool retarget = !others && src == slot(c, c->height - 1) && last_is_fusable(c) &&
                  writes_word1(c->last_op);
  c->height--;
  if (retarget) {
    c->code[c->last_start + 1] = x;
  } else {
    for (uint32_t i = 0; i < c->height; i++)
      if (c->eslots[i] == x) TRY(materialize(c, i));
    EMIT(3, WGOP_MOVE, x, src);
  }
  if (tee) c->eslots[c->height - 1] = x;  /* the value is in x now */
  return WG_OK;
}

static wg_err op_variable(comp *c, uint32_t op) {
  uint32_t x = 0, src = 0;
  uint8_t t = 0;
  wg_err e;
  switch (op) {
    case WGOP_LOCAL_GET:
      TRY(local_type(c, &x, &t));
      if (c->lstate[x] == LOCAL_UNTOUCHED) c->lstate[x] = LOCAL_READ_FIRST;
      return push_at(c, t, x);
    case WGOP_LOCAL_SET:
      TRY(local_type(c, &x, &t));
      if (c->lstate[x] == LOCAL_UNTOUCHED && c->nctls == 1) c->lstate[x] = LOCAL_SET_FIRST;
      TRY(pop2(c, t, NULL, &src));
      if (live(c)) TRY(set_local(c, x, src, false));
      return WG_OK;
    case WGOP_LOCAL_TEE:
      TRY(local_type(c, &x, &t));
      if (c->lstate[x] == LOCAL_UNTOUCHED && c->nctls == 1) c->lstate[x] = LOCAL_SET_FIRST;
      TRY(pop2(c, t, NULL, &src));
      TRY(push_at(c, t, src));
      if (live(c)) {
        c->height--;
        TRY(set_local(c, x, src, false));
        c->height++;
        c->eslots[c->height - 1] = x;
      }
      return WG_OK;
    case WGOP_GLOBAL_GET: {
      TRY(read_idx(c, c->m->nglobals, "global", &x));
      uint32_t dst = slot(c, c->height);
      TRY(push(c, c->m->globals[x].type));
      if (live(c)) EMIT(1, WGOP_GLOBAL_GET, dst, x);
      return WG_OK;
    }
    default: /* global.set */
      TRY(read_idx(c, c->m->nglobals, "global", &x));
      if (!c->m->globals[x].mut) return fail(c, "global %u is immutable", x);
      TRY(pop2(c, c->m->globals[x].type, NULL, &src));
      if (live(c)) EMIT(2, WGOP_GLOBAL_SET, x, src);
      return WG_OK;
  }
}

static wg_err pop3(comp *c, uint8_t t0, uint8_t t1, uint8_t t2, uint32_t *s) {
  wg_err e;
  TRY(pop2(c, t2, NULL, &s[2]));
  TRY(pop2(c, t1, NULL, &s[1]));
  return pop2(c, t0, NULL, &s[0]);
}

static wg_err op_table(comp *c, uint32_t op) {
  wg_err e;
  uint32_t x = 0, y = 0, s[3] = {0, 0, 0};
  if (op == WGOP_ELEM_DROP) {
    TRY(read_idx(c, c->m->nelems, "elem segment", &x));
    if (live(c)) EMIT(0, op, x);
    return WG_OK;
  }
  if (op == WGOP_TABLE_INIT) {
    TRY(read_idx(c, c->m->nelems, "elem segment", &y));
    TRY(read_idx(c, c->m->ntables, "table", &x));
    if (c->m->elems[y].type != c->m->tables[x].elem)
      return fail(c, "type mismatch: table.init of %s into a table of %s",
                  wg_valtype_name(c->m->elems[y].type), wg_valtype_name(c->m->tables[x].elem));
    TRY(pop3(c, WG_I32, WG_I32, WG_I32, s));
    if (live(c)) { TRY(note_trap(c)); EMIT(28, op, x, y, s[0], s[1], s[2]); }
    return WG_OK;
  }
  if (op == WGOP_TABLE_COPY) {
    TRY(read_idx(c, c->m->ntables, "table", &x));
    TRY(read_idx(c, c->m->ntables, "table", &y));
    if (c->m->tables[x].elem != c->m->tables[y].elem)
      return fail(c, "type mismatch: table.copy between tables of different types");
    TRY(pop3(c, WG_I32, WG_I32, WG_I32, s));
    if (live(c)) { TRY(note_trap(c)); EMIT(28, op, x, y, s[0], s[1], s[2]); }
    return WG_OK;
  }
  TRY(read_idx(c, c->m->ntables, "table", &x));
  uint8_t et = c->m->tables[x].elem;
  uint32_t dst;
  switch (op) {
    case WGOP_TABLE_GET:
      TRY(pop2(c, WG_I32, NULL, &s[0]));
      dst = slot(c, c->height);
      TRY(push(c, et));
      if (live(c)) { TRY(note_trap(c)); EMIT(3, op, dst, s[0], x); }
      return WG_OK;
    case WGOP_TABLE_SET:
      TRY(pop2(c, et, NULL, &s[1]));
      TRY(pop2(c, WG_I32, NULL, &s[0]));
      if (live(c)) { TRY(note_trap(c)); EMIT(6, op, x, s[0], s[1]); }
      return WG_OK;
    case WGOP_TABLE_SIZE:
      dst = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(1, op, dst, x);
      return WG_OK;
    case WGOP_TABLE_GROW:
      TRY(pop2(c, WG_I32, NULL, &s[1]));
      TRY(pop2(c, et, NULL, &s[0]));
      dst = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(7, op, dst, s[0], s[1], x);
      return WG_OK;
    default: /* table.fill */
      TRY(pop3(c, WG_I32, et, WG_I32, s));
      if (live(c)) { TRY(note_trap(c)); EMIT(14, op, x, s[0], s[1], s[2]); }
      return WG_OK;
  }
}

static wg_err op_memory(comp *c, uint32_t op) {
  wg_err e;
  uint32_t x = 0, s[3] = {0, 0, 0}, dst;
  switch (op) {
    case WGOP_MEMORY_SIZE:
      TRY(read_memidx(c));
      dst = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(1, op, dst);
      return WG_OK;
    case WGOP_MEMORY_GROW:
      TRY(read_memidx(c));
      TRY(pop2(c, WG_I32, NULL, &s[0]));
      dst = slot(c, c->height);
      TRY(push(c, WG_I32));
      if (live(c)) EMIT(3, op, dst, s[0]);
      return WG_OK;
    case WGOP_MEMORY_FILL:
    case WGOP_MEMORY_COPY:
      TRY(read_memidx(c));
      if (op == WGOP_MEMORY_COPY) TRY(read_memidx(c));
      TRY(pop3(c, WG_I32, WG_I32, WG_I32, s));
      if (live(c)) { TRY(note_trap(c)); EMIT(7, op, s[0], s[1], s[2]); }
      return WG_OK;
    case WGOP_MEMORY_INIT:
      TRY(wgw_read_u32(&c->r, &x));
      if (!c->m->has_datacount)
        return wgw_fail(&c->r, WG_ENODATACOUNT, "data count section required");
      if (x >= c->m->datacount) return fail(c, "unknown data segment %u", x);
      TRY(read_memidx(c));
      TRY(pop3(c, WG_I32, WG_I32, WG_I32, s));
      if (live(c)) { TRY(note_trap(c)); EMIT(14, op, x, s[0], s[1], s[2]); }
      return WG_OK;
    default: /* data.drop */
      TRY(wgw_read_u32(&c->r, &x));
      if (!c->m->has_datacount)
        return wgw_fail(&c->r, WG_ENODATACOUNT, "data count section required");
      if (x >= c->m->datacount) return fail(c, "unknown data segment %u", x);
      if (live(c)) EMIT(0, op, x);
      return WG_OK;
  }
}

/* Pushes a constant: a constant slot when there is room, else an
** instruction that writes it. */
static wg_err push_const(comp *c, uint8_t t, uint64_t v) {
  wg_err e;
  for (uint32_t i = 0; i < c->nconsts; i++)
    if (c->consts[i] == v) return push_at(c, t, CONST_TAG | i);
  if (c->nconsts < MAX_CONSTS) {
    c->consts[c->nconsts] = v;
    return push_at(c, t, CONST_TAG | c->nconsts++);
  }
  uint32_t dst = slot(c, c->height);
  TRY(push(c, t));
  if (live(c)) {
    if (v >> 32) EMIT(1, WGOP_I64_CONST, dst, (uint32_t)v, (uint32_t)(v >> 32));
    else EMIT(1, WGOP_I32_CONST, dst, (uint32_t)v);
  }
  return WG_OK;
}

static wg_err op_const(comp *c, uint32_t op) {
  wg_err e;
  const uint8_t *p = NULL;
  switch (op) {
    case WGOP_I32_CONST: {
      int32_t v = 0;
      TRY(wgw_read_s32(&c->r, &v));
      return push_const(c, WG_I32, (uint32_t)v);
    }
    case WGOP_I64_CONST: {
      int64_t v = 0;
      TRY(wgw_read_s64(&c->r, &v));
      return push_const(c, WG_I64, (uint64_t)v);
    }
    case WGOP_F32_CONST: {
      uint32_t v;
      TRY(wgw_read_bytes(&c->r, 4, &p));
      memcpy(&v, p, 4);
      return push_const(c, WG_F32, v);
    }
    default: {
      uint64_t v;
      TRY(wgw_read_bytes(&c->r, 8, &p));
      memcpy(&v, p, 8);
      return push_const(c, WG_F64, v);
    }
  }
}

static wg_err op_ref(comp *c, uint32_t op) {
  wg_err e;
  if (op == WGOP_REF_NULL) {
    uint8_t t = 0;
    TRY(wgw_read_u8(&c->r, &t));
    if (!is_ref(t)) return wgw_fail(&c->r, WG_EMALFORMED, "malformed reference type");
    return push_const(c, t, 0);
  }
  if (op == WGOP_REF_IS_NULL) {
    uint8_t t = 0;
    uint32_t src = 0;
    TRY(pop2(c, 0, &t, &src));
    if (t && !is_ref(t)) return fail(c, "type mismatch: ref.is_null of %s", wg_valtype_name(t));
    uint32_t dst = slot(c, c->height);
    TRY(push(c, WG_I32));
    if (live(c)) EMIT(3, op, dst, src);
    return WG_OK;
  }
  uint32_t x = 0;
  TRY(read_idx(c, c->m->nfuncs, "function", &x));
  if (!(c->m->declared_funcs[x / 8] & (1u << (x % 8))))
    return fail(c, "undeclared function reference %u", x);
  uint32_t dst = slot(c, c->height);
  TRY(push(c, WG_FUNCREF));
  if (live(c)) EMIT(1, op, dst, x);
  return WG_OK;
}

static wg_err instruction(comp *c, bool *done) {
  uint8_t b = 0;
  uint32_t op;
  wg_err e;
  c->op_off = (uint32_t)wgw_offset(&c->r);
  TRY(wgw_read_u8(&c->r, &b));
  if (b == 0xFC) {
    uint32_t sub = 0;
    TRY(wgw_read_u32(&c->r, &sub));
    op = sub < 32 ? wgw_op_by_fc[sub] : 0xFFFF;
    if (op == 0xFFFF) {
      c->r.p = c->m->bytes + c->op_off;
      return wgw_fail(&c->r, WG_EMALFORMED, "illegal opcode 0xfc %u", sub);
    }
  } else if (b == 0xFD) {
    return wgw_fail(&c->r, WG_EMALFORMED, "SIMD instructions (0xfd) are not supported yet");
  } else {
    op = wgw_op_by_byte[b];
    if (op == 0xFFFF) {
      c->r.p--;
      return wgw_fail(&c->r, WG_EMALFORMED, "illegal opcode 0x%02x", b);
    }
  }
  c->ctls[c->fuel_idx].fuel++;
  const wgw_opinfo *oi = &wgw_ops[op];
  if (oi->sig[0]) return simple_op(c, op);
  switch (op) {
    case WGOP_UNREACHABLE:
      if (live(c)) { TRY(note_trap(c)); EMIT(0, WGOP_TRAP, WG_TRAP_UNREACHABLE); }
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
  c->nconsts = 0;
  c->nssites = 0;
  c->nimms = 0;
  c->r.p = m->bytes + fn->body_off;
  c->r.end = c->r.p + fn->body_len;
  c->op_off = fn->body_off;
  for (uint32_t k = 0; k < fn->nlocals; k++)
    if (fn->local_types[k] == WG_V128) return fail(c, "v128 (SIMD) is not supported yet");
  TRY(GROW(c->lstate, c->cap_lstate, (size_t)fn->nlocals + 1));
  memset(c->lstate, LOCAL_UNTOUCHED, fn->nlocals);
  fn->code = (uint32_t)c->ncode;
  fn->traps = (uint32_t)c->ntraps;
  TRY(push_ctl(c, CTL_FUNC, NULL, 0, ft->vt + ft->nparams, ft->nresults));
  c->fuel_idx = 0;
  TRY(note_trap(c));
  /* ENTER: fuel cost, first and end local to zero, first slot and count
  ** of the values copied from the table, offset of the table */
  EMIT(0, WGOP_ENTER, 0, ft->nparams, fn->nlocals, 0, 0, 0);
  c->barrier = c->ncode;
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
  TRY(apply_immediates(c));
  /* final layout: [locals][constants][operand stack] */
  uint32_t nl = fn->nlocals, nc = c->nconsts;
  for (size_t k = 0; k < c->nssites; k++) {
    uint32_t *w = &c->code[c->ssites[k]];
    if (*w & CONST_TAG) *w = nl + (*w & ~CONST_TAG);
    else if (*w >= nl) *w += nc;
  }
  /* Locals that may be read before written are zeroed, [zlo, zhi); when
  ** they are few, their zeros join the constants in one table that ENTER
  ** copies: one short loop per call instead of two. */
  uint32_t zlo = nl, zhi = nl;
  for (uint32_t k = ft->nparams; k < nl; k++)
    if (c->lstate[k] == LOCAL_READ_FIRST) {
      if (zlo == nl) zlo = k;
      zhi = k + 1;
    }
  uint32_t nz = nl - zlo;
  bool zeros_in_table = nz <= ENTER_TABLE_ZEROS;
  uint32_t tfirst = zeros_in_table ? zlo : nl;
  uint32_t tcount = (zeros_in_table ? nz : 0) + nc;
  uint32_t *enter = c->code + fn->code;
  enter[1] = c->ctls[0].fuel;
  enter[2] = zeros_in_table ? 0 : zlo;
  enter[3] = zeros_in_table ? 0 : zhi;
  enter[4] = tfirst;
  enter[5] = tcount;
  if (tcount) {
    TRY(GROW(c->code, c->cap_code, c->ncode + 2 * (size_t)tcount));
    enter = c->code + fn->code;
    enter[6] = (uint32_t)(c->ncode - (fn->code + 6));
    for (uint32_t k = 0; k < tcount; k++) {
      uint64_t v = zeros_in_table && k < nz ? 0 : c->consts[k - (tcount - nc)];
      c->code[c->ncode++] = (uint32_t)v;
      c->code[c->ncode++] = (uint32_t)(v >> 32);
    }
  }
  fn->frame_size = nl + nc + c->max_height + 1;
  fn->ntraps = (uint32_t)c->ntraps - fn->traps;
  return WG_OK;
}

wg_err wgw_compile(wg_module *m, wg_error *err) {
  wg_err e = WG_OK;
  comp cc;
  memset(&cc, 0, sizeof cc);
  comp *c = &cc;
  c->m = m;
  c->err = err;
  c->r.base = m->bytes;
  c->r.err = err;
  uint32_t ndef = m->nfuncs - m->nfunc_imports;
  for (uint32_t i = 0; i < ndef && !e; i++) e = compile_func(c, i);
  if (e && err && e != WG_ENOMEM && err->func < 0) {
    err->func = c->funcidx;
    err->section = 10;
  }
  if (!e) {
    for (size_t k = 0; k < c->ncalls; k++) {
      uint32_t *w = &c->code[c->calls[k]];
      const wgw_func *callee = &m->funcs[w[0]];
      w[0] = callee->code;
      w[2] = callee->frame_size;
    }
    /* shrink to fit: the module keeps the code for its lifetime */
    size_t n = c->ncode ? c->ncode : 1;
    uint32_t *code = wg_grow_array(c->code, c->cap_code, n, sizeof *code);
    if (code) { c->code = code; c->cap_code = n; }
    m->code = c->code;
    m->ncode = c->cap_code;
    m->trapsites = c->traps;
    m->ntrapsites = c->cap_traps;
    c->code = NULL;
    c->traps = NULL;
  }
  wg_free(c->code, c->cap_code * sizeof *c->code);
  wg_free(c->traps, c->cap_traps * sizeof *c->traps);
  wg_free(c->ssites, c->cap_ssites * sizeof *c->ssites);
  wg_free(c->calls, c->cap_calls * sizeof *c->calls);
  wg_free(c->imms, c->cap_imms * sizeof *c->imms);
  wg_free(c->lstate, c->cap_lstate);
  wg_free(c->vals, c->cap_vals);
  wg_free(c->eslots, c->cap_eslots * sizeof *c->eslots);
  wg_free(c->ctls, c->cap_ctls * sizeof *c->ctls);
  return e;
}
