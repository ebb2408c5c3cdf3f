/*
** A hiccup meter: how long the machine takes CPUs away from a program that
** never sleeps. One thread per CPU named on the command line, pinned to
** it, reads CLOCK_MONOTONIC in a loop; a gap between two reads is time the
** thread did not run (an interrupt, another task, or the hypervisor
** running something else on that vCPU).
**
**   hiccup SECONDS CPU [CPU...]
**
** Prints, per CPU, how many gaps exceeded 0.1, 0.5, 1 and 3 ms and the
** longest, then every gap over 2 ms with the time it happened. Used to
** tell the gateway benchmark's tail (README, "Performance") from the
** machine's: run it with one CPU, then with both.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_CPUS 64
#define MAX_LOGGED 256

typedef struct meter {
  int cpu;
  uint64_t until_ns;
  uint64_t start_ns;
  unsigned over[4];               /* > 0.1, 0.5, 1, 3 ms */
  uint64_t longest_ns;
  unsigned nlogged;
  uint64_t logged_at[MAX_LOGGED], logged_len[MAX_LOGGED];
} meter;

static const uint64_t limits_ns[4] = {100000, 500000, 1000000, 3000000};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *spin(void *arg) {
  meter *m = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(m->cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    fprintf(stderr, "hiccup: cannot pin to CPU %d\n", m->cpu);
    return NULL;
  }
  uint64_t last = now_ns();
  while (last < m->until_ns) {
    uint64_t t = now_ns();
    uint64_t gap = t - last;
    last = t;
    for (int i = 0; i < 4; i++) m->over[i] += gap > limits_ns[i];
    if (gap > m->longest_ns) m->longest_ns = gap;
    if (gap > 2000000 && m->nlogged < MAX_LOGGED) {
      m->logged_at[m->nlogged] = t - m->start_ns;
      m->logged_len[m->nlogged++] = gap;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc - 2 > MAX_CPUS) {
    fprintf(stderr, "usage: hiccup SECONDS CPU [CPU...]\n");
    return 2;
  }
  double secs = strtod(argv[1], NULL);
  int n = argc - 2;
  static meter m[MAX_CPUS];
  pthread_t th[MAX_CPUS];
  uint64_t start = now_ns();
  for (int i = 0; i < n; i++) {
    m[i].cpu = atoi(argv[2 + i]);
    m[i].start_ns = start;
    m[i].until_ns = start + (uint64_t)(secs * 1e9);
    if (pthread_create(&th[i], NULL, spin, &m[i]) != 0) return 1;
  }
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < n; i++) {
    printf("cpu %d: gaps > 0.1 ms %u, > 0.5 ms %u, > 1 ms %u, > 3 ms %u; "
           "longest %.2f ms\n", m[i].cpu, m[i].over[0], m[i].over[1],
           m[i].over[2], m[i].over[3], (double)m[i].longest_ns / 1e6);
  }
  for (int i = 0; i < n; i++) {
    for (unsigned k = 0; k < m[i].nlogged; k++) {
      printf("cpu %d: %.2f ms at %.3f s\n", m[i].cpu,
             (double)m[i].logged_len[k] / 1e6,
             (double)m[i].logged_at[k] / 1e9);
    }
  }
  return 0;
}
