/*
** load_scaling: decode + validate + compile throughput (issue 4, item 4).
**
**   load_scaling [--write DIR] [SIZE_MB ...]      (default sizes 1 2 5 10)
**
** For each size, generates a module of about that many megabytes (10^6
** bytes): many functions of type (i32, i32) -> i32 whose bodies mix
** arithmetic trees, if/else, loops with br_if, loads, stores and calls to
** earlier functions. Times wg_module_load on it (best of several runs) and
** prints MB/s; the last line compares the largest size's throughput with the
** smallest's (1.00 = perfectly linear). --write also saves each module as
** DIR/gen_<SIZE>mb.wasm for other tools.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmgate/engine.h"
#include "wasmgen.h"

#define NPARAMS 2
#define NLOCALS 4                /* extra i32 locals */
#define NVARS (NPARAMS + NLOCALS)

static uint32_t rng = 0x6d2b79f5u;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng % n;
}

/* Pushes one i32 (an expression tree of at most depth levels). */
static void gen_expr(wgen_buf *b, int depth, uint32_t func) {
  static const uint8_t binops[] = {WGEN_I32_ADD, WGEN_I32_SUB, WGEN_I32_MUL,
                                   WGEN_I32_AND, WGEN_I32_OR,  WGEN_I32_XOR,
                                   WGEN_I32_SHL, WGEN_I32_SHR_U,
                                   WGEN_I32_ROTL};
  uint32_t pick = depth > 0 ? rnd(10) : rnd(3);
  switch (pick) {
  case 0:
  case 1:
    wgen_byte(b, WGEN_LOCAL_GET);
    wgen_u32(b, rnd(NVARS));
    return;
  case 2:
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, (int32_t)(rnd(1u << 20)) - (1 << 19));
    return;
  case 3: /* load from a masked address */
    gen_expr(b, depth - 1, func);
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, 0xfffc);
    wgen_byte(b, WGEN_I32_AND);
    wgen_byte(b, WGEN_I32_LOAD);
    wgen_u32(b, 2);
    wgen_u32(b, rnd(64) * 4);
    return;
  case 4: /* call one of the 8 functions before this one */
    if (func == 0) {
      wgen_byte(b, WGEN_LOCAL_GET);
      wgen_u32(b, 0);
      return;
    }
    gen_expr(b, depth - 1, func);
    gen_expr(b, depth - 1, func);
    wgen_byte(b, WGEN_CALL);
    wgen_u32(b, func - 1 - rnd(func < 8 ? func : 8));
    return;
  case 5: /* select */
    gen_expr(b, depth - 1, func);
    gen_expr(b, depth - 1, func);
    gen_expr(b, depth - 1, func);
    wgen_byte(b, WGEN_SELECT);
    return;
  default:
    gen_expr(b, depth - 1, func);
    gen_expr(b, depth - 1, func);
    wgen_byte(b, binops[rnd(sizeof binops)]);
    return;
  }
}

/* Emits one statement that leaves the stack as it found it. */
static void gen_stmt(wgen_buf *b, int nest, uint32_t func) {
  uint32_t pick = nest > 0 ? rnd(8) : rnd(4);
  switch (pick) {
  case 0:
  case 1:
  case 2:
    gen_expr(b, 3, func);
    wgen_byte(b, WGEN_LOCAL_SET);
    wgen_u32(b, rnd(NVARS));
    return;
  case 3:
    gen_expr(b, 1, func);
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, 0xfffc);
    wgen_byte(b, WGEN_I32_AND);
    gen_expr(b, 2, func);
    wgen_byte(b, WGEN_I32_STORE);
    wgen_u32(b, 2);
    wgen_u32(b, rnd(64) * 4);
    return;
  case 4:
  case 5: /* if/else */
    gen_expr(b, 2, func);
    wgen_byte(b, WGEN_IF);
    wgen_byte(b, WGEN_VOID);
    for (uint32_t i = 1 + rnd(3); i > 0; i--) gen_stmt(b, nest - 1, func);
    wgen_byte(b, WGEN_ELSE);
    for (uint32_t i = 1 + rnd(2); i > 0; i--) gen_stmt(b, nest - 1, func);
    wgen_byte(b, WGEN_END);
    return;
  default: { /* counted loop: block { loop { ...; br_if 1 (i >= n); br 0 } } */
    uint32_t counter = NPARAMS + rnd(NLOCALS);
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, 0);
    wgen_byte(b, WGEN_LOCAL_SET);
    wgen_u32(b, counter);
    wgen_byte(b, WGEN_BLOCK);
    wgen_byte(b, WGEN_VOID);
    wgen_byte(b, WGEN_LOOP);
    wgen_byte(b, WGEN_VOID);
    for (uint32_t i = 1 + rnd(3); i > 0; i--) gen_stmt(b, nest - 1, func);
    wgen_byte(b, WGEN_LOCAL_GET);
    wgen_u32(b, counter);
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, 1);
    wgen_byte(b, WGEN_I32_ADD);
    wgen_byte(b, WGEN_LOCAL_TEE);
    wgen_u32(b, counter);
    wgen_byte(b, WGEN_I32_CONST);
    wgen_s32(b, (int32_t)(4 + rnd(60)));
    wgen_byte(b, WGEN_I32_LT_U);
    wgen_byte(b, WGEN_I32_EQZ);
    wgen_byte(b, WGEN_BR_IF);
    wgen_u32(b, 1);
    wgen_byte(b, WGEN_BR);
    wgen_u32(b, 0);
    wgen_byte(b, WGEN_END);
    wgen_byte(b, WGEN_END);
    return;
  }
  }
}

