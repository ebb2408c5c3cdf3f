/*
** The fd_* functions.
**
** Every handler first translates all the guest memory it will touch (so a
** bad pointer gives FAULT before anything happens), then looks the fd up
** with the rights the call needs, then acts.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi/wasi_int.h"

/* The most bytes one read or write call moves (Linux's MAX_RW_COUNT), so
** that the count fits the guest's u32 size. */
#define RW_MAX 0x7ffff000u
/* iovecs handed to the kernel per system call. */
#define IOV_CHUNK 64

/* ------------------------------------------------------------------ */
/* iovec arrays                                                        */

/* Checks the array of n iovecs at ptr and every buffer it points to. */
uint32_t wgi_iovs_check(wgi_ctx *c, uint32_t ptr, uint32_t n) {
  const uint8_t *a = wgi_mem(c, ptr, (uint64_t)n * 8);
  if (!a) return WGI_EFAULT;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t buf = wgi_get32(a + 8 * i), len = wgi_get32(a + 8 * i + 4);
    if (!wgi_mem(c, buf, len)) return WGI_EFAULT;
  }
  return WGI_ESUCCESS;
}

/* Fills up to IOV_CHUNK host iovecs from guest iovecs [*i, n), at most
** budget bytes in all. Translates each entry again (a read may have
** overwritten the array); stops early at one that no longer translates. */
static int iovs_fill(wgi_ctx *c, uint32_t ptr, uint32_t n, uint32_t *i,
                     size_t budget, struct iovec *v, size_t *bytes) {
  int k = 0;
  *bytes = 0;
  while (*i < n && k < IOV_CHUNK && *bytes < budget) {
    const uint8_t *e = wgi_mem(c, (uint64_t)ptr + 8ull * *i, 8);
    if (!e) break;
    uint32_t buf = wgi_get32(e), len = wgi_get32(e + 4);
    uint8_t *p = wgi_mem(c, buf, len);
    if (!p) break;
    (*i)++;
    if (len == 0) continue;
    size_t take = len < budget - *bytes ? len : budget - *bytes;
    v[k].iov_base = p;
    v[k].iov_len = take;
    *bytes += take;
    k++;
  }
  return k;
}

typedef enum { IO_READ, IO_WRITE, IO_PREAD, IO_PWRITE } io_op;

/* Moves bytes between the host fd and the guest iovecs; *done gets the
** count. Stops at a short transfer. Errors after some bytes moved are
** dropped (the count is the answer), as POSIX read/write do. */
static uint32_t io_host(wgi_ctx *c, int fd, io_op op, uint32_t ptr, uint32_t n,
                        uint64_t off, size_t budget, size_t *done) {
  struct iovec v[IOV_CHUNK];
  uint32_t i = 0;
  *done = 0;
  while (*done < budget) {
    size_t want;
    int k = iovs_fill(c, ptr, n, &i, budget - *done, v, &want);
    if (k == 0) break;
    ssize_t r;
    do {
      switch (op) {
        case IO_READ: r = readv(fd, v, k); break;
        case IO_WRITE: r = writev(fd, v, k); break;
        case IO_PREAD: r = preadv(fd, v, k, (off_t)(off + *done)); break;
        default: r = pwritev(fd, v, k, (off_t)(off + *done)); break;
      }
    } while (r < 0 && errno == EINTR);
    if (r < 0) return *done ? WGI_ESUCCESS : wgi_errno(errno);
    *done += (size_t)r;
    if ((size_t)r < want) break;
  }
  return WGI_ESUCCESS;
}

/* The write quota: how much of want may be written now. */
static size_t quota(wg_wasi *w, size_t want) {
  uint64_t left = w->max_write - w->written;
  if (want <= left) return want;
  w->limits |= WG_WASI_LIMIT_WRITE;
  return (size_t)left;
}

static size_t iovs_total(wgi_ctx *c, uint32_t ptr, uint32_t n) {
  const uint8_t *a = wgi_mem(c, ptr, (uint64_t)n * 8);
  size_t t = 0;
  for (uint32_t i = 0; a && i < n && t < RW_MAX; i++) t += wgi_get32(a + 8 * i + 4);
  return t < RW_MAX ? t : RW_MAX;
}

/* ------------------------------------------------------------------ */
/* Reading and writing                                                 */

