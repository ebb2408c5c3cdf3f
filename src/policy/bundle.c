/*
** OPA bundles: a gzipped tar holding `.manifest`, `data.json` files placed
** by their directory (`a/b/data.json` is data.a.b), Rego sources (ignored)
** and `policy.wasm` (only files of that name are modules; one per bundle
** here). The tar reader knows ustar and GNU headers: regular files are
** read, pax headers, directories and links skipped, GNU long names ('L')
** honoured. Everything is bounded: 256 MiB unpacked, 64 MiB per file.
*/
#include <jansson.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"
#include "policy/policy_int.h"

#define UNPACKED_MAX (256u << 20)
#define FILE_MAX (64u << 20)

bool wgp_is_gzip(const uint8_t *p, size_t n) {
  return n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

static wg_err gunzip(const uint8_t *p, size_t n, wg_buf *out, wg_error *err) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    return wg_error_set(err, WG_ENOMEM, "inflateInit2 failed");
  }
  z.next_in = (Bytef *)p;
  z.avail_in = (uInt)n;
  uint8_t chunk[16384];
  int rc;
  wg_err e = WG_OK;
  do {
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      e = wg_error_set(err, WG_EINVAL, "bundle: bad gzip data (%s)",
                       z.msg ? z.msg : "truncated");
      break;
    }
    if (wg_buf_append(out, chunk, sizeof chunk - z.avail_out) != WG_OK) {
      e = wg_error_set(err, WG_ELIMIT, "bundle: larger than %u MiB unpacked",
                       UNPACKED_MAX >> 20);
      break;
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      e = wg_error_set(err, WG_EINVAL, "bundle: truncated gzip data");
      break;
    }
  } while (rc != Z_STREAM_END);
  inflateEnd(&z);
  return e;
}

static uint64_t octal(const uint8_t *p, size_t n, bool *ok) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && p[i] == ' ') i++;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
    if (v > (UINT64_MAX >> 3)) *ok = false;
    v = v * 8 + (uint64_t)(p[i] - '0');
  }
  if (i < n && p[i] != 0 && p[i] != ' ') *ok = false;
  return v;
}

/* Strips "/" and "./" prefixes. */
static const char *clean(const char *s) {
  for (;;) {
    if (s[0] == '/') {
      s++;
    } else if (s[0] == '.' && s[1] == '/') {
      s += 2;
    } else {
      return s;
    }
  }
}

