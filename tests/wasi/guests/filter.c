/* filter: copies stdin to stdout in upper case; the byte count to stderr.
** With an argument N, exits with proc_exit(N) after the copy. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int c;
  long n = 0;
  while ((c = getchar()) != EOF) {
    putchar(toupper(c));
    n++;
  }
  fflush(stdout);
  fprintf(stderr, "bytes %ld\n", n);
  if (argc > 1) exit(atoi(argv[1]));
  return 0;
}
