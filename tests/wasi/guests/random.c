/* random: random_get fills buffers with different, non-zero bytes. */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>
int main(void) {
  static uint8_t a[4096], b[4096], zero[4096];
  int ok = __wasi_random_get(a, sizeof a) == 0 && __wasi_random_get(b, sizeof b) == 0 &&
           memcmp(a, b, sizeof a) != 0 && memcmp(a, zero, sizeof a) != 0 &&
           __wasi_random_get(a, 0) == 0;
  printf("random %s\n", ok ? "ok" : "FAIL");
  return ok ? 0 : 1;
}
