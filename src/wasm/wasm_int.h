/*
** Engine internals shared by the files of src/wasm. Not a public header.
**
** Names: wgw_ for functions shared across src/wasm files; file-private
** functions are static.
*/
#ifndef WG_WASM_INT_H
#define WG_WASM_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "wasmgate/engine.h"

#define WG_HIDDEN __attribute__((visibility("hidden")))

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* Immediate kinds of opcodes.def */
enum {
  WG_IMM_NONE, WG_IMM_BLOCK, WG_IMM_LABEL, WG_IMM_BRTABLE, WG_IMM_FUNC,
  WG_IMM_CALLIND, WG_IMM_REFTYPE, WG_IMM_SELECTT, WG_IMM_LOCAL, WG_IMM_GLOBAL,
  WG_IMM_TABLE, WG_IMM_TABLEINIT, WG_IMM_ELEM, WG_IMM_TABLECOPY, WG_IMM_MEM,
  WG_IMM_MEMIDX, WG_IMM_MEMINIT, WG_IMM_DATA, WG_IMM_MEMCOPY, WG_IMM_I32,
  WG_IMM_I64, WG_IMM_F32, WG_IMM_F64,
};

/* Internal opcode numbers: Wasm opcodes first, then internal ones. */
typedef enum wgw_op {
#define WG_OP(prefix, code, name, text, imm, sig, msize, trap) WGOP_##name,
#define WG_IOP(name, words) WGOP_##name,
#include "wasm/opcodes.def"
  WGOP_COUNT
} wgw_op;

typedef struct wgw_opinfo {
  uint8_t prefix, code, imm, msize, trap;
  const char *name, *sig;
} wgw_opinfo;
extern const wgw_opinfo wgw_ops[WGOP_COUNT] WG_HIDDEN;

/* Maps of the binary encoding to internal opcodes (0xFFFF = none). */
extern uint16_t wgw_op_by_byte[256] WG_HIDDEN;
extern uint16_t wgw_op_by_fc[32] WG_HIDDEN;
void wgw_ops_init(void) WG_HIDDEN;

/* ------------------------------------------------------------------ */
/* Bounded reader: every read checks against end.                     */

typedef struct wgw_reader {
  const uint8_t *base;   /* start of the module, for offsets */
  const uint8_t *p, *end;
  wg_error *err;
} wgw_reader;

wg_err wgw_read_u8(wgw_reader *r, uint8_t *out) WG_HIDDEN;
wg_err wgw_read_u32(wgw_reader *r, uint32_t *out) WG_HIDDEN;
wg_err wgw_read_s32(wgw_reader *r, int32_t *out) WG_HIDDEN;
wg_err wgw_read_s33(wgw_reader *r, int64_t *out) WG_HIDDEN;
wg_err wgw_read_u64(wgw_reader *r, uint64_t *out) WG_HIDDEN;
wg_err wgw_read_s64(wgw_reader *r, int64_t *out) WG_HIDDEN;
wg_err wgw_read_bytes(wgw_reader *r, size_t n, const uint8_t **out) WG_HIDDEN;
wg_err wgw_read_name(wgw_reader *r, wg_name *out) WG_HIDDEN;
wg_err wgw_fail(wgw_reader *r, wg_err code, const char *fmt, ...) WG_HIDDEN
    __attribute__((format(printf, 3, 4)));
static inline size_t wgw_left(const wgw_reader *r) {
  return (size_t)(r->end - r->p);
}
static inline int64_t wgw_offset(const wgw_reader *r) {
  return (int64_t)(r->p - r->base);
}

/* ------------------------------------------------------------------ */
/* The module                                                          */

typedef struct wgw_type {   /* a function type */
  uint32_t nparams, nresults;
  uint8_t *vt;              /* params then results */
} wgw_type;

typedef struct wgw_import {
  wg_name module, name;
  uint8_t kind;             /* wg_externkind */
  uint32_t index;           /* index in its kind's space */
} wgw_import;

