/* binary: writes bytes that are not UTF-8 to stdout, text to stderr. */
#include <unistd.h>
int main(void) {
  static const unsigned char bytes[] = {0xff, 0xfe, 0x00, 'a', 0xc3};
  if (write(1, bytes, sizeof bytes) != sizeof bytes) return 1;
  if (write(2, "caf\xc3\xa9\n", 6) != 6) return 1;
  return 0;
}
