/*
** wasmgate error codes: one table for the whole project.
**
** Every function that can fail returns a wg_err. Details for humans go in a
** wg_error filled by the first failure (see wg_error_set). Traps are errors
** too: their codes start at WG_TRAP_FIRST, and their messages are the exact
** texts of the WebAssembly specification's test suite.
*/
#ifndef WASMGATE_ERROR_H
#define WASMGATE_ERROR_H

#include <stdint.h>
#include <stddef.h>

/* X(name, message) */
#define WG_ERR_MAP(X)                                                        \
  X(OK, "ok")                                                                \
  X(ENOMEM, "out of memory")                                                 \
  X(EINVAL, "invalid argument")                                              \
  X(EIO, "input/output error")                                               \
  X(ENOTFOUND, "not found")                                                  \
  X(EEXIST, "already exists")                                                \
  X(ELIMIT, "limit exceeded")                                                \
  /* decoding: the binary is malformed */                                    \
  X(EMAGIC, "magic header not detected")                                     \
  X(EVERSION, "unknown binary version")                                      \
  X(EEOF, "unexpected end")                                                  \
  X(ELEB, "integer representation too long")                                 \
  X(ELEBRANGE, "integer too large")                                          \
  X(ESECTION, "malformed section id")                                        \
  X(ESECORDER, "unexpected section (duplicate or out of order)")             \
  X(ESECSIZE, "section size mismatch")                                       \
  X(EUTF8, "malformed UTF-8 encoding")                                       \
  X(ECOUNT, "declared count exceeds the bytes left")                         \
  X(EMALFORMED, "malformed module")                                          \
  X(EFUNCCODE, "function and code section have inconsistent lengths")       \
  X(EDATACOUNT, "data count and data section have inconsistent lengths")    \
  X(ENODATACOUNT, "data count section required")                             \
  X(EIMPLIMIT, "implementation limit exceeded")                              \
  /* validation: the binary is well formed but not valid */                  \
  X(EINVALID, "invalid module")                                              \
  /* linking and instantiation */                                            \
  X(EUNKNOWNIMPORT, "unknown import")                                        \
  X(EIMPORTTYPE, "incompatible import type")                                 \
  X(EUNKNOWNEXPORT, "unknown export")                                        \
  X(ESIGNATURE, "wrong number or type of arguments")                         \
  /* traps */                                                                \
  X(TRAP_UNREACHABLE, "unreachable")                                         \
  X(TRAP_MEMORY, "out of bounds memory access")                              \
  X(TRAP_TABLE, "out of bounds table access")                                \
  X(TRAP_OVERFLOW, "integer overflow")                                       \
  X(TRAP_DIVZERO, "integer divide by zero")                                  \
  X(TRAP_CONVERSION, "invalid conversion to integer")                        \
  X(TRAP_UNDEFINED, "undefined element")                                     \
  X(TRAP_UNINITIALIZED, "uninitialized element")                             \
  X(TRAP_INDIRECT, "indirect call type mismatch")                            \
  X(TRAP_STACK, "call stack exhausted")                                      \
  X(TRAP_FUEL, "out of fuel")                                                \
  X(TRAP_INTERRUPT, "interrupted")                                           \
  X(TRAP_HOST, "host function failed")                                       \
  X(TRAP_EXIT, "exit")

typedef enum wg_err {
#define WG__E(name, msg) WG_##name,
  WG_ERR_MAP(WG__E)
#undef WG__E
  WG_ERR_COUNT
} wg_err;

#define WG_TRAP_FIRST WG_TRAP_UNREACHABLE

/* The details of the first failure. offset is a byte offset in the module
** (or -1), section a section id (or -1), func a function index (or -1). */
typedef struct wg_error {
  wg_err code;
  int section;
  int64_t offset;
  int64_t func;
  char message[256];
} wg_error;

/* Name ("WG_EMAGIC") and message of a code; never NULL. */
const char *wg_err_name(wg_err code);
const char *wg_strerror(wg_err code);

static inline int wg_is_trap(wg_err code) { return code >= WG_TRAP_FIRST; }

/* Clears e (code OK, positions unknown). */
void wg_error_clear(wg_error *e);

/* Records code and a printf-style message in e unless e already holds a
** failure (the first failure wins). e may be NULL. Returns code. */
wg_err wg_error_set(wg_error *e, wg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
