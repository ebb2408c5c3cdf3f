/*
** The hang-up watcher (hangup.h): one thread, one poll(2) over the
** watched sockets and an eventfd that tells it the set changed.
**
** The set is rebuilt from the list before each poll; a watch is matched
** back by its sequence number, never by its address (the caller's memory
** is reused by the next request) or its fd (closed and reused once the
** request has ended). A watch that fired leaves the list at once.
*/
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "server/hangup.h"

#define GONE (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)

struct srv_hangup {
  pthread_mutex_t lock;
  pthread_t th;
  int wake;                     /* eventfd: the list changed, or stop */
  bool stop;                    /* under lock */
  uint64_t seq;                 /* under lock: the last one given */
  srv_hangup_watch *list;       /* under lock */
  size_t n;                     /* its length */
};

static bool hung_up(int fd) {
  struct pollfd p = {fd, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & GONE);
}

static void poke(srv_hangup *h) {
  uint64_t one = 1;
  ssize_t k = write(h->wake, &one, sizeof one);
  (void)k;                      /* full: it is awake already */
}

/* Fires and unlinks the watch numbered seq, if it is still listed. */
static void fire(srv_hangup *h, uint64_t seq) {
  for (srv_hangup_watch **pp = &h->list; *pp; pp = &(*pp)->next) {
    srv_hangup_watch *w = *pp;
    if (w->seq != seq) continue;
    *pp = w->next;
    h->n--;
    w->next = NULL;
    w->seq = 0;
    wg_exec_cancel_fire(w->cancel);
    return;
  }
}

/* The poll set: pollfds then sequence numbers, in one block. */
static bool grow(struct pollfd **pf, uint64_t **seqs, size_t *cap, size_t n) {
  size_t unit = sizeof **pf + sizeof **seqs;
  struct pollfd *p = wg_realloc_(NULL, 0, n * unit);
  if (!p) return false;
  if (*pf) wg_free(*pf, *cap * unit);
  *pf = p;
  *seqs = (uint64_t *)(p + n);  /* 8-byte aligned: pollfds are 8 bytes */
  *cap = n;
  return true;
}

static void *watcher(void *arg) {
  srv_hangup *h = arg;
  struct pollfd *pf = NULL;
  uint64_t *seqs = NULL;
  size_t cap = 0;
  bool ok = grow(&pf, &seqs, &cap, 16);
  pthread_mutex_lock(&h->lock);
  while (ok && !h->stop) {
    size_t n = 1 + h->n;
    /* Out of memory: what fits is watched, the next change retries. */
    if (n > cap && !grow(&pf, &seqs, &cap, n * 2)) n = cap;
    size_t i = 0;
    pf[i++] = (struct pollfd){h->wake, POLLIN, 0};
    for (srv_hangup_watch *w = h->list; w && i < n; w = w->next) {
      pf[i] = (struct pollfd){w->fd, POLLRDHUP, 0};
      seqs[i++] = w->seq;
    }
    pthread_mutex_unlock(&h->lock);
    int r = poll(pf, i, -1);
    if (r > 0 && pf[0].revents) {
      uint64_t v;
      ssize_t k = read(h->wake, &v, sizeof v);
      (void)k;
    }
    pthread_mutex_lock(&h->lock);
    for (size_t j = 1; r > 0 && j < i; j++) {
      if (pf[j].revents & GONE) fire(h, seqs[j]);
    }
  }
  pthread_mutex_unlock(&h->lock);
  if (pf) wg_free(pf, cap * (sizeof *pf + sizeof *seqs));
  return NULL;
}

wg_err srv_hangup_new(srv_hangup **out) {
  *out = NULL;
  srv_hangup *h = wg_new(srv_hangup);
  if (!h) return WG_ENOMEM;
  pthread_mutex_init(&h->lock, NULL);
  h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (h->wake < 0 || pthread_create(&h->th, NULL, watcher, h) != 0) {
    if (h->wake >= 0) close(h->wake);
    pthread_mutex_destroy(&h->lock);
    wg_free_obj(h);
    return WG_ENOMEM;
  }
  *out = h;
  return WG_OK;
}

void srv_hangup_free(srv_hangup *h) {
  if (!h) return;
  pthread_mutex_lock(&h->lock);
  h->stop = true;
  pthread_mutex_unlock(&h->lock);
  poke(h);
  pthread_join(h->th, NULL);
  close(h->wake);
  pthread_mutex_destroy(&h->lock);
  wg_free_obj(h);
}

void srv_hangup_begin(srv_hangup *h, srv_hangup_watch *w, int fd,
                      wg_exec_cancel *cancel) {
  w->fd = fd;
  w->cancel = cancel;
  w->seq = 0;
  w->next = NULL;
  if (!h || fd < 0) return;
  if (hung_up(fd)) {            /* gone while the request was queued */
    wg_exec_cancel_fire(cancel);
    return;
  }
  pthread_mutex_lock(&h->lock);
  w->seq = ++h->seq;
  w->next = h->list;
  h->list = w;
  h->n++;
  pthread_mutex_unlock(&h->lock);
  poke(h);
}

void srv_hangup_end(srv_hangup *h, srv_hangup_watch *w) {
  if (!h) return;
  bool listed = false;
  pthread_mutex_lock(&h->lock);
  for (srv_hangup_watch **pp = &h->list; *pp; pp = &(*pp)->next) {
    if (*pp != w || w->seq == 0) continue;
    *pp = w->next;
    h->n--;
    listed = true;
    break;
  }
  w->seq = 0;
  pthread_mutex_unlock(&h->lock);
  /* Out of the poll set now: a poll(2) in progress holds a reference to
  ** each file it waits on, so a connection the server closes would stay
  ** open (no FIN to the client) until the watcher next woke. */
  if (listed) poke(h);
}
