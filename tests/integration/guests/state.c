/* What one execution can see of an earlier one (tests/integration/
** test_workers.py). "write" leaves traces: a file, a marker all over 8 MiB
** of heap. "read" reports what it finds: the file, the marker in fresh
** heap, the environment, and which fds besides stdio and its one preopen
** are open. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern char **environ;

int main(int argc, char **argv) {
  const size_t n = 8u << 20;
  if (argc > 1 && !strcmp(argv[1], "write")) {
    FILE *f = fopen("/leftover.txt", "w");
    if (f) {
      fputs("left behind", f);
      fclose(f);
    }
    char *p = malloc(n);
    for (size_t i = 0; p && i + 8 <= n; i += 8) memcpy(p + i, "WGSTATE!", 8);
    printf("wrote\n");
    return 0;
  }
  struct stat st;
  printf("file:%s\n", stat("/leftover.txt", &st) == 0 ? "yes" : "no");
  unsigned char *p = malloc(n);
  size_t marks = 0, nonzero = 0;
  for (size_t i = 0; p && i + 8 <= n; i += 8) {
    if (!memcmp(p + i, "WGSTATE!", 8)) marks++;
    for (int k = 0; k < 8; k++) nonzero += p[i + k] != 0;
  }
  printf("marks:%zu nonzero:%zu\n", marks, nonzero);
  size_t envs = 0;
  for (char **e = environ; e && *e; e++) envs++;
  printf("env:%zu\n", envs);
  int fds = 0;
  for (int fd = 4; fd < 64; fd++)
    if (fstat(fd, &st) == 0) fds++;
  printf("extra_fds:%d\n", fds);
  size_t entries = 0;
  DIR *d = opendir("/");
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
  if (d) closedir(d);
  printf("entries:%zu\n", entries);
  return 0;
}