typedef struct wgw_tabletype {
  uint8_t elem;
  wg_limits lim;
} wgw_tabletype;

typedef struct wgw_memtype {
  wg_limits lim;
} wgw_memtype;

typedef struct wgw_expr {   /* a constant expression: bytes up to its end */
  uint32_t off, len;
} wgw_expr;

typedef struct wgw_globaltype {
  uint8_t type;
  bool mut;
  wgw_expr init;            /* defined globals only */
} wgw_globaltype;

typedef struct wgw_export {
  wg_name name;
  uint8_t kind;
  uint32_t index;
} wgw_export;

enum { WGW_SEG_ACTIVE, WGW_SEG_PASSIVE, WGW_SEG_DECLARATIVE };

typedef struct wgw_elem {
  uint8_t mode, type;       /* type: WG_FUNCREF / WG_EXTERNREF */
  uint32_t table;
  wgw_expr offset;
  uint32_t count;
  bool exprs;               /* items are expressions, else function indices */
  uint32_t *funcs;          /* when !exprs */
  wgw_expr *items;          /* when exprs */
} wgw_elem;

typedef struct wgw_data {
  uint8_t mode;
  uint32_t mem;
  wgw_expr offset;
  uint32_t off, len;        /* the bytes, in the module's copy */
} wgw_data;

typedef struct wgw_trapsite {  /* code index -> byte offset in the module */
  uint32_t ip, off;
} wgw_trapsite;

typedef struct wgw_func {   /* a defined function */
  uint32_t type;            /* type index */
  uint32_t body_off, body_len;   /* the body in the module's bytes */
  uint32_t nlocals;         /* params + declared locals */
  uint8_t *local_types;     /* nlocals entries */
  uint32_t frame_size;      /* slots: locals + the deepest operand stack */
  uint32_t code;            /* start in module->code */
  uint32_t traps, ntraps;   /* range in module->trapsites */
} wgw_func;

typedef struct wgw_custom {
  wg_name name;
  uint32_t off, len;
} wgw_custom;

struct wg_module {
  atomic_int refs;
  uint8_t *bytes;           /* our own copy of the binary */
  size_t size;

  wgw_type *types;
  uint32_t ntypes;
  wgw_import *imports;
  uint32_t nimports;

  uint32_t nfuncs, nfunc_imports;   /* nfuncs counts imports too */
  uint32_t *func_types;             /* type index of every function */
  wgw_func *funcs;                  /* [nfuncs - nfunc_imports] */

  uint32_t ntables, ntable_imports;
  wgw_tabletype *tables;
  uint32_t nmems, nmem_imports;
  wgw_memtype *mems;
  uint32_t nglobals, nglobal_imports;
  wgw_globaltype *globals;

  wgw_export *exports;
  uint32_t nexports;
  int64_t start;                    /* -1 when none */
  wgw_elem *elems;
  uint32_t nelems;
  wgw_data *datas;
  uint32_t ndatas;
  bool has_datacount;
  uint32_t datacount;
  uint8_t *declared_funcs;          /* bitmap: may be the subject of ref.func */

  wgw_custom *customs;
  uint32_t ncustoms;
  wg_name *func_names;              /* [nfuncs], from the name section */

  uint32_t *code;                   /* compiled code of all functions */
  size_t ncode;
  wgw_trapsite *trapsites;
  size_t ntrapsites;
};

wg_err wgw_decode(wg_module *m, wg_error *err) WG_HIDDEN;
wg_err wgw_validate(wg_module *m, wg_error *err) WG_HIDDEN;
wg_err wgw_compile(wg_module *m, wg_error *err) WG_HIDDEN;
void wgw_module_free(wg_module *m) WG_HIDDEN;
wg_functype wgw_functype(const wg_module *m, uint32_t typeidx) WG_HIDDEN;
bool wgw_types_equal(const wgw_type *a, const wgw_type *b) WG_HIDDEN;

/* ------------------------------------------------------------------ */
/* Run-time objects                                                    */

