/*
** memops: memcpy, memmove and memset of many sizes and alignments over a
** 1 MiB arena, as the C library of each target implements them (glibc
** natively; wasi-libc, i.e. code running in the engine, under Wasm).
*/
#include <string.h>

#include "bench.h"

#define ARENA (1u << 20)

static uint8_t arena[ARENA];

/* Block sizes from tiny to large; offsets make every alignment occur. */
static const uint32_t sizes[] = {3,  8,   16,  24,   31,   64,
                                 100, 256, 512, 1000, 2048, 4096};
#define NSIZES (sizeof sizes / sizeof sizes[0])

int main(int argc, char **argv) {
  long rounds = bench_work(argc, argv, 2000000);
  uint32_t seed = 0xdeadbeefu;
  for (uint32_t i = 0; i < ARENA; i++) arena[i] = (uint8_t)(i * 7 + (i >> 9));
  uint32_t h = BENCH_HASH_INIT;
  for (long r = 0; r < rounds; r++) {
    uint32_t n = sizes[r % NSIZES];
    uint32_t src = bench_rand(&seed) % (ARENA - n);
    uint32_t dst = bench_rand(&seed) % (ARENA - n);
    switch (r & 3) {
    case 0: /* disjoint or not, memmove is always correct */
      memmove(arena + dst, arena + src, n);
      break;
    case 1:
      if (src + n <= dst || dst + n <= src)
        memcpy(arena + dst, arena + src, n);
      else
        memmove(arena + dst, arena + src, n);
      break;
    case 2:
      memset(arena + dst, (int)(r & 0xff), n);
      break;
    default: /* overlapping shifts by a few bytes, both directions */
      if (src > 16) memmove(arena + src - 1 - (r & 15), arena + src, n);
      break;
    }
    h = bench_mix(h, arena[dst] | (uint32_t)arena[dst + n - 1] << 8 |
                         (uint32_t)arena[src] << 16);
  }
  for (uint32_t i = 0; i < ARENA; i += 4096) {
    uint32_t w;
    memcpy(&w, arena + i, sizeof w);
    h = bench_mix(h, w);
  }
  return bench_report(h);
}
