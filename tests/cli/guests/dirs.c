/* dirs: directory creation, listing, rename and removal in argv[1].
** Listings are sorted, so the output does not depend on readdir order. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[512], path2[512];

static const char *at(char *buf, const char *dir, const char *name) {
  snprintf(buf, 512, "%s/%s", dir, name);
  return buf;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *dir, const char *name) {
  DIR *d = opendir(at(path, dir, name));
  if (!d) { printf("ls %s: %s\n", name, strerror(errno)); return; }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char kind = e->d_type == DT_DIR ? '/' : e->d_type == DT_REG ? ' ' : '?';
    names[n] = malloc(strlen(e->d_name) + 2);
    snprintf(names[n], strlen(e->d_name) + 2, "%s%c", e->d_name, kind);
    n++;
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp);
  printf("ls %s:", name);
  for (int i = 0; i < n; i++) {
    size_t l = strlen(names[i]);
    if (names[i][l - 1] == ' ') names[i][l - 1] = 0;
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
}

static void touch(const char *dir, const char *name) {
  FILE *f = fopen(at(path, dir, name), "w");
  if (f) { fputs(name, f); fclose(f); }
  else printf("touch %s: %s\n", name, strerror(errno));
}

#define SAY(what, call) printf("%s: %s\n", what, (call) ? strerror(errno) : "ok")

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *d = argv[1];
  SAY("mkdir tree", mkdir(at(path, d, "tree"), 0755));
  SAY("mkdir tree/sub", mkdir(at(path, d, "tree/sub"), 0755));
  SAY("mkdir tree again", mkdir(at(path, d, "tree"), 0755));
  touch(d, "tree/a.txt");
  touch(d, "tree/b.txt");
  touch(d, "tree/sub/c.txt");
  list(d, "tree");
  list(d, "tree/sub");
  SAY("rename a.txt -> sub/moved.txt",
      rename(at(path, d, "tree/a.txt"), at(path2, d, "tree/sub/moved.txt")));
  SAY("rename sub -> renamed",
      rename(at(path, d, "tree/sub"), at(path2, d, "tree/renamed")));
  list(d, "tree");
  list(d, "tree/renamed");
  SAY("rmdir non-empty", rmdir(at(path, d, "tree/renamed")));
  SAY("unlink c.txt", unlink(at(path, d, "tree/renamed/c.txt")));
  SAY("unlink moved.txt", unlink(at(path, d, "tree/renamed/moved.txt")));
  SAY("rmdir renamed", rmdir(at(path, d, "tree/renamed")));
  SAY("rmdir missing", rmdir(at(path, d, "tree/renamed")));
  list(d, "tree");
  list(d, ".");
  return 0;
}