struct wg_func {
  wgw_type type;            /* points into the owning module or host copy */
  wg_instance *inst;        /* NULL for host functions */
  const wgw_func *fn;       /* defined function, when inst */
  wg_host_fn host;
  void *user;
  struct wg_func *next;     /* store's list */
};

struct wg_memory {
  uint8_t *data;
  uint64_t size;            /* bytes */
  uint64_t max_pages;       /* effective maximum */
  uint64_t reserved;        /* bytes mapped */
  wg_limits lim;            /* declared type */
  wg_store *store;
  struct wg_memory *next;
};

struct wg_table {
  uint64_t *elems;
  uint64_t size;
  uint64_t max;             /* effective maximum */
  wg_limits lim;
  uint8_t elem;
  wg_store *store;
  struct wg_table *next;
};

struct wg_global {
  uint64_t val[2];
  uint8_t type;
  bool mut;
  struct wg_global *next;
};

struct wg_instance {
  wg_module *mod;
  wg_store *store;
  wg_func **funcs;          /* [mod->nfuncs] */
  wg_table **tables;
  wg_memory **mems;
  wg_global **globals;
  uint64_t **elem_vals;     /* [nelems]: evaluated references */
  uint32_t *elem_len;       /* 0 once dropped */
  uint32_t *data_len;       /* 0 once dropped */
  struct wg_instance *next;
};

typedef struct wgw_frame {
  const uint32_t *ret;      /* NULL: return to the host */
  uint64_t *fp;
  wg_instance *inst;
} wgw_frame;

struct wg_store {
  wg_store_config cfg;
  int64_t fuel;
  bool metered;
  atomic_uint interrupt;
  uint32_t nested;          /* wg_call calls running (host re-entry) */
  uint64_t *stack, *stack_end, *sp;   /* sp: first free slot */
  wgw_frame *frames, *frames_end, *fsp;
  wg_error trap;
  int exit_code;
  bool limit_hit;
  uint64_t mem_total, mem_peak;
  void *user;
  wg_func *funcs;
  wg_memory *mems;
  wg_table *tables;
  wg_global *globals;
  wg_instance *insts;
  void **blocks;            /* other allocations, freed with the store */
  size_t nblocks, capblocks;
};

struct wg_host_call {
  wg_store *store;
  wg_instance *inst;        /* caller */
  wg_func *func;
};

/* Runs f with its arguments in stack slots at s->sp; results replace them. */
wg_err wgw_invoke(wg_store *s, wg_func *f) WG_HIDDEN;
/* Fills s->trap for a trap raised at ip in inst's code (ip may be NULL). */
wg_err wgw_trap(wg_store *s, wg_err code, const wg_instance *inst,
                const uint32_t *ip) WG_HIDDEN;
wg_err wgw_memory_grow(wg_memory *mem, uint64_t delta, uint64_t *old) WG_HIDDEN;
wg_err wgw_table_grow(wg_table *t, uint64_t delta, uint64_t init,
                      uint64_t *old) WG_HIDDEN;
void *wgw_store_alloc(wg_store *s, size_t size) WG_HIDDEN;
/* Linear-memory mappings (mapcache.c). wgw_map_take returns a zeroed,
** read-write region of at least size bytes (its length in *mapped), or NULL;
** it may be one this thread gave back. wgw_map_give takes a region back
** (used: the bytes that may have been written; the rest must be zero),
** keeping it for the thread's next take or unmapping it. */
uint8_t *wgw_map_take(uint64_t size, uint64_t *mapped) WG_HIDDEN;
void wgw_map_give(uint8_t *p, uint64_t used, uint64_t mapped) WG_HIDDEN;

static inline float wgw_f32(uint64_t v) {
  uint32_t b = (uint32_t)v;
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static inline double wgw_f64(uint64_t v) {
  double d;
  memcpy(&d, &v, 8);
  return d;
}
static inline uint64_t wgw_bits32(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
static inline uint64_t wgw_bits64(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

#endif
