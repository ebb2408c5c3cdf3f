/*
** Authentication: who is calling, from "Authorization: Bearer <key>".
**
** Keys are looked up by the SHA-256 of the presented secret (the store
** never sees or keeps a secret), then the stored hash is compared with
** CRYPTO_memcmp. Lookups are cached for auth.cache_ms (a key deleted on
** this node is forgotten at once; on other nodes after that time).
**
** Secrets are never logged, never audited and never echoed in errors.
*/
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "server/srv.h"

#define KEY_PREFIX "wg-"
#define KEY_MAX 256                /* longer presented keys are refused */
#define CACHE_MAX 100000           /* entries; the cache is cleared beyond */

typedef struct cached_key {
  char key_id[WG_DB_ID_MAX];
  char tenant[WG_DB_ID_MAX];
  uint8_t hash[32];
  uint64_t expires_ns;
} cached_key;

struct srv_auth {
  uint8_t admin_hash[32];          /* SHA-256 of the admin key */
  pthread_mutex_t lock;
  srv_map cache;                   /* hex SHA-256 -> cached_key */
};

static wg_err generate_secret(const char *prefix, char *out, size_t outsize) {
  uint8_t raw[32];
  wg_buf b;
  if (!srv_random(raw, sizeof raw)) return WG_EIO;
  wg_buf_init(&b, outsize - 1);
  wg_err e = wg_buf_append(&b, prefix, strlen(prefix));
  if (e == WG_OK) e = srv_b64_encode(raw, sizeof raw, true, &b);
  if (e == WG_OK) memcpy(out, b.data, b.len + 1);
  OPENSSL_cleanse(raw, sizeof raw);
  if (b.data) OPENSSL_cleanse(b.data, b.len);
  wg_buf_free(&b);
  return e;
}

/* The admin key's hash: from the environment, else from the store, else a
** new key generated now and printed once. */
static wg_err admin_setup(srv *s, srv_auth *a, wg_error *err) {
  const char *env = getenv("WASMGATE_ADMIN_KEY");
  if (env && *env) {
    srv_sha256(env, strlen(env), a->admin_hash);
    return WG_OK;
  }
  wg_buf hex;
  wg_buf_init(&hex, 128);
  wg_err e = s->db->ops->meta_get(s->db, "admin_key_sha256", &hex, err);
  if (e == WG_OK && hex.len == 64) {
    for (int i = 0; i < 32; i++) {
      unsigned v;
      if (sscanf((const char *)hex.data + 2 * i, "%2x", &v) != 1) {
        e = WG_EINVAL;
        break;
      }
      a->admin_hash[i] = (uint8_t)v;
    }
    wg_buf_free(&hex);
    if (e) return wg_error_set(err, e, "stored admin key hash is corrupt");
    return WG_OK;
  }
  wg_buf_free(&hex);
  if (e != WG_OK && e != WG_ENOTFOUND) return e;
  char key[96], hexs[65];
  e = generate_secret("wg-admin-", key, sizeof key);
  if (e) return wg_error_set(err, e, "cannot generate the admin key");
  srv_sha256(key, strlen(key), a->admin_hash);
  srv_hex(a->admin_hash, 32, hexs);
  e = s->db->ops->meta_put(s->db, "admin_key_sha256", hexs, err);
  if (e == WG_OK) {
    fprintf(stderr,
            "wasmgate: generated the admin key (shown once, only its hash "
            "is kept):\n  %s\nwasmgate: set WASMGATE_ADMIN_KEY to choose "
            "it yourself.\n", key);
  }
  OPENSSL_cleanse(key, sizeof key);
  return e;
}

wg_err srv_auth_new(srv *s, srv_auth **out, wg_error *err) {
  srv_auth *a = wg_new(srv_auth);
  if (!a) return wg_error_set(err, WG_ENOMEM, "out of memory");
  pthread_mutex_init(&a->lock, NULL);
  srv_map_init(&a->cache);
  wg_err e = admin_setup(s, a, err);
  if (e) {
    srv_auth_free(a);
    return e;
  }
  *out = a;
  return WG_OK;
}

