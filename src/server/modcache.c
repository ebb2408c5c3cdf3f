/*
** The module cache (modcache.h): a map from id to entry plus a doubly
** linked recency list, under one mutex.
*/
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "server/modcache.h"
#include "server/srv.h"

typedef struct entry {
  struct entry *prev, *next;    /* prev: more recent */
  wg_module *module;            /* one reference held */
  uint64_t charge;
  char id[WG_DB_ID_MAX];
} entry;

#define OWNED_MAX 100000        /* entries; all are dropped beyond */

struct srv_modcache {
  pthread_mutex_t lock;
  srv_map map;                  /* id -> entry */
  srv_map owned;                /* "tenant\x1fid" -> expiry (uint64_t *) */
  entry *head, *tail;           /* most, least recently used */
  uint64_t cap, bytes;
  srv_modcache_stats stats;
};

static void unlink_entry(srv_modcache *c, entry *e) {
  if (e->prev) e->prev->next = e->next; else c->head = e->next;
  if (e->next) e->next->prev = e->prev; else c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void push_front(srv_modcache *c, entry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (!c->tail) c->tail = e;
}

static void drop(srv_modcache *c, entry *e) {
  unlink_entry(c, e);
  srv_map_del(&c->map, e->id);
  c->bytes -= e->charge;
  wg_module_release(e->module);
  wg_free_obj(e);
}

static void evict(srv_modcache *c) {
  while (c->bytes > c->cap && c->tail) {
    drop(c, c->tail);
    c->stats.evictions++;
  }
}

wg_err srv_modcache_new(uint64_t cap_bytes, srv_modcache **out) {
  srv_modcache *c = wg_new(srv_modcache);
  if (!c) return WG_ENOMEM;
  pthread_mutex_init(&c->lock, NULL);
  srv_map_init(&c->map);
  srv_map_init(&c->owned);
  c->cap = cap_bytes;
  *out = c;
  return WG_OK;
}

wg_module *srv_modcache_get(srv_modcache *c, const char *id) {
  pthread_mutex_lock(&c->lock);
  entry *e = srv_map_get(&c->map, id);
  wg_module *m = NULL;
  if (e) {
    unlink_entry(c, e);
    push_front(c, e);
    m = e->module;
    wg_module_retain(m);
    c->stats.hits++;
  } else {
    c->stats.misses++;
  }
  pthread_mutex_unlock(&c->lock);
  return m;
}

void srv_modcache_put(srv_modcache *c, const char *id, wg_module *m) {
  uint64_t charge = (uint64_t)wg_module_size(m) * SRV_MODCACHE_CHARGE_FACTOR;
  pthread_mutex_lock(&c->lock);
  if (charge > c->cap || srv_map_get(&c->map, id)) goto out;
  entry *e = wg_new(entry);
  if (!e) goto out;
  if (!wg_db_set_id(e->id, id) || srv_map_put(&c->map, e->id, e) != WG_OK) {
    wg_free_obj(e);
    goto out;
  }
  wg_module_retain(m);
  e->module = m;
  e->charge = charge;
  c->bytes += charge;
  push_front(c, e);
  evict(c);
out:
  pthread_mutex_unlock(&c->lock);
}

void srv_modcache_set_cap(srv_modcache *c, uint64_t cap_bytes) {
  pthread_mutex_lock(&c->lock);
  c->cap = cap_bytes;
  evict(c);
  pthread_mutex_unlock(&c->lock);
}

void srv_modcache_get_stats(srv_modcache *c, srv_modcache_stats *out) {
  pthread_mutex_lock(&c->lock);
  *out = c->stats;
  out->bytes = c->bytes;
  out->entries = c->map.count;
  pthread_mutex_unlock(&c->lock);
}

static bool owned_key(const char *tenant, const char *id, char *key) {
  size_t t = strlen(tenant), n = strlen(id);
  if (t + n + 2 > 2 * WG_DB_ID_MAX) return false;
  memcpy(key, tenant, t);
  key[t] = '\x1f';
  memcpy(key + t + 1, id, n + 1);
  return true;
}

bool srv_modcache_owned(srv_modcache *c, const char *tenant, const char *id) {
  char key[2 * WG_DB_ID_MAX];
  if (!owned_key(tenant, id, key)) return false;
  uint64_t now = srv_now_ns();
  pthread_mutex_lock(&c->lock);
  uint64_t *exp = srv_map_get(&c->owned, key);
  bool ok = exp && *exp > now;
  pthread_mutex_unlock(&c->lock);
  return ok;
}

static bool drop_owned(void *user, const char *key, void *value) {
  const char *prefix = user;
  if (prefix && strncmp(key, prefix, strlen(prefix)) != 0) return false;
  wg_free(value, sizeof(uint64_t));
  return true;
}

void srv_modcache_set_owned(srv_modcache *c, const char *tenant,
                            const char *id, uint64_t ttl_ms) {
  char key[2 * WG_DB_ID_MAX];
  if (!ttl_ms || !owned_key(tenant, id, key)) return;
  uint64_t exp = srv_now_ns() + ttl_ms * 1000000u;
  pthread_mutex_lock(&c->lock);
  if (c->owned.count >= OWNED_MAX) srv_map_sweep(&c->owned, drop_owned, NULL);
  uint64_t *v = srv_map_get(&c->owned, key);
  if (!v && (v = wg_new(uint64_t)) != NULL &&
      srv_map_put(&c->owned, key, v) != WG_OK) {
    wg_free(v, sizeof *v);
    v = NULL;
  }
  if (v) *v = exp;
  pthread_mutex_unlock(&c->lock);
}

void srv_modcache_forget_owned(srv_modcache *c, const char *tenant,
                               const char *id) {
  char key[2 * WG_DB_ID_MAX];
  if (!owned_key(tenant, id ? id : "", key)) return;
  pthread_mutex_lock(&c->lock);
  if (id) {
    wg_free(srv_map_del(&c->owned, key), sizeof(uint64_t));
  } else {
    srv_map_sweep(&c->owned, drop_owned, key);   /* prefix "tenant\x1f" */
  }
  pthread_mutex_unlock(&c->lock);
}

void srv_modcache_free(srv_modcache *c) {
  if (!c) return;
  while (c->head) drop(c, c->head);
  srv_map_sweep(&c->owned, drop_owned, NULL);
  srv_map_free(&c->owned);
  srv_map_free(&c->map);
  pthread_mutex_destroy(&c->lock);
  wg_free_obj(c);
}
