/*
** Named policies with versions: the hot-reload point. A put replaces the
** current version under the set's lock; a get takes a reference under the
** same lock, so a decision always runs wholly on one version, and the old
** version is freed when its last decision releases it. The set is a
** sorted vector: tens of policies, looked up once per decision.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "policy/policy_int.h"

typedef struct entry {
  wg_policy_info info;
  wg_policy *p;
} entry;

struct wg_policy_set {
  pthread_mutex_t lock;
  entry *v;
  size_t n, cap;
  uint64_t next_version;       /* versions never repeat across ids */
};

wg_policy_set *wg_policy_set_new(void) {
  wg_policy_set *s = wg_new(wg_policy_set);
  if (!s) return NULL;
  pthread_mutex_init(&s->lock, NULL);
  s->next_version = 1;
  return s;
}

void wg_policy_set_free(wg_policy_set *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) wg_policy_release(s->v[i].p);
  if (s->v) wg_free_array(s->v, s->cap);
  pthread_mutex_destroy(&s->lock);
  wg_free_obj(s);
}

/* Index of id, or where it would go (*found false). */
static size_t find(const wg_policy_set *s, const char *id, bool *found) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(s->v[mid].info.id, id);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = false;
  return lo;
}

wg_err wg_policy_set_put(wg_policy_set *s, const char *id, const char *owner,
                         bool owner_check, wg_policy *p,
                         wg_policy_info *info) {
  if (!id || !*id || strlen(id) >= sizeof info->id || !owner ||
      strlen(owner) >= sizeof info->owner) {
    wg_policy_release(p);
    return WG_EINVAL;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  wg_policy *old = NULL;
  wg_err e = WG_OK;
  pthread_mutex_lock(&s->lock);
  bool found;
  size_t i = find(s, id, &found);
  if (found) {
    if (owner_check && strcmp(s->v[i].info.owner, owner) != 0) {
      e = WG_EEXIST;
    } else {
      old = s->v[i].p;
      s->v[i].p = p;
    }
  } else {
    if (s->n == s->cap) {
      size_t cap = s->cap ? 2 * s->cap : 8;
      entry *v = wg_grow_array(s->v, s->cap, cap, sizeof *v);
      if (!v) {
        e = WG_ENOMEM;
      } else {
        s->v = v;
        s->cap = cap;
      }
    }
    if (e == WG_OK) {
      memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
      s->n++;
      memset(&s->v[i], 0, sizeof s->v[i]);
      snprintf(s->v[i].info.id, sizeof s->v[i].info.id, "%s", id);
      snprintf(s->v[i].info.owner, sizeof s->v[i].info.owner, "%s", owner);
      s->v[i].p = p;
    }
  }
  if (e == WG_OK) {
    s->v[i].info.version = s->next_version++;
    s->v[i].info.updated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (info) *info = s->v[i].info;
  }
  pthread_mutex_unlock(&s->lock);
  if (e) wg_policy_release(p);
  wg_policy_release(old);
  return e;
}

wg_policy *wg_policy_set_get(wg_policy_set *s, const char *id,
                             wg_policy_info *info) {
  wg_policy *p = NULL;
  pthread_mutex_lock(&s->lock);
  bool found;
  size_t i = find(s, id, &found);
  if (found) {
    p = s->v[i].p;
    wg_policy_retain(p);
    if (info) *info = s->v[i].info;
  }
  pthread_mutex_unlock(&s->lock);
  return p;
}

wg_err wg_policy_set_delete(wg_policy_set *s, const char *id) {
  wg_policy *old = NULL;
  pthread_mutex_lock(&s->lock);
  bool found;
  size_t i = find(s, id, &found);
  if (found) {
    old = s->v[i].p;
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
    s->n--;
  }
  pthread_mutex_unlock(&s->lock);
  wg_policy_release(old);
  return found ? WG_OK : WG_ENOTFOUND;
}

void wg_policy_set_each(wg_policy_set *s,
                        bool (*fn)(void *user, const wg_policy_info *info,
                                   wg_policy *p),
                        void *user) {
  /* Copy the list under the lock, call without it. */
  pthread_mutex_lock(&s->lock);
  size_t n = s->n;
  entry *copy = n ? wg_new_array(entry, n) : NULL;
  if (copy) {
    memcpy(copy, s->v, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) wg_policy_retain(copy[i].p);
  } else {
    n = 0;
  }
  pthread_mutex_unlock(&s->lock);
  bool go = true;
  for (size_t i = 0; i < n; i++) {
    if (go) go = fn(user, &copy[i].info, copy[i].p);
    wg_policy_release(copy[i].p);
  }
  if (copy) wg_free_array(copy, n);
}