static uint32_t do_read(wgi_ctx *c, const uint64_t *a, bool positioned) {
  uint32_t fd = wgi_u32(a, 0), iovs = wgi_u32(a, 1), n = wgi_u32(a, 2);
  uint64_t off = positioned ? a[3] : 0;
  uint8_t *res = wgi_mem(c, wgi_u32(a, positioned ? 4 : 3), 4);
  if (!res) return WGI_EFAULT;
  uint32_t r = wgi_iovs_check(c, iovs, n);
  if (r) return r;
  wgi_fd *e;
  r = wgi_fd_lookup(c->w, fd, WGI_R_FD_READ | (positioned ? WGI_R_FD_SEEK : 0), &e);
  if (r) return r;
  size_t done = 0;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind == WGI_STDIN) {
    wg_wasi *w = c->w;
    if (positioned) return WGI_ESPIPE;
    if (w->stdin_fd >= 0) {
      r = io_host(c, w->stdin_fd, IO_READ, iovs, n, 0, RW_MAX, &done);
    } else {
      struct iovec v[IOV_CHUNK];
      uint32_t i = 0;
      while (w->stdin_pos < w->stdin_len) {
        size_t want;
        int k = iovs_fill(c, iovs, n, &i, w->stdin_len - w->stdin_pos, v, &want);
        if (k == 0) break;
        for (int j = 0; j < k; j++) {
          memcpy(v[j].iov_base, w->stdin_bytes + w->stdin_pos, v[j].iov_len);
          w->stdin_pos += v[j].iov_len;
          done += v[j].iov_len;
        }
      }
    }
  } else if (e->kind == WGI_FILE) {
    if (positioned && off > INT64_MAX) return WGI_EINVAL;
    r = io_host(c, e->host, positioned ? IO_PREAD : IO_READ, iovs, n, off,
                RW_MAX, &done);
  } else {
    return WGI_EBADF;
  }
  if (r) return r;
  wgi_put32(res, (uint32_t)done);
  return WGI_ESUCCESS;
}

static uint32_t do_write(wgi_ctx *c, const uint64_t *a, bool positioned) {
  uint32_t fd = wgi_u32(a, 0), iovs = wgi_u32(a, 1), n = wgi_u32(a, 2);
  uint64_t off = positioned ? a[3] : 0;
  uint8_t *res = wgi_mem(c, wgi_u32(a, positioned ? 4 : 3), 4);
  if (!res) return WGI_EFAULT;
  uint32_t r = wgi_iovs_check(c, iovs, n);
  if (r) return r;
  wgi_fd *e;
  r = wgi_fd_lookup(c->w, fd, WGI_R_FD_WRITE | (positioned ? WGI_R_FD_SEEK : 0), &e);
  if (r) return r;
  size_t done = 0;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind == WGI_STDOUT) {
    if (positioned) return WGI_ESPIPE;
    struct iovec v[IOV_CHUNK];
    uint32_t i = 0;
    for (;;) {
      size_t want;
      int k = iovs_fill(c, iovs, n, &i, RW_MAX - done, v, &want);
      if (k == 0) break;
      for (int j = 0; j < k; j++) {
        size_t got;
        r = wgi_out_write(c->w, e->stream, v[j].iov_base, v[j].iov_len, &got);
        done += got;
        if (r || got < v[j].iov_len) goto out;
      }
    }
  out:
    if (r && done == 0) return r;
  } else if (e->kind == WGI_FILE) {
    if (positioned && off > INT64_MAX) return WGI_EINVAL;
    size_t want = iovs_total(c, iovs, n);
    size_t allowed = quota(c->w, want);
    if (want > 0 && allowed == 0) return WGI_ENOSPC;
    r = io_host(c, e->host, positioned ? IO_PWRITE : IO_WRITE, iovs, n, off,
                allowed, &done);
    c->w->written += done;
    if (r) return r;
  } else {
    return WGI_EBADF;
  }
  wgi_put32(res, (uint32_t)done);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_read(wgi_ctx *c, const uint64_t *a) { return do_read(c, a, false); }
uint32_t wgi_fd_pread(wgi_ctx *c, const uint64_t *a) { return do_read(c, a, true); }
uint32_t wgi_fd_write(wgi_ctx *c, const uint64_t *a) { return do_write(c, a, false); }
uint32_t wgi_fd_pwrite(wgi_ctx *c, const uint64_t *a) { return do_write(c, a, true); }

/* ------------------------------------------------------------------ */
/* Position, size, space                                               */

