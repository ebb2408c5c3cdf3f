/* Never returns: only the fuel or the wall-clock limit ends it. */
int main(void) {
  volatile unsigned long n = 0;
  for (;;) n++;
}
