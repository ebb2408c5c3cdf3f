/*
** Small helpers of the server: clocks, SHA-256 and randomness (OpenSSL
** libcrypto), strict base64, UTF-8 checking, media types, a string map.
*/
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "server/srv.h"

uint64_t srv_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t srv_time_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* OpenSSL 3 looks the algorithm up on every one-shot SHA256() call;
** fetch it once. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) { sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

void srv_sha256(const void *p, size_t n, uint8_t out[32]) {
  pthread_once(&sha256_once, sha256_fetch);
  if (!sha256_md ||
      !EVP_Digest(p ? p : (const void *)"", n, out, NULL, sha256_md, NULL)) {
    SHA256(p ? p : (const void *)"", n, out);
  }
}

void srv_hex(const uint8_t *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

bool srv_random(void *p, size_t n) {
  return RAND_bytes(p, (int)n) == 1;
}

/* Ids need unpredictable bytes but not one RAND_bytes call (and its
** locks) each: every thread draws them from its own block. */
static _Thread_local uint8_t id_pool[1024];
static _Thread_local size_t id_pool_pos = sizeof id_pool;

bool srv_time_id(const char *prefix, char *out, size_t outsize) {
  uint8_t raw[12];
  uint64_t ms = (uint64_t)srv_time_ms();
  for (int i = 0; i < 6; i++) raw[i] = (uint8_t)(ms >> (40 - 8 * i));
  size_t plen = strlen(prefix);
  if (plen + 25 > outsize) return false;
  if (!srv_random_id("", 6, out + plen + 12, outsize - plen - 12)) return false;
  memcpy(out, prefix, plen);
  char hex[13];
  srv_hex(raw, 6, hex);
  memcpy(out + plen, hex, 12);
  return true;
}

bool srv_random_id(const char *prefix, size_t n, char *out, size_t outsize) {
  uint8_t raw[32];
  size_t plen = strlen(prefix);
  if (n > sizeof raw || plen + 2 * n + 1 > outsize) return false;
  if (id_pool_pos + n > sizeof id_pool) {
    if (!srv_random(id_pool, sizeof id_pool)) return false;
    id_pool_pos = 0;
  }
  memcpy(raw, id_pool + id_pool_pos, n);
  id_pool_pos += n;
  memcpy(out, prefix, plen);
  srv_hex(raw, n, out + plen);
  return true;
}

/* ------------------------------------------------------------------ */
/* Base64                                                              */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

wg_err srv_b64_encode(const uint8_t *p, size_t n, bool url, wg_buf *out) {
  const char *al = url ? b64_url : b64_std;
  char quad[4];
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    size_t left = n - i;
    if (left > 1) v |= (uint32_t)p[i + 1] << 8;
    if (left > 2) v |= p[i + 2];
    quad[0] = al[(v >> 18) & 63];
    quad[1] = al[(v >> 12) & 63];
    quad[2] = left > 1 ? al[(v >> 6) & 63] : '=';
    quad[3] = left > 2 ? al[v & 63] : '=';
    size_t k = 4;
    if (url) k = left > 2 ? 4 : left + 1;   /* no padding */
    wg_err e = wg_buf_append(out, quad, k);
    if (e) return e;
  }
  return WG_OK;
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

wg_err srv_b64_decode(const char *s, size_t n, wg_buf *out) {
  if (n % 4 != 0) return WG_EINVAL;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      char c = s[i + k];
      if (c == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        pad++;
        continue;
      }
      if (pad) return WG_EINVAL;   /* data after padding */
      v[k] = b64_value(c);
      if (v[k] < 0) return WG_EINVAL;
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
    /* Canonical form: the bits under the padding are zero. */
    if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF))) {
      return WG_EINVAL;
    }
    wg_err e = wg_buf_append(out, bytes, (size_t)(3 - pad));
    if (e) return e;
  }
  return WG_OK;
}

/* ------------------------------------------------------------------ */
/* UTF-8 and media types                                               */

bool srv_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

void srv_json_str(wg_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  bool utf8 = srv_utf8_valid((const uint8_t *)s, n);
  size_t run = 0;                 /* the bytes copied as they are */
  wg_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    uint8_t c = (uint8_t)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F &&
        (c < 0x80 || utf8)) {
      continue;
    }
    if (i > run) wg_buf_append(b, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
    if (c == '"' || c == '\\') {
      esc[1] = (char)c;
      wg_buf_append(b, esc, 2);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      wg_buf_append(b, esc, 2);
    } else {
      wg_buf_append(b, esc, 6);
    }
  }
  if (n > run) wg_buf_append(b, s + run, n - run);
  wg_buf_append(b, "\"", 1);
}

