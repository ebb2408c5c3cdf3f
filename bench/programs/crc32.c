/*
** crc32: integer table lookups. The reflected CRC-32 of IEEE 802.3
** (polynomial 0xEDB88320), table built at start-up, byte at a time, over a
** 64 KiB buffer that changes a little between passes.
*/
#include "bench.h"

#define BUF_SIZE (64 * 1024)

static uint32_t table[256];
static uint8_t buf[BUF_SIZE];

static void make_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int main(int argc, char **argv) {
  long passes = bench_work(argc, argv, 700);
  uint32_t seed = 0x12345678u;
  make_table();
  for (size_t i = 0; i < BUF_SIZE; i++) buf[i] = (uint8_t)bench_rand(&seed);

  /* Known answer: CRC-32 of "123456789" is 0xCBF43926. */
  uint32_t h = bench_mix(BENCH_HASH_INIT,
                         crc32(0, (const uint8_t *)"123456789", 9));
  uint32_t crc = 0;
  for (long p = 0; p < passes; p++) {
    buf[bench_rand(&seed) % BUF_SIZE] ^= (uint8_t)p;
    crc = crc32(crc, buf, BUF_SIZE);
    h = bench_mix(h, crc);
  }
  return bench_report(h);
}
