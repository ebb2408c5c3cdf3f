/* envargs: prints its arguments and its whole environment, in order. */
#include <stdio.h>
extern char **environ;
int main(int argc, char **argv) {
  printf("argc %d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d] %s\n", i, argv[i]);
  int n = 0;
  for (char **e = environ; *e; e++) printf("env %s\n", *e), n++;
  printf("envc %d\n", n);
  return 0;
}