uint32_t wgi_fd_seek(wgi_ctx *c, const uint64_t *a) {
  uint32_t fd = wgi_u32(a, 0), whence = wgi_u32(a, 2);
  int64_t off = (int64_t)a[1];
  uint8_t *res = wgi_mem(c, wgi_u32(a, 3), 8);
  if (!res) return WGI_EFAULT;
  uint64_t need = (off == 0 && whence == 1) ? WGI_R_FD_TELL : WGI_R_FD_SEEK;
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, fd, need, &e);
  if (r && need == WGI_R_FD_TELL) r = wgi_fd_lookup(c->w, fd, WGI_R_FD_SEEK, &e);
  if (r) return r;
  if (whence > 2) return WGI_EINVAL;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind != WGI_FILE) return WGI_ESPIPE;
  static const int how[3] = {SEEK_SET, SEEK_CUR, SEEK_END};
  off_t p = lseek(e->host, (off_t)off, how[whence]);
  if (p < 0) return wgi_errno(errno);
  wgi_put64(res, (uint64_t)p);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_tell(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 1), 8);
  if (!res) return WGI_EFAULT;
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_TELL, &e);
  if (r) return r;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind != WGI_FILE) return WGI_ESPIPE;
  off_t p = lseek(e->host, 0, SEEK_CUR);
  if (p < 0) return wgi_errno(errno);
  wgi_put64(res, (uint64_t)p);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_advise(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_ADVISE, &e);
  if (r) return r;
  uint64_t off = a[1], len = a[2];
  uint32_t advice = wgi_u32(a, 3);
  static const int map[6] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL,
                             POSIX_FADV_RANDOM, POSIX_FADV_WILLNEED,
                             POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
  if (advice > 5 || off > INT64_MAX || len > INT64_MAX) return WGI_EINVAL;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind != WGI_FILE) return WGI_ESPIPE;
  int err = posix_fadvise(e->host, (off_t)off, (off_t)len, map[advice]);
  return err ? wgi_errno(err) : WGI_ESUCCESS;
}

/* Growing a file to end bytes costs quota; NOSPC when it would pass it. */
static uint32_t grow_check(wg_wasi *w, int fd, uint64_t end, uint64_t *growth) {
  struct stat st;
  if (fstat(fd, &st) != 0) return wgi_errno(errno);
  *growth = end > (uint64_t)st.st_size ? end - (uint64_t)st.st_size : 0;
  if (*growth > w->max_write - w->written) {
    w->limits |= WG_WASI_LIMIT_WRITE;
    return WGI_ENOSPC;
  }
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_allocate(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_ALLOCATE, &e);
  if (r) return r;
  uint64_t off = a[1], len = a[2], growth;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind != WGI_FILE) return WGI_ESPIPE;
  if (len == 0) return WGI_EINVAL;
  if (off > INT64_MAX || len > INT64_MAX - off) return WGI_EFBIG;
  if ((r = grow_check(c->w, e->host, off + len, &growth))) return r;
  int err = posix_fallocate(e->host, (off_t)off, (off_t)len);
  if (err) return wgi_errno(err);
  c->w->written += growth;
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_filestat_set_size(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_FILESTAT_SET_SIZE, &e);
  if (r) return r;
  uint64_t size = a[1], growth;
  if (e->kind == WGI_DIR) return WGI_EISDIR;
  if (e->kind != WGI_FILE) return WGI_EINVAL;
  if (size > INT64_MAX) return WGI_EFBIG;
  if ((r = grow_check(c->w, e->host, size, &growth))) return r;
  if (ftruncate(e->host, (off_t)size) != 0) return wgi_errno(errno);
  c->w->written += growth;
  return WGI_ESUCCESS;
}

/* ------------------------------------------------------------------ */
/* Status                                                              */

void wgi_put_filestat(uint8_t *p, const struct stat *st) {
  memset(p, 0, 64);
  wgi_put64(p + 0, (uint64_t)st->st_dev);
  wgi_put64(p + 8, (uint64_t)st->st_ino);
  p[16] = wgi_filetype(st->st_mode);
  wgi_put64(p + 24, (uint64_t)st->st_nlink);
  wgi_put64(p + 32, (uint64_t)st->st_size);
  wgi_put64(p + 40, (uint64_t)st->st_atim.tv_sec * 1000000000ull + (uint64_t)st->st_atim.tv_nsec);
  wgi_put64(p + 48, (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec);
  wgi_put64(p + 56, (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec);
}

uint32_t wgi_fd_filestat_get(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 1), 64);
  if (!res) return WGI_EFAULT;
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_FILESTAT_GET, &e);
  if (r) return r;
  int host = e->host;
  if (e->kind == WGI_STDIN) host = c->w->stdin_fd;
  else if (e->kind == WGI_STDOUT) host = c->w->out[e->stream].fd;
  if (host < 0) {           /* captured, discarded, bytes: a bare stream */
    memset(res, 0, 64);
    res[16] = e->filetype;
    return WGI_ESUCCESS;
  }
  struct stat st;
  if (fstat(host, &st) != 0) return wgi_errno(errno);
  wgi_put_filestat(res, &st);
  return WGI_ESUCCESS;
}

