/*
** fib: calls and recursion. Naive doubly recursive Fibonacci, plus a
** mutually recursive pair (is_even/is_odd style, through a table of
** function pointers) so indirect calls are exercised as well.
*/
#include "bench.h"

static uint32_t fib(uint32_t n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

typedef uint32_t (*step_fn)(uint32_t n, uint32_t acc);
static uint32_t step_a(uint32_t n, uint32_t acc);
static uint32_t step_b(uint32_t n, uint32_t acc);
static step_fn volatile steps[2] = {step_a, step_b};

/* Collatz-like walk that bounces between two functions through a table. */
static uint32_t step_a(uint32_t n, uint32_t acc) {
  if (n <= 1) return acc;
  return steps[n & 1](n / 2, acc * 3 + n);
}
static uint32_t step_b(uint32_t n, uint32_t acc) {
  if (n <= 1) return acc ^ 0x5bd1e995u;
  return steps[(n >> 1) & 1](n * 3 / 4, acc + (n << 1));
}

int main(int argc, char **argv) {
  long reps = bench_work(argc, argv, 20);
  volatile uint32_t depth = 27;
  uint32_t h = BENCH_HASH_INIT;
  for (long r = 0; r < reps; r++) {
    h = bench_mix(h, fib(depth + (uint32_t)(r & 1)));
  }
  long walks = bench_work(argc, argv, 400000);
  for (long i = 0; i < walks; i++)
    h = bench_mix(h, steps[i & 1]((uint32_t)i * 2654435761u, (uint32_t)i));
  return bench_report(h);
}
