/*
** fannkuch: short loops with data-dependent branches. For every
** permutation of 0..n-1 (Heap's algorithm, iterative), count the prefix
** reversals ("pancake flips") it takes until 0 comes first; report the
** maximum and a parity-weighted sum of the counts.
*/
#include "bench.h"

#define MAXN 12

static int count_flips(const int *perm, int n) {
  int p[MAXN];
  for (int i = 0; i < n; i++) p[i] = perm[i];
  int flips = 0;
  for (int first = p[0]; first != 0; first = p[0]) {
    for (int i = 0, j = first; i < j; i++, j--) {
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    flips++;
  }
  return flips;
}

int main(int argc, char **argv) {
  /* The workload is whole runs over all permutations of n elements. */
  long runs = bench_work(argc, argv, 7);
  volatile int nv = 9;
  int n = nv;
  uint32_t h = BENCH_HASH_INIT;
  for (long r = 0; r < runs; r++) {
    int perm[MAXN], c[MAXN];
    /* Each run starts from a different rotation of the identity. */
    for (int i = 0; i < n; i++) {
      perm[i] = (i + (int)r) % n;
      c[i] = 0;
    }
    int32_t sum = 0;
    int maxflips = 0;
    uint32_t index = 0;
    int f = count_flips(perm, n);
    sum += f;
    maxflips = f;
    for (int i = 1; i < n;) {
      if (c[i] < i) {
        int j = (i & 1) ? c[i] : 0;
        int t = perm[j];
        perm[j] = perm[i];
        perm[i] = t;
        index++;
        f = count_flips(perm, n);
        sum += (index & 1) ? -f : f;
        if (f > maxflips) maxflips = f;
        c[i]++;
        i = 1;
      } else {
        c[i] = 0;
        i++;
      }
    }
    h = bench_mix(h, (uint32_t)sum);
    h = bench_mix(h, (uint32_t)maxflips);
    h = bench_mix(h, index);
  }
  return bench_report(h);
}