bool srv_media_is(const char *content_type, const char *media) {
  if (!content_type) return false;
  while (*content_type == ' ' || *content_type == '\t') content_type++;
  size_t n = strlen(media);
  if (strncasecmp(content_type, media, n) != 0) return false;
  char c = content_type[n];
  return c == 0 || c == ';' || c == ' ' || c == '\t';
}

/* ------------------------------------------------------------------ */
/* String map                                                          */

struct srv_map_entry {
  srv_map_entry *next;
  void *value;
  size_t keylen;
  char key[];            /* NUL-terminated */
};

static uint64_t map_hash(const char *key, size_t n) {
  uint64_t h = 1469598103934665603ull;     /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t)key[i];
    h *= 1099511628211ull;
  }
  return h;
}

void srv_map_init(srv_map *m) { memset(m, 0, sizeof *m); }

static void entry_free(srv_map_entry *e) {
  wg_free(e, sizeof *e + e->keylen + 1);
}

void srv_map_free(srv_map *m) {
  for (size_t i = 0; i < m->nslots; i++) {
    for (srv_map_entry *e = m->slots[i], *next; e; e = next) {
      next = e->next;
      entry_free(e);
    }
  }
  wg_free_array(m->slots, m->nslots);
  srv_map_init(m);
}

static srv_map_entry **map_find(const srv_map *m, const char *key) {
  if (!m->nslots) return NULL;
  size_t n = strlen(key);
  srv_map_entry **pe = &m->slots[map_hash(key, n) & (m->nslots - 1)];
  for (; *pe; pe = &(*pe)->next) {
    if ((*pe)->keylen == n && !memcmp((*pe)->key, key, n)) return pe;
  }
  return pe;
}

void *srv_map_get(const srv_map *m, const char *key) {
  srv_map_entry **pe = map_find(m, key);
  return pe && *pe ? (*pe)->value : NULL;
}

static wg_err map_grow(srv_map *m) {
  size_t nn = m->nslots ? m->nslots * 2 : 16;
  srv_map_entry **slots = wg_new_array(srv_map_entry *, nn);
  if (!slots) return WG_ENOMEM;
  for (size_t i = 0; i < m->nslots; i++) {
    for (srv_map_entry *e = m->slots[i], *next; e; e = next) {
      next = e->next;
      size_t k = map_hash(e->key, e->keylen) & (nn - 1);
      e->next = slots[k];
      slots[k] = e;
    }
  }
  wg_free_array(m->slots, m->nslots);
  m->slots = slots;
  m->nslots = nn;
  return WG_OK;
}

wg_err srv_map_put(srv_map *m, const char *key, void *value) {
  if (m->count >= m->nslots) {
    wg_err e = map_grow(m);
    if (e) return e;
  }
  srv_map_entry **pe = map_find(m, key);
  if (*pe) {
    (*pe)->value = value;
    return WG_OK;
  }
  size_t n = strlen(key);
  srv_map_entry *e = wg_realloc_(NULL, 0, sizeof *e + n + 1);
  if (!e) return WG_ENOMEM;
  e->next = NULL;
  e->value = value;
  e->keylen = n;
  memcpy(e->key, key, n + 1);
  *pe = e;
  m->count++;
  return WG_OK;
}

void *srv_map_del(srv_map *m, const char *key) {
  srv_map_entry **pe = map_find(m, key);
  if (!pe || !*pe) return NULL;
  srv_map_entry *e = *pe;
  void *v = e->value;
  *pe = e->next;
  entry_free(e);
  m->count--;
  return v;
}

void srv_map_sweep(srv_map *m, bool (*fn)(void *user, const char *key,
                                          void *value), void *user) {
  for (size_t i = 0; i < m->nslots; i++) {
    srv_map_entry **pe = &m->slots[i];
    while (*pe) {
      srv_map_entry *e = *pe;
      if (fn(user, e->key, e->value)) {
        *pe = e->next;
        entry_free(e);
        m->count--;
      } else {
        pe = &e->next;
      }
    }
  }
}
