/* random: two 256-byte draws from random_get are not zero and differ. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  unsigned char a[256], b[256], zero[256] = {0};
  if (getentropy(a, sizeof a) || getentropy(b, sizeof b)) {
    printf("getentropy failed\n");
    return 1;
  }
  printf("non-zero: %s\n", memcmp(a, zero, sizeof a) ? "yes" : "no");
  printf("draws differ: %s\n", memcmp(a, b, sizeof a) ? "yes" : "no");
  int counts[2] = {0, 0};
  for (size_t i = 0; i < sizeof a; i++)
    for (int k = 0; k < 8; k++) counts[(a[i] >> k) & 1]++;
  /* 2048 bits: far outside 700..1348 ones is not random */
  printf("bits balanced: %s\n", counts[1] > 700 && counts[1] < 1348 ? "yes" : "no");
  return 0;
}
