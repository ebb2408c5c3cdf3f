/* hogfds: opens argv[1] (a file in a preopen) again and again until open
** fails, then prints how many it got and why. With "abort" as argv[2] it
** aborts instead of reporting. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int n = 0;
  while (n < 100000 && open(argv[1], O_RDONLY) >= 0) n++;
  int e = errno;
  if (argc > 2 && !strcmp(argv[2], "abort")) abort();
  printf("opened %d, then %s\n", n, strerror(e));
  return e == EMFILE ? 0 : 1;
}
