/*
** The guest's fd table: stdio entries, preopened directories, opened files;
** and the output streams (captured, host fd or discarded).
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "wasi/wasi_int.h"

/* Rights of the stdio entries. */
#define R_STDIN (WGI_R_FD_READ | WGI_R_FD_FDSTAT_SET_FLAGS | \
                 WGI_R_FD_FILESTAT_GET | WGI_R_POLL_FD_READWRITE)
#define R_STDOUT (WGI_R_FD_WRITE | WGI_R_FD_FDSTAT_SET_FLAGS | WGI_R_FD_SYNC | \
                  WGI_R_FD_DATASYNC | WGI_R_FD_FILESTAT_GET |                 \
                  WGI_R_POLL_FD_READWRITE)

uint8_t wgi_filetype(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return WGI_FT_REG;
    case S_IFDIR: return WGI_FT_DIR;
    case S_IFLNK: return WGI_FT_LNK;
    case S_IFCHR: return WGI_FT_CHAR;
    case S_IFBLK: return WGI_FT_BLOCK;
    case S_IFSOCK: return WGI_FT_SOCK_STREAM;
    default: return WGI_FT_UNKNOWN;   /* FIFOs too, as wasmtime */
  }
}

wgi_fd *wgi_fd_get(wg_wasi *w, uint32_t fd) {
  if (fd >= w->nfds || w->fds[fd].kind == WGI_FREE) return NULL;
  return &w->fds[fd];
}

uint32_t wgi_fd_lookup(wg_wasi *w, uint32_t fd, uint64_t need, wgi_fd **out) {
  wgi_fd *e = wgi_fd_get(w, fd);
  if (!e) return WGI_EBADF;
  if ((e->base & need) != need) return WGI_ENOTCAPABLE;
  /* Belt and braces: whatever the rights say, nothing derived from a
  ** read-only preopen may write. */
  if (e->readonly && (need & WGI_R_WRITES)) return WGI_ENOTCAPABLE;
  *out = e;
  return WGI_ESUCCESS;
}

uint32_t wgi_dir_lookup(wg_wasi *w, uint32_t fd, uint64_t need, wgi_fd **out) {
  wgi_fd *e = wgi_fd_get(w, fd);
  if (!e) return WGI_EBADF;
  if (e->kind != WGI_DIR) return WGI_ENOTDIR;
  return wgi_fd_lookup(w, fd, need, out);
}

bool wgi_fd_room(wg_wasi *w) {
  if (w->open_fds < w->max_fds) return true;
  w->limits |= WG_WASI_LIMIT_FDS;
  return false;
}

uint32_t wgi_fd_add(wg_wasi *w, const wgi_fd *e, uint32_t *fd) {
  if (!wgi_fd_room(w)) return WGI_EMFILE;
  uint32_t i = 0;
  while (i < w->nfds && w->fds[i].kind != WGI_FREE) i++;
  if (i == w->capfds) {
    uint32_t cap = w->capfds ? w->capfds * 2 : 16;
    if (cap > w->max_fds) cap = w->max_fds;
    if (cap <= i) return WGI_EMFILE;   /* NEVER: open_fds < max_fds */
    wgi_fd *t = wg_grow_array(w->fds, w->capfds, cap, sizeof *t);
    if (!t) return WGI_ENOMEM;
    w->fds = t;
    w->capfds = cap;
  }
  w->fds[i] = *e;
  if (i == w->nfds) w->nfds++;
  w->open_fds++;
  *fd = i;
  return WGI_ESUCCESS;
}

static void entry_release(wgi_fd *e) {
  if (e->host >= 0) close(e->host);
  if (e->preopen) wg_free(e->preopen, e->preopen_len + 1);
  memset(e, 0, sizeof *e);
  e->kind = WGI_FREE;
  e->host = -1;
}

void wgi_fd_close(wg_wasi *w, uint32_t fd) {
  wgi_fd *e = wgi_fd_get(w, fd);
  if (!e) return;
  entry_release(e);
  w->open_fds--;
  while (w->nfds && w->fds[w->nfds - 1].kind == WGI_FREE) w->nfds--;
}

