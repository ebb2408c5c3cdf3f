/* grow: allocates 1 MiB blocks (writing to each) until malloc fails, then
** prints how many it got. With "abort" as argv[1] it aborts when malloc
** fails, as many programs do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char *volatile blocks[8192];   /* volatile: keep every allocation */
int main(int argc, char **argv) {
  int n = 0;
  for (; n < 8192; n++) {
    char *p = malloc(1 << 20);
    if (!p) break;
    memset(p, n, 1 << 20);
    blocks[n] = p;
  }
  if (argc > 1 && !strcmp(argv[1], "abort")) abort();
  printf("allocated %d MiB, then malloc returned NULL\n", n);
  return 0;
}
