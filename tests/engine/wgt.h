/*
** wgt: support code for the engine tests (tests/engine/test_*.c).
**
** Include after <cmocka.h>. Everything here fails the running cmocka test
** (fail_msg) instead of returning errors, so tests stay short.
**
** Modules come from two places:
**  - tests/engine/wat/NAME.wat, compiled by wat2wasm at build time into
**    WGT_WASM_DIR (a compile definition); load them with wgt_load_wasm().
**  - small modules written as hex in the test with the wgt_mod builder,
**    when the test needs exact byte offsets or a module wat2wasm refuses.
*/
#ifndef WGT_H
#define WGT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wasmgate/engine.h"

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* Reads a whole file into memory from malloc (free it with free()). */
uint8_t *wgt_read_file(const char *path, size_t *len);
/* Loads WGT_WASM_DIR/NAME (e.g. "loops.wasm"); the module must be valid. */
wg_module *wgt_load_wasm(const char *name);

/* ------------------------------------------------------------------ */
/* Module builder                                                      */

/* A module under construction. Hex strings hold whitespace-separated
** two-digit hex bytes, and "text" tokens, which are written as a Wasm name
** (LEB128 length, then the bytes). Example: "01 \"env\" 00". A `|` writes
** nothing: it marks a position for wgt_mark. */
typedef struct wgt_mod {
  uint8_t b[65536];
  size_t n;
} wgt_mod;

void wgt_begin(wgt_mod *m);   /* writes the magic and version */
/* The number of bytes hex holds before its first `|`. */
size_t wgt_mark(const char *hex);
/* Appends raw bytes given as hex; returns the offset of the first one. */
size_t wgt_raw(wgt_mod *m, const char *hex);
/* Appends section `id` with the hex content; returns the content's offset. */
size_t wgt_sec(wgt_mod *m, uint8_t id, const char *hex);
/* Appends a code section with `n` bodies (hex, each starting with its local
** declarations); writes the offset of each body's first byte to offs[i]
** (offs may be NULL). */
void wgt_code(wgt_mod *m, size_t *offs, int n, const char *const *bodies);
/* The same for one body; returns its offset. */
size_t wgt_code1(wgt_mod *m, const char *body);
/* Loads the module; returns NULL and fills err on failure. */
wg_module *wgt_try_load(const wgt_mod *m, wg_error *err);
/* Loads the module, which must be valid. */
wg_module *wgt_load(const wgt_mod *m);
/* Appends an unsigned LEB128; returns the number of bytes. */
size_t wgt_leb(uint8_t *out, uint64_t v);

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Checks every field of an error; a negative offset/func means -1, and
** section WGT_ANY skips the section check. */
#define WGT_ANY (-2)
/* Fills e with garbage: a call that fails must fill its error even when the
** caller did not clear it first (callers declare `wg_error err;`). */
static inline void wgt_poison(wg_error *e) { memset(e, 0xA5, sizeof *e); }
/* Arguments for "%.*s" that print e->message safely, terminated or not. */
#define WGT_MSG(e) (int)strnlen((e)->message, sizeof (e)->message), (e)->message
void wgt_check_error(const wg_error *e, wg_err code, const char *message,
                     int64_t offset, int section, int64_t func);

/* ------------------------------------------------------------------ */
/* Linking                                                             */

/* A table of (module, name) -> extern for wgt_resolve. */
typedef struct wgt_linker {
  struct { char module[32], name[32]; wg_extern ext; } items[32];
  int n;
} wgt_linker;

void wgt_define(wgt_linker *l, const char *module, const char *name,
                wg_extern ext);
/* Defines every export of inst under `module`. */
void wgt_define_instance(wgt_linker *l, const char *module, wg_instance *inst);
/* A wg_resolver over a wgt_linker (user). Unknown names: WG_ENOTFOUND. */
wg_err wgt_resolve(void *user, wg_name module, wg_name name,
                   const wg_externtype *type, wg_extern *out);

/* Instantiates m, which must succeed. */
wg_instance *wgt_instantiate(wg_store *s, wg_module *m, wgt_linker *l);
/* The export `name` of inst, which must exist and have kind `kind`. */
wg_extern wgt_export(const wg_instance *inst, const char *name,
                     wg_externkind kind);
wg_func *wgt_func(const wg_instance *inst, const char *name);

/* ------------------------------------------------------------------ */
/* Values                                                              */

static inline wg_val wgt_i32(uint32_t v) {
  wg_val x = {.type = WG_I32};
  x.of.i32 = v;
  return x;
}
static inline wg_val wgt_i64(uint64_t v) {
  wg_val x = {.type = WG_I64};
  x.of.i64 = v;
  return x;
}
static inline wg_val wgt_f32_bits(uint32_t bits) {
  wg_val x = {.type = WG_F32};
  x.of.i32 = bits;
  return x;
}
static inline wg_val wgt_f64_bits(uint64_t bits) {
  wg_val x = {.type = WG_F64};
  x.of.i64 = bits;
  return x;
}

/* Calls an (i32...) -> i32 export with up to 4 i32 arguments and returns the
** result; the call must succeed. */
uint32_t wgt_call_i32(wg_store *s, wg_func *f, int nargs, ...);

#endif
