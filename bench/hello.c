/* hello: the start-up benchmark's guest (WASI hello world). */
#include <stdio.h>

int main(void) {
  printf("hello, world\n");
  return 0;
}
