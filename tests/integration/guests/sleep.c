/* Sleeps in WASI's poll_oneoff for the seconds in argv[1] (default 60),
** then prints "woke". Only a limit or a cancellation ends it early. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 60);
  printf("woke\n");
  return 0;
}
