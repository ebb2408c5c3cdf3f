/* clocks: checks each preview1 clock; prints one verdict per check. */
#include <stdio.h>
#include <wasi/api.h>

static int ok(int cond, const char *what) {
  printf("%s %s\n", what, cond ? "ok" : "FAIL");
  return cond;
}

int main(void) {
  __wasi_timestamp_t res, t1, t2;
  const char *names[4] = {"realtime", "monotonic", "process", "thread"};
  int all = 1;
  for (__wasi_clockid_t id = 0; id < 4; id++) {
    char what[64];
    snprintf(what, sizeof what, "%s res", names[id]);
    all &= ok(__wasi_clock_res_get(id, &res) == 0 && res > 0 && res <= 1000000000ull, what);
    snprintf(what, sizeof what, "%s time", names[id]);
    all &= ok(__wasi_clock_time_get(id, 1, &t1) == 0 &&
              __wasi_clock_time_get(id, 0, &t2) == 0 && t2 >= t1, what);
  }
  (void)__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 0, &t1);
  all &= ok(t1 > 1577836800ull * 1000000000ull, "realtime after 2020");
  all &= ok(__wasi_clock_time_get(4, 0, &t1) == __WASI_ERRNO_INVAL, "bad clock INVAL");
  all &= ok(__wasi_clock_res_get(99, &res) == __WASI_ERRNO_INVAL, "bad clock res INVAL");
  /* poll_oneoff with one relative 20 ms clock sleeps about that long */
  __wasi_subscription_t sub = {0};
  sub.userdata = 42;
  sub.u.tag = __WASI_EVENTTYPE_CLOCK;
  sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  sub.u.u.clock.timeout = 20000000;
  __wasi_event_t ev;
  __wasi_size_t nev = 0;
  (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &t1);
  __wasi_errno_t e = __wasi_poll_oneoff(&sub, &ev, 1, &nev);
  (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 0, &t2);
  all &= ok(e == 0 && nev == 1 && ev.userdata == 42 && ev.type == __WASI_EVENTTYPE_CLOCK &&
            t2 - t1 >= 20000000, "poll clock");
  return all ? 0 : 1;
}
