/* Allocates 1 MiB blocks (touching them) until malloc fails, then reports
** how far it got and exits with 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *volatile keep[4096];   /* the compiler must not elide them */

int main(void) {
  size_t mib = 0;
  while (mib < sizeof keep / sizeof keep[0]) {
    char *p = malloc(1 << 20);
    if (!p) break;
    memset(p, (int)mib, 1 << 20);
    keep[mib++] = p;
  }
  printf("allocated %zu MiB\n", mib);
  return 3;
}
