/*
** The tenants' daily token budgets: see budget.h. An open-addressed
** table by tenant id under one mutex; the flusher thread writes it to
** the store.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cond.h"
#include "server/budget.h"
#include "server/srv.h"

/* A tenant's day as this server sees it. */
typedef struct budget_slot {
  char tenant[WG_DB_ID_MAX];    /* "" : a free slot */
  int64_t day;                  /* the UTC day of base; -1: not loaded */
  int64_t base;                 /* the store's value at the last write */
  int64_t pending;              /* spent here since, not yet written */
  int64_t flushing;             /* being written now (not yet in base) */
} budget_slot;

struct srv_budget {
  pthread_mutex_t lock;
  pthread_cond_t wake;          /* the flusher's wake-up */
  budget_slot *slots;
  size_t n, cap;                /* cap: 0 or a power of two */
  bool dirty;                   /* some slot's pending may be non-zero */
  bool stop, flusher_on;
  pthread_t flusher;
};

static size_t hash(const char *k) {          /* FNV-1a */
  uint64_t h = 1469598103934665603ull;
  for (; *k; k++) h = (h ^ (uint8_t)*k) * 1099511628211ull;
  return (size_t)h;
}

/* Something to write: a flusher asleep with nothing to do (it waits only
** while clean) starts its next period. Under b->lock. */
static void mark_dirty(struct srv_budget *b) {
  if (!b->dirty) pthread_cond_signal(&b->wake);
  b->dirty = true;
}

/* The slot of tenant (created when missing); NULL when out of memory.
** Under b->lock. */
static budget_slot *slot_of(struct srv_budget *b, const char *tenant) {
  if (b->n * 2 >= b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 64;
    budget_slot *ns = wg_new_array(budget_slot, nc);
    if (!ns) return NULL;
    for (size_t i = 0; i < b->cap; i++) {
      if (!b->slots[i].tenant[0]) continue;
      size_t h = hash(b->slots[i].tenant) & (nc - 1);
      while (ns[h].tenant[0]) h = (h + 1) & (nc - 1);
      ns[h] = b->slots[i];
    }
    if (b->slots) wg_free_array(b->slots, b->cap);
    b->slots = ns;
    b->cap = nc;
  }
  size_t h = hash(tenant) & (b->cap - 1);
  while (b->slots[h].tenant[0] && strcmp(b->slots[h].tenant, tenant)) {
    h = (h + 1) & (b->cap - 1);
  }
  budget_slot *sl = &b->slots[h];
  if (!sl->tenant[0]) {
    snprintf(sl->tenant, sizeof sl->tenant, "%s", tenant);
    sl->day = -1;
    b->n++;
  }
  return sl;
}

int64_t srv_budget_day(int64_t now_ms) { return now_ms / SRV_BUDGET_DAY_MS; }

int64_t srv_budget_limit(uint64_t tokens_per_day) {
  return tokens_per_day > (uint64_t)INT64_MAX ? -1 : (int64_t)tokens_per_day;
}

wg_err srv_budget_take(srv *s, const char *tenant, int64_t day, int64_t n,
                       int64_t lim) {
  struct srv_budget *b = s->budget;
  wg_db *db = s->db;
  wg_err e = WG_OK;
  pthread_mutex_lock(&b->lock);
  budget_slot *sl = slot_of(b, tenant);
  if (!sl) e = WG_ENOMEM;
  if (!e && sl->day != day) {     /* a new day (or the first use): load */
    if (sl->pending && sl->day >= 0) {
      db->ops->counter_add(db, tenant, SRV_BUDGET_COUNTER, sl->day,
                           sl->pending, -1, NULL, NULL);
    }
    int64_t v = 0;
    e = db->ops->counter_add(db, tenant, SRV_BUDGET_COUNTER, day, 0, -1, &v,
                             NULL);
    if (!e) {
      sl->day = day;
      sl->base = v > 0 ? v : 0;
      sl->pending = 0;
      sl->flushing = 0;          /* the old day's, if a write is under way */
    }
  }
  if (!e && lim >= 0 && sl->base + sl->flushing + sl->pending + n > lim)
    e = WG_ELIMIT;
  if (!e && n) {
    sl->pending += n;
    mark_dirty(b);
  }
  pthread_mutex_unlock(&b->lock);
  return e;
}