static bool drop_cached(void *user, const char *key, void *value) {
  (void)key;
  const char *only_tenant = user;
  cached_key *c = value;
  if (only_tenant && strcmp(c->tenant, only_tenant) != 0) return false;
  wg_free_obj(c);
  return true;
}

static bool drop_key_id(void *user, const char *key, void *value) {
  (void)key;
  cached_key *c = value;
  if (strcmp(c->key_id, user) != 0) return false;
  wg_free_obj(c);
  return true;
}

void srv_auth_free(srv_auth *a) {
  if (!a) return;
  srv_map_sweep(&a->cache, drop_cached, NULL);
  srv_map_free(&a->cache);
  pthread_mutex_destroy(&a->lock);
  OPENSSL_cleanse(a->admin_hash, sizeof a->admin_hash);
  wg_free_obj(a);
}

void srv_auth_forget_key(srv *s, const char *key_id) {
  pthread_mutex_lock(&s->auth->lock);
  srv_map_sweep(&s->auth->cache, drop_key_id, (void *)key_id);
  pthread_mutex_unlock(&s->auth->lock);
}

void srv_auth_forget_tenant(srv *s, const char *tenant) {
  pthread_mutex_lock(&s->auth->lock);
  srv_map_sweep(&s->auth->cache, drop_cached, (void *)tenant);
  pthread_mutex_unlock(&s->auth->lock);
}

wg_err srv_auth_new_key(srv *s, const char *tenant, char *key, size_t keysize,
                        char key_id[WG_DB_ID_MAX]) {
  wg_db_key k;
  memset(&k, 0, sizeof k);
  if (!srv_random_id("key_", 12, k.id, sizeof k.id)) return WG_EIO;
  wg_err e = generate_secret(KEY_PREFIX, key, keysize);
  if (e) return e;
  wg_db_set_id(k.tenant, tenant);
  srv_sha256(key, strlen(key), k.hash);
  k.created_ms = srv_time_ms();
  e = s->db->ops->key_create(s->db, &k, NULL);
  if (e == WG_OK) memcpy(key_id, k.id, WG_DB_ID_MAX);
  return e;
}

/* ------------------------------------------------------------------ */
/* Authenticating a request                                            */

