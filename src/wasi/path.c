/*
** Resolving guest paths beneath a directory fd, never leaving it.
**
** Two ways, chosen per context (wg_wasi.openat2):
**
**  openat2   The kernel resolves with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS:
**            it refuses absolute paths, `..` above the start and symlinks
**            that lead out (EXDEV, reported as NOTCAPABLE).
**  walk      One component at a time: each directory is opened with
**            openat(O_PATH | O_DIRECTORY | O_NOFOLLOW) relative to the one
**            before; `..` pops a stack of directory fds and may never pop
**            the start; a symlink is read with readlinkat and its target
**            spliced in front of the rest of the path (absolute targets
**            refused), at most WG_WASI_SYMLINK_HOPS times.
**
** Both give a directory fd and a final component. Operations then act on
** that name with *at calls that never follow it (AT_SYMLINK_NOFOLLOW,
** O_NOFOLLOW, or calls such as unlinkat that never follow the last
** component): when the final symlink must be followed, wgi_resolve follows
** it itself by splicing its target and resolving again from the start.
*/
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi/wasi_int.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define RESOLVE_FLAGS (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
/* A path after splicing symlink targets may grow up to this. */
#define WORK_MAX (2 * WG_WASI_PATH_MAX + 2)
/* Deepest stack of directories in the walk. */
#define WALK_DEPTH 1024

static long sys_openat2(int dirfd, const char *path, int flags, unsigned mode) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(unsigned)flags;
  how.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0;
  how.resolve = RESOLVE_FLAGS;
  long r;
  int tries = 0;
  do {   /* EAGAIN: a concurrent rename raced the lookup; try again */
    r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  } while (r < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 64);
  return r;
}

bool wgi_openat2_available(void) {
  static atomic_int state;   /* 0 unknown, 1 yes, 2 no */
  int s = atomic_load(&state);
  if (s == 0) {
    /* An absolute path under RESOLVE_BENEATH fails with EXDEV exactly when
    ** the kernel knows openat2 (seccomp filters answer ENOSYS or EPERM). */
    long r = sys_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    int e = errno;
    if (r >= 0) close((int)r);
    s = (r < 0 && e == EXDEV) ? 1 : 2;
    atomic_store(&state, s);
  }
  return s == 1;
}

static uint32_t open2_errno(int e) {
  return e == EXDEV ? WGI_ENOTCAPABLE : wgi_errno(e);
}

/* ------------------------------------------------------------------ */
/* The walk                                                            */

/* Opens directory rel beneath dirfd by walking it. Returns the fd (owned
** when *own) or -1 with *err. *hops counts symlinks followed. */
static int walk_dir(int dirfd, const char *rel, unsigned *hops, bool *own,
                    uint32_t *err) {
  char work[WORK_MAX + 1], link[WG_WASI_PATH_MAX + 1], tmp[WORK_MAX + 1];
  int stack[WALK_DEPTH];
  int depth = 0;
  size_t len = strlen(rel);
  if (len > WORK_MAX) { *err = WGI_ENAMETOOLONG; return -1; }
  memcpy(work, rel, len + 1);
  size_t at = 0;
  *err = WGI_ESUCCESS;
  while (work[at]) {
    while (work[at] == '/') at++;
    if (!work[at]) break;
    size_t start = at;
    while (work[at] && work[at] != '/') at++;
    size_t clen = at - start;
    int cur = depth ? stack[depth - 1] : dirfd;
    if (clen == 1 && work[start] == '.') continue;
    if (clen == 2 && work[start] == '.' && work[start + 1] == '.') {
      if (depth == 0) { *err = WGI_ENOTCAPABLE; goto fail; }   /* escape */
      close(stack[--depth]);
      continue;
    }
    if (clen > 255) { *err = WGI_ENAMETOOLONG; goto fail; }
    char comp[256];
    memcpy(comp, work + start, clen);
    comp[clen] = 0;
    int fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      if (depth == WALK_DEPTH) { close(fd); *err = WGI_ENAMETOOLONG; goto fail; }
      stack[depth++] = fd;
      continue;
    }
    int e = errno;
    if (e != ENOTDIR && e != ELOOP) { *err = wgi_errno(e); goto fail; }
    ssize_t n = readlinkat(cur, comp, link, sizeof link);
    if (n < 0) { *err = wgi_errno(e); goto fail; }     /* not a symlink */
    if (++*hops > WG_WASI_SYMLINK_HOPS) { *err = WGI_ELOOP; goto fail; }
    if ((size_t)n >= sizeof link) { *err = WGI_ENAMETOOLONG; goto fail; }
    if (n == 0) { *err = WGI_ENOENT; goto fail; }
    if (link[0] == '/') { *err = WGI_ENOTCAPABLE; goto fail; }
    /* work := target + rest (rest starts with '/' or is empty) */
    size_t rest = strlen(work + at);
    if ((size_t)n + rest > WORK_MAX) { *err = WGI_ENAMETOOLONG; goto fail; }
    memcpy(tmp, link, (size_t)n);
    memcpy(tmp + n, work + at, rest + 1);
    memcpy(work, tmp, (size_t)n + rest + 1);
    at = 0;
  }
  if (depth == 0) { *own = false; return dirfd; }
  for (int i = 0; i < depth - 1; i++) close(stack[i]);
  *own = true;
  return stack[depth - 1];
