/*
** Growable byte buffers that know their cap, in the manner of curl's dynbuf.
** A buffer is created with a maximum; appending past it fails with
** WG_ELIMIT and leaves the contents as they were.
*/
#ifndef WG_BASE_BUF_H
#define WG_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "wasmgate/error.h"

typedef struct wg_buf {
  uint8_t *data;   /* NUL-terminated for convenience (not counted in len) */
  size_t len;      /* bytes used */
  size_t cap;      /* bytes allocated */
  size_t max;      /* the most len may ever be */
} wg_buf;

void wg_buf_init(wg_buf *b, size_t max);
void wg_buf_free(wg_buf *b);
void wg_buf_reset(wg_buf *b);
wg_err wg_buf_append(wg_buf *b, const void *p, size_t n);
/* Room for n more bytes (at most up to the maximum) allocated now: one
** allocation instead of a few doublings when the size is known ahead. */
wg_err wg_buf_reserve(wg_buf *b, size_t n);
wg_err wg_buf_printf(wg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
