/* clocks: sanity of the realtime and monotonic clocks, their resolution
** and a short sleep. Prints fixed lines so that the output is exact. */
#include <stdio.h>
#include <time.h>

static long long ns(clockid_t c) {
  struct timespec t;
  if (clock_gettime(c, &t)) return -1;
  return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(void) {
  long long r = ns(CLOCK_REALTIME);
  printf("realtime after 2020: %s\n", r > 1577836800LL * 1000000000 ? "yes" : "no");
  struct timespec res;
  printf("monotonic resolution ok: %s\n",
         !clock_getres(CLOCK_MONOTONIC, &res) && (res.tv_sec || res.tv_nsec) &&
         res.tv_sec == 0 ? "yes" : "no");
  long long m0 = ns(CLOCK_MONOTONIC), last = m0;
  int backwards = 0;
  for (int i = 0; i < 1000; i++) {
    long long m = ns(CLOCK_MONOTONIC);
    if (m < last) backwards = 1;
    last = m;
  }
  printf("monotonic never backwards: %s\n", backwards ? "no" : "yes");
  struct timespec nap = {0, 20000000};
  nanosleep(&nap, NULL);
  long long slept = ns(CLOCK_MONOTONIC) - m0;
  printf("slept at least 20ms: %s\n", slept >= 20000000 ? "yes" : "no");
  printf("process clock ok: %s\n", ns(CLOCK_PROCESS_CPUTIME_ID) >= 0 ? "yes" : "no");
  return 0;
}
