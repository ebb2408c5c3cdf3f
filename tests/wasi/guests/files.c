/* files: file I/O, directory creation and listing, rename, through libc,
** relative to the preopen "/" (fd 3). Prints what it did. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) { printf("opendir %s: errno %d\n", dir, errno); return; }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp);
  printf("%s:", dir);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

int main(void) {
  FILE *f = fopen("notes.txt", "w");
  if (!f) { printf("fopen w: errno %d\n", errno); return 1; }
  fputs("first line\n", f);
  fclose(f);
  f = fopen("notes.txt", "a");
  fputs("second line\n", f);
  fclose(f);
  char buf[128] = {0};
  f = fopen("notes.txt", "r");
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  printf("read %zu: %s", n, buf);
  if (mkdir("sub", 0755) != 0) printf("mkdir: errno %d\n", errno);
  if (mkdir("sub/deeper", 0755) != 0) printf("mkdir deeper: errno %d\n", errno);
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "sub/f%d", i);
    f = fopen(name, "w");
    fprintf(f, "%d", i * 111);
    fclose(f);
  }
  list("sub");
  if (rename("sub/f0", "sub/renamed") != 0) printf("rename: errno %d\n", errno);
  if (rename("notes.txt", "sub/deeper/notes.txt") != 0) printf("rename2: errno %d\n", errno);
  list("sub");
  list("sub/deeper");
  list(".");
  struct stat st;
  if (stat("sub/deeper/notes.txt", &st) == 0)
    printf("size %lld dir %d\n", (long long)st.st_size, S_ISDIR(st.st_mode));
  if (stat("sub", &st) == 0) printf("sub is dir %d\n", S_ISDIR(st.st_mode));
  if (unlink("sub/f1") != 0) printf("unlink: errno %d\n", errno);
  if (rmdir("sub") == 0) printf("rmdir of non-empty dir succeeded\n");
  else printf("rmdir sub: %s\n", errno == ENOTEMPTY ? "ENOTEMPTY" : "other");
  list("sub");
  /* seek and overwrite */
  f = fopen("sub/renamed", "r+");
  fseek(f, 1, SEEK_SET);
  fputc('9', f);
  fclose(f);
  f = fopen("sub/renamed", "r");
  memset(buf, 0, sizeof buf);
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  printf("renamed holds '%s'\n", buf);
  return 0;
}
