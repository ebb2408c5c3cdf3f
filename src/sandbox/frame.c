/*
** Frames over a socketpair (frame.h).
*/
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sandbox/frame.h"
#include "sandbox/sandbox_int.h"

void wgf_begin(wg_buf *b, uint32_t type) {
  uint8_t h[WGF_HEADER] = {0};
  memcpy(h + 4, &type, 4);
  wg_buf_reset(b);
  wg_buf_append(b, h, sizeof h);
}

wg_err wgf_put_u8(wg_buf *b, uint8_t v) { return wg_buf_append(b, &v, 1); }
wg_err wgf_put_u32(wg_buf *b, uint32_t v) { return wg_buf_append(b, &v, 4); }
wg_err wgf_put_u64(wg_buf *b, uint64_t v) { return wg_buf_append(b, &v, 8); }

wg_err wgf_put_bytes(wg_buf *b, const void *p, size_t n) {
  if (n >= UINT32_MAX) return WG_ELIMIT;
  wg_err e = wgf_put_u32(b, (uint32_t)n);
  if (e == WG_OK && n) e = wg_buf_append(b, p, n);
  return e;
}

wg_err wgf_put_str(wg_buf *b, const char *s) {
  if (!s) return wgf_put_u32(b, UINT32_MAX);
  wg_err e = wgf_put_bytes(b, s, strlen(s));
  return e ? e : wgf_put_u8(b, 0);
}

wg_err wgf_send(int sock, wg_buf *b, const int *fds, size_t nfds) {
  if (b->len < WGF_HEADER || nfds > WGF_MAX_FDS) return WG_EINVAL;
  if (b->len - WGF_HEADER > WGF_MAX_PAYLOAD) return WG_ELIMIT;
  uint32_t n = (uint32_t)(b->len - WGF_HEADER);
  memcpy(b->data, &n, 4);
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * WGF_MAX_FDS)];
  } ctl;
  size_t off = 0;
  while (off < b->len) {
    struct iovec iov = {b->data + off, b->len - off};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (off == 0 && nfds) {
      memset(&ctl, 0, sizeof ctl);
      mh.msg_control = ctl.buf;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t k = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return WG_EIO;
    }
    off += (size_t)k;
  }
  return WG_OK;
}

static void close_all(int *fds, size_t n) {
  for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* When a receive stops waiting: deadline_ns (CLOCK_MONOTONIC, 0: never)
** and stop_fd (readable: stop; -1: none). */
typedef struct wgf_until {
  uint64_t deadline_ns;
  int stop_fd;
} wgf_until;

static bool waits(const wgf_until *u) {
  return u->deadline_ns || u->stop_fd >= 0;
}

/* Waits until sock is readable; WG_TRAP_INTERRUPT when u says stop. */
static wg_err wait_readable(int sock, const wgf_until *u) {
  if (!waits(u)) return WG_OK;
  for (;;) {
    int ms = -1;
    if (u->deadline_ns) {
      uint64_t now = wgs_now_ns();
      if (now >= u->deadline_ns) return WG_TRAP_INTERRUPT;
      uint64_t left = (u->deadline_ns - now + 999999u) / 1000000u;
      ms = left > 60000 ? 60000 : (int)left;
    }
    struct pollfd p[2] = {{sock, POLLIN, 0}, {u->stop_fd, POLLIN, 0}};
    int r = poll(p, u->stop_fd >= 0 ? 2 : 1, ms);
    if (r > 0 && p[0].revents) return WG_OK;   /* what came first wins */
    if (r > 0) return WG_TRAP_INTERRUPT;
    if (r < 0 && errno != EINTR) return WG_EIO;
  }
}

/* Reads exactly n bytes (no fds expected: the kernel drops any). The
** rest of a frame is usually there already: when waiting is bounded, try
** first and wait only when nothing is. */
static wg_err read_full(int sock, uint8_t *p, size_t n, const wgf_until *u) {
  size_t off = 0;
  int flags = waits(u) ? MSG_DONTWAIT : 0;
  while (off < n) {
    ssize_t k = recv(sock, p + off, n - off, flags);
    if (k == 0) return WG_EEOF;
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return WG_EIO;
      wg_err e = wait_readable(sock, u);
      if (e) return e;
      continue;
    }
    off += (size_t)k;
  }
  return WG_OK;
}

