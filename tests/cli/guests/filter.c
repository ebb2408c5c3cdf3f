/* filter: numbers the lines of stdin and upper-cases them on stdout; the
** totals go to stderr. A stdin-to-stdout filter. */
#include <ctype.h>
#include <stdio.h>
int main(void) {
  int c, line = 1, at_start = 1;
  long bytes = 0;
  while ((c = getchar()) != EOF) {
    if (at_start) printf("%d: ", line);
    at_start = c == '\n';
    if (at_start) line++;
    putchar(toupper(c));
    bytes++;
  }
  fflush(stdout);
  fprintf(stderr, "%ld bytes, %d lines\n", bytes, line - 1 + !at_start);
  return 0;
}