/* A module of about target bytes; *nfuncs gets the function count. */
static void gen_module(wgen_buf *m, size_t target, uint32_t *nfuncs) {
  wgen_buf code = {0}, body = {0}, s = {0};
  uint32_t n = 0;
  while (code.len + 64 < target) {
    body.len = 0;
    wgen_u32(&body, 1);                  /* one local group */
    wgen_u32(&body, NLOCALS);
    wgen_byte(&body, WGEN_I32);
    for (uint32_t i = 8 + rnd(24); i > 0; i--) gen_stmt(&body, 2, n);
    wgen_byte(&body, WGEN_LOCAL_GET);
    wgen_u32(&body, rnd(NVARS));
    wgen_byte(&body, WGEN_END);
    wgen_u32(&code, (uint32_t)body.len);
    wgen_bytes(&code, body.p, body.len);
    n++;
  }
  wgen_header(m);
  wgen_u32(&s, 1);                       /* type 0: (i32, i32) -> i32 */
  wgen_byte(&s, WGEN_FUNCTYPE);
  wgen_u32(&s, NPARAMS);
  for (int i = 0; i < NPARAMS; i++) wgen_byte(&s, WGEN_I32);
  wgen_u32(&s, 1);
  wgen_byte(&s, WGEN_I32);
  wgen_section(m, WGEN_SEC_TYPE, &s);
  wgen_u32(&s, n);
  for (uint32_t i = 0; i < n; i++) wgen_u32(&s, 0);
  wgen_section(m, WGEN_SEC_FUNC, &s);
  wgen_u32(&s, 1);                       /* memory: 1 page */
  wgen_byte(&s, 0);
  wgen_u32(&s, 1);
  wgen_section(m, WGEN_SEC_MEMORY, &s);
  wgen_u32(&s, 1);                       /* export the last function */
  wgen_name(&s, "main");
  wgen_byte(&s, 0);
  wgen_u32(&s, n - 1);
  wgen_section(m, WGEN_SEC_EXPORT, &s);
  /* code section: count, then the bodies already encoded */
  wgen_u32(&s, n);
  wgen_bytes(&s, code.p, code.len);
  wgen_section(m, WGEN_SEC_CODE, &s);
  wgen_free(&code);
  wgen_free(&body);
  wgen_free(&s);
  *nfuncs = n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
  fprintf(stderr, "usage: load_scaling [--write DIR] [SIZE_MB ...]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  double sizes[16];
  int nsizes = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--write") == 0) {
      if (++i == argc) return usage();
      dir = argv[i];
      continue;
    }
    char *end;
    errno = 0;
    double mb = strtod(argv[i], &end);
    if (errno || *end || mb <= 0 || mb > 1000 || nsizes == 16) return usage();
    sizes[nsizes++] = mb;
  }
  if (nsizes == 0) {
    static const double def[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++) sizes[nsizes++] = def[i];
  }

  printf("| size (MB) | functions | load ms | MB/s |\n");
  printf("|---:|---:|---:|---:|\n");
  double first_rate = 0, last_rate = 0;
  for (int k = 0; k < nsizes; k++) {
    wgen_buf m = {0};
    uint32_t nfuncs;
    rng = 0x6d2b79f5u;
    gen_module(&m, (size_t)(sizes[k] * 1e6), &nfuncs);
    if (dir) {
      char path[4096];
      snprintf(path, sizeof path, "%s/gen_%gmb.wasm", dir, sizes[k]);
      FILE *f = fopen(path, "wb");
      if (!f || fwrite(m.p, 1, m.len, f) != m.len || fclose(f) != 0) {
        fprintf(stderr, "load_scaling: cannot write %s\n", path);
        return 1;
      }
    }
    /* Best of at least 3 runs and 0.5 s. */
    double best = 1e30, spent = 0;
    for (int run = 0; run < 3 || (spent < 0.5 && run < 50); run++) {
      wg_error err;
      double t0 = now_s();
      wg_module *mod = wg_module_load(m.p, m.len, &err);
      double t = now_s() - t0;
      if (!mod) {
        fprintf(stderr, "load_scaling: %g MB module rejected: %s: %s "
                "(function %lld, offset %lld)\n", sizes[k],
                wg_err_name(err.code), err.message, (long long)err.func,
                (long long)err.offset);
        return 1;
      }
      wg_module_release(mod);
      spent += t;
      if (t < best) best = t;
    }
    double rate = (double)m.len / 1e6 / best;
    if (k == 0) first_rate = rate;
    last_rate = rate;
    printf("| %.2f | %u | %.2f | %.1f |\n", (double)m.len / 1e6,
           (unsigned)nfuncs, best * 1e3, rate);
    wgen_free(&m);
  }
  if (nsizes > 1)
    printf("\nthroughput at the largest size / at the smallest: %.2f "
           "(1.00 = linear)\n", last_rate / first_rate);
  return 0;
}
