/*
** The interpreter: runs the internal code produced by validate.c.
**
** One C frame runs any depth of guest calls: a call pushes a wgw_frame on
** the store's bounded frame stack and jumps to the callee's code; RET pops
** it. Operands are frame slots (fp[k]); every instruction decodes nothing
** but its fixed 32-bit operand words.
**
** Dispatch goes through three macros: VM_CASE names a handler, VM_NEXT(n)
** steps over an instruction of n words and dispatches the next one, and
** VM_DISPATCH starts. On GCC and Clang they use computed goto; elsewhere
** they are a portable switch.
**
** Fuel and the interrupt word are checked only at function entry (ENTER)
** and loop heads (LOOP_HEAD); see validate.c for what they charge.
*/
#include <math.h>
#include <stdio.h>

#include "wasm/wasm_int.h"

#if defined(__GNUC__) && !defined(WG_SWITCH_DISPATCH)
#define VM_DISPATCH() goto *labels[*ip];
#define VM_CASE(name) L_##name:
#define VM_NEXT(n) do { ip += (n); goto *labels[*ip]; } while (0)
#else
#define VM_DISPATCH() dispatch: switch (*ip)
#define VM_CASE(name) case WGOP_##name:
#define VM_NEXT(n) do { ip += (n); goto dispatch; } while (0)
#endif

/* Operand access: k is the operand's word index in the instruction. */
#define R_I32(k) ((uint32_t)fp[ip[k]])
#define R_I64(k) (fp[ip[k]])
#define R_F32(k) wgw_f32(fp[ip[k]])
#define R_F64(k) wgw_f64(fp[ip[k]])
#define W_I32(k, v) (fp[ip[k]] = (uint32_t)(v))
#define W_I64(k, v) (fp[ip[k]] = (uint64_t)(v))
#define W_F32(k, v) (fp[ip[k]] = wgw_bits32(v))
#define W_F64(k, v) (fp[ip[k]] = wgw_bits64(v))

/* r := a OP b, and r := OP a, for each type */
#define BIN(name, R, W, T, expr)                                              \
  VM_CASE(name) { T a = R(2), b = R(3); W(1, expr); VM_NEXT(4); }
#define UN(name, R, W, T, expr)                                               \
  VM_CASE(name) { T a = R(2); W(1, expr); VM_NEXT(3); }
#define BIN_I32(name, expr) BIN(name, R_I32, W_I32, uint32_t, expr)
#define BIN_I64(name, expr) BIN(name, R_I64, W_I64, uint64_t, expr)
#define BIN_F32(name, expr) BIN(name, R_F32, W_F32, float, expr)
#define BIN_F64(name, expr) BIN(name, R_F64, W_F64, double, expr)
#define CMP_I64(name, expr) BIN(name, R_I64, W_I32, uint64_t, expr)
#define CMP_F32(name, expr) BIN(name, R_F32, W_I32, float, expr)
#define CMP_F64(name, expr) BIN(name, R_F64, W_I32, double, expr)

#define LOAD(name, T, conv)                                                   \
  VM_CASE(name) {                                                             \
    uint64_t ea = (uint64_t)R_I32(2) + ip[3];                                 \
    if (UNLIKELY(ea + sizeof(T) > memsize)) goto trap_memory;                 \
    T v_;                                                                     \
    memcpy(&v_, mem + ea, sizeof v_);                                         \
    fp[ip[1]] = conv;                                                         \
    VM_NEXT(4);                                                               \
  }
#define LOAD_X(name, T, conv)                                                 \
  VM_CASE(name) {                                                             \
    uint64_t ea = (uint64_t)(uint32_t)(R_I32(2) + R_I32(3)) + ip[4];          \
    if (UNLIKELY(ea + sizeof(T) > memsize)) goto trap_memory;                 \
    T v_;                                                                     \
    memcpy(&v_, mem + ea, sizeof v_);                                         \
    fp[ip[1]] = conv;                                                         \
    VM_NEXT(5);                                                               \
  }
#define STORE_X(name, T)                                                      \
  VM_CASE(name) {                                                             \
    uint64_t ea = (uint64_t)(uint32_t)(R_I32(1) + R_I32(2)) + ip[4];          \
    if (UNLIKELY(ea + sizeof(T) > memsize)) goto trap_memory;                 \
    T v_ = (T)fp[ip[3]];                                                      \
    memcpy(mem + ea, &v_, sizeof v_);                                         \
    VM_NEXT(5);                                                               \
  }

/* Takes the branch whose offset word is at `site`. A backward branch is a
** loop's back-edge: it charges the loop's fuel (the word before its target,
** LOOP_HEAD's operand) and checks the interrupt word. */
#define TAKE(site)                                                            \
  do {                                                                        \
    const uint32_t *s_ = (site);                                              \
    int32_t o_ = (int32_t)*s_;                                                \
    ip = s_ + o_;                                                             \
    if (o_ < 0) goto backedge;                                                \
    VM_NEXT(0);                                                               \
  } while (0)

#define STORE(name, T)                                                        \
  VM_CASE(name) {                                                             \
    uint64_t ea = (uint64_t)R_I32(1) + ip[3];                                 \
    if (UNLIKELY(ea + sizeof(T) > memsize)) goto trap_memory;                 \
    T v_ = (T)fp[ip[2]];                                                      \
    memcpy(mem + ea, &v_, sizeof v_);                                         \
    VM_NEXT(4);                                                               \
  }

