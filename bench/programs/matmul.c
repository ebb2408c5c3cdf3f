/*
** matmul: double-precision multiply-add over arrays. C = A * B for square
** matrices in row-major order, i-k-j loop order (unit stride inner loop),
** repeated with B feeding back from C, then a checksum of C's bits.
*/
#include <string.h>

#include "bench.h"

#define N 128

static double a[N][N], b[N][N], c[N][N];

static void multiply(void) {
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) c[i][j] = 0.0;
    for (int k = 0; k < N; k++) {
      double aik = a[i][k];
      for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
    }
  }
}

/* Scales C back into [-1, 1) (by powers of two only: exact) and copies it
** into B, so each round depends on the last. */
static void feed_back(void) {
  double m = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double v = c[i][j] < 0 ? -c[i][j] : c[i][j];
      if (v > m) m = v;
    }
  double s = 1.0;
  while (m * s >= 1.0) s *= 0.5;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) b[i][j] = c[i][j] * s;
}

int main(int argc, char **argv) {
  long rounds = bench_work(argc, argv, 150);
  uint32_t seed = 0x2545f491u;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = (double)(int32_t)bench_rand(&seed) / 2147483648.0;
      b[i][j] = (double)(int32_t)bench_rand(&seed) / 2147483648.0;
    }
  uint32_t h = BENCH_HASH_INIT;
  for (long r = 0; r < rounds; r++) {
    multiply();
    feed_back();
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      uint64_t bits;
      memcpy(&bits, &c[i][j], sizeof bits);
      h = bench_mix64(h, bits);
    }
  return bench_report(h);
}
