/*
** strsearch: byte scanning and compares. A 256 KiB text over a small
** alphabet is searched for many patterns with two algorithms written here
** (a naive scan, and Boyer-Moore-Horspool); both counts must agree.
*/
#include <string.h>

#include "bench.h"

#define TEXT_SIZE (256 * 1024)
#define NPAT 64

static char text[TEXT_SIZE + 1];
static char pats[NPAT][33];

/* Counts occurrences (overlapping) of p[0..m) in t[0..n): first byte
** scan, then a compare. */
static uint32_t count_naive(const char *t, size_t n, const char *p, size_t m) {
  uint32_t count = 0;
  char first = p[0];
  for (size_t i = 0; i + m <= n; i++) {
    if (t[i] != first) continue;
    size_t j = 1;
    while (j < m && t[i + j] == p[j]) j++;
    if (j == m) count++;
  }
  return count;
}

/* The same count with Horspool's bad-character shift. */
static uint32_t count_horspool(const char *t, size_t n, const char *p,
                               size_t m) {
  size_t shift[256];
  uint32_t count = 0;
  for (int c = 0; c < 256; c++) shift[c] = m;
  for (size_t j = 0; j + 1 < m; j++) shift[(unsigned char)p[j]] = m - 1 - j;
  unsigned char last = (unsigned char)p[m - 1];
  for (size_t i = 0; i + m <= n;) {
    unsigned char c = (unsigned char)t[i + m - 1];
    if (c == last && memcmp(t + i, p, m - 1) == 0) count++;
    i += shift[c];
  }
  return count;
}

int main(int argc, char **argv) {
  long rounds = bench_work(argc, argv, 3);
  uint32_t seed = 0x1b873593u;
  /* Text: "words" of letters from a skewed 8-letter alphabet. */
  static const char alpha[] = "eeettaoinsr";
  for (size_t i = 0; i < TEXT_SIZE; i++) {
    uint32_t r = bench_rand(&seed);
    text[i] = (r % 7 == 0) ? ' ' : alpha[(r >> 8) % (sizeof alpha - 1)];
  }
  text[TEXT_SIZE] = '\0';
  /* Patterns: half cut out of the text (found), half random (mostly not). */
  for (int k = 0; k < NPAT; k++) {
    size_t m = 2 + (size_t)(k % 16) * 2;
    if (k & 1) {
      memcpy(pats[k], text + bench_rand(&seed) % (TEXT_SIZE - m), m);
    } else {
      for (size_t j = 0; j < m; j++)
        pats[k][j] = alpha[bench_rand(&seed) % (sizeof alpha - 1)];
    }
    pats[k][m] = '\0';
  }
  uint32_t h = BENCH_HASH_INIT;
  for (long r = 0; r < rounds; r++) {
    size_t n = TEXT_SIZE - (size_t)r;
    for (int k = 0; k < NPAT; k++) {
      size_t m = strlen(pats[k]);
      uint32_t a = count_naive(text, n, pats[k], m);
      uint32_t b = count_horspool(text, n, pats[k], m);
      if (a != b) {
        printf("mismatch: pattern %d: %u vs %u\n", k, (unsigned)a,
               (unsigned)b);
        return 1;
      }
      h = bench_mix(h, a);
    }
  }
  return bench_report(h);
}