/* Float helpers with the spec's NaN and signed-zero rules. */
static inline float min32(float a, float b) {
  if (isnan(a) || isnan(b)) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline float max32(float a, float b) {
  if (isnan(a) || isnan(b)) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? b : a;
  return a > b ? a : b;
}
static inline double min64(double a, double b) {
  if (isnan(a) || isnan(b)) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline double max64(double a, double b) {
  if (isnan(a) || isnan(b)) return a + b;
  if (a == 0 && b == 0) return signbit(a) ? b : a;
  return a > b ? a : b;
}

/* Saturating truncations; NaN gives 0. */
static inline uint32_t sat_i32_s(double x) {
  if (isnan(x)) return 0;
  if (x <= -2147483648.0) return 0x80000000u;
  if (x >= 2147483647.0) return 0x7FFFFFFFu;
  return (uint32_t)(int32_t)x;
}
static inline uint32_t sat_i32_u(double x) {
  if (isnan(x) || x <= 0) return 0;
  if (x >= 4294967295.0) return 0xFFFFFFFFu;
  return (uint32_t)x;
}
static inline uint64_t sat_i64_s(double x) {
  if (isnan(x)) return 0;
  if (x <= -9223372036854775808.0) return 0x8000000000000000ull;
  if (x >= 9223372036854775808.0) return 0x7FFFFFFFFFFFFFFFull;
  return (uint64_t)(int64_t)x;
}
static inline uint64_t sat_i64_u(double x) {
  if (isnan(x) || x <= 0) return 0;
  if (x >= 18446744073709551616.0) return 0xFFFFFFFFFFFFFFFFull;
  return (uint64_t)x;
}

static inline uint32_t rotl32(uint32_t a, uint32_t b) {
  b &= 31;
  return (a << b) | (a >> ((32 - b) & 31));
}
static inline uint32_t rotr32(uint32_t a, uint32_t b) {
  b &= 31;
  return (a >> b) | (a << ((32 - b) & 31));
}
static inline uint64_t rotl64(uint64_t a, uint64_t b) {
  b &= 63;
  return (a << b) | (a >> ((64 - b) & 63));
}
static inline uint64_t rotr64(uint64_t a, uint64_t b) {
  b &= 63;
  return (a >> b) | (a << ((64 - b) & 63));
}

/* The defined function whose code holds ip (functions are compiled in
** order, so their code starts ascend). */
static const wgw_func *func_at(const wg_module *m, const uint32_t *ip) {
  uint32_t at = (uint32_t)(ip - m->code);
  uint32_t lo = 0, hi = m->nfuncs - m->nfunc_imports;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (m->funcs[mid].code <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo ? &m->funcs[lo - 1] : NULL;
}

wg_err wgw_trap(wg_store *s, wg_err code, const wg_instance *inst,
                const uint32_t *ip) {
  wg_error *e = &s->trap;
  if (e->code != WG_OK) return e->code;   /* a host function said more */
  e->code = code;
  e->section = 10;
  e->func = -1;
  e->offset = -1;
  char where[160] = "";
  const wgw_func *fn = inst && ip ? func_at(inst->mod, ip) : NULL;
  if (fn) {
    const wg_module *m = inst->mod;
    uint32_t idx = (uint32_t)(fn - m->funcs);
    uint32_t at = (uint32_t)(ip - m->code);
    uint32_t off = fn->body_off;
    const wgw_trapsite *t = m->trapsites + fn->traps;
    uint32_t lo = 0, hi = fn->ntraps;
    while (lo < hi) {               /* last site at or before ip */
      uint32_t mid = (lo + hi) / 2;
      if (t[mid].ip <= at) lo = mid + 1;
      else hi = mid;
    }
    if (lo) off = t[lo - 1].off;
    e->func = (int64_t)m->nfunc_imports + idx;
    e->offset = off;
    wg_name nm = m->func_names ? m->func_names[e->func] : (wg_name){0};
    if (nm.ptr)
      snprintf(where, sizeof where, " in function '%.*s' (#%lld) at offset 0x%x",
               (int)(nm.len > 64 ? 64 : nm.len), nm.ptr, (long long)e->func, off);
    else
      snprintf(where, sizeof where, " in function #%lld at offset 0x%x",
               (long long)e->func, off);
  }
  snprintf(e->message, sizeof e->message, "%s%s", wg_strerror(code), where);
  return code;
}

static wg_err call_host(wg_store *s, wg_func *f, wg_instance *caller,
                        uint64_t *args) {
  wg_host_call hc = {s, caller, f};
  return f->host(&hc, args);
}

wg_err wgw_invoke(wg_store *s, wg_func *f) {
#if defined(__GNUC__) && !defined(WG_SWITCH_DISPATCH)
  static const void *const labels[WGOP_COUNT] = {
#define WG_OP(prefix, code, name, text, imm, sig, msize, trap) &&L_##name,
#define WG_IOP(name, words) &&L_##name,
#include "wasm/opcodes.def"
  };
  _Static_assert(sizeof labels / sizeof labels[0] == WGOP_COUNT,
                 "dispatch table out of step with opcodes.def");
#endif
  uint64_t *fp = s->sp;
  wgw_frame *entry = s->fsp;
  /* the frame stack pointer lives here while guest code runs; s->fsp is
  ** brought up to date before host code runs and on the way out */
  wgw_frame *fsp = entry;
  wgw_frame *const frames_end = s->frames_end;
  uint64_t *const stack_end = s->stack_end;
  wg_err err;

  if (f->host) {
    uint64_t *saved = s->sp;
    s->sp = fp + (f->type.nparams > f->type.nresults ? f->type.nparams
                                                     : f->type.nresults);
    err = call_host(s, f, NULL, fp);
    s->sp = saved;
    if (err && s->trap.code == WG_OK) wg_error_set(&s->trap, err, NULL);
    return err;
  }

  wg_instance *inst = f->inst;
  const uint32_t *ip = inst->mod->code + f->fn->code;
  uint8_t *mem = NULL;
  uint64_t memsize = 0;
  wg_err trapcode = WG_OK;

#define RELOAD_MEM()                                                          \
  do {                                                                        \
    if (inst->mod->nmems) { mem = inst->mems[0]->data; memsize = inst->mems[0]->size; } \
    else { mem = NULL; memsize = 0; }                                         \
  } while (0)

  if (fsp >= frames_end || fp + f->fn->frame_size > stack_end) {
    trapcode = WG_TRAP_STACK;
    goto trap;
  }
  *fsp++ = (wgw_frame){NULL, NULL, NULL};
  RELOAD_MEM();
  VM_DISPATCH()   /* no semicolon: the switch form takes the block below */
  {
    /* Wasm opcodes the compiler never emits as such */
    VM_CASE(NOP) VM_CASE(BLOCK) VM_CASE(LOOP) VM_CASE(IF) VM_CASE(ELSE)
    VM_CASE(END) VM_CASE(BR) VM_CASE(BR_IF) VM_CASE(BR_TABLE) VM_CASE(RETURN)
    VM_CASE(CALL) VM_CASE(CALL_INDIRECT) VM_CASE(REF_NULL) VM_CASE(DROP)
    VM_CASE(SELECT_T) VM_CASE(LOCAL_GET) VM_CASE(LOCAL_SET) VM_CASE(LOCAL_TEE)
    VM_CASE(F32_CONST) VM_CASE(F64_CONST) VM_CASE(I32_WRAP_I64)
    VM_CASE(I32_REINTERPRET_F32) VM_CASE(I64_REINTERPRET_F64)
    VM_CASE(F32_REINTERPRET_I32) VM_CASE(F64_REINTERPRET_I64)
    VM_CASE(UNREACHABLE)
      trapcode = WG_TRAP_UNREACHABLE;
      goto trap;

    /* ---- control ---- */
    VM_CASE(MOVE) { fp[ip[1]] = fp[ip[2]]; VM_NEXT(3); }
    VM_CASE(JUMP) TAKE(ip + 1);
    VM_CASE(MOVE_JUMP) {
      fp[ip[1]] = fp[ip[2]];
      TAKE(ip + 3);
    }
    VM_CASE(BR_Z) {
      if (!R_I32(1)) TAKE(ip + 2);
      VM_NEXT(3);
    }
    VM_CASE(BR_NZ) {
      if (R_I32(1)) TAKE(ip + 2);
      VM_NEXT(3);
    }
#define BR_CMP(name, T, op)                                                   \
    VM_CASE(name) {                                                           \
      if ((T)R_I32(1) op (T)R_I32(2)) TAKE(ip + 3);                           \
      VM_NEXT(4);                                                             \
    }
    BR_CMP(BR_EQ, uint32_t, ==)
    BR_CMP(BR_NE, uint32_t, !=)
    BR_CMP(BR_LT_S, int32_t, <)
    BR_CMP(BR_LT_U, uint32_t, <)
    BR_CMP(BR_GT_S, int32_t, >)
    BR_CMP(BR_GT_U, uint32_t, >)
    BR_CMP(BR_LE_S, int32_t, <=)
    BR_CMP(BR_LE_U, uint32_t, <=)
    BR_CMP(BR_GE_S, int32_t, >=)
    BR_CMP(BR_GE_U, uint32_t, >=)
    VM_CASE(ADD_BR_NZ) {
      uint32_t v = R_I32(2) + R_I32(3);
      W_I32(1, v);
      if (v) TAKE(ip + 4);
      VM_NEXT(5);
    }
    VM_CASE(ADD_BR_Z) {
      uint32_t v = R_I32(2) + R_I32(3);
      W_I32(1, v);
      if (!v) TAKE(ip + 4);
      VM_NEXT(5);
    }
    VM_CASE(BR_ANDNZ) {
      if (R_I32(1) & R_I32(2)) TAKE(ip + 3);
      VM_NEXT(4);
    }
    VM_CASE(BR_ANDZ) {
      if (!(R_I32(1) & R_I32(2))) TAKE(ip + 3);
      VM_NEXT(4);
    }
#define BR_CMP_I(name, T, op)                                                 \
    VM_CASE(name) {                                                           \
      if ((T)R_I32(1) op (T)ip[2]) TAKE(ip + 3);                              \
      VM_NEXT(4);                                                             \
    }
    BR_CMP_I(BR_EQ_I, uint32_t, ==)
    BR_CMP_I(BR_NE_I, uint32_t, !=)
    BR_CMP_I(BR_LT_S_I, int32_t, <)
    BR_CMP_I(BR_LT_U_I, uint32_t, <)
    BR_CMP_I(BR_GT_S_I, int32_t, >)
    BR_CMP_I(BR_GT_U_I, uint32_t, >)
    BR_CMP_I(BR_LE_S_I, int32_t, <=)
    BR_CMP_I(BR_LE_U_I, uint32_t, <=)
    BR_CMP_I(BR_GE_S_I, int32_t, >=)
    BR_CMP_I(BR_GE_U_I, uint32_t, >=)
#undef BR_CMP_I
#undef BR_CMP
#define ADD_BR_CMP(name, T, op)                                               \
    VM_CASE(name) {                                                           \
      W_I32(1, R_I32(2) + R_I32(3));                                          \
      if ((T)R_I32(1) op (T)R_I32(4)) TAKE(ip + 5);                           \
      VM_NEXT(6);                                                             \
    }
    ADD_BR_CMP(ADD_BR_EQ, uint32_t, ==)
    ADD_BR_CMP(ADD_BR_NE, uint32_t, !=)
    ADD_BR_CMP(ADD_BR_LT_S, int32_t, <)
    ADD_BR_CMP(ADD_BR_LT_U, uint32_t, <)
    ADD_BR_CMP(ADD_BR_GT_S, int32_t, >)
    ADD_BR_CMP(ADD_BR_GT_U, uint32_t, >)
    ADD_BR_CMP(ADD_BR_LE_S, int32_t, <=)
    ADD_BR_CMP(ADD_BR_LE_U, uint32_t, <=)
    ADD_BR_CMP(ADD_BR_GE_S, int32_t, >=)
    ADD_BR_CMP(ADD_BR_GE_U, uint32_t, >=)
#undef ADD_BR_CMP
    VM_CASE(AND_BR_EQ) {
      W_I32(1, R_I32(2) & R_I32(3));
      if (R_I32(1) == R_I32(4)) TAKE(ip + 5);
      VM_NEXT(6);
    }
    VM_CASE(AND_BR_NE) {
      W_I32(1, R_I32(2) & R_I32(3));
      if (R_I32(1) != R_I32(4)) TAKE(ip + 5);
      VM_NEXT(6);
    }
#define LOAD_BR(name, test)                                                   \
    VM_CASE(name) {                                                           \
      uint64_t ea = (uint64_t)R_I32(2) + ip[3];                               \
      if (UNLIKELY(ea + 4 > memsize)) goto trap_memory;                       \
      uint32_t v_;                                                            \
      memcpy(&v_, mem + ea, 4);                                               \
      W_I32(1, v_);                                                           \
      if (test) TAKE(ip + 4);                                                 \
      VM_NEXT(5);                                                             \
    }
    LOAD_BR(LOAD_BR_NZ, v_ != 0)
    LOAD_BR(LOAD_BR_Z, v_ == 0)
#undef LOAD_BR
    VM_CASE(BR_TBL) {
      uint32_t i = R_I32(1), n = ip[2];
      TAKE(ip + 3 + (i < n ? i : n));
    }
    VM_CASE(ENTER) {
      if (UNLIKELY((s->fuel -= ip[1]) < 0)) goto trap_fuel;
      if (UNLIKELY(atomic_load_explicit(&s->interrupt, memory_order_relaxed))) goto trap_interrupt;
      for (uint32_t k = ip[2], end = ip[3]; k < end; k++) fp[k] = 0;
      uint32_t n = ip[5];
      if (n) {        /* zeroed locals and constants (little-endian pairs) */
        uint64_t *d = fp + ip[4], *e = d + n;
        const uint32_t *t = ip + 6 + ip[6];
        do { uint64_t v; memcpy(&v, t, 8); *d = v; t += 2; } while (++d < e);
      }
      VM_NEXT(7);
    }
    VM_CASE(LOOP_HEAD) {
      ip += 2;
    backedge:
      if (UNLIKELY((s->fuel -= ip[-1]) < 0)) goto trap_fuel;
      if (UNLIKELY(atomic_load_explicit(&s->interrupt, memory_order_relaxed))) goto trap_interrupt;
      VM_NEXT(0);
    }
    VM_CASE(CALL_LOCAL) {
      uint64_t *nfp = fp + ip[2];
      if (UNLIKELY(fsp >= frames_end || nfp + ip[3] > stack_end)) {
        trapcode = WG_TRAP_STACK;
        goto trap;
      }
      *fsp++ = (wgw_frame){ip + 4, fp, inst};
      fp = nfp;
      ip = inst->mod->code + ip[1];
      VM_NEXT(0);
    }
    {
      wg_func *callee;
      uint64_t *nfp;
      const uint32_t *ret;
    VM_CASE(CALL_FUNC)
      callee = inst->funcs[ip[1]];
      nfp = fp + ip[2];
      ret = ip + 3;
      goto call_any;
    VM_CASE(CALL_IND) {
      const wg_table *t = inst->tables[ip[2]];
      uint32_t i = R_I32(4);
      if (UNLIKELY(i >= t->size)) { trapcode = WG_TRAP_UNDEFINED; goto trap; }
      callee = (wg_func *)(uintptr_t)t->elems[i];
      if (UNLIKELY(!callee)) { trapcode = WG_TRAP_UNINITIALIZED; goto trap; }
      const wgw_type *want = &inst->mod->types[ip[1]];
      if (UNLIKELY(callee->type.vt != want->vt && !wgw_types_equal(&callee->type, want))) {
        trapcode = WG_TRAP_INDIRECT;
        goto trap;
      }
      nfp = fp + ip[3];
      ret = ip + 5;
    }
    call_any:
      if (callee->host) {
        uint64_t *saved = s->sp;
        /* the caller's frame ends below the callee's results at the latest */
        s->sp = nfp + (callee->type.nparams > callee->type.nresults
                           ? callee->type.nparams : callee->type.nresults);
        s->fsp = fsp;
        err = call_host(s, callee, inst, nfp);
        s->sp = saved;
        if (UNLIKELY(err)) { trapcode = err; goto trap; }
        RELOAD_MEM();
        ip = ret;
        VM_NEXT(0);
      }
      if (UNLIKELY(fsp >= frames_end || nfp + callee->fn->frame_size > stack_end)) {
        trapcode = WG_TRAP_STACK;
        goto trap;
      }
      *fsp++ = (wgw_frame){ret, fp, inst};
      fp = nfp;
      if (callee->inst != inst) {   /* same instance: mem and memsize are current */
        inst = callee->inst;
        RELOAD_MEM();
      }
      ip = inst->mod->code + callee->fn->code;
      VM_NEXT(0);
    }
    VM_CASE(RET) {
    ret:;
      wgw_frame *fr = --fsp;
      if (!fr->ret) goto done;
      ip = fr->ret;
      fp = fr->fp;
      if (fr->inst != inst) {   /* same instance: mem and memsize are current */
        inst = fr->inst;
        RELOAD_MEM();
      }
      VM_NEXT(0);
    }
    VM_CASE(RET1) {
      fp[0] = fp[ip[1]];
      goto ret;
    }
    VM_CASE(RET1_I) {
      fp[0] = ip[1];
      goto ret;
    }
#define FUSED(name, expr)                                                     \
    VM_CASE(name) {                                                           \
      uint32_t a = R_I32(2), b = R_I32(3), c = R_I32(4);                      \
      W_I32(1, expr);                                                         \
      VM_NEXT(5);                                                             \
    }
    FUSED(ADD_ADD, a + b + c)
    FUSED(SHL_ADD, (a << (b & 31)) + c)
    FUSED(MUL_ADD, a * b + c)
    FUSED(SHRU_AND, (a >> (b & 31)) & c)
    FUSED(ROTL_XOR, rotl32(a, b) ^ c)
    FUSED(SHL_XOR, (a << (b & 31)) ^ c)
    FUSED(XOR_XOR, a ^ b ^ c)
    FUSED(SHL_SHRS, (uint32_t)((int32_t)(a << (b & 31)) >> (c & 31)))
#undef FUSED
    /* two roundings, as two instructions: the build uses -ffp-contract=off
    ** so the compiler never fuses these into one multiply-add */
#define FUSED_F64(name, expr)                                                 \
    VM_CASE(name) {                                                           \
      double a = R_F64(2), b = R_F64(3), c = R_F64(4);                        \
      double t = expr;                                                        \
      W_F64(1, t);                                                            \
      VM_NEXT(5);                                                             \
    }
    FUSED_F64(F64_MUL_ADD, a * b + c)
    FUSED_F64(F64_MUL_SUB, a * b - c)
    FUSED_F64(F64_SUB_MUL, c - a * b)
    FUSED_F64(F64_SUBMUL, (a - b) * c)
    FUSED_F64(F64_MUL_MUL, a * b * c)
#undef FUSED_F64
#define F64_MEM(name, expr)                                                   \
    VM_CASE(name) {                                                           \
      uint64_t ea = (uint64_t)R_I32(3) + ip[4];                               \
      if (UNLIKELY(ea + 8 > memsize)) goto trap_memory;                       \
      uint64_t v_;                                                            \
      memcpy(&v_, mem + ea, 8);                                               \
      double a = R_F64(2), m = wgw_f64(v_);                                   \
      W_F64(1, expr);                                                         \
      VM_NEXT(5);                                                             \
    }
#define F64_MEM_X(name, expr)                                                 \
    VM_CASE(name) {                                                           \
      uint64_t ea = (uint64_t)(uint32_t)(R_I32(3) + R_I32(4)) + ip[5];        \
      if (UNLIKELY(ea + 8 > memsize)) goto trap_memory;                       \
      uint64_t v_;                                                            \
      memcpy(&v_, mem + ea, 8);                                               \
      double a = R_F64(2), m = wgw_f64(v_);                                   \
      W_F64(1, expr);                                                         \
      VM_NEXT(6);                                                             \
    }
    F64_MEM(F64_ADD_M, a + m)
    F64_MEM(F64_SUB_M, a - m)
    F64_MEM(F64_RSUB_M, m - a)
    F64_MEM(F64_MUL_M, a * m)
    F64_MEM_X(F64_ADD_MX, a + m)
    F64_MEM_X(F64_SUB_MX, a - m)
    F64_MEM_X(F64_RSUB_MX, m - a)
    F64_MEM_X(F64_MUL_MX, a * m)
#undef F64_MEM
#undef F64_MEM_X
    VM_CASE(TRAP) { trapcode = (wg_err)ip[1]; goto trap; }
    VM_CASE(SELECT) { fp[ip[1]] = R_I32(4) ? fp[ip[2]] : fp[ip[3]]; VM_NEXT(5); }

    /* ---- variables and references ---- */
    VM_CASE(GLOBAL_GET) { fp[ip[1]] = inst->globals[ip[2]]->val[0]; VM_NEXT(3); }
    VM_CASE(GLOBAL_SET) { inst->globals[ip[1]]->val[0] = fp[ip[2]]; VM_NEXT(3); }
    VM_CASE(REF_IS_NULL) { W_I32(1, fp[ip[2]] == 0); VM_NEXT(3); }
    VM_CASE(REF_FUNC) { fp[ip[1]] = (uint64_t)(uintptr_t)inst->funcs[ip[2]]; VM_NEXT(3); }
    VM_CASE(I32_CONST) { fp[ip[1]] = ip[2]; VM_NEXT(3); }
    VM_CASE(I64_CONST) { fp[ip[1]] = ip[2] | (uint64_t)ip[3] << 32; VM_NEXT(4); }

    /* ---- tables ---- */
    VM_CASE(TABLE_GET) {
      const wg_table *t = inst->tables[ip[3]];
      uint32_t i = R_I32(2);
      if (UNLIKELY(i >= t->size)) { trapcode = WG_TRAP_TABLE; goto trap; }
      fp[ip[1]] = t->elems[i];
      VM_NEXT(4);
    }
    VM_CASE(TABLE_SET) {
      wg_table *t = inst->tables[ip[1]];
      uint32_t i = R_I32(2);
      if (UNLIKELY(i >= t->size)) { trapcode = WG_TRAP_TABLE; goto trap; }
      t->elems[i] = fp[ip[3]];
      VM_NEXT(4);
    }
    VM_CASE(TABLE_SIZE) { W_I32(1, inst->tables[ip[2]]->size); VM_NEXT(3); }
    VM_CASE(TABLE_GROW) {
      uint64_t old;
      if (wgw_table_grow(inst->tables[ip[4]], R_I32(3), fp[ip[2]], &old)) W_I32(1, 0xFFFFFFFFu);
      else W_I32(1, old);
      VM_NEXT(5);
    }
    VM_CASE(TABLE_FILL) {
      wg_table *t = inst->tables[ip[1]];
      uint64_t i = R_I32(2), v = fp[ip[3]], n = R_I32(4);
      if (UNLIKELY(i + n > t->size)) { trapcode = WG_TRAP_TABLE; goto trap; }
      for (uint64_t k = 0; k < n; k++) t->elems[i + k] = v;
      VM_NEXT(5);
    }
    VM_CASE(TABLE_COPY) {
      wg_table *dt = inst->tables[ip[1]], *st = inst->tables[ip[2]];
      uint64_t d = R_I32(3), sr = R_I32(4), n = R_I32(5);
      if (UNLIKELY(d + n > dt->size || sr + n > st->size)) { trapcode = WG_TRAP_TABLE; goto trap; }
      if (n) memmove(dt->elems + d, st->elems + sr, n * sizeof *dt->elems);
      VM_NEXT(6);
    }
    VM_CASE(TABLE_INIT) {
      wg_table *t = inst->tables[ip[1]];
      uint32_t seg = ip[2];
      uint64_t d = R_I32(3), sr = R_I32(4), n = R_I32(5);
      if (UNLIKELY(d + n > t->size || sr + n > inst->elem_len[seg])) { trapcode = WG_TRAP_TABLE; goto trap; }
      if (n) memcpy(t->elems + d, inst->elem_vals[seg] + sr, n * sizeof *t->elems);
      VM_NEXT(6);
    }
    VM_CASE(ELEM_DROP) { inst->elem_len[ip[1]] = 0; VM_NEXT(2); }

    /* ---- memory ---- */
    LOAD(I32_LOAD, uint32_t, v_)
    LOAD(I64_LOAD, uint64_t, v_)
    LOAD(F32_LOAD, uint32_t, v_)
    LOAD(F64_LOAD, uint64_t, v_)
    LOAD(I32_LOAD8_S, int8_t, (uint32_t)(int32_t)v_)
    LOAD(I32_LOAD8_U, uint8_t, v_)
    LOAD(I32_LOAD16_S, int16_t, (uint32_t)(int32_t)v_)
    LOAD(I32_LOAD16_U, uint16_t, v_)
    LOAD(I64_LOAD8_S, int8_t, (uint64_t)(int64_t)v_)
    LOAD(I64_LOAD8_U, uint8_t, v_)
    LOAD(I64_LOAD16_S, int16_t, (uint64_t)(int64_t)v_)
    LOAD(I64_LOAD16_U, uint16_t, v_)
    LOAD(I64_LOAD32_S, int32_t, (uint64_t)(int64_t)v_)
    LOAD(I64_LOAD32_U, uint32_t, v_)
    LOAD_X(I32_LOAD_X, uint32_t, v_)
    LOAD_X(I64_LOAD_X, uint64_t, v_)
    LOAD_X(F32_LOAD_X, uint32_t, v_)
    LOAD_X(F64_LOAD_X, uint64_t, v_)
    LOAD_X(I32_LOAD8_U_X, uint8_t, v_)
    LOAD_X(I32_LOAD8_S_X, int8_t, (uint32_t)(int32_t)v_)
    LOAD_X(I32_LOAD16_U_X, uint16_t, v_)
    LOAD_X(I32_LOAD16_S_X, int16_t, (uint32_t)(int32_t)v_)
    STORE_X(I32_STORE_X, uint32_t)
    STORE_X(I64_STORE_X, uint64_t)
    STORE_X(F32_STORE_X, uint32_t)
    STORE_X(F64_STORE_X, uint64_t)
    STORE_X(I32_STORE8_X, uint8_t)
    STORE_X(I32_STORE16_X, uint16_t)
    STORE(I32_STORE, uint32_t)
    STORE(I64_STORE, uint64_t)
    STORE(F32_STORE, uint32_t)
    STORE(F64_STORE, uint64_t)
    STORE(I32_STORE8, uint8_t)
    STORE(I32_STORE16, uint16_t)
    STORE(I64_STORE8, uint8_t)
    STORE(I64_STORE16, uint16_t)
    STORE(I64_STORE32, uint32_t)
    VM_CASE(MEMORY_SIZE) { W_I32(1, memsize / WG_PAGE_SIZE); VM_NEXT(2); }
    VM_CASE(MEMORY_GROW) {
      uint64_t old;
      if (wgw_memory_grow(inst->mems[0], R_I32(2), &old)) W_I32(1, 0xFFFFFFFFu);
      else W_I32(1, old);
      RELOAD_MEM();
      VM_NEXT(3);
    }
    VM_CASE(MEMORY_FILL) {
      uint64_t d = R_I32(1), n = R_I32(3);
      if (UNLIKELY(d + n > memsize)) goto trap_memory;
      if (n) memset(mem + d, (int)(uint8_t)R_I32(2), n);
      VM_NEXT(4);
    }
    VM_CASE(MEMORY_COPY) {
      uint64_t d = R_I32(1), sr = R_I32(2), n = R_I32(3);
      if (UNLIKELY(d + n > memsize || sr + n > memsize)) goto trap_memory;
      if (n) memmove(mem + d, mem + sr, n);
      VM_NEXT(4);
    }
    VM_CASE(MEMORY_INIT) {
      uint32_t seg = ip[1];
      uint64_t d = R_I32(2), sr = R_I32(3), n = R_I32(4);
      if (UNLIKELY(d + n > memsize || sr + n > inst->data_len[seg])) goto trap_memory;
      if (n) memcpy(mem + d, inst->mod->bytes + inst->mod->datas[seg].off + sr, n);
      VM_NEXT(5);
    }
    VM_CASE(DATA_DROP) { inst->data_len[ip[1]] = 0; VM_NEXT(2); }

    /* ---- i32 ---- */
    UN(I32_EQZ, R_I32, W_I32, uint32_t, a == 0)
    BIN_I32(I32_EQ, a == b)
    BIN_I32(I32_NE, a != b)
    BIN_I32(I32_LT_S, (int32_t)a < (int32_t)b)
    BIN_I32(I32_LT_U, a < b)
    BIN_I32(I32_GT_S, (int32_t)a > (int32_t)b)
    BIN_I32(I32_GT_U, a > b)
    BIN_I32(I32_LE_S, (int32_t)a <= (int32_t)b)
    BIN_I32(I32_LE_U, a <= b)
    BIN_I32(I32_GE_S, (int32_t)a >= (int32_t)b)
    BIN_I32(I32_GE_U, a >= b)
    UN(I32_CLZ, R_I32, W_I32, uint32_t, a ? __builtin_clz(a) : 32)
    UN(I32_CTZ, R_I32, W_I32, uint32_t, a ? __builtin_ctz(a) : 32)
    UN(I32_POPCNT, R_I32, W_I32, uint32_t, __builtin_popcount(a))
    BIN_I32(I32_ADD, a + b)
    BIN_I32(I32_SUB, a - b)
    BIN_I32(I32_MUL, a * b)
    VM_CASE(I32_DIV_S) {
      uint32_t a = R_I32(2), b = R_I32(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      if (UNLIKELY(a == 0x80000000u && b == 0xFFFFFFFFu)) goto trap_overflow;
      W_I32(1, (int32_t)a / (int32_t)b);
      VM_NEXT(4);
    }
    VM_CASE(I32_DIV_U) {
      uint32_t a = R_I32(2), b = R_I32(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I32(1, a / b);
      VM_NEXT(4);
    }
    VM_CASE(I32_REM_S) {
      uint32_t a = R_I32(2), b = R_I32(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I32(1, b == 0xFFFFFFFFu ? 0 : (int32_t)a % (int32_t)b);
      VM_NEXT(4);
    }
    VM_CASE(I32_REM_U) {
      uint32_t a = R_I32(2), b = R_I32(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I32(1, a % b);
      VM_NEXT(4);
    }
    BIN_I32(I32_AND, a & b)
    BIN_I32(I32_OR, a | b)
    BIN_I32(I32_XOR, a ^ b)
    BIN_I32(I32_SHL, a << (b & 31))
    BIN_I32(I32_SHR_S, (uint32_t)((int32_t)a >> (b & 31)))
    BIN_I32(I32_SHR_U, a >> (b & 31))
    BIN_I32(I32_ROTL, rotl32(a, b))
    BIN_I32(I32_ROTR, rotr32(a, b))
#define BIN_I32_IMM(name, expr)                                               \
    VM_CASE(name) { uint32_t a = R_I32(2), b = ip[3]; W_I32(1, expr); VM_NEXT(4); }
    BIN_I32_IMM(ADD_I, a + b)
    BIN_I32_IMM(SUB_I, a - b)
    BIN_I32_IMM(AND_I, a & b)
    BIN_I32_IMM(OR_I, a | b)
    BIN_I32_IMM(XOR_I, a ^ b)
    BIN_I32_IMM(MUL_I, a * b)
    BIN_I32_IMM(SHL_I, a << (b & 31))
    BIN_I32_IMM(SHR_S_I, (uint32_t)((int32_t)a >> (b & 31)))
    BIN_I32_IMM(SHR_U_I, a >> (b & 31))
#undef BIN_I32_IMM

    /* ---- i64 ---- */
    UN(I64_EQZ, R_I64, W_I32, uint64_t, a == 0)
    CMP_I64(I64_EQ, a == b)
    CMP_I64(I64_NE, a != b)
    CMP_I64(I64_LT_S, (int64_t)a < (int64_t)b)
    CMP_I64(I64_LT_U, a < b)
    CMP_I64(I64_GT_S, (int64_t)a > (int64_t)b)
    CMP_I64(I64_GT_U, a > b)
    CMP_I64(I64_LE_S, (int64_t)a <= (int64_t)b)
    CMP_I64(I64_LE_U, a <= b)
    CMP_I64(I64_GE_S, (int64_t)a >= (int64_t)b)
    CMP_I64(I64_GE_U, a >= b)
    UN(I64_CLZ, R_I64, W_I64, uint64_t, a ? __builtin_clzll(a) : 64)
    UN(I64_CTZ, R_I64, W_I64, uint64_t, a ? __builtin_ctzll(a) : 64)
    UN(I64_POPCNT, R_I64, W_I64, uint64_t, __builtin_popcountll(a))
    BIN_I64(I64_ADD, a + b)
    BIN_I64(I64_SUB, a - b)
    BIN_I64(I64_MUL, a * b)
    VM_CASE(I64_DIV_S) {
      uint64_t a = R_I64(2), b = R_I64(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      if (UNLIKELY(a == 0x8000000000000000ull && b == ~0ull)) goto trap_overflow;
      W_I64(1, (int64_t)a / (int64_t)b);
      VM_NEXT(4);
    }
    VM_CASE(I64_DIV_U) {
      uint64_t a = R_I64(2), b = R_I64(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I64(1, a / b);
      VM_NEXT(4);
    }
    VM_CASE(I64_REM_S) {
      uint64_t a = R_I64(2), b = R_I64(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I64(1, b == ~0ull ? 0 : (int64_t)a % (int64_t)b);
      VM_NEXT(4);
    }
    VM_CASE(I64_REM_U) {
      uint64_t a = R_I64(2), b = R_I64(3);
      if (UNLIKELY(b == 0)) goto trap_div;
      W_I64(1, a % b);
      VM_NEXT(4);
    }
    BIN_I64(I64_AND, a & b)
    BIN_I64(I64_OR, a | b)
    BIN_I64(I64_XOR, a ^ b)
    BIN_I64(I64_SHL, a << (b & 63))
    BIN_I64(I64_SHR_S, (uint64_t)((int64_t)a >> (b & 63)))
    BIN_I64(I64_SHR_U, a >> (b & 63))
    BIN_I64(I64_ROTL, rotl64(a, b))
    BIN_I64(I64_ROTR, rotr64(a, b))

    /* ---- floats: comparisons ---- */
    CMP_F32(F32_EQ, a == b)
    CMP_F32(F32_NE, a != b)
    CMP_F32(F32_LT, a < b)
    CMP_F32(F32_GT, a > b)
    CMP_F32(F32_LE, a <= b)
    CMP_F32(F32_GE, a >= b)
    CMP_F64(F64_EQ, a == b)
    CMP_F64(F64_NE, a != b)
    CMP_F64(F64_LT, a < b)
    CMP_F64(F64_GT, a > b)
    CMP_F64(F64_LE, a <= b)
    CMP_F64(F64_GE, a >= b)

    /* ---- f32 ---- (abs, neg, copysign work on bits: NaNs pass unchanged) */
    UN(F32_ABS, R_I32, W_I32, uint32_t, a & 0x7FFFFFFFu)
    UN(F32_NEG, R_I32, W_I32, uint32_t, a ^ 0x80000000u)
    BIN_I32(F32_COPYSIGN, (a & 0x7FFFFFFFu) | (b & 0x80000000u))
    UN(F32_CEIL, R_F32, W_F32, float, isnan(a) ? a + a : ceilf(a))
    UN(F32_FLOOR, R_F32, W_F32, float, isnan(a) ? a + a : floorf(a))
    UN(F32_TRUNC, R_F32, W_F32, float, isnan(a) ? a + a : truncf(a))
    UN(F32_NEAREST, R_F32, W_F32, float, isnan(a) ? a + a : nearbyintf(a))
    UN(F32_SQRT, R_F32, W_F32, float, sqrtf(a))
    BIN_F32(F32_ADD, a + b)
    BIN_F32(F32_SUB, a - b)
    BIN_F32(F32_MUL, a * b)
    BIN_F32(F32_DIV, a / b)
    BIN_F32(F32_MIN, min32(a, b))
    BIN_F32(F32_MAX, max32(a, b))

    /* ---- f64 ---- */
    UN(F64_ABS, R_I64, W_I64, uint64_t, a & 0x7FFFFFFFFFFFFFFFull)
    UN(F64_NEG, R_I64, W_I64, uint64_t, a ^ 0x8000000000000000ull)
    BIN_I64(F64_COPYSIGN, (a & 0x7FFFFFFFFFFFFFFFull) | (b & 0x8000000000000000ull))
    UN(F64_CEIL, R_F64, W_F64, double, isnan(a) ? a + a : ceil(a))
    UN(F64_FLOOR, R_F64, W_F64, double, isnan(a) ? a + a : floor(a))
    UN(F64_TRUNC, R_F64, W_F64, double, isnan(a) ? a + a : trunc(a))
    UN(F64_NEAREST, R_F64, W_F64, double, isnan(a) ? a + a : nearbyint(a))
    UN(F64_SQRT, R_F64, W_F64, double, sqrt(a))
    BIN_F64(F64_ADD, a + b)
    BIN_F64(F64_SUB, a - b)
    BIN_F64(F64_MUL, a * b)
    BIN_F64(F64_DIV, a / b)
    BIN_F64(F64_MIN, min64(a, b))
    BIN_F64(F64_MAX, max64(a, b))

    /* ---- conversions ---- */
#define TRUNC(name, R, T, W, lo_ok, hi_ok, C)                                 \
    VM_CASE(name) {                                                           \
      T x = R(2);                                                             \
      if (UNLIKELY(isnan(x))) goto trap_conversion;                           \
      if (UNLIKELY(!(lo_ok) || !(hi_ok))) goto trap_overflow;                 \
      W(1, (C)x);                                                             \
      VM_NEXT(3);                                                             \
    }
    TRUNC(I32_TRUNC_F32_S, R_F32, float, W_I32, x >= -2147483648.0f, x < 2147483648.0f, int32_t)
    TRUNC(I32_TRUNC_F32_U, R_F32, float, W_I32, x > -1.0f, x < 4294967296.0f, uint32_t)
    TRUNC(I32_TRUNC_F64_S, R_F64, double, W_I32, x > -2147483649.0, x < 2147483648.0, int32_t)
    TRUNC(I32_TRUNC_F64_U, R_F64, double, W_I32, x > -1.0, x < 4294967296.0, uint32_t)
    TRUNC(I64_TRUNC_F32_S, R_F32, float, W_I64, x >= -9223372036854775808.0f, x < 9223372036854775808.0f, int64_t)
    TRUNC(I64_TRUNC_F32_U, R_F32, float, W_I64, x > -1.0f, x < 18446744073709551616.0f, uint64_t)
    TRUNC(I64_TRUNC_F64_S, R_F64, double, W_I64, x >= -9223372036854775808.0, x < 9223372036854775808.0, int64_t)
    TRUNC(I64_TRUNC_F64_U, R_F64, double, W_I64, x > -1.0, x < 18446744073709551616.0, uint64_t)
#undef TRUNC
    UN(I32_TRUNC_SAT_F32_S, R_F32, W_I32, float, sat_i32_s(a))
    UN(I32_TRUNC_SAT_F32_U, R_F32, W_I32, float, sat_i32_u(a))
    UN(I32_TRUNC_SAT_F64_S, R_F64, W_I32, double, sat_i32_s(a))
    UN(I32_TRUNC_SAT_F64_U, R_F64, W_I32, double, sat_i32_u(a))
    UN(I64_TRUNC_SAT_F32_S, R_F32, W_I64, float, sat_i64_s(a))
    UN(I64_TRUNC_SAT_F32_U, R_F32, W_I64, float, sat_i64_u(a))
    UN(I64_TRUNC_SAT_F64_S, R_F64, W_I64, double, sat_i64_s(a))
    UN(I64_TRUNC_SAT_F64_U, R_F64, W_I64, double, sat_i64_u(a))
    UN(I64_EXTEND_I32_S, R_I32, W_I64, uint32_t, (int64_t)(int32_t)a)
    UN(I64_EXTEND_I32_U, R_I32, W_I64, uint32_t, (uint64_t)a)
    UN(F32_CONVERT_I32_S, R_I32, W_F32, uint32_t, (float)(int32_t)a)
    UN(F32_CONVERT_I32_U, R_I32, W_F32, uint32_t, (float)a)
    UN(F32_CONVERT_I64_S, R_I64, W_F32, uint64_t, (float)(int64_t)a)
    UN(F32_CONVERT_I64_U, R_I64, W_F32, uint64_t, (float)a)
    UN(F32_DEMOTE_F64, R_F64, W_F32, double, (float)a)
    UN(F64_CONVERT_I32_S, R_I32, W_F64, uint32_t, (double)(int32_t)a)
    UN(F64_CONVERT_I32_U, R_I32, W_F64, uint32_t, (double)a)
    UN(F64_CONVERT_I64_S, R_I64, W_F64, uint64_t, (double)(int64_t)a)
    UN(F64_CONVERT_I64_U, R_I64, W_F64, uint64_t, (double)a)
    UN(F64_PROMOTE_F32, R_F32, W_F64, float, (double)a)
    UN(I32_EXTEND8_S, R_I32, W_I32, uint32_t, (int32_t)(int8_t)a)
    UN(I32_EXTEND16_S, R_I32, W_I32, uint32_t, (int32_t)(int16_t)a)
    UN(I64_EXTEND8_S, R_I64, W_I64, uint64_t, (int64_t)(int8_t)a)
    UN(I64_EXTEND16_S, R_I64, W_I64, uint64_t, (int64_t)(int16_t)a)
    UN(I64_EXTEND32_S, R_I64, W_I64, uint64_t, (int64_t)(int32_t)a)
  }

trap_fuel:
  trapcode = WG_TRAP_FUEL;
  goto trap;
trap_interrupt:
  trapcode = WG_TRAP_INTERRUPT;
  goto trap;
trap_memory:
  trapcode = WG_TRAP_MEMORY;
  goto trap;
trap_div:
  trapcode = WG_TRAP_DIVZERO;
  goto trap;
trap_overflow:
  trapcode = WG_TRAP_OVERFLOW;
  goto trap;
trap_conversion:
  trapcode = WG_TRAP_CONVERSION;
trap:
  if (s->fuel < 0) s->fuel = 0;
  s->fsp = entry;
  return wgw_trap(s, trapcode, inst, ip);
done:
  s->fsp = fsp;
  return WG_OK;
}