fail:
  for (int i = 0; i < depth; i++) close(stack[i]);
  return -1;
}

/* Opens directory rel (may be "") beneath dirfd, O_PATH. */
static int open_dir(wg_wasi *w, int dirfd, const char *rel, unsigned *hops,
                    bool *own, uint32_t *err) {
  if (!rel[0]) { *own = false; return dirfd; }
  if (w->openat2) {
    long r = sys_openat2(dirfd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (r >= 0) { *own = true; return (int)r; }
    if (errno != ENOSYS) { *err = open2_errno(errno); return -1; }
    w->openat2 = false;            /* filtered since the probe: walk */
  }
  return walk_dir(dirfd, rel, hops, own, err);
}

/* ------------------------------------------------------------------ */
/* Guest paths                                                         */

static bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
    else return false;
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
        (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += k + 1;
  }
  return true;
}

uint32_t wgi_path_copy(wgi_ctx *c, uint32_t ptr, uint32_t len, char *out) {
  const uint8_t *p = wgi_mem(c, ptr, len);
  if (!p) return WGI_EFAULT;
  if (len > WG_WASI_PATH_MAX) return WGI_ENAMETOOLONG;
  if (memchr(p, 0, len)) return WGI_EINVAL;
  if (!utf8_valid(p, len)) return WGI_EILSEQ;
  memcpy(out, p, len);
  out[len] = 0;
  return WGI_ESUCCESS;
}

void wgi_path_done(wgi_path *p) {
  if (p->own && p->dir >= 0) close(p->dir);
  p->dir = -1;
  p->own = false;
}

const char *wgi_path_name_slash(wgi_path *p) {
  size_t n = strlen(p->name);
  if (p->slash && (n == 0 || p->name[n - 1] != '/')) {
    p->name[n] = '/';
    p->name[n + 1] = 0;
  }
  return p->name;
}

