/*
** The policy deadline watchdog. Evaluations take microseconds, so arming a
** deadline must cost no more than an atomic store: one thread scans the
** registered slots every WATCH_TICK_NS while any exist and interrupts the
** store of a slot whose deadline passed. Deadlines are therefore enforced
** to within a tick; fuel bounds the work exactly.
**
** Arm/disarm and the watchdog agree through compare-and-swap on the slot's
** deadline: the watchdog swaps an expired deadline for FIRING, interrupts,
** then stores FIRED; the owner's disarm swaps its own deadline for 0, and
** when that fails it waits for FIRED and clears the interrupt. An interrupt
** can therefore never land on the owner's next evaluation.
*/
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "policy/policy_int.h"

#define WATCH_TICK_NS 2000000ull
#define FIRING UINT64_MAX
#define FIRED (UINT64_MAX - 1)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static wgp_watch *slots;
static bool started;

uint64_t wgp_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *watch_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (!slots) pthread_cond_wait(&wake, &lock);
    uint64_t now = wgp_now_ns();
    for (wgp_watch *w = slots; w; w = w->next) {
      uint64_t d = atomic_load(&w->deadline);
      if (d == 0 || d >= FIRED || d > now) continue;
      if (atomic_compare_exchange_strong(&w->deadline, &d, FIRING)) {
        wg_store_interrupt(w->store);
        atomic_store(&w->deadline, FIRED);
      }
    }
    pthread_mutex_unlock(&lock);
    struct timespec ts = {0, (long)WATCH_TICK_NS};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&lock);
  }
  return NULL;
}

void wgp_watch_add(wgp_watch *w) {
  atomic_store(&w->deadline, 0);
  pthread_mutex_lock(&lock);
  if (!started) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    started = pthread_create(&t, &a, watch_main, NULL) == 0;
    pthread_attr_destroy(&a);
  }
  w->prev = NULL;
  w->next = slots;
  if (slots) slots->prev = w;
  slots = w;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
}

void wgp_watch_remove(wgp_watch *w) {
  pthread_mutex_lock(&lock);
  if (w->prev) {
    w->prev->next = w->next;
  } else {
    slots = w->next;
  }
  if (w->next) w->next->prev = w->prev;
  pthread_mutex_unlock(&lock);
}

void wgp_watch_arm(wgp_watch *w, uint64_t deadline_ns) {
  atomic_store(&w->deadline, deadline_ns ? deadline_ns : 1);
}

bool wgp_watch_disarm(wgp_watch *w) {
  uint64_t d = atomic_load(&w->deadline);
  if (d != FIRING && d != FIRED &&
      atomic_compare_exchange_strong(&w->deadline, &d, 0)) {
    return false;
  }
  while (atomic_load(&w->deadline) != FIRED) sched_yield();
  wg_store_clear_interrupt(w->store);
  atomic_store(&w->deadline, 0);
  return true;
}
