/* exitcode: prints "bye" and exits with argv[1] (through proc_exit). */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  printf("bye\n");
  fflush(stdout);
  exit(argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0);
}
