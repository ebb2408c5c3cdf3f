/*
** wasmgate engine: the public embedding API.
**
** Objects and who owns them:
**
**  wg_module    An immutable, validated and compiled module. Reference
**               counted and thread-safe to share: any number of instances in
**               any number of stores and threads may use one module.
**               wg_module_load returns it with one reference;
**               wg_module_release drops one; instances hold their own.
**  wg_store     Everything one execution owns: instances, memories, tables,
**               globals, host functions, the value and call stacks, fuel and
**               the interrupt word. Single-threaded, except
**               wg_store_interrupt, which any thread may call.
**               wg_store_free frees every object created in the store.
**  wg_instance, wg_func, wg_memory, wg_table, wg_global
**               Owned by their store; never freed one by one.
**
** Values cross the API as wg_val. Host functions see raw 64-bit slots: i32
** in the low 32 bits, f32 as its bit pattern in the low 32 bits, i64 and f64
** as their bits, references as pointer-sized values (0 is null).
*/
#ifndef WASMGATE_ENGINE_H
#define WASMGATE_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/error.h"

typedef enum wg_valtype {
  WG_I32 = 0x7F,
  WG_I64 = 0x7E,
  WG_F32 = 0x7D,
  WG_F64 = 0x7C,
  WG_V128 = 0x7B,
  WG_FUNCREF = 0x70,
  WG_EXTERNREF = 0x6F,
} wg_valtype;

typedef enum wg_externkind {
  WG_EXTERN_FUNC = 0,
  WG_EXTERN_TABLE = 1,
  WG_EXTERN_MEMORY = 2,
  WG_EXTERN_GLOBAL = 3,
} wg_externkind;

typedef struct wg_val {
  wg_valtype type;
  union {
    uint32_t i32;  /* also the bits of an f32 */
    uint64_t i64;  /* also the bits of an f64 */
    uint64_t ref;  /* funcref: a wg_func pointer; externref: host value */
    uint64_t v128[2];
  } of;
} wg_val;

typedef struct wg_functype {
  uint32_t nparams, nresults;
  const uint8_t *params;   /* wg_valtype codes */
  const uint8_t *results;
} wg_functype;

typedef struct wg_limits {
  uint64_t min;
  uint64_t max;            /* meaningful when has_max */
  bool has_max;
} wg_limits;

typedef struct wg_externtype {
  wg_externkind kind;
  union {
    wg_functype func;
    struct { uint8_t elem; wg_limits limits; } table;
    struct { wg_limits limits; bool is64; } memory;
    struct { uint8_t type; bool mut; } global;
  } of;
} wg_externtype;

/* A name is bytes, not a C string: Wasm names may contain NUL. */
typedef struct wg_name {
  const char *ptr;
  uint32_t len;
} wg_name;

typedef struct wg_import_desc {
  wg_name module, name;
  wg_externtype type;
} wg_import_desc;

typedef struct wg_export_desc {
  wg_name name;
  wg_externtype type;
  uint32_t index;
} wg_export_desc;

typedef struct wg_module wg_module;
typedef struct wg_store wg_store;
typedef struct wg_instance wg_instance;
typedef struct wg_func wg_func;
typedef struct wg_memory wg_memory;
typedef struct wg_table wg_table;
typedef struct wg_global wg_global;

typedef struct wg_extern {
  wg_externkind kind;
  union {
    wg_func *func;
    wg_table *table;
    wg_memory *memory;
    wg_global *global;
  } of;
} wg_extern;

/* ------------------------------------------------------------------ */
/* Modules                                                             */

/* Decodes, validates and compiles a binary module. The bytes are copied:
** the caller keeps ownership of bytes. Returns NULL and fills err on
** failure (err may be NULL). */
wg_module *wg_module_load(const uint8_t *bytes, size_t len, wg_error *err);
void wg_module_retain(wg_module *m);
void wg_module_release(wg_module *m);

uint32_t wg_module_import_count(const wg_module *m);
wg_import_desc wg_module_import(const wg_module *m, uint32_t i);
uint32_t wg_module_export_count(const wg_module *m);
wg_export_desc wg_module_export(const wg_module *m, uint32_t i);
/* Types of the module's own (not imported) memories, tables, globals. */
uint32_t wg_module_memory_count(const wg_module *m);
wg_externtype wg_module_memory(const wg_module *m, uint32_t i); /* incl. imports */
uint32_t wg_module_table_count(const wg_module *m);
wg_externtype wg_module_table(const wg_module *m, uint32_t i);
uint32_t wg_module_global_count(const wg_module *m);
wg_externtype wg_module_global(const wg_module *m, uint32_t i);
uint32_t wg_module_func_count(const wg_module *m);       /* incl. imports */
wg_functype wg_module_func_type(const wg_module *m, uint32_t funcidx);
/* Name of a function from the name section; ptr NULL when absent. */
wg_name wg_module_func_name(const wg_module *m, uint32_t funcidx);
uint32_t wg_module_custom_count(const wg_module *m);
/* Custom section i: its name, and its payload in *data and *len. */
wg_name wg_module_custom(const wg_module *m, uint32_t i, const uint8_t **data,
                         size_t *len);
/* Size in bytes of the module as loaded (the binary). */
size_t wg_module_size(const wg_module *m);
/* The module's binary (its own copy, valid while m lives). */
const uint8_t *wg_module_bytes(const wg_module *m);

/* ------------------------------------------------------------------ */
/* Stores, limits, fuel, interrupts                                    */

typedef struct wg_store_config {
  uint64_t max_memory_pages;   /* per memory; 0 = the Wasm maximum */
  uint64_t max_table_elems;    /* per table; 0 = WG_MAX_TABLE_ELEMS */
  uint32_t max_call_depth;     /* frames; 0 = WG_DEFAULT_CALL_DEPTH */
  uint32_t max_stack_slots;    /* value stack, 8-byte slots; 0 = default */
  int64_t fuel;                /* < 0 = unmetered */
} wg_store_config;

