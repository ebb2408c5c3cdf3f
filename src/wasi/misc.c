/*
** Arguments, environment, clocks, randomness, poll_oneoff, process and
** scheduling, and the socket functions (no sockets exist).
*/
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "wasi/wasi_int.h"

/* ------------------------------------------------------------------ */
/* args and environ                                                    */

static uint32_t sizes_get(wgi_ctx *c, const uint64_t *a, size_t n, size_t bytes) {
  uint8_t *pn = wgi_mem(c, wgi_u32(a, 0), 4);
  uint8_t *pb = wgi_mem(c, wgi_u32(a, 1), 4);
  if (!pn || !pb) return WGI_EFAULT;
  wgi_put32(pn, (uint32_t)n);
  wgi_put32(pb, (uint32_t)bytes);
  return WGI_ESUCCESS;
}

/* Writes n pointers at a[0] and the NUL-terminated strings at a[1]. */
static uint32_t strs_get(wgi_ctx *c, const uint64_t *a, char **v, size_t n,
                         size_t bytes) {
  uint32_t ptrs = wgi_u32(a, 0), buf = wgi_u32(a, 1);
  uint8_t *pp = wgi_mem(c, ptrs, (uint64_t)n * 4);
  uint8_t *pb = wgi_mem(c, buf, bytes);
  if (!pp || !pb) return WGI_EFAULT;
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(v[i]) + 1;
    wgi_put32(pp + 4 * i, (uint32_t)(buf + off));
    memcpy(pb + off, v[i], len);
    off += len;
  }
  return WGI_ESUCCESS;
}

uint32_t wgi_args_sizes_get(wgi_ctx *c, const uint64_t *a) {
  return sizes_get(c, a, c->w->argc, c->w->argv_bytes);
}
uint32_t wgi_args_get(wgi_ctx *c, const uint64_t *a) {
  return strs_get(c, a, c->w->argv, c->w->argc, c->w->argv_bytes);
}
uint32_t wgi_environ_sizes_get(wgi_ctx *c, const uint64_t *a) {
  return sizes_get(c, a, c->w->envc, c->w->env_bytes);
}
uint32_t wgi_environ_get(wgi_ctx *c, const uint64_t *a) {
  return strs_get(c, a, c->w->env, c->w->envc, c->w->env_bytes);
}

/* ------------------------------------------------------------------ */
/* Clocks and randomness                                               */

static bool clock_of(uint32_t id, clockid_t *out) {
  static const clockid_t map[4] = {CLOCK_REALTIME, CLOCK_MONOTONIC,
                                   CLOCK_PROCESS_CPUTIME_ID,
                                   CLOCK_THREAD_CPUTIME_ID};
  if (id > 3) return false;
  *out = map[id];
  return true;
}

static uint64_t ns_of(const struct timespec *t) {
  return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

uint32_t wgi_clock_res_get(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 1), 8);
  if (!res) return WGI_EFAULT;
  clockid_t id;
  struct timespec t;
  if (!clock_of(wgi_u32(a, 0), &id)) return WGI_EINVAL;
  if (clock_getres(id, &t) != 0) return wgi_errno(errno);
  wgi_put64(res, ns_of(&t));
  return WGI_ESUCCESS;
}

uint32_t wgi_clock_time_get(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 2), 8);
  if (!res) return WGI_EFAULT;
  clockid_t id;
  struct timespec t;
  if (!clock_of(wgi_u32(a, 0), &id)) return WGI_EINVAL;
  if (clock_gettime(id, &t) != 0) return wgi_errno(errno);
  wgi_put64(res, ns_of(&t));
  return WGI_ESUCCESS;
}

uint32_t wgi_random_get(wgi_ctx *c, const uint64_t *a) {
  uint32_t len = wgi_u32(a, 1);
  uint8_t *p = wgi_mem(c, wgi_u32(a, 0), len);
  if (!p) return WGI_EFAULT;
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(p + done, len - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return wgi_errno(errno);
    }
    done += (size_t)n;
  }
  return WGI_ESUCCESS;
}

/* ------------------------------------------------------------------ */
/* poll_oneoff                                                         */

#define SUB_SIZE 48
#define EVENT_SIZE 32
/* Longest single sleep, so that wg_wasi_cancel is seen soon. */
#define SLICE_MS 20

enum { EV_CLOCK = 0, EV_FD_READ = 1, EV_FD_WRITE = 2 };

static void put_event(uint8_t *ev, uint64_t userdata, uint32_t err,
                      uint8_t type, uint64_t nbytes, uint16_t flags) {
  memset(ev, 0, EVENT_SIZE);
  wgi_put64(ev, userdata);
  wgi_put16(ev + 8, (uint16_t)err);
  ev[10] = type;
  wgi_put64(ev + 16, nbytes);
  wgi_put16(ev + 24, flags);
}

