/*
** The path_* functions. Each one: translate the guest memory it uses, copy
** its path(s), check the directory fd's rights, resolve beneath it
** (path.c), then act on the final component with a call that does not
** follow it.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi/wasi_int.h"

/* Copies the path at args i, i+1 and looks up the directory at arg d. */
static uint32_t prologue(wgi_ctx *c, const uint64_t *a, int d, int i,
                         uint64_t need, char *path, wgi_fd **dir) {
  uint32_t r = wgi_path_copy(c, wgi_u32(a, i), wgi_u32(a, i + 1), path);
  if (r) return r;
  return wgi_dir_lookup(c->w, wgi_u32(a, d), need, dir);
}

uint32_t wgi_path_open(wgi_ctx *c, const uint64_t *a) {
  char path[WG_WASI_PATH_MAX + 1];
  uint32_t dirflags = wgi_u32(a, 1), oflags = wgi_u32(a, 4);
  uint64_t base = a[5], inh = a[6];
  uint32_t fdflags = wgi_u32(a, 7);
  uint8_t *res = wgi_mem(c, wgi_u32(a, 8), 4);
  if (!res) return WGI_EFAULT;
  uint64_t need = WGI_R_PATH_OPEN;
  if (oflags & WGI_O_CREAT) need |= WGI_R_PATH_CREATE_FILE;
  if (oflags & WGI_O_TRUNC) need |= WGI_R_PATH_FILESTAT_SET_SIZE;
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 2, need, path, &dir);
  if (r) return r;
  if ((oflags & ~15u) || (fdflags & ~WGI_FDF_ALL) || (dirflags & ~1u))
    return WGI_EINVAL;
  if ((oflags & WGI_O_DIRECTORY) && (oflags & (WGI_O_CREAT | WGI_O_TRUNC)))
    return WGI_EINVAL;
  if (!wgi_fd_room(c->w)) return WGI_EMFILE;   /* before anything is created */

  /* The new fd's rights: what was asked, within what the directory passes
  ** on (preview1 lets us drop rights, never add them). The host access
  ** mode follows the rights, so a read-only fd is read-only on the host. */
  bool ro = dir->readonly;
  base &= dir->inh;
  inh &= dir->inh;
  if (ro) {
    base &= ~WGI_R_WRITES;
    inh &= ~WGI_R_WRITES;
  }
  bool rd = base & (WGI_R_FD_READ | WGI_R_FD_READDIR);
  bool wr = base & (WGI_R_FD_WRITE | WGI_R_FD_ALLOCATE | WGI_R_FD_FILESTAT_SET_SIZE);
  int flags = wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
  flags |= O_NONBLOCK;                 /* never block on a FIFO; cleared below */
  if (oflags & WGI_O_CREAT) flags |= O_CREAT;
  if (oflags & WGI_O_EXCL) flags |= O_EXCL;
  if (oflags & WGI_O_TRUNC) flags |= O_TRUNC;
  if (oflags & WGI_O_DIRECTORY) flags |= O_DIRECTORY;
  if (!(dirflags & WGI_LOOKUP_FOLLOW)) flags |= O_NOFOLLOW;
  if (fdflags & WGI_FDF_APPEND) flags |= O_APPEND;
  if (fdflags & WGI_FDF_DSYNC) flags |= O_DSYNC;
  if (fdflags & WGI_FDF_SYNC) flags |= O_SYNC;
  if (fdflags & WGI_FDF_RSYNC) flags |= O_RSYNC;
  if (ro && (flags & (O_CREAT | O_TRUNC | O_WRONLY | O_RDWR))) return WGI_ENOTCAPABLE;

  int host = wgi_open_beneath(c->w, dir->host, path, flags, 0666, &r);
  if (host < 0) return r;
  struct stat st;
  if (fstat(host, &st) != 0) {
    r = wgi_errno(errno);
    close(host);
    return r;
  }
  if (!(fdflags & WGI_FDF_NONBLOCK)) {
    int fl = fcntl(host, F_GETFL);
    if (fl >= 0) fcntl(host, F_SETFL, fl & ~O_NONBLOCK);
  }
  bool isdir = S_ISDIR(st.st_mode);
  wgi_fd e = {
    .kind = isdir ? WGI_DIR : WGI_FILE,
    .filetype = wgi_filetype(st.st_mode),
    .readonly = ro,
    .fdflags = (uint16_t)fdflags,
    .host = host,
    .base = base & (isdir ? WGI_R_DIR : WGI_R_FILE),
    .inh = inh,
  };
  uint32_t fd;
  r = wgi_fd_add(c->w, &e, &fd);
  if (r) {
    close(host);
    return r;
  }
  wgi_put32(res, fd);
  return WGI_ESUCCESS;
}

