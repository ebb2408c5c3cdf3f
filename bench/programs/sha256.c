/*
** sha256: 32-bit rotates, adds and logic. SHA-256 (FIPS 180-4) written
** out from the standard, hashing a 16 KiB buffer again and again; each
** digest feeds the next buffer so no pass can be skipped.
*/
#include <string.h>

#include "bench.h"

#define BUF_SIZE (16 * 1024)

typedef struct sha256 {
  uint32_t h[8];
  uint64_t len;        /* bytes hashed so far */
  uint8_t block[64];
  uint32_t fill;       /* bytes waiting in block */
} sha256;

/* The first 32 bits of the fractional parts of the cube roots of the first
** 64 primes (FIPS 180-4, 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t st[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                  ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                  ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  st[0] += a; st[1] += b; st[2] += c; st[3] += d;
  st[4] += e; st[5] += f; st[6] += g; st[7] += h;
}

static void sha256_init(sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->len = 0;
  s->fill = 0;
}

static void sha256_update(sha256 *s, const uint8_t *p, size_t n) {
  s->len += n;
  while (n > 0) {
    if (s->fill == 0 && n >= 64) {
      compress(s->h, p);
      p += 64;
      n -= 64;
      continue;
    }
    uint32_t take = 64 - s->fill;
    if (take > n) take = (uint32_t)n;
    memcpy(s->block + s->fill, p, take);
    s->fill += take;
    p += take;
    n -= take;
    if (s->fill == 64) {
      compress(s->h, s->block);
      s->fill = 0;
    }
  }
}

static void sha256_final(sha256 *s, uint8_t out[32]) {
  uint64_t bits = s->len * 8;
  uint8_t pad[72] = {0x80};
  size_t npad = (s->fill < 56 ? 56 : 120) - s->fill;
  for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(s, pad, npad + 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)s->h[i];
  }
}

static uint8_t buf[BUF_SIZE];

static uint32_t mix_digest(uint32_t h, const uint8_t d[32]) {
  for (int i = 0; i < 32; i += 4)
    h = bench_mix(h, (uint32_t)d[i] << 24 | (uint32_t)d[i + 1] << 16 |
                         (uint32_t)d[i + 2] << 8 | d[i + 3]);
  return h;
}

int main(int argc, char **argv) {
  long passes = bench_work(argc, argv, 1500);
  uint8_t digest[32];
  sha256 s;

  /* Known answer: "abc" -> ba7816bf 8f01cfea ... f20015ad. */
  sha256_init(&s);
  sha256_update(&s, (const uint8_t *)"abc", 3);
  sha256_final(&s, digest);
  uint32_t h = mix_digest(BENCH_HASH_INIT, digest);

  uint32_t seed = 0x9e3779b9u;
  for (size_t i = 0; i < BUF_SIZE; i++) buf[i] = (uint8_t)bench_rand(&seed);
  for (long p = 0; p < passes; p++) {
    sha256_init(&s);
    /* Uneven pieces so the buffering path runs too. */
    sha256_update(&s, buf, 1000);
    sha256_update(&s, buf + 1000, BUF_SIZE - 1000 - (size_t)(p % 64));
    sha256_final(&s, digest);
    memcpy(buf + (p % (BUF_SIZE / 32)) * 32, digest, 32);
    h = mix_digest(h, digest);
  }
  return bench_report(h);
}