void wgi_fd_move(wg_wasi *w, uint32_t from, uint32_t to) {
  if (from == to) return;
  entry_release(&w->fds[to]);
  w->fds[to] = w->fds[from];
  memset(&w->fds[from], 0, sizeof w->fds[from]);
  w->fds[from].kind = WGI_FREE;
  w->fds[from].host = -1;
  w->open_fds--;
  while (w->nfds && w->fds[w->nfds - 1].kind == WGI_FREE) w->nfds--;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */

static uint8_t host_filetype(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return WGI_FT_UNKNOWN;
  return wgi_filetype(st.st_mode);
}

/* A private duplicate of a caller's directory fd (ENOTDIR otherwise). */
static int dup_dir(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static wg_err add_or_fail(wg_wasi *w, const wgi_fd *e, wg_error *err) {
  uint32_t fd;
  uint32_t r = wgi_fd_add(w, e, &fd);
  if (r == WGI_EMFILE)
    return wg_error_set(err, WG_ELIMIT, "wasi: max_open_fds %u is too small "
                        "for stdio and the preopens", w->max_fds);
  if (r) return wg_error_set(err, WG_ENOMEM, NULL);
  return WG_OK;
}

wg_err wgi_fds_init(wg_wasi *w, const wg_wasi_config *cfg, wg_error *err) {
  /* stdin */
  w->stdin_fd = cfg->stdin_fd;
  if (cfg->stdin_fd < 0 && cfg->stdin_bytes && cfg->stdin_len) {
    w->stdin_bytes = wg_realloc_(NULL, 0, cfg->stdin_len);
    if (!w->stdin_bytes) return wg_error_set(err, WG_ENOMEM, NULL);
    memcpy(w->stdin_bytes, cfg->stdin_bytes, cfg->stdin_len);
    w->stdin_len = cfg->stdin_len;
  }
  wgi_fd e = {.kind = WGI_STDIN, .host = -1, .base = R_STDIN,
              .filetype = cfg->stdin_fd >= 0 ? host_filetype(cfg->stdin_fd)
                                             : WGI_FT_UNKNOWN};
  wg_err r = add_or_fail(w, &e, err);
  if (r) return r;
  /* stdout, stderr */
  const int ofd[2] = {cfg->stdout_fd, cfg->stderr_fd};
  for (int i = 0; i < 2; i++) {
    wgi_out *o = &w->out[i];
    o->fd = ofd[i];
    o->capture = ofd[i] < 0 && cfg->max_output > 0;
    wg_buf_init(&o->buf, ofd[i] < 0 ? cfg->max_output : 0);
    e = (wgi_fd){.kind = WGI_STDOUT, .stream = (uint8_t)i, .host = -1,
                 .base = R_STDOUT,
                 .filetype = ofd[i] >= 0 ? host_filetype(ofd[i]) : WGI_FT_UNKNOWN};
    if ((r = add_or_fail(w, &e, err))) return r;
  }
  /* preopens: fds 3, 4, ... */
  if (cfg->npreopens && !cfg->preopens)
    return wg_error_set(err, WG_EINVAL, "wasi: preopens is NULL");
  for (size_t i = 0; i < cfg->npreopens; i++) {
    const wg_wasi_preopen *p = &cfg->preopens[i];
    if ((!p->host_path && p->host_fd < 0) || !p->guest_path)
      return wg_error_set(err, WG_EINVAL, "wasi: preopen %zu has no path", i);
    int fd = p->host_path ? open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                          : dup_dir(p->host_fd);
    if (fd < 0)
      return wg_error_set(err, WG_EIO, "wasi: cannot open directory '%s': %s",
                          p->host_path ? p->host_path : p->guest_path,
                          strerror(errno));
    size_t len = strlen(p->guest_path);
    char *name = wg_realloc_(NULL, 0, len + 1);
    if (!name) {
      close(fd);
      return wg_error_set(err, WG_ENOMEM, NULL);
    }
    memcpy(name, p->guest_path, len + 1);
    uint64_t base = WGI_R_DIR, inh = WGI_R_DIR | WGI_R_FILE;
    if (p->readonly) {
      base &= ~WGI_R_WRITES;
      inh &= ~WGI_R_WRITES;
    }
    e = (wgi_fd){.kind = WGI_DIR, .filetype = WGI_FT_DIR, .host = fd,
                 .base = base, .inh = inh, .readonly = p->readonly,
                 .preopen = name, .preopen_len = len};
    if ((r = add_or_fail(w, &e, err))) {
      close(fd);
      wg_free(name, len + 1);
      return r;
    }
  }
  return WG_OK;
}

void wgi_fds_free(wg_wasi *w) {
  for (uint32_t i = 0; i < w->nfds; i++)
    if (w->fds[i].kind != WGI_FREE) entry_release(&w->fds[i]);
  if (w->fds) wg_free_array(w->fds, w->capfds);
  w->fds = NULL;
  w->nfds = w->capfds = w->open_fds = 0;
  if (w->stdin_bytes) wg_free(w->stdin_bytes, w->stdin_len);
  w->stdin_bytes = NULL;
  wg_buf_free(&w->out[0].buf);
  wg_buf_free(&w->out[1].buf);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

uint32_t wgi_out_write(wg_wasi *w, int stream, const uint8_t *p, size_t n,
                       size_t *done) {
  wgi_out *o = &w->out[stream];
  *done = 0;
  if (o->fd >= 0) {
    while (*done < n) {
      ssize_t k = write(o->fd, p + *done, n - *done);
      if (k < 0) {
        if (errno == EINTR) continue;
        return *done ? WGI_ESUCCESS : wgi_errno(errno);
      }
      *done += (size_t)k;
    }
    return WGI_ESUCCESS;
  }
  if (o->capture) {
    size_t room = o->buf.max - o->buf.len;
    size_t k = n < room ? n : room;
    if (k && wg_buf_append(&o->buf, p, k) != WG_OK) return WGI_ENOMEM;
    if (k < n) {
      o->truncated = true;
      w->limits |= WG_WASI_LIMIT_OUTPUT;
    }
  }
  /* Past the cap (or discarded) the bytes are dropped but reported as
  ** written, so that the guest goes on; the result says "truncated". */
  *done = n;
  return WGI_ESUCCESS;
}
