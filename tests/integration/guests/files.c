/* Reads /input.txt and /dir/nested.txt, writes /output.txt, and tries to
** escape the sandbox through "..". Reports each step on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("%s: cannot open (%s)\n", path, strerror(errno));
    return;
  }
  char buf[256];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  printf("%s: %s\n", path, buf);
  fclose(f);
}

int main(void) {
  show("/input.txt");
  show("/dir/nested.txt");
  FILE *o = fopen("/output.txt", "w");
  if (o) {
    fputs("written by the guest", o);
    fclose(o);
    show("/output.txt");
  } else {
    printf("/output.txt: cannot create (%s)\n", strerror(errno));
  }
  int fd = open("/../../../../etc/passwd", O_RDONLY);
  printf("escape: %s\n", fd < 0 ? "refused" : "OPENED");
  return 0;
}