uint32_t wgi_times(uint32_t fst, uint64_t atim, uint64_t mtim, struct timespec ts[2]) {
  if (fst & ~15u) return WGI_EINVAL;
  if ((fst & WGI_FST_ATIM) && (fst & WGI_FST_ATIM_NOW)) return WGI_EINVAL;
  if ((fst & WGI_FST_MTIM) && (fst & WGI_FST_MTIM_NOW)) return WGI_EINVAL;
  ts[0].tv_sec = 0;
  ts[1].tv_sec = 0;
  ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
  if (fst & WGI_FST_ATIM) {
    ts[0].tv_sec = (time_t)(atim / 1000000000ull);
    ts[0].tv_nsec = (long)(atim % 1000000000ull);
  } else if (fst & WGI_FST_ATIM_NOW) {
    ts[0].tv_nsec = UTIME_NOW;
  }
  if (fst & WGI_FST_MTIM) {
    ts[1].tv_sec = (time_t)(mtim / 1000000000ull);
    ts[1].tv_nsec = (long)(mtim % 1000000000ull);
  } else if (fst & WGI_FST_MTIM_NOW) {
    ts[1].tv_nsec = UTIME_NOW;
  }
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_filestat_set_times(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_FILESTAT_SET_TIMES, &e);
  if (r) return r;
  struct timespec ts[2];
  if ((r = wgi_times(wgi_u32(a, 3), a[1], a[2], ts))) return r;
  if (e->kind != WGI_FILE && e->kind != WGI_DIR) return WGI_EBADF;
  if (futimens(e->host, ts) != 0) return wgi_errno(errno);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_fdstat_get(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 1), 24);
  if (!res) return WGI_EFAULT;
  wgi_fd *e = wgi_fd_get(c->w, wgi_u32(a, 0));
  if (!e) return WGI_EBADF;
  memset(res, 0, 24);
  res[0] = e->filetype;
  wgi_put16(res + 2, e->fdflags);
  wgi_put64(res + 8, e->base);
  wgi_put64(res + 16, e->inh);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_fdstat_set_flags(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_FDSTAT_SET_FLAGS, &e);
  if (r) return r;
  uint32_t f = wgi_u32(a, 1);
  const uint32_t sync = WGI_FDF_DSYNC | WGI_FDF_RSYNC | WGI_FDF_SYNC;
  if (f & ~WGI_FDF_ALL) return WGI_EINVAL;
  if ((f & sync) != (e->fdflags & sync)) return WGI_ENOTSUP;  /* as Linux F_SETFL */
  if (e->kind == WGI_FILE || e->kind == WGI_DIR) {
    int fl = fcntl(e->host, F_GETFL);
    if (fl < 0) return wgi_errno(errno);
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (f & WGI_FDF_APPEND) fl |= O_APPEND;
    if (f & WGI_FDF_NONBLOCK) fl |= O_NONBLOCK;
    if (fcntl(e->host, F_SETFL, fl) != 0) return wgi_errno(errno);
  }
  /* stdio entries: recorded only; the borrowed host fds stay as they are */
  e->fdflags = (uint16_t)f;
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_fdstat_set_rights(wgi_ctx *c, const uint64_t *a) {
  wgi_fd *e = wgi_fd_get(c->w, wgi_u32(a, 0));
  if (!e) return WGI_EBADF;
  uint64_t base = a[1], inh = a[2];
  if ((base & ~e->base) || (inh & ~e->inh)) return WGI_ENOTCAPABLE;
  e->base = base;
  e->inh = inh;
  return WGI_ESUCCESS;
}

