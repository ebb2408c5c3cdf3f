/* writer: writes 1000-byte chunks to the new file argv[1] until a write
** fails or comes up short, then prints the total and why. With "abort" as
** argv[2] it aborts instead of reporting. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 1; }
  char buf[1000];
  memset(buf, 'w', sizeof buf);
  long total = 0;
  ssize_t k;
  errno = 0;
  while (total < 100000000 && (k = write(fd, buf, sizeof buf)) > 0) total += k;
  int e = errno;
  if (argc > 2 && !strcmp(argv[2], "abort")) abort();
  printf("wrote %ld, then %s\n", total, e ? strerror(e) : "a short write");
  return 0;
}
