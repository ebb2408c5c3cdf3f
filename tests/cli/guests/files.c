/* files: file I/O with stdio and POSIX calls in the directory argv[1]:
** create, write, append, read back, seek, stat, truncate, unlink. Prints
** one line per step; the test compares the whole output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[512];

static const char *at(const char *dir, const char *name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *d = argv[1];
  FILE *f = fopen(at(d, "notes.txt"), "w");
  if (!f) { perror("create"); return 1; }
  fputs("hello\n", f);
  fclose(f);
  f = fopen(at(d, "notes.txt"), "a");
  if (!f) { perror("append"); return 1; }
  fprintf(f, "world %d\n", 42);
  fclose(f);

  char buf[128] = "";
  f = fopen(at(d, "notes.txt"), "r");
  if (!f) { perror("open"); return 1; }
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  printf("read %zu: %s", n, buf);
  fseek(f, 6, SEEK_SET);
  char word[6] = "";
  if (fread(word, 1, 5, f) != 5) return 1;
  printf("at 6: %s, tell %ld\n", word, ftell(f));
  fseek(f, -3, SEEK_END);
  memset(buf, 0, sizeof buf);
  if (!fgets(buf, sizeof buf, f)) return 1;
  printf("last 3: %s", buf);
  fclose(f);

  struct stat st;
  if (stat(at(d, "notes.txt"), &st)) { perror("stat"); return 1; }
  printf("size %lld, regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));

  int fd = open(at(d, "notes.txt"), O_RDWR);
  if (fd < 0 || ftruncate(fd, 5)) { perror("truncate"); return 1; }
  if (pwrite(fd, "J", 1, 0) != 1) return 1;
  memset(buf, 0, sizeof buf);
  ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
  printf("after truncate+pwrite: %zd '%s'\n", k, buf);
  close(fd);

  f = fopen(at(d, "missing.txt"), "r");
  printf("open missing: %s\n", f ? "opened?" : strerror(errno));
  if (unlink(at(d, "notes.txt"))) { perror("unlink"); return 1; }
  printf("unlinked: stat %s\n",
         stat(at(d, "notes.txt"), &st) ? strerror(errno) : "still there");
  /* a file left for the test to check on the host */
  f = fopen(at(d, "kept.txt"), "w");
  if (!f) return 1;
  fputs("kept\n", f);
  fclose(f);
  return 0;
}