static uint32_t do_sync(wgi_ctx *c, const uint64_t *a, uint64_t right, bool data) {
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), right, &e);
  if (r) return r;
  if (e->kind != WGI_FILE && e->kind != WGI_DIR) return WGI_ESUCCESS;
  if ((data ? fdatasync(e->host) : fsync(e->host)) != 0) return wgi_errno(errno);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_sync(wgi_ctx *c, const uint64_t *a) {
  return do_sync(c, a, WGI_R_FD_SYNC, false);
}
uint32_t wgi_fd_datasync(wgi_ctx *c, const uint64_t *a) {
  return do_sync(c, a, WGI_R_FD_DATASYNC, true);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

uint32_t wgi_fd_close_(wgi_ctx *c, const uint64_t *a) {
  uint32_t fd = wgi_u32(a, 0);
  if (!wgi_fd_get(c->w, fd)) return WGI_EBADF;
  wgi_fd_close(c->w, fd);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_renumber(wgi_ctx *c, const uint64_t *a) {
  uint32_t from = wgi_u32(a, 0), to = wgi_u32(a, 1);
  if (!wgi_fd_get(c->w, from) || !wgi_fd_get(c->w, to)) return WGI_EBADF;
  wgi_fd_move(c->w, from, to);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_prestat_get(wgi_ctx *c, const uint64_t *a) {
  uint8_t *res = wgi_mem(c, wgi_u32(a, 1), 8);
  if (!res) return WGI_EFAULT;
  wgi_fd *e = wgi_fd_get(c->w, wgi_u32(a, 0));
  if (!e || !e->preopen) return WGI_EBADF;
  memset(res, 0, 8);
  wgi_put32(res + 4, (uint32_t)e->preopen_len);
  return WGI_ESUCCESS;
}

uint32_t wgi_fd_prestat_dir_name(wgi_ctx *c, const uint64_t *a) {
  uint32_t len = wgi_u32(a, 2);
  uint8_t *buf = wgi_mem(c, wgi_u32(a, 1), len);
  if (!buf) return WGI_EFAULT;
  wgi_fd *e = wgi_fd_get(c->w, wgi_u32(a, 0));
  if (!e || !e->preopen) return WGI_EBADF;
  if (len < e->preopen_len) return WGI_ENAMETOOLONG;
  memcpy(buf, e->preopen, e->preopen_len);
  return WGI_ESUCCESS;
}

/* ------------------------------------------------------------------ */
/* Directories                                                         */

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static uint8_t dtype(int dir, const char *name, unsigned char t) {
  switch (t) {
    case DT_REG: return WGI_FT_REG;
    case DT_DIR: return WGI_FT_DIR;
    case DT_LNK: return WGI_FT_LNK;
    case DT_CHR: return WGI_FT_CHAR;
    case DT_BLK: return WGI_FT_BLOCK;
    case DT_SOCK: return WGI_FT_SOCK_STREAM;
    case DT_FIFO: return WGI_FT_UNKNOWN;
    default: {
      struct stat st;
      if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return WGI_FT_UNKNOWN;
      return wgi_filetype(st.st_mode);
    }
  }
}

/* Entries are numbered in the order the kernel lists them: the cookie of
** entry i is i + 1, and a listing resumes by skipping cookie entries of a
** fresh listing. */
uint32_t wgi_fd_readdir(wgi_ctx *c, const uint64_t *a) {
  uint32_t len = wgi_u32(a, 2);
  uint64_t cookie = a[3];
  uint8_t *buf = wgi_mem(c, wgi_u32(a, 1), len);
  uint8_t *res = wgi_mem(c, wgi_u32(a, 4), 4);
  if (!buf || !res) return WGI_EFAULT;
  wgi_fd *e;
  uint32_t r = wgi_fd_lookup(c->w, wgi_u32(a, 0), WGI_R_FD_READDIR, &e);
  if (r) return r;
  if (e->kind != WGI_DIR) return WGI_ENOTDIR;
  int d = openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return wgi_errno(errno);
  _Alignas(8) char chunk[8192];
  uint64_t idx = 0;
  uint32_t used = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, d, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      r = wgi_errno(errno);
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *de = (struct linux_dirent64 *)(chunk + off);
      off += de->d_reclen;
      if (idx++ < cookie) continue;
      size_t nl = strlen(de->d_name);
      uint8_t ent[24] = {0};
      wgi_put64(ent, idx);
      wgi_put64(ent + 8, de->d_ino);
      wgi_put32(ent + 16, (uint32_t)nl);
      ent[20] = dtype(d, de->d_name, de->d_type);
      size_t k = len - used < 24 ? len - used : 24;
      memcpy(buf + used, ent, k);
      used += (uint32_t)k;
      k = len - used < nl ? len - used : nl;
      memcpy(buf + used, de->d_name, k);
      used += (uint32_t)k;
      if (used == len) goto done;     /* full: the guest asks again */
    }
  }
done:
  close(d);
  if (r) return r;
  wgi_put32(res, used);
  return WGI_ESUCCESS;
}