/* Places a parsed data.json at its directory path inside root. */
static wg_err put_data(json_t *root, const char *path, const uint8_t *p,
                       size_t n, wg_error *err) {
  json_error_t je;
  json_t *v = json_loadb((const char *)p, n, 0, &je);
  if (!v) {
    return wg_error_set(err, WG_EINVAL, "bundle: %s: %s", path, je.text);
  }
  char dir[512];
  size_t len = strlen(path) - strlen("data.json");
  if (len >= sizeof dir) len = sizeof dir - 1;
  memcpy(dir, path, len);
  dir[len] = 0;
  json_t *at = root;
  char *seg = dir;
  while (*seg) {
    char *slash = strchr(seg, '/');
    if (slash) *slash = 0;
    if (*seg) {
      json_t *next = json_object_get(at, seg);
      if (!json_is_object(next)) {
        next = json_object();
        json_object_set_new(at, seg, next);
      }
      at = next;
    }
    if (!slash) break;
    seg = slash + 1;
  }
  wg_err e = WG_OK;
  if (!json_is_object(v)) {
    e = wg_error_set(err, WG_EINVAL, "bundle: %s is not an object", path);
  } else if (json_object_update_recursive(at, v) != 0) {
    e = wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  json_decref(v);
  return e;
}

static int dump_cb(const char *buf, size_t size, void *data) {
  return wg_buf_append(data, buf, size) == WG_OK ? 0 : -1;
}

wg_err wgp_bundle_read(const uint8_t *p, size_t n, wgp_bundle *b,
                       wg_error *err) {
  memset(b, 0, sizeof *b);
  wg_buf_init(&b->wasm, FILE_MAX);
  wg_buf_init(&b->data, UNPACKED_MAX);
  b->revision[0] = 0;
  wg_buf tar;
  wg_buf_init(&tar, UNPACKED_MAX);
  json_t *data = json_object();
  char longname[1024] = "";
  size_t nwasm = 0, ndata = 0;
  wg_err e = data ? gunzip(p, n, &tar, err)
                  : wg_error_set(err, WG_ENOMEM, "out of memory");
  size_t off = 0;
  while (e == WG_OK && off + 512 <= tar.len) {
    const uint8_t *h = tar.data + off;
    bool zero = true;
    for (int i = 0; i < 512 && zero; i++) zero = h[i] == 0;
    if (zero) break;
    bool ok = true;
    uint64_t size = octal(h + 124, 12, &ok);
    uint64_t sum = octal(h + 148, 8, &ok), calc = 0;
    for (int i = 0; i < 512; i++) calc += (i >= 148 && i < 156) ? ' ' : h[i];
    if (!ok || sum != calc || size > FILE_MAX ||
        off + 512 + size > tar.len) {
      e = wg_error_set(err, WG_EINVAL, "bundle: bad tar header at %zu", off);
      break;
    }
    const uint8_t *body = h + 512;
    char type = (char)h[156];
    char name[1024];
    if (longname[0]) {
      memcpy(name, longname, sizeof name);
      longname[0] = 0;
    } else {
      char pre[156] = "", nm[101];
      if (!memcmp(h + 257, "ustar", 5)) memcpy(pre, h + 345, 155);
      memcpy(nm, h, 100);
      nm[100] = 0;
      pre[155] = 0;
      snprintf(name, sizeof name, "%s%s%s", pre, pre[0] ? "/" : "", nm);
    }
    if (type == 'L') {
      size_t k = size < sizeof longname - 1 ? size : sizeof longname - 1;
      memcpy(longname, body, k);
      longname[k] = 0;
    } else if (type == '0' || type == 0) {
      const char *path = clean(name);
      const char *base = strrchr(path, '/');
      base = base ? base + 1 : path;
      if (!strcmp(path, ".manifest")) {
        json_t *m = json_loadb((const char *)body, size, 0, NULL);
        const char *rev = json_string_value(json_object_get(m, "revision"));
        if (!m) {
          e = wg_error_set(err, WG_EINVAL, "bundle: .manifest is not JSON");
        } else if (rev) {
          snprintf(b->revision, sizeof b->revision, "%s", rev);
        }
        json_decref(m);
      } else if (!strcmp(base, "policy.wasm")) {
        if (nwasm++) {
          e = wg_error_set(err, WG_EINVAL,
                           "bundle: more than one policy.wasm");
        } else if (wg_buf_append(&b->wasm, body, size) != WG_OK) {
          e = wg_error_set(err, WG_ENOMEM, "out of memory");
        }
      } else if (!strcmp(base, "data.json")) {
        ndata++;
        e = put_data(data, path, body, size, err);
      }
    }
    off += 512 + ((size + 511) & ~(uint64_t)511);
  }
  if (e == WG_OK && !nwasm) {
    e = wg_error_set(err, WG_EINVAL, "bundle: no policy.wasm");
  }
  if (e == WG_OK && ndata &&
      json_dump_callback(data, dump_cb, &b->data, JSON_COMPACT) != 0) {
    e = wg_error_set(err, WG_ENOMEM, "out of memory");
  }
  json_decref(data);
  wg_buf_free(&tar);
  if (e) wgp_bundle_free(b);
  return e;
}

void wgp_bundle_free(wgp_bundle *b) {
  wg_buf_free(&b->wasm);
  wg_buf_free(&b->data);
}
