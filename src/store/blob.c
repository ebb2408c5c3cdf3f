/*
** Content-addressed module blobs in a folder: root/<2 hex>/<64 hex>.wasm.
** The id is checked here again (64 lowercase hex digits after "sha256:"),
** so a path can never be built from anything else.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define BLOB_PATH_MAX 4096

static bool blob_hex(const char *id, const char **hex) {
  if (strncmp(id, "sha256:", 7) != 0) return false;
  const char *h = id + 7;
  for (int i = 0; i < 64; i++) {
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) {
      return false;
    }
  }
  if (h[64] != 0) return false;
  *hex = h;
  return true;
}

/* Writes root/<hex[0..2]> into dir and the blob's path into path. */
static wg_err blob_paths(const char *root, const char *id, char *dir,
                         char *path, wg_error *err) {
  const char *hex;
  if (!blob_hex(id, &hex)) {
    return wg_error_set(err, WG_EINVAL, "bad module id");
  }
  int n = snprintf(dir, BLOB_PATH_MAX, "%s/%.2s", root, hex);
  int m = snprintf(path, BLOB_PATH_MAX, "%s/%s.wasm", dir, hex);
  if (n < 0 || n >= BLOB_PATH_MAX || m < 0 || m >= BLOB_PATH_MAX) {
    return wg_error_set(err, WG_EINVAL, "blob path too long");
  }
  return WG_OK;
}

static wg_err write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return WG_EIO;
    }
    p += w;
    n -= (size_t)w;
  }
  return WG_OK;
}

wg_err wg_blob_write(const char *root, const char *id, const uint8_t *bytes,
                     size_t len, wg_error *err) {
  char dir[BLOB_PATH_MAX], path[BLOB_PATH_MAX], tmp[BLOB_PATH_MAX + 32];
  wg_err e = blob_paths(root, id, dir, path, err);
  if (e) return e;
  if (access(path, F_OK) == 0) return WG_OK;
  if (mkdir(root, 0700) != 0 && errno != EEXIST) goto fail_errno;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail_errno;
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)gettid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) goto fail_errno;
  e = write_all(fd, bytes, len);
  if (e == WG_OK && fsync(fd) != 0) e = WG_EIO;
  if (close(fd) != 0) e = WG_EIO;
  if (e == WG_OK && rename(tmp, path) != 0) e = WG_EIO;
  if (e) {
    int saved = errno;
    unlink(tmp);
    return wg_error_set(err, e, "writing module blob: %s", strerror(saved));
  }
  return WG_OK;
fail_errno:
  return wg_error_set(err, WG_EIO, "module blob folder: %s", strerror(errno));
}

wg_err wg_blob_read(const char *root, const char *id, size_t max, wg_buf *out,
                    wg_error *err) {
  char dir[BLOB_PATH_MAX], path[BLOB_PATH_MAX];
  wg_buf_init(out, max);
  wg_err e = blob_paths(root, id, dir, path, err);
  if (e) return e;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return wg_error_set(err, WG_ENOTFOUND, "no blob");
    return wg_error_set(err, WG_EIO, "module blob: %s", strerror(errno));
  }
  uint8_t chunk[65536];
  for (;;) {
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      e = wg_error_set(err, WG_EIO, "module blob: %s", strerror(errno));
      break;
    }
    if (r == 0) break;
    e = wg_buf_append(out, chunk, (size_t)r);
    if (e) {
      wg_error_set(err, e, "module blob larger than %zu bytes", max);
      break;
    }
  }
  close(fd);
  return e;
}

wg_err wg_blob_remove(const char *root, const char *id, wg_error *err) {
  char dir[BLOB_PATH_MAX], path[BLOB_PATH_MAX];
  wg_err e = blob_paths(root, id, dir, path, err);
  if (e) return e;
  if (unlink(path) != 0 && errno != ENOENT) {
    return wg_error_set(err, WG_EIO, "removing blob: %s", strerror(errno));
  }
  rmdir(dir);   /* only when empty; failure is fine */
  return WG_OK;
}
