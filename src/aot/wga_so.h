/*
** The contract between wasmgate and an AOT object (a shared object built
** from wasm2c's output, src/aot/aot.c). This header is compiled twice: into
** wasmgate, and, embedded as text, into every object the AOT tier builds,
** so both sides always agree on it. It may use only the C standard
** library. Bump WGA_SO_ABI on any change: objects in a cache built against
** another version are rebuilt.
*/
#ifndef WGA_SO_H
#define WGA_SO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WGA_SO_ABI 1
#define WGA_SO_SYMBOL "wga_so_desc"
#define WGA_KEY_LEN 64            /* hex SHA-256 */

/* Outcomes of wga_so.instantiate and wga_so.call. Values 1..8 are wasm-rt's
** wasm_rt_trap_t (OOB, integer overflow, division by zero, invalid
** conversion, unreachable, call_indirect, uncaught exception,
** exhaustion); the rest are wasmgate's. */
enum {
  WGA_DONE = 0,
  WGA_T_OOB = 1,
  WGA_T_INT_OVERFLOW = 2,
  WGA_T_DIV_BY_ZERO = 3,
  WGA_T_INVALID_CONVERSION = 4,
  WGA_T_UNREACHABLE = 5,
  WGA_T_CALL_INDIRECT = 6,
  WGA_T_EXCEPTION = 7,
  WGA_T_EXHAUSTION = 8,
  WGA_T_HOST = 100,               /* a host import reported an error */
  WGA_T_INTERRUPT = 101,          /* the interrupt word was set */
  WGA_T_MEMORY_LIMIT = 102,       /* initial memory above the limit */
  WGA_T_NOMEM = 103               /* the host allocator failed */
};

/* What the host passes to instantiate; it must outlive the instance. */
typedef struct wga_host {
  void *user;
  /* Import number `import` (function imports in module order) with its
  ** arguments in slots[0..n); writes its result to slots[0]. Returns 0,
  ** or non-zero after recording why: the guest then traps (WGA_T_HOST). */
  int (*call)(void *user, uint32_t import, uint64_t *slots);
  /* realloc with the old size (the host's accounting allocator); size 0
  ** frees. */
  void *(*alloc)(void *user, void *p, size_t old_size, size_t size);
  atomic_uint *interrupt;         /* non-zero: stop at the next check */
  uint32_t max_pages;             /* cap on every memory */
  uint32_t max_depth;             /* cap on nested guest calls */
} wga_host;

/* The one symbol an object exports (WGA_SO_SYMBOL). */
typedef struct wga_so {
  uint32_t abi;                   /* WGA_SO_ABI */
  char key[WGA_KEY_LEN + 1];      /* the cache key it was built for */
  uint32_t nimports;              /* function imports */
  uint32_t nexports;              /* function exports */
  size_t ctx_size;                /* bytes of an instance (zeroed) */
  /* Prepares the object (once per process, whoever calls it first; the
  ** others wait): call before any instance. */
  void (*init)(void);
  /* Instantiates into ctx (ctx_size zeroed bytes). Returns a WGA_ code;
  ** on failure free must still be called. */
  int (*instantiate)(void *ctx, const wga_host *host);
  /* Calls function export `idx` (in module export order among function
  ** exports): arguments in slots, result in slots[0]. Returns a WGA_
  ** code. May be re-entered from inside host->call. */
  int (*call)(void *ctx, uint32_t idx, uint64_t *slots);
  void (*free)(void *ctx);
  /* The memory (imported, else the first defined one): base and size. */
  uint8_t *(*memory)(void *ctx, uint64_t *size);
} wga_so;

#endif
