/* sleeper: sleeps argv[1] seconds (poll_oneoff), then prints "woke". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  sleep(argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10);
  printf("woke\n");
  return 0;
}
