/*
** A fast fake OpenAI-compatible upstream for the gateway benchmark: one
** thread, epoll, HTTP/1.1 keep-alive. Every POST (any path) gets the
** same small chat.completion (with usage); GET answers 200 "ok". Requests
** must carry Content-Length (no chunked bodies); pipelining is handled.
**
**   upstream PORT        (0: any; the port is printed as "port N")
**
** Not a general server: it exists so that the benchmark's baseline is
** not bounded by its upstream.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_BUF (256u << 10)
#define MAX_CONNS 65536

typedef struct conn {
  int fd;
  size_t len;                 /* bytes in in[] */
  char in[CONN_BUF];
} conn;

static const char body_fmt[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\","
    "\"created\":1700000000,\"model\":\"bench\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Hello! How can I "
    "help you today? My address is not bob@example.com.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":12,\"total_tokens\":21}}";

static char resp_post[1024], resp_get[128];
static size_t resp_post_len, resp_get_len;

static conn *conns[MAX_CONNS];

static void drop(int ep, conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->fd < MAX_CONNS) conns[c->fd] = NULL;
  free(c);
}

/* Answers every complete request in c->in; false: close. */
static int serve(conn *c) {
  size_t off = 0;
  for (;;) {
    char *start = c->in + off;
    size_t avail = c->len - off;
    char *end = memmem(start, avail, "\r\n\r\n", 4);
    if (!end) break;
    size_t hlen = (size_t)(end - start) + 4, blen = 0;
    for (char *p = start; p < end; p++) {
      if ((p == start || p[-1] == '\n') &&
          !strncasecmp(p, "content-length:", 15)) {
        blen = strtoul(p + 15, NULL, 10);
      }
    }
    if (hlen + blen > CONN_BUF) return 0;
    if (avail < hlen + blen) break;
    const char *r = start[0] == 'P' ? resp_post : resp_get;
    size_t rn = start[0] == 'P' ? resp_post_len : resp_get_len;
    size_t done = 0;
    while (done < rn) {           /* small answers: the socket takes them */
      ssize_t w = write(c->fd, r + done, rn - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return 0;
      done += (size_t)w;
    }
    off += hlen + blen;
  }
  memmove(c->in, c->in + off, c->len - off);
  c->len -= off;
  return 1;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  int port = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0;
  size_t blen = strlen(body_fmt);
  resp_post_len = (size_t)snprintf(resp_post, sizeof resp_post,
                                   "HTTP/1.1 200 OK\r\nContent-Type: "
                                   "application/json\r\nContent-Length: "
                                   "%zu\r\n\r\n%s", blen, body_fmt);
  resp_get_len = (size_t)snprintf(resp_get, sizeof resp_get,
                                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                  "\r\nok");
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) {
    perror("upstream: bind/listen");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          if (fd >= MAX_CONNS) {
            close(fd);
            continue;
          }
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);  /* checksrc: allow */
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          conns[fd] = c;
          struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
        }
        continue;
      }
      for (;;) {
        ssize_t r = read(c->fd, c->in + c->len, CONN_BUF - c->len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (r <= 0 || !serve((c->len += (size_t)r, c))) {
          drop(ep, c);
          break;
        }
        if (c->len == CONN_BUF) {
          drop(ep, c);
          break;
        }
      }
    }
  }
}