void srv_budget_settle(srv *s, const char *tenant, int64_t day,
                       int64_t delta) {
  struct srv_budget *b = s->budget;
  if (!delta) return;
  pthread_mutex_lock(&b->lock);
  budget_slot *sl = slot_of(b, tenant);
  if (sl && sl->day == day) {
    sl->pending += delta;
    mark_dirty(b);
  } else if (sl && day < sl->day) {         /* a past day: straight there */
    s->db->ops->counter_add(s->db, tenant, SRV_BUDGET_COUNTER, day, delta,
                            -1, NULL, NULL);
  }
  pthread_mutex_unlock(&b->lock);
}

/* The store is written without the lock held: one slot at a time, its
** pending moved to flushing (still counted by srv_budget_take while the
** write is under way), then the store's new value becomes its base (what
** was spent meanwhile stays pending). */
void srv_budget_flush(srv *s) {
  struct srv_budget *b = s->budget;
  pthread_mutex_lock(&b->lock);
  b->dirty = false;              /* what is spent from here on marks it */
  for (size_t i = 0; i < b->cap; i++) {
    budget_slot *sl = &b->slots[i];
    if (!sl->tenant[0] || !sl->pending || sl->day < 0) continue;
    char tenant[WG_DB_ID_MAX];
    memcpy(tenant, sl->tenant, sizeof tenant);
    int64_t day = sl->day, n = sl->pending, v = -1;
    sl->pending = 0;
    sl->flushing = n;
    pthread_mutex_unlock(&b->lock);
    wg_err e = s->db->ops->counter_add(s->db, tenant, SRV_BUDGET_COUNTER, day,
                                       n, -1, &v, NULL);
    pthread_mutex_lock(&b->lock);
    sl = &b->slots[i];           /* the table may have grown: find it */
    if (strcmp(sl->tenant, tenant)) sl = slot_of(b, tenant);
    if (!sl || sl->day != day) continue;
    sl->flushing = 0;
    if (e == WG_OK || e == WG_ENOTFOUND) {  /* ENOTFOUND: tenant gone */
      sl->base = v > 0 ? v : 0;
    } else {
      sl->pending += n;          /* the store failed: try again later */
      b->dirty = true;
    }
  }
  pthread_mutex_unlock(&b->lock);
}

/* Writes every SRV_BUDGET_FLUSH_MS while tokens are being spent; with
** nothing to write it sleeps until something is (no periodic wake-up on
** an idle server). */
static void *flusher(void *arg) {
  srv *s = arg;
  struct srv_budget *b = s->budget;
  pthread_mutex_lock(&b->lock);
  while (!b->stop) {
    if (!b->dirty) {
      pthread_cond_wait(&b->wake, &b->lock);
      continue;
    }
    wg_cond_wait_ms(&b->wake, &b->lock, SRV_BUDGET_FLUSH_MS);
    pthread_mutex_unlock(&b->lock);
    srv_budget_flush(s);
    pthread_mutex_lock(&b->lock);
  }
  pthread_mutex_unlock(&b->lock);
  srv_budget_flush(s);
  return NULL;
}

wg_err srv_budget_start(srv *s, wg_error *err) {
  struct srv_budget *b = wg_new(struct srv_budget);
  if (!b) return wg_error_set(err, WG_ENOMEM, "out of memory");
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->wake, NULL);
  s->budget = b;
  b->flusher_on = pthread_create(&b->flusher, NULL, flusher, s) == 0;
  if (!b->flusher_on) {
    return wg_error_set(err, WG_ENOMEM, "cannot start the budget's thread");
  }
  return WG_OK;
}

void srv_budget_stop(srv *s) {
  struct srv_budget *b = s->budget;
  if (!b) return;
  if (b->flusher_on) {              /* writes the budgets a last time */
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->flusher, NULL);
  } else {
    srv_budget_flush(s);
  }
  if (b->slots) wg_free_array(b->slots, b->cap);
  pthread_cond_destroy(&b->wake);
  pthread_mutex_destroy(&b->lock);
  wg_free_obj(b);
  s->budget = NULL;
}
