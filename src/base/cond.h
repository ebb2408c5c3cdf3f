/*
** Condition-variable waits with a relative timeout, for the background
** threads that wake now and then (flushers, drains).
*/
#ifndef WG_BASE_COND_H
#define WG_BASE_COND_H

#include <pthread.h>
#include <time.h>

/* pthread_cond_timedwait on c (m held) for at most ms milliseconds from
** now, on the condition's default clock (CLOCK_REALTIME). */
static inline int wg_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m,
                                  long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return pthread_cond_timedwait(c, m, &ts);
}

#endif
