/*
** The module cache: validated wg_modules by content id, least recently
** used first out, bounded in bytes. Executing a cached module does not
** decode or validate it again; wg_module is reference counted and safe to
** share between threads, so a module evicted while running stays alive
** until its last execution ends.
*/
#ifndef WG_SERVER_MODCACHE_H
#define WG_SERVER_MODCACHE_H

#include <stdint.h>

#include "wasmgate/engine.h"

typedef struct srv_modcache srv_modcache;

typedef struct srv_modcache_stats {
  uint64_t bytes, entries, hits, misses, evictions;
} srv_modcache_stats;

/* A module's charge against the cap: the engine keeps the binary plus its
** compiled code, estimated at this many times the binary's size. */
#define SRV_MODCACHE_CHARGE_FACTOR 4

wg_err srv_modcache_new(uint64_t cap_bytes, srv_modcache **out);
/* A new reference to the module with this id, or NULL (a miss). */
wg_module *srv_modcache_get(srv_modcache *c, const char *id);
/* Adds m (the cache takes its own reference) and evicts down to the cap.
** A module larger than the whole cap is not kept. */
void srv_modcache_put(srv_modcache *c, const char *id, wg_module *m);
void srv_modcache_set_cap(srv_modcache *c, uint64_t cap_bytes);

/* Which tenant has which module, as the store said less than a TTL ago:
** executions then need no store lookup. A delete forgets at once on this
** node (tenant's module id, or all of a tenant's with id NULL). */
bool srv_modcache_owned(srv_modcache *c, const char *tenant, const char *id);
void srv_modcache_set_owned(srv_modcache *c, const char *tenant,
                            const char *id, uint64_t ttl_ms);
void srv_modcache_forget_owned(srv_modcache *c, const char *tenant,
                               const char *id);
void srv_modcache_get_stats(srv_modcache *c, srv_modcache_stats *out);
void srv_modcache_free(srv_modcache *c);

#endif
