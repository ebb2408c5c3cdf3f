/* spam: writes argv[1] bytes ('a'..'z' repeated) to stdout and argv[2]
** bytes to stderr, then exits 0. */
#include <stdlib.h>
#include <unistd.h>
static void spew(int fd, long n) {
  char buf[1000];
  for (int i = 0; i < 1000; i++) buf[i] = (char)('a' + i % 26);
  while (n > 0) {
    long k = n < 1000 ? n : 1000;
    if (write(fd, buf, (size_t)k) != k) exit(1);
    n -= k;
  }
}
int main(int argc, char **argv) {
  spew(1, argc > 1 ? strtol(argv[1], NULL, 10) : 0);
  spew(2, argc > 2 ? strtol(argv[2], NULL, 10) : 0);
  return 0;
}
