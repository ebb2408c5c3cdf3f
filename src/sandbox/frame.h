/*
** Frames: the small length-prefixed messages the server and its worker
** processes exchange over a SOCK_STREAM socketpair.
**
** A frame is an 8-byte header {u32 payload length, u32 type} in host byte
** order (both ends are the same binary on the same machine) and then the
** payload. File descriptors travel with a frame as SCM_RIGHTS ancillary
** data attached to its first byte, so they arrive with the header.
**
** At most one frame is in flight in each direction: each side sends only
** in answer to the other (HELLO; RUN, NEED, MODULE, RESULT). A receiver
** therefore reads the header and the start of the payload in one call,
** and bytes past the end of a frame are a protocol error.
**
** Payloads are built with the wgf_put_* functions into a wg_buf (the
** header is reserved by wgf_begin and patched by wgf_send) and read back
** with a bounds-checked wgf_reader: a read past the end sets `bad` and
** returns zeros, so a decoder checks once at the end.
*/
#ifndef WG_SANDBOX_FRAME_H
#define WG_SANDBOX_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "wasmgate/error.h"

#define WGF_HEADER 8u
/* The largest payload accepted (a RUN carries stdin and files' fds, a
** RESULT carries stdout and stderr). */
#define WGF_MAX_PAYLOAD (1u << 30)
/* The most fds one frame carries (a RUN: 64 directories and stdio). */
#define WGF_MAX_FDS 72u

/* Starts a frame of this type in b (emptied; its max should allow the
** payload plus WGF_HEADER). */
void wgf_begin(wg_buf *b, uint32_t type);
wg_err wgf_put_u8(wg_buf *b, uint8_t v);
wg_err wgf_put_u32(wg_buf *b, uint32_t v);
wg_err wgf_put_u64(wg_buf *b, uint64_t v);
/* u32 length, then the bytes. */
wg_err wgf_put_bytes(wg_buf *b, const void *p, size_t n);
/* A string (NULL is encoded as length UINT32_MAX and reads back as NULL). */
wg_err wgf_put_str(wg_buf *b, const char *s);

/* Sends the frame in b (its length is patched in) with nfds fds. WG_EIO
** when the peer is gone, WG_ELIMIT when the payload is too large. */
wg_err wgf_send(int sock, wg_buf *b, const int *fds, size_t nfds);

/* Receives one frame into b (payload only, b->max caps it): its type in
** *type, its fds (at most maxfds; extra ones are closed and the frame is
** refused) in fds with their number in *nfds. With deadline_ns (CLOCK_
** MONOTONIC) not 0, waits at most until then: WG_TRAP_INTERRUPT when it
** passed. WG_EEOF when the peer closed before a whole frame, WG_ELIMIT
** when the length is above b->max, WG_EIO on other errors (bytes of a
** second frame behind this one among them). On failure no
** fd is left open. */
wg_err wgf_recv(int sock, wg_buf *b, uint32_t *type, int *fds, size_t maxfds,
                size_t *nfds, uint64_t deadline_ns);
/* wgf_recv that also stops waiting, with WG_TRAP_INTERRUPT, once stop_fd
** (-1: none) is readable. */
wg_err wgf_recv_until(int sock, wg_buf *b, uint32_t *type, int *fds,
                      size_t maxfds, size_t *nfds, uint64_t deadline_ns,
                      int stop_fd);

typedef struct wgf_reader {
  const uint8_t *p, *end;
  bool bad;                   /* a read went past the end */
} wgf_reader;

void wgf_reader_init(wgf_reader *r, const void *p, size_t n);
uint8_t wgf_get_u8(wgf_reader *r);
uint32_t wgf_get_u32(wgf_reader *r);
uint64_t wgf_get_u64(wgf_reader *r);
/* The bytes of a wgf_put_bytes (pointer into the payload). */
const uint8_t *wgf_get_bytes(wgf_reader *r, size_t *n);
/* A wgf_put_str: NULL for NULL (and when bad). The writer puts a NUL
** after the bytes, so this points into the payload at a C string. */
const char *wgf_get_str(wgf_reader *r);
/* True when everything was read and nothing was out of bounds. */
bool wgf_done(const wgf_reader *r);

#endif
