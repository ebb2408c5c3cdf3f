/*
** An open-loop HTTP/1.1 load generator for the gateway benchmark (wrk
** cannot pace requests at a fixed rate; wrk2's -R is not packaged).
**
**   loadgen PORT PATH BODY_FILE RATE COUNT CONNS [HEADER...]
**
** Sends COUNT POSTs of BODY_FILE to 127.0.0.1:PORT/PATH, request i
** scheduled at start + i / RATE, over CONNS keep-alive connections (one
** request in flight on each). A request's latency runs from its
** scheduled time to the end of its answer, so time spent waiting for a
** free connection counts (no coordinated omission). Answers must carry
** Content-Length. Prints one JSON line: counts, achieved rate and
** latency percentiles in microseconds.
**
** With LOADGEN_TRACE=FILE in the environment it also writes FILE, one
** line per answer: the request's scheduled time and its latency, both in
** µs (run.py finds the machine's stall windows in it).
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF (1u << 20)

typedef struct lconn {
  int fd;
  int busy;
  uint64_t sched_ns;          /* of the request in flight */
  size_t len;
  char buf[RBUF];
} lconn;

static char *req;
static size_t req_len;
static uint16_t port;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int dial(int ep, lconn *c) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->busy = 0;
  c->len = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void hang_up(int ep, lconn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The length of a complete answer at the start of c->buf (0: not yet;
** -1: malformed); *status gets its status code. */
static long complete(lconn *c, int *status) {
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  *status = (int)strtol(c->buf + 9, NULL, 10);
  long blen = -1;
  for (char *p = c->buf; p < end; p++) {
    if ((p == c->buf || p[-1] == '\n') &&
        !strncasecmp(p, "content-length:", 15)) {
      blen = strtol(p + 15, NULL, 10);
    }
  }
  if (blen < 0) return -1;
  long total = (long)(end - c->buf) + 4 + blen;
  return (size_t)total <= c->len ? total : 0;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: loadgen PORT PATH BODY_FILE RATE COUNT CONNS "
            "[HEADER...]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  port = (uint16_t)strtol(argv[1], NULL, 10);
  double rate = strtod(argv[4], NULL);
  size_t count = strtoul(argv[5], NULL, 10);
  int nconn = (int)strtol(argv[6], NULL, 10);
  FILE *f = fopen(argv[3], "rb");
  static char body[1 << 16];
  size_t blen = f ? fread(body, 1, sizeof body, f) : 0;
  if (f) fclose(f);
  size_t cap = blen + 4096;
  req = malloc(cap);  /* checksrc: allow */
  int n = snprintf(req, cap, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu"
                   "\r\n", argv[2], blen);
  for (int i = 7; i < argc; i++) {
    n += snprintf(req + n, cap - (size_t)n, "%s\r\n", argv[i]);
  }
  n += snprintf(req + n, cap - (size_t)n, "\r\n");
  memcpy(req + n, body, blen);
  req_len = (size_t)n + blen;

  int ep = epoll_create1(0);
  lconn *conns = calloc((size_t)nconn, sizeof *conns);  /* checksrc: allow */
  uint32_t *lat = calloc(count, sizeof *lat);           /* checksrc: allow */
  const char *trace_path = getenv("LOADGEN_TRACE");
  FILE *trace = trace_path ? fopen(trace_path, "w") : NULL;
  if (!conns || !lat || (trace_path && !trace)) return 1;
  for (int i = 0; i < nconn; i++) {
    if (dial(ep, &conns[i])) {
      perror("loadgen: connect");
      return 1;
    }
  }
  size_t sent = 0, done = 0, errors = 0, ok = 0, nl = 0;
  uint64_t t0 = now_ns(), interval = (uint64_t)(1e9 / rate);
  /* Gives up at twice the planned time plus 30 s (a slower target still
  ** finishes; what is left unanswered then counts as not done). */
  uint64_t deadline = t0 + (uint64_t)((double)count / rate * 2e9) +
                      30000000000ull;
  uint64_t last = t0;
  int next_idle = 0;
  struct epoll_event evs[256];
  while (done < count && now_ns() < deadline) {
    uint64_t now = now_ns();
    /* Send what is due, on free connections. */
    while (sent < count && t0 + sent * interval <= now) {
      lconn *c = NULL;
      for (int k = 0; k < nconn && !c; k++) {
        lconn *x = &conns[(next_idle + k) % nconn];
        if (x->fd >= 0 && !x->busy) c = x;
      }
      if (!c) break;                       /* all busy: it waits */
      next_idle = (int)(c - conns + 1) % nconn;
      size_t off = 0;
      while (off < req_len) {
        ssize_t w = write(c->fd, req + off, req_len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
      }
      c->busy = 1;
      c->sched_ns = t0 + sent * interval;
      sent++;
      if (off < req_len) {                 /* a dead connection */
        errors++;
        done++;
        hang_up(ep, c);
        dial(ep, c);
      }
    }
    /* Wait for answers, or until the next request is due. */
    struct timespec to = {0, 0};
    if (sent < count) {
      uint64_t due = t0 + sent * interval;
      uint64_t w = due > now ? due - now : 0;
      to.tv_nsec = (long)(w < 50000000 ? w : 50000000);
    } else {
      to.tv_nsec = 50000000;
    }
    int m = epoll_pwait2(ep, evs, 256, &to, NULL);
    if (m < 0 && errno == ENOSYS) {
      m = epoll_wait(ep, evs, 256, (int)(to.tv_nsec / 1000000));
    }
    if (m < 0 && errno == EINTR) continue;
    for (int i = 0; i < m; i++) {
      lconn *c = evs[i].data.ptr;
      ssize_t r = read(c->fd, c->buf + c->len, RBUF - c->len);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        if (c->busy) {
          errors++;
          done++;
        }
        hang_up(ep, c);
        dial(ep, c);
        continue;
      }
      c->len += (size_t)r;
      int status = 0;
      long total = complete(c, &status);
      if (total == 0) continue;
      uint64_t t = now_ns();
      if (total < 0 || !c->busy) {
        errors++;
        done++;
        hang_up(ep, c);
        dial(ep, c);
        continue;
      }
      uint64_t us = (t - c->sched_ns) / 1000;
      lat[nl++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
      if (trace) {
        fprintf(trace, "%llu %llu\n",
                (unsigned long long)((c->sched_ns - t0) / 1000),
                (unsigned long long)us);
      }
      done++;
      if (status == 200) ok++;
      else errors++;
      last = t;
      c->busy = 0;
      memmove(c->buf, c->buf + total, c->len - (size_t)total);
      c->len -= (size_t)total;
    }
  }
  if (trace) fclose(trace);
  qsort(lat, nl, sizeof *lat, cmp_u32);
#define PCT(p) (nl ? lat[(size_t)((double)(nl - 1) * (p))] : 0)
  double el = (double)(last - t0) * 1e-9;
  printf("{\"sent\":%zu,\"done\":%zu,\"ok\":%zu,\"errors\":%zu,"
         "\"elapsed_s\":%.3f,\"rate\":%.1f,\"p50_us\":%u,\"p90_us\":%u,"
         "\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u}\n",
         sent, done, ok, errors, el, el > 0 ? (double)done / el : 0.0,
         PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999), nl ? lat[nl - 1] : 0);
  return 0;
}
