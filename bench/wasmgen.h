/*
** A tiny WebAssembly binary writer for the native benchmark tools
** (instantiate.c, load_scaling.c): a growable byte buffer, LEB128, and
** sections. Bench code only, never part of the engine; it exits on
** out-of-memory because a benchmark has nothing better to do.
*/
#ifndef WASMGEN_H
#define WASMGEN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wgen_buf {
  uint8_t *p;
  size_t len, cap;
} wgen_buf;

/* The slow path of wgen_reserve, kept out of line (inlined, it confuses
** GCC's -Warray-bounds about the buffer it just allocated). */
__attribute__((noinline, unused)) static void wgen_grow(wgen_buf *b,
                                                        size_t more) {
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + more) cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "wasmgen: out of memory\n");
    exit(1);
  }
  b->p = p;
  b->cap = cap;
}

static inline void wgen_reserve(wgen_buf *b, size_t more) {
  if (b->len + more > b->cap) wgen_grow(b, more);
}

static inline void wgen_byte(wgen_buf *b, uint8_t v) {
  wgen_reserve(b, 1);
  b->p[b->len++] = v;
}

static inline void wgen_bytes(wgen_buf *b, const void *v, size_t n) {
  wgen_reserve(b, n);
  memcpy(b->p + b->len, v, n);
  b->len += n;
}

static inline void wgen_u32(wgen_buf *b, uint32_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    wgen_byte(b, (uint8_t)(byte | (v ? 0x80 : 0)));
  } while (v);
}

static inline void wgen_s32(wgen_buf *b, int32_t v) {
  for (;;) {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7;  /* arithmetic shift on every compiler we build with */
    if ((v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40))) {
      wgen_byte(b, byte);
      return;
    }
    wgen_byte(b, byte | 0x80);
  }
}

static inline void wgen_name(wgen_buf *b, const char *s) {
  size_t n = strlen(s);
  wgen_u32(b, (uint32_t)n);
  wgen_bytes(b, s, n);
}

static inline void wgen_header(wgen_buf *b) {
  static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  wgen_bytes(b, magic, sizeof magic);
}

/* Appends section id with the contents of body, then empties body. */
static inline void wgen_section(wgen_buf *b, uint8_t id, wgen_buf *body) {
  wgen_byte(b, id);
  wgen_u32(b, (uint32_t)body->len);
  wgen_bytes(b, body->p, body->len);
  body->len = 0;
}

static inline void wgen_free(wgen_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* Section ids, value types and the opcodes the tools emit. */
enum {
  WGEN_SEC_TYPE = 1, WGEN_SEC_IMPORT = 2, WGEN_SEC_FUNC = 3,
  WGEN_SEC_MEMORY = 5, WGEN_SEC_GLOBAL = 6, WGEN_SEC_EXPORT = 7,
  WGEN_SEC_CODE = 10, WGEN_SEC_DATA = 11,
};
enum { WGEN_I32 = 0x7f, WGEN_I64 = 0x7e, WGEN_FUNCTYPE = 0x60,
       WGEN_VOID = 0x40 };
enum {
  WGEN_BLOCK = 0x02, WGEN_LOOP = 0x03, WGEN_IF = 0x04, WGEN_ELSE = 0x05,
  WGEN_END = 0x0b, WGEN_BR = 0x0c, WGEN_BR_IF = 0x0d, WGEN_CALL = 0x10,
  WGEN_DROP = 0x1a, WGEN_SELECT = 0x1b, WGEN_LOCAL_GET = 0x20,
  WGEN_LOCAL_SET = 0x21, WGEN_LOCAL_TEE = 0x22, WGEN_GLOBAL_GET = 0x23,
  WGEN_GLOBAL_SET = 0x24, WGEN_I32_LOAD = 0x28, WGEN_I32_STORE = 0x36,
  WGEN_I32_CONST = 0x41, WGEN_I32_EQZ = 0x45, WGEN_I32_LT_U = 0x49,
  WGEN_I32_ADD = 0x6a, WGEN_I32_SUB = 0x6b, WGEN_I32_MUL = 0x6c,
  WGEN_I32_AND = 0x71, WGEN_I32_OR = 0x72, WGEN_I32_XOR = 0x73,
  WGEN_I32_SHL = 0x74, WGEN_I32_SHR_U = 0x76, WGEN_I32_ROTL = 0x77,
};

#endif
