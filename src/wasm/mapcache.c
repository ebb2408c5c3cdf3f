/*
** Linear-memory mappings kept for reuse, one per thread.
**
** Unmapping a populated region in a multi-threaded process makes the kernel
** flush the TLB of every other CPU the process runs on (an IPI each, costly
** under a hypervisor), and a fresh region pays one page fault for each page
** the next guest touches. So the thread that frees a store keeps the
** largest linear memory it has released (up to MAPCACHE_MAX bytes) and hands
** it to the next memory created on that thread that fits in it.
**
** A region is zeroed when it is given back, so nothing of one instance's
** memory survives into the next and a taken region reads exactly as a
** fresh mmap. Only bytes below the memory's size can have been written
** (bounds checks use the size; the bytes between size and the mapping's
** end are zero by construction). Above MAPCACHE_PROBE bytes mincore(2)
** says which pages are resident: those are zeroed with memset, the others
** are dropped with madvise(MADV_DONTNEED), which makes them read as zero
** again. A page mincore calls not resident may still hold data (swapped
** out), so "not resident" never means "already zero".
**
** A thread's first memory is not kept: in a process that runs one module
** and exits (`wasmgate run`), zeroing it on the way out would only touch
** the pages the guest never did, raising the peak resident size (issue 4)
** and the exit time. A thread that makes a second memory evidently makes
** more, and keeps from then on.
*/
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm/wasm_int.h"

#define MAPCACHE_MAX (8u << 20)      /* larger regions are unmapped */
#define MAPCACHE_PROBE (256u << 10)  /* below this, zero without asking */
#define MAPCACHE_PAGE 4096u          /* mincore's unit (x86-64, arm64 4K) */

typedef struct mapcache {
  uint8_t *data;                     /* NULL: empty */
  uint64_t size;                     /* bytes mapped */
} mapcache;

static _Thread_local mapcache cached;
static _Thread_local unsigned takes;  /* memories made here, counted to 2 */
static pthread_key_t exit_key;       /* unmaps a thread's region at exit */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool have_key;

static void at_thread_exit(void *p) {
  mapcache *c = p;
  if (c->data) munmap(c->data, c->size);
  c->data = NULL;
}

static void make_key(void) {
  have_key = pthread_key_create(&exit_key, at_thread_exit) == 0;
}

uint8_t *wgw_map_take(uint64_t size, uint64_t *mapped) {
  if (takes < 2) takes++;
  if (cached.data && cached.size >= size) {
    uint8_t *p = cached.data;
    *mapped = cached.size;
    cached.data = NULL;
    return p;
  }
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  *mapped = size;
  return p;
}

/* Zeroes the first used bytes of p: every byte up to MAPCACHE_PROBE, then
** resident pages by memset and the others (never touched, or swapped out)
** by MADV_DONTNEED. False when mincore or madvise fails (the caller
** unmaps). */
static bool zero_used(uint8_t *p, uint64_t used) {
  uint64_t head = used < MAPCACHE_PROBE ? used : MAPCACHE_PROBE;
  memset(p, 0, head);
  if (used == head) return true;
  unsigned char vec[MAPCACHE_MAX / MAPCACHE_PAGE];
  uint64_t rest = used - head;
  if (mincore(p + head, rest, vec) != 0) return false;
  uint64_t pages = (rest + MAPCACHE_PAGE - 1) / MAPCACHE_PAGE;
  for (uint64_t i = 0; i < pages;) {
    bool resident = vec[i] & 1;
    uint64_t j = i;
    while (j < pages && (bool)(vec[j] & 1) == resident) j++;
    uint64_t off = i * MAPCACHE_PAGE;
    uint64_t end = j * MAPCACHE_PAGE < rest ? j * MAPCACHE_PAGE : rest;
    if (resident)
      memset(p + head + off, 0, end - off);
    else if (madvise(p + head + off, end - off, MADV_DONTNEED) != 0)
      return false;
    i = j;
  }
  return true;
}

void wgw_map_give(uint8_t *p, uint64_t used, uint64_t mapped) {
  if (!p) return;
  /* keep the larger of the two: it serves more of the next memories */
  if (takes < 2 || mapped > MAPCACHE_MAX ||
      (cached.data && cached.size >= mapped)) {
    munmap(p, mapped);
    return;
  }
  pthread_once(&key_once, make_key);
  if (!have_key || pthread_setspecific(exit_key, &cached) != 0 ||
      !zero_used(p, used)) {
    munmap(p, mapped);
    return;
  }
  if (cached.data) munmap(cached.data, cached.size);
  cached.data = p;
  cached.size = mapped;
}
