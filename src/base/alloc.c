/*
** Default allocator hook: malloc with byte accounting and fault injection.
*/
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static atomic_size_t used;
static atomic_uint_fast64_t count;
static atomic_uint_fast64_t fail_at; /* 0 = never */

/* What every zero-length array points to: never freed, never counted. */
static const max_align_t empty_block;

void *wg_realloc_(void *p, size_t oldsize, size_t newsize) {
  if (p == (void *)&empty_block) {
    p = NULL;
    oldsize = 0;
  }
  if (newsize == 0) {
    if (p) {
      free(p);
      atomic_fetch_sub(&used, oldsize);
    }
    return NULL;
  }
  uint64_t n = atomic_fetch_add(&count, 1) + 1;
  uint64_t f = atomic_load(&fail_at);
  if (f && n >= f) return NULL;
  void *q = realloc(p, newsize);
  if (!q) return NULL;
  atomic_fetch_add(&used, newsize);
  atomic_fetch_sub(&used, p ? oldsize : 0);
  return q;
}

size_t wg_alloc_used(void) { return atomic_load(&used); }

void wg_alloc_fail_after(uint64_t n) {
  atomic_store(&count, 0);
  atomic_store(&fail_at, n);
}

uint64_t wg_alloc_count(void) { return atomic_load(&count); }

void *wg_alloc_array(size_t n, size_t size) {
  if (n == 0 || size == 0) return (void *)&empty_block;
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = wg_realloc_(NULL, 0, n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *wg_grow_array(void *p, size_t oldn, size_t newn, size_t size) {
  if (size && newn > SIZE_MAX / size) return NULL;
  if (newn == 0 || size == 0) {
    wg_realloc_(p, oldn * size, 0);
    return (void *)&empty_block;
  }
  void *q = wg_realloc_(p, oldn * size, newn * size);
  if (q && newn > oldn) memset((char *)q + oldn * size, 0, (newn - oldn) * size);
  return q;
}

void *wg_resize_array(void *p, size_t oldn, size_t newn, size_t size) {
  if (size && newn > SIZE_MAX / size) return NULL;
  if (newn == 0 || size == 0) return wg_grow_array(p, oldn, newn, size);
  return wg_realloc_(p, oldn * size, newn * size);
}

void wg_free(void *p, size_t size) {
  if (p) wg_realloc_(p, size, 0);
}