uint32_t wgi_resolve(wg_wasi *w, int dirfd, const char *path, unsigned how,
                     wgi_path *p) {
  char cur[WORK_MAX + 1], link[WG_WASI_PATH_MAX + 1];
  unsigned hops = 0;
  uint32_t err = WGI_ESUCCESS;
  size_t len = strlen(path);
  p->dir = -1;
  p->own = false;
  p->slash = false;
  p->name[0] = 0;
  if (len > WORK_MAX) return WGI_ENAMETOOLONG;
  memcpy(cur, path, len + 1);
  for (;;) {
    len = strlen(cur);
    if (len == 0) return WGI_ENOENT;
    if (cur[0] == '/') return WGI_ENOTCAPABLE;       /* absolute */
    bool slash = false;
    while (len > 0 && cur[len - 1] == '/') { slash = true; cur[--len] = 0; }
    char *sep = memrchr(cur, '/', len);
    char *last = sep ? sep + 1 : cur;
    size_t lastlen = len - (size_t)(last - cur);
    bool dots = (lastlen == 1 && last[0] == '.') ||
                (lastlen == 2 && last[0] == '.' && last[1] == '.');
    bool own;
    int fd;
    if (dots) {                /* "a/b/.." names a directory: open it all */
      fd = open_dir(w, dirfd, cur, &hops, &own, &err);
      if (fd < 0) return err;
      p->dir = fd;
      p->own = own;
      p->slash = slash;
      memcpy(p->name, ".", 2);
      return WGI_ESUCCESS;
    }
    if (lastlen > 255) return WGI_ENAMETOOLONG;
    if (sep) *sep = 0;
    fd = open_dir(w, dirfd, sep ? cur : "", &hops, &own, &err);
    if (fd < 0) return err;
    bool follow = (how & WGI_RES_FOLLOW) || (slash && (how & WGI_RES_LOOKUP));
    if (follow) {
      ssize_t n = readlinkat(fd, last, link, sizeof link);
      if (n >= 0) {            /* a symlink: splice and start again */
        if (own) close(fd);
        if (++hops > WG_WASI_SYMLINK_HOPS) return WGI_ELOOP;
        if ((size_t)n >= sizeof link) return WGI_ENAMETOOLONG;
        if (n == 0) return WGI_ENOENT;
        if (link[0] == '/') return WGI_ENOTCAPABLE;
        size_t dlen = sep ? (size_t)(sep - cur) : 0;
        size_t total = dlen + (dlen ? 1 : 0) + (size_t)n + (slash ? 1 : 0);
        if (total > WORK_MAX) return WGI_ENAMETOOLONG;
        char *q = cur + dlen;
        if (dlen) *q++ = '/';
        memcpy(q, link, (size_t)n);
        q += n;
        if (slash) *q++ = '/';
        *q = 0;
        continue;
      }
    }
    if (slash && (how & WGI_RES_LOOKUP)) {
      struct stat st;
      if (fstatat(fd, last, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
        if (own) close(fd);
        return WGI_ENOTDIR;
      }
    }
    p->dir = fd;
    p->own = own;
    p->slash = slash;
    memcpy(p->name, last, lastlen + 1);
    return WGI_ESUCCESS;
  }
}

int wgi_open_beneath(wg_wasi *w, int dirfd, const char *path, int flags,
                     unsigned mode, uint32_t *err) {
  flags |= O_CLOEXEC | O_NOCTTY;
  if (w->openat2) {
    if (!path[0]) { *err = WGI_ENOENT; return -1; }
    long r = sys_openat2(dirfd, path, flags, mode);
    if (r >= 0) return (int)r;
    if (errno != ENOSYS) { *err = open2_errno(errno); return -1; }
    w->openat2 = false;
  }
  unsigned how = WGI_RES_LOOKUP;
  if (!(flags & O_NOFOLLOW) && !((flags & O_CREAT) && (flags & O_EXCL)))
    how |= WGI_RES_FOLLOW;
  wgi_path p;
  *err = wgi_resolve(w, dirfd, path, how, &p);
  if (*err) return -1;
  if (p.slash) {
    if (flags & O_CREAT) { wgi_path_done(&p); *err = WGI_EISDIR; return -1; }
    flags |= O_DIRECTORY;
  }
  /* The final component is not a symlink any more (or is one that must not
  ** be followed): O_NOFOLLOW keeps a racing swap from leading anywhere. */
  int fd = openat(p.dir, p.name, flags | O_NOFOLLOW, mode);
  if (fd < 0) *err = wgi_errno(errno);
  wgi_path_done(&p);
  return fd;
}