wg_store *wg_store_new(const wg_store_config *cfg);
void wg_store_free(wg_store *s);
/* Fuel left (meaningless when unmetered); adding sets a new budget. */
int64_t wg_store_fuel(const wg_store *s);
void wg_store_set_fuel(wg_store *s, int64_t fuel);
/* Asks running guest code to stop with WG_TRAP_INTERRUPT at its next loop
** back-edge or call. Safe from any thread and from a signal handler. */
void wg_store_interrupt(wg_store *s);
void wg_store_clear_interrupt(wg_store *s);
/* True after wg_store_interrupt (until cleared). Any thread; host functions
** that run long (WASI-NN compute) poll it to stop with WG_TRAP_INTERRUPT. */
bool wg_store_interrupted(const wg_store *s);
/* The interrupt word itself, for a second execution tier (src/aot) that
** reads it at the same points as the interpreter: non-zero = stop. */
atomic_uint *wg_store_interrupt_word(wg_store *s);
/* The last trap or error raised by a call in this store. */
const wg_error *wg_store_trap(const wg_store *s);
/* Set by a host function that ends the run (WASI proc_exit). */
void wg_store_exit(wg_store *s, int code);
int wg_store_exit_code(const wg_store *s);
/* True when a memory.grow or table.grow failed because of a store limit. */
bool wg_store_limit_hit(const wg_store *s);
/* Largest total of linear-memory bytes the store has held. */
uint64_t wg_store_peak_memory(const wg_store *s);
void *wg_store_user(const wg_store *s);
void wg_store_set_user(wg_store *s, void *user);

/* ------------------------------------------------------------------ */
/* Host objects                                                        */

/* What a host function gets. stack[0..nparams) are the arguments; the
** function writes results to stack[0..nresults). Return WG_OK, or a trap code
** after wg_host_trap. */
typedef struct wg_host_call wg_host_call;
typedef wg_err (*wg_host_fn)(wg_host_call *call, uint64_t *stack);

void *wg_host_user(const wg_host_call *call);
wg_store *wg_host_store(const wg_host_call *call);
/* The memory 0 of the calling instance, or NULL. */
wg_memory *wg_host_memory(const wg_host_call *call);
wg_instance *wg_host_instance(const wg_host_call *call);
/* Records a trap message; returns code for `return wg_host_trap(...)`. */
wg_err wg_host_trap(wg_host_call *call, wg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

wg_func *wg_func_new_host(wg_store *s, const wg_functype *type, wg_host_fn fn,
                          void *user);
wg_functype wg_func_type(const wg_func *f);
wg_memory *wg_memory_new(wg_store *s, wg_limits limits);
wg_table *wg_table_new(wg_store *s, wg_valtype elem, wg_limits limits);
wg_global *wg_global_new(wg_store *s, wg_val init, bool mut);

/* ------------------------------------------------------------------ */
/* Instances                                                           */

/* Resolves the module's imports with resolve(user, module, name, type, out)
** and instantiates it: allocates memories and tables, evaluates globals,
** applies active segments, runs the start function. Returns NULL and fills
** err on failure: WG_EUNKNOWNIMPORT / WG_EIMPORTTYPE for linking, a trap
** code when a segment or the start function traps (writes already made to
** imported memories and tables stay, as the spec says). */
typedef wg_err (*wg_resolver)(void *user, wg_name module, wg_name name,
                              const wg_externtype *type, wg_extern *out);
wg_instance *wg_instance_new(wg_store *s, wg_module *m, wg_resolver resolve,
                             void *user, wg_error *err);
wg_module *wg_instance_module(const wg_instance *inst);
/* Looks up an export by name; WG_EUNKNOWNEXPORT when absent. */
wg_err wg_instance_export(const wg_instance *inst, wg_name name,
                          wg_extern *out);
/* Checks an extern against an import type (the spec's matching rules). */
bool wg_extern_matches(const wg_extern *ext, const wg_externtype *type);

/* Calls f with args; on success writes results (as many as its type says).
** On a trap returns its code; wg_store_trap tells the details. */
wg_err wg_call(wg_store *s, wg_func *f, const wg_val *args, size_t nargs,
               wg_val *results, size_t nresults);

/* Globals */
wg_val wg_global_get(const wg_global *g);
wg_err wg_global_set(wg_global *g, wg_val v);

/* Tables */
uint64_t wg_table_size(const wg_table *t);

/* Memories: the only door from host code into guest memory. Returns a
** pointer to [offset, offset+len) or NULL when any byte is out of bounds.
** The pointer is valid until the memory grows. */
void *wg_memory_translate(wg_memory *mem, uint64_t offset, uint64_t len);
uint64_t wg_memory_size(const wg_memory *mem);  /* bytes */
uint64_t wg_memory_pages(const wg_memory *mem);

/* Limits of the engine (the runtime may only lower them). */
#define WG_PAGE_SIZE 65536u
#define WG_MAX_PAGES 65536u             /* 4 GiB for 32-bit memories */
#define WG_MAX_TABLE_ELEMS 10000000u
#define WG_DEFAULT_CALL_DEPTH 10000u
#define WG_DEFAULT_STACK_SLOTS (1u << 20)
/* Calls into guest code from a host function nested in a guest call (each
** level uses the C stack); deeper re-entry traps with WG_TRAP_STACK. */
#define WG_MAX_HOST_REENTRY 256u

const char *wg_version(void);
/* "i32", "i64", "f32", "f64", "v128", "funcref", "externref" or "unknown". */
const char *wg_valtype_name(int type);

#endif