uint32_t wgi_path_create_directory(wgi_ctx *c, const uint64_t *a) {
  char path[WG_WASI_PATH_MAX + 1];
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 1, WGI_R_PATH_CREATE_DIRECTORY, path, &dir);
  if (r) return r;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, 0, &p))) return r;
  if (mkdirat(p.dir, wgi_path_name_slash(&p), 0777) != 0) r = wgi_errno(errno);
  wgi_path_done(&p);
  return r;
}

uint32_t wgi_path_filestat_get(wgi_ctx *c, const uint64_t *a) {
  char path[WG_WASI_PATH_MAX + 1];
  uint8_t *res = wgi_mem(c, wgi_u32(a, 4), 64);
  if (!res) return WGI_EFAULT;
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 2, WGI_R_PATH_FILESTAT_GET, path, &dir);
  if (r) return r;
  unsigned how = WGI_RES_LOOKUP;
  if (wgi_u32(a, 1) & WGI_LOOKUP_FOLLOW) how |= WGI_RES_FOLLOW;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, how, &p))) return r;
  struct stat st;
  if (fstatat(p.dir, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0) r = wgi_errno(errno);
  else wgi_put_filestat(res, &st);
  wgi_path_done(&p);
  return r;
}

uint32_t wgi_path_filestat_set_times(wgi_ctx *c, const uint64_t *a) {
  char path[WG_WASI_PATH_MAX + 1];
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 2, WGI_R_PATH_FILESTAT_SET_TIMES, path, &dir);
  if (r) return r;
  struct timespec ts[2];
  if ((r = wgi_times(wgi_u32(a, 6), a[4], a[5], ts))) return r;
  unsigned how = WGI_RES_LOOKUP;
  if (wgi_u32(a, 1) & WGI_LOOKUP_FOLLOW) how |= WGI_RES_FOLLOW;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, how, &p))) return r;
  if (utimensat(p.dir, p.name, ts, AT_SYMLINK_NOFOLLOW) != 0) r = wgi_errno(errno);
  wgi_path_done(&p);
  return r;
}

uint32_t wgi_path_link(wgi_ctx *c, const uint64_t *a) {
  char from[WG_WASI_PATH_MAX + 1], to[WG_WASI_PATH_MAX + 1];
  wgi_fd *d1, *d2;
  uint32_t r = prologue(c, a, 0, 2, WGI_R_PATH_LINK_SOURCE, from, &d1);
  if (r) return r;
  if ((r = prologue(c, a, 4, 5, WGI_R_PATH_LINK_TARGET, to, &d2))) return r;
  unsigned how = WGI_RES_LOOKUP;
  if (wgi_u32(a, 1) & WGI_LOOKUP_FOLLOW) how |= WGI_RES_FOLLOW;
  wgi_path p1, p2;
  if ((r = wgi_resolve(c->w, d1->host, from, how, &p1))) return r;
  if ((r = wgi_resolve(c->w, d2->host, to, 0, &p2))) {
    wgi_path_done(&p1);
    return r;
  }
  /* flags 0: never AT_SYMLINK_FOLLOW, the resolver followed if asked */
  if (linkat(p1.dir, p1.name, p2.dir, wgi_path_name_slash(&p2), 0) != 0)
    r = wgi_errno(errno);
  wgi_path_done(&p1);
  wgi_path_done(&p2);
  return r;
}