static uint64_t mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return ns_of(&t);
}

/* The host fd behind a stdio entry, or -1 when it is always ready. */
static int stdio_host(wg_wasi *w, const wgi_fd *e) {
  if (e->kind == WGI_STDIN) return w->stdin_fd;
  if (e->kind == WGI_STDOUT) return w->out[e->stream].fd;
  return -1;
}

/* Bytes ready to read now on an always-ready entry. */
static uint64_t ready_bytes(wg_wasi *w, const wgi_fd *e) {
  if (e->kind == WGI_STDIN) return w->stdin_len - w->stdin_pos;
  if (e->kind == WGI_FILE) {
    struct stat st;
    off_t pos = lseek(e->host, 0, SEEK_CUR);
    if (fstat(e->host, &st) == 0 && pos >= 0 && st.st_size > pos)
      return (uint64_t)(st.st_size - pos);
  }
  return 0;
}

/* Subscriptions and events are copied through host memory (the guest's
** arrays may overlap), so their number is capped. */
#define POLL_MAX 4096u

uint32_t wgi_poll_oneoff(wgi_ctx *c, const uint64_t *a) {
  wg_wasi *w = c->w;
  uint32_t n = wgi_u32(a, 2);
  const uint8_t *in = wgi_mem(c, wgi_u32(a, 0), (uint64_t)n * SUB_SIZE);
  uint8_t *out = wgi_mem(c, wgi_u32(a, 1), (uint64_t)n * EVENT_SIZE);
  uint8_t *nev = wgi_mem(c, wgi_u32(a, 3), 4);
  if (!in || !out || !nev) return WGI_EFAULT;
  if (n == 0 || n > POLL_MAX) return WGI_EINVAL;
  for (uint32_t i = 0; i < n; i++)
    if (in[(size_t)i * SUB_SIZE + 8] > EV_FD_WRITE) return WGI_EINVAL;
  size_t subsz = (size_t)n * SUB_SIZE, evsz = (size_t)n * EVENT_SIZE;
  uint8_t *subs = wg_realloc_(NULL, 0, subsz);
  uint8_t *evs = wg_realloc_(NULL, 0, evsz);
  uint64_t *deadline = wg_new_array(uint64_t, n);   /* clocks: ns after start */
  uint32_t ret = WGI_ESUCCESS, count = 0;
  if (!subs || !evs || !deadline) { ret = WGI_ENOMEM; goto done; }
  memcpy(subs, in, subsz);

  uint64_t start = mono_now();
  uint64_t first = UINT64_MAX;          /* earliest clock deadline */
  enum { MAXP = 64 };
  struct pollfd pfd[MAXP];
  uint32_t pidx[MAXP];
  int np = 0;
  /* Pass 1: bad fds and always-ready streams fire at once; note clocks
  ** and the host fds to poll. */
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *s = subs + (size_t)i * SUB_SIZE;
    uint64_t ud = wgi_get64(s);
    uint8_t tag = s[8];
    deadline[i] = UINT64_MAX;
    if (tag == EV_CLOCK) {
      uint32_t id = wgi_get32(s + 16);
      uint64_t timeout = wgi_get64(s + 24);
      if (id > 1) {                     /* CPU-time clocks cannot be waited on */
        put_event(evs + (size_t)count++ * EVENT_SIZE, ud, WGI_EINVAL, EV_CLOCK, 0, 0);
        continue;
      }
      uint64_t left = timeout;
      if (wgi_get16(s + 40) & 1) {      /* absolute time on that clock */
        struct timespec t;
        clock_gettime(id == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &t);
        uint64_t now = ns_of(&t);
        left = timeout > now ? timeout - now : 0;
      }
      deadline[i] = left;
      if (left < first) first = left;
      continue;
    }
    wgi_fd *e;
    uint32_t r = wgi_fd_lookup(w, wgi_get32(s + 16), WGI_R_POLL_FD_READWRITE, &e);
    if (!r && tag == EV_FD_READ && e->kind == WGI_STDOUT) r = WGI_EBADF;
    if (!r && tag == EV_FD_WRITE && e->kind == WGI_STDIN) r = WGI_EBADF;
    int host = r ? -1 : stdio_host(w, e);
    if (r) {
      put_event(evs + (size_t)count++ * EVENT_SIZE, ud, r, tag, 0, 0);
    } else if (host < 0) {
      put_event(evs + (size_t)count++ * EVENT_SIZE, ud, 0, tag,
                tag == EV_FD_READ ? ready_bytes(w, e) : 0, 0);
    } else if (np < MAXP) {
      pfd[np] = (struct pollfd){host, tag == EV_FD_READ ? POLLIN : POLLOUT, 0};
      pidx[np++] = i;
    }
  }
  /* Pass 2: look at the host fds; when nothing is ready, wait for one of
  ** them or the first clock, in slices (wg_wasi_cancel ends the wait). */
  for (;;) {
    uint64_t el = mono_now() - start;
    int ms = 0;
    if (count == 0 && el < first) {
      uint64_t lms = first == UINT64_MAX ? SLICE_MS : (first - el + 999999) / 1000000;
      ms = lms < SLICE_MS ? (int)lms : SLICE_MS;
    }
    int k = 0;
    if (np > 0) {
      k = poll(pfd, (nfds_t)np, ms);
      if (k < 0 && errno != EINTR) { ret = wgi_errno(errno); goto done; }
    } else if (ms > 0) {
      struct timespec t = {0, (long)ms * 1000000L};
      nanosleep(&t, NULL);
    }
    for (int j = 0; k > 0 && j < np; j++) {
      if (!pfd[j].revents) continue;
      const uint8_t *s = subs + (size_t)pidx[j] * SUB_SIZE;
      uint8_t tag = s[8];
      uint64_t nb = 0;
      int avail;
      if (tag == EV_FD_READ && ioctl(pfd[j].fd, FIONREAD, &avail) == 0 && avail > 0)
        nb = (uint64_t)avail;
      uint32_t err = (pfd[j].revents & (POLLERR | POLLNVAL)) ? WGI_EIO : 0;
      put_event(evs + (size_t)count++ * EVENT_SIZE, wgi_get64(s), err, tag, nb,
                (pfd[j].revents & POLLHUP) ? 1 : 0);
    }
    if (count > 0 || mono_now() - start >= first) break;
    if (atomic_load(&w->cancel)) { ret = WGI_EINTR; goto done; }
  }
  /* Clocks due by now fire too. */
  uint64_t el = mono_now() - start;
  for (uint32_t i = 0; i < n; i++)
    if (deadline[i] <= el)
      put_event(evs + (size_t)count++ * EVENT_SIZE,
                wgi_get64(subs + (size_t)i * SUB_SIZE), 0, EV_CLOCK, 0, 0);
  memcpy(out, evs, (size_t)count * EVENT_SIZE);
  wgi_put32(nev, count);
