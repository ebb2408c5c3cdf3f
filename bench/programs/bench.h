/*
** Helpers shared by the benchmark programs. Each program is one C file that
** builds both natively and for wasm32-wasi from the same source, so this
** header uses only what wasi-libc offers.
**
** Contract of a benchmark program:
**   - deterministic: the same output on every engine and every run;
**   - prints exactly one line, "checksum: <8 hex digits>", and nothing about
**     time (the harness measures from outside);
**   - takes one optional argument, the amount of work in percent of the
**     default workload (default 100; the harness uses less under callgrind).
*/
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* base scaled by argv[1] percent (default 100), at least 1. Inputs come
** through here, so the compiler cannot fold a workload away. */
static inline long bench_work(int argc, char **argv, long base) {
  long pct = 100;
  if (argc > 1) {
    char *end;
    pct = strtol(argv[1], &end, 10);
    if (*end != '\0' || pct < 1 || pct > 100000) {
      fprintf(stderr, "usage: %s [PERCENT]  (1..100000, default 100)\n",
              argv[0]);
      exit(2);
    }
  }
  long n = base * pct / 100;
  return n < 1 ? 1 : n;
}

/* Folds v into the running hash h (FNV-1a over the four bytes of v). */
static inline uint32_t bench_mix(uint32_t h, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= 16777619u;
  }
  return h;
}

#define BENCH_HASH_INIT 2166136261u

static inline uint32_t bench_mix64(uint32_t h, uint64_t v) {
  return bench_mix(bench_mix(h, (uint32_t)v), (uint32_t)(v >> 32));
}

/* xorshift32: a small deterministic generator; state must not be 0. */
static inline uint32_t bench_rand(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static inline int bench_report(uint32_t h) {
  printf("checksum: %08x\n", (unsigned)h);
  return 0;
}

#endif
