/*
** The allocator hook. All engine memory goes through wg_realloc_ so that a
** budget can be counted per store, and so that tests can fail the Nth
** allocation (fault injection). Leaf code uses the typed macros below.
*/
#ifndef WG_BASE_ALLOC_H
#define WG_BASE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Like realloc, but told the old size: (NULL, 0, n) allocates, (p, o, 0)
** frees and returns NULL. Returns NULL on failure, leaving p untouched. */
void *wg_realloc_(void *p, size_t oldsize, size_t newsize);

/* Bytes currently allocated through the hook, process-wide. */
size_t wg_alloc_used(void);

/* Fault injection: the Nth allocation from now fails (0 disables). Returns
** how many allocations happened since the last call. */
void wg_alloc_fail_after(uint64_t n);
uint64_t wg_alloc_count(void);

/* Overflow-checked typed helpers. */
void *wg_alloc_array(size_t n, size_t size);          /* zeroed */
void *wg_grow_array(void *p, size_t oldn, size_t newn, size_t size);
/* As wg_grow_array, but the new elements are left uninitialized: for
** append-only arrays, whose unused tail then stays untouched (not
** resident) instead of being zeroed at every doubling. */
void *wg_resize_array(void *p, size_t oldn, size_t newn, size_t size);
#define wg_new(T) ((T *)wg_alloc_array(1, sizeof(T)))
#define wg_new_array(T, n) ((T *)wg_alloc_array((n), sizeof(T)))
#define wg_free_array(p, n) wg_realloc_((p), (n) * sizeof *(p), 0)
#define wg_free_obj(p) wg_realloc_((p), sizeof *(p), 0)
void wg_free(void *p, size_t size);

#endif