/* The key of "Bearer <key>", or NULL. */
static const char *bearer(const char *h, size_t *len) {
  if (!h) return NULL;
  while (*h == ' ') h++;
  if (strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  size_t n = strlen(h);
  while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
  *len = n;
  return n ? h : NULL;
}

/* Finds the key with this hash: cache, then store. WG_OK, WG_ENOTFOUND,
** or the store's error. */
static wg_err find_key(srv *s, const uint8_t hash[32], cached_key *out) {
  char hex[65];
  srv_hex(hash, 32, hex);
  uint64_t now = srv_now_ns();
  srv_auth *a = s->auth;
  pthread_mutex_lock(&a->lock);
  cached_key *c = srv_map_get(&a->cache, hex);
  bool hit = c && c->expires_ns > now;
  if (hit) *out = *c;
  pthread_mutex_unlock(&a->lock);
  if (hit) {
    return CRYPTO_memcmp(out->hash, hash, 32) == 0 ? WG_OK : WG_ENOTFOUND;
  }
  wg_db_key k;
  wg_err e = s->db->ops->key_find(s->db, hash, &k, NULL);
  if (e) return e;
  if (CRYPTO_memcmp(k.hash, hash, 32) != 0) return WG_ENOTFOUND;
  memset(out, 0, sizeof *out);
  memcpy(out->key_id, k.id, sizeof out->key_id);
  memcpy(out->tenant, k.tenant, sizeof out->tenant);
  memcpy(out->hash, k.hash, 32);
  wg_config cfg;
  srv_cfg_snapshot(s, &cfg);
  out->expires_ns = now + cfg.auth_cache_ms * 1000000u;
  if (cfg.auth_cache_ms == 0) return WG_OK;
  pthread_mutex_lock(&a->lock);
  if (a->cache.count >= CACHE_MAX) srv_map_sweep(&a->cache, drop_cached, NULL);
  c = srv_map_get(&a->cache, hex);
  if (c) {
    *c = *out;
  } else if ((c = wg_new(cached_key)) != NULL) {
    *c = *out;
    if (srv_map_put(&a->cache, hex, c) != WG_OK) wg_free_obj(c);
  }
  pthread_mutex_unlock(&a->lock);
  return WG_OK;
}

bool srv_authenticate(srv_req *r) {
  srv *s = r->s;
  size_t n = 0;
  const char *key = bearer(srv_header(r, "Authorization"), &n);
  r->www_auth = true;
  if (!key) {
    srv_fail(r, SRV_E_NO_KEY, NULL, "You didn't provide an API key. Send it "
             "in the Authorization header: 'Authorization: Bearer KEY'.");
    return false;
  }
  uint8_t hash[32];
  srv_sha256(key, n, hash);
  bool admin = n <= KEY_MAX && CRYPTO_memcmp(hash, s->auth->admin_hash,
                                             32) == 0;
  cached_key ck;
  wg_err e = admin || n > KEY_MAX ? WG_ENOTFOUND : find_key(s, hash, &ck);
  srv_tenant *t = NULL;
  if (e == WG_OK) t = srv_tenant_get(s, ck.tenant, &e);
  if (e != WG_OK && e != WG_ENOTFOUND) {
    srv_fail(r, SRV_E_INTERNAL, NULL, "store error");
    return false;
  }
  if (admin) {
    r->who.kind = SRV_WHO_ADMIN;
  } else if (t) {
    if (atomic_load(&t->gone)) {
      srv_tenant_release(t);
      srv_fail(r, SRV_E_BAD_KEY, NULL, "Incorrect API key provided.");
      return false;
    }
    r->who.kind = SRV_WHO_TENANT;
    r->who.tenant = t;
    memcpy(r->who.key_id, ck.key_id, sizeof r->who.key_id);
  } else {
    srv_fail(r, SRV_E_BAD_KEY, NULL, "Incorrect API key provided.");
    return false;
  }
  r->www_auth = false;
  int need = r->route->auth;
  if (need == SRV_AUTH_ADMIN && r->who.kind != SRV_WHO_ADMIN) {
    srv_fail(r, SRV_E_FORBIDDEN, NULL, "this route needs the admin key");
    return false;
  }
  if (need == SRV_AUTH_POLICY && r->who.kind == SRV_WHO_TENANT &&
      !srv_key_has_scope(s, r->who.key_id, "policy")) {
    srv_fail(r, SRV_E_FORBIDDEN, NULL, "this route needs the admin key or a "
             "tenant key with the 'policy' scope");
    return false;
  }
  if (need == SRV_AUTH_TENANT && r->who.kind != SRV_WHO_TENANT) {
    srv_fail(r, SRV_E_FORBIDDEN, NULL, "this route needs a tenant key; the "
             "admin key only manages tenants and keys");
    return false;
  }
  return true;
}

/* Key scopes live in the store's meta table ("key_scopes:<key id>" ->
** "policy"), set once when the key is created. */
bool srv_key_has_scope(srv *s, const char *key_id, const char *scope) {
  char k[WG_DB_ID_MAX + 16];
  snprintf(k, sizeof k, "key_scopes:%s", key_id);
  wg_buf v;
  wg_buf_init(&v, 256);
  bool ok = s->db->ops->meta_get(s->db, k, &v, NULL) == WG_OK && v.data;
  if (ok) {
    ok = false;
    for (char *p = (char *)v.data; p && *p;) {
      char *comma = strchr(p, ',');
      size_t n = comma ? (size_t)(comma - p) : strlen(p);
      if (n == strlen(scope) && !memcmp(p, scope, n)) ok = true;
      p = comma ? comma + 1 : NULL;
    }
  }
  wg_buf_free(&v);
  return ok;
}