done:
  if (subs) wg_free(subs, subsz);
  if (evs) wg_free(evs, evsz);
  if (deadline) wg_free_array(deadline, n);
  return ret;
}

/* ------------------------------------------------------------------ */
/* Process, scheduling                                                 */

uint32_t wgi_proc_exit(wgi_ctx *c, const uint64_t *a) {
  wg_store_exit(wg_host_store(c->call), (int)wgi_u32(a, 0));
  return WGI_RET_EXIT;
}

/* As wasmtime: signals are not supported. */
uint32_t wgi_proc_raise(wgi_ctx *c, const uint64_t *a) { return WGI_ENOTSUP; }

uint32_t wgi_sched_yield(wgi_ctx *c, const uint64_t *a) {
  sched_yield();
  return WGI_ESUCCESS;
}

/* ------------------------------------------------------------------ */
/* Sockets: none exist, so a valid fd is never one                     */

static uint32_t not_a_socket(wgi_ctx *c, uint32_t fd) {
  return wgi_fd_get(c->w, fd) ? WGI_ENOTSOCK : WGI_EBADF;
}

uint32_t wgi_sock_accept(wgi_ctx *c, const uint64_t *a) {
  if (!wgi_mem(c, wgi_u32(a, 2), 4)) return WGI_EFAULT;
  return not_a_socket(c, wgi_u32(a, 0));
}

uint32_t wgi_sock_recv(wgi_ctx *c, const uint64_t *a) {
  uint32_t r = wgi_iovs_check(c, wgi_u32(a, 1), wgi_u32(a, 2));
  if (r) return r;
  if (!wgi_mem(c, wgi_u32(a, 4), 4) || !wgi_mem(c, wgi_u32(a, 5), 2))
    return WGI_EFAULT;
  return not_a_socket(c, wgi_u32(a, 0));
}

uint32_t wgi_sock_send(wgi_ctx *c, const uint64_t *a) {
  uint32_t r = wgi_iovs_check(c, wgi_u32(a, 1), wgi_u32(a, 2));
  if (r) return r;
  if (!wgi_mem(c, wgi_u32(a, 4), 4)) return WGI_EFAULT;
  return not_a_socket(c, wgi_u32(a, 0));
}

uint32_t wgi_sock_shutdown(wgi_ctx *c, const uint64_t *a) {
  return not_a_socket(c, wgi_u32(a, 0));
}
