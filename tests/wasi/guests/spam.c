/* spam: writes N bytes ('a'..'z' repeated) to stdout, then "done" to
** stderr; it checks that every write reported full success. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 0;
  char buf[1000];
  for (int i = 0; i < 1000; i++) buf[i] = (char)('a' + i % 26);
  long left = n;
  while (left > 0) {
    long k = left < 1000 ? left : 1000;
    if (write(1, buf, (size_t)k) != k) { fprintf(stderr, "short write\n"); return 1; }
    left -= k;
  }
  fprintf(stderr, "done\n");
  return 0;
}