uint32_t wgi_path_readlink(wgi_ctx *c, const uint64_t *a) {
  char path[WG_WASI_PATH_MAX + 1], target[WG_WASI_PATH_MAX + 1];
  uint32_t len = wgi_u32(a, 4);
  uint8_t *buf = wgi_mem(c, wgi_u32(a, 3), len);
  uint8_t *res = wgi_mem(c, wgi_u32(a, 5), 4);
  if (!buf || !res) return WGI_EFAULT;
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 1, WGI_R_PATH_READLINK, path, &dir);
  if (r) return r;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, WGI_RES_LOOKUP, &p))) return r;
  ssize_t n = readlinkat(p.dir, p.name, target, sizeof target);
  if (n < 0) r = wgi_errno(errno);
  wgi_path_done(&p);
  if (r) return r;
  size_t k = (size_t)n < len ? (size_t)n : len;   /* cut, as readlink(2) */
  memcpy(buf, target, k);
  wgi_put32(res, (uint32_t)k);
  return WGI_ESUCCESS;
}

static uint32_t do_unlink(wgi_ctx *c, const uint64_t *a, uint64_t right, int flags) {
  char path[WG_WASI_PATH_MAX + 1];
  wgi_fd *dir;
  uint32_t r = prologue(c, a, 0, 1, right, path, &dir);
  if (r) return r;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, 0, &p))) return r;
  if (unlinkat(p.dir, wgi_path_name_slash(&p), flags) != 0) r = wgi_errno(errno);
  wgi_path_done(&p);
  return r;
}

uint32_t wgi_path_remove_directory(wgi_ctx *c, const uint64_t *a) {
  return do_unlink(c, a, WGI_R_PATH_REMOVE_DIRECTORY, AT_REMOVEDIR);
}

uint32_t wgi_path_unlink_file(wgi_ctx *c, const uint64_t *a) {
  return do_unlink(c, a, WGI_R_PATH_UNLINK_FILE, 0);
}

uint32_t wgi_path_rename(wgi_ctx *c, const uint64_t *a) {
  char from[WG_WASI_PATH_MAX + 1], to[WG_WASI_PATH_MAX + 1];
  wgi_fd *d1, *d2;
  uint32_t r = prologue(c, a, 0, 1, WGI_R_PATH_RENAME_SOURCE, from, &d1);
  if (r) return r;
  if ((r = prologue(c, a, 3, 4, WGI_R_PATH_RENAME_TARGET, to, &d2))) return r;
  wgi_path p1, p2;
  if ((r = wgi_resolve(c->w, d1->host, from, 0, &p1))) return r;
  if ((r = wgi_resolve(c->w, d2->host, to, 0, &p2))) {
    wgi_path_done(&p1);
    return r;
  }
  if (renameat(p1.dir, wgi_path_name_slash(&p1), p2.dir,
               wgi_path_name_slash(&p2)) != 0)
    r = wgi_errno(errno);
  wgi_path_done(&p1);
  wgi_path_done(&p2);
  return r;
}

uint32_t wgi_path_symlink(wgi_ctx *c, const uint64_t *a) {
  char target[WG_WASI_PATH_MAX + 1], path[WG_WASI_PATH_MAX + 1];
  uint32_t r = wgi_path_copy(c, wgi_u32(a, 0), wgi_u32(a, 1), target);
  if (r) return r;
  wgi_fd *dir;
  if ((r = prologue(c, a, 2, 3, WGI_R_PATH_SYMLINK, path, &dir))) return r;
  /* As wasmtime: a link to an absolute path could only lead out. Relative
  ** targets may point anywhere; resolving them is what stays beneath. */
  if (target[0] == '/') return WGI_EPERM;
  if (!target[0]) return WGI_ENOENT;
  wgi_path p;
  if ((r = wgi_resolve(c->w, dir->host, path, 0, &p))) return r;
  if (symlinkat(target, p.dir, wgi_path_name_slash(&p)) != 0) r = wgi_errno(errno);
  wgi_path_done(&p);
  return r;
}
