/* envargs: prints its arguments and its whole environment (sorted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern char **environ;
static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}
int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=[%s]\n", i, argv[i]);
  int n = 0;
  while (environ[n]) n++;
  qsort(environ, (size_t)n, sizeof *environ, cmp);
  printf("envc=%d\n", n);
  for (int i = 0; i < n; i++) printf("env[%d]=[%s]\n", i, environ[i]);
  const char *home = getenv("HOME");
  printf("HOME %s\n", home ? home : "unset");
  return 0;
}