wg_err wgf_recv(int sock, wg_buf *b, uint32_t *type, int *fds, size_t maxfds,
                size_t *nfds, uint64_t deadline_ns) {
  return wgf_recv_until(sock, b, type, fds, maxfds, nfds, deadline_ns, -1);
}

wg_err wgf_recv_until(int sock, wg_buf *b, uint32_t *type, int *fds,
                      size_t maxfds, size_t *nfds, uint64_t deadline_ns,
                      int stop_fd) {
  const wgf_until u = {deadline_ns, stop_fd};
  uint8_t h[WGF_HEADER];
  size_t got = 0, nf = 0;
  bool too_many = false;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * WGF_MAX_FDS)];
  } ctl;
  *nfds = 0;
  wg_buf_reset(b);
  /* The header, with the fds that came with its first byte, and as much
  ** of the payload as fits in b already (at most one frame is in flight:
  ** frame.h), so that a small frame takes one call. */
  wg_err e = WG_OK;
  size_t early = 0;             /* payload bytes read with the header */
  while (got < sizeof h) {
    e = wait_readable(sock, &u);
    if (e) goto fail_e;
    struct iovec iov[2] = {{h + got, sizeof h - got},
                           {b->data, b->cap > 1 ? b->cap - 1 : 0}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = b->cap > 1 ? 2 : 1,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    ssize_t k = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (k == 0) {
      e = WG_EEOF;
      goto fail_e;
    }
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      e = WG_EIO;
      goto fail_e;
    }
    if (mh.msg_flags & MSG_CTRUNC) too_many = true;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (nf < maxfds && nf < WGF_MAX_FDS) {
          fds[nf++] = fd;
        } else {
          close(fd);
          too_many = true;
        }
      }
    }
    if ((size_t)k > sizeof h - got) {
      early = (size_t)k - (sizeof h - got);
      k = (ssize_t)(sizeof h - got);
    }
    got += (size_t)k;
  }
  uint32_t len;
  memcpy(&len, h, 4);
  memcpy(type, h + 4, 4);
  if (len > WGF_MAX_PAYLOAD || len > b->max) {
    e = WG_ELIMIT;
    goto fail_e;
  }
  if (early > len) {            /* a second frame behind this one */
    e = WG_EIO;
    goto fail_e;
  }
  if (len) {
    /* make room once, then read in place */
    if (b->cap < (size_t)len + 1) {
      uint8_t *d = wg_realloc_(b->data, b->cap, (size_t)len + 1);
      if (!d) {
        e = WG_ENOMEM;
        goto fail_e;
      }
      b->data = d;
      b->cap = (size_t)len + 1;
    }
    e = read_full(sock, b->data + early, len - early, &u);
    if (e != WG_OK) goto fail_e;
    b->len = len;
    b->data[len] = 0;
  }
  if (too_many) {
    e = WG_ELIMIT;
    goto fail_e;
  }
  *nfds = nf;
  return WG_OK;
fail_e:
  close_all(fds, nf);
  return e;
}

void wgf_reader_init(wgf_reader *r, const void *p, size_t n) {
  r->p = p;
  r->end = r->p + n;
  r->bad = false;
}

static const uint8_t *take(wgf_reader *r, size_t n) {
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *q = r->p;
  r->p += n;
  return q;
}

uint8_t wgf_get_u8(wgf_reader *r) {
  const uint8_t *q = take(r, 1);
  return q ? *q : 0;
}

uint32_t wgf_get_u32(wgf_reader *r) {
  uint32_t v = 0;
  const uint8_t *q = take(r, 4);
  if (q) memcpy(&v, q, 4);
  return v;
}

uint64_t wgf_get_u64(wgf_reader *r) {
  uint64_t v = 0;
  const uint8_t *q = take(r, 8);
  if (q) memcpy(&v, q, 8);
  return v;
}

const uint8_t *wgf_get_bytes(wgf_reader *r, size_t *n) {
  uint32_t len = wgf_get_u32(r);
  const uint8_t *q = take(r, len);
  *n = q ? len : 0;
  return q ? q : (const uint8_t *)"";
}

const char *wgf_get_str(wgf_reader *r) {
  uint32_t len = wgf_get_u32(r);
  if (r->bad || len == UINT32_MAX) return NULL;
  const uint8_t *q = take(r, (size_t)len + 1);
  if (!q || q[len] != 0 || memchr(q, 0, len)) {
    r->bad = true;
    return NULL;
  }
  return (const char *)q;
}

bool wgf_done(const wgf_reader *r) { return !r->bad && r->p == r->end; }
