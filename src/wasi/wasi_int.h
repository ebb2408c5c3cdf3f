/*
** WASI preview1 internals shared by the files of src/wasi. Everything here
** carries the tag wgi_ and hidden visibility.
**
** The numbers (errno, rights, flags, struct layouts) are preview1's, from
** WebAssembly/WASI phases/snapshot/witx/typenames.witx.
*/
#ifndef WG_WASI_INT_H
#define WG_WASI_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "wasmgate/engine.h"
#include "wasmgate/wasi.h"

#define WGI_HIDDEN __attribute__((visibility("hidden")))

/* ------------------------------------------------------------------ */
/* errno: X(NAME, value)                                               */

#define WGI_ERRNO_MAP(X)                                                      \
  X(SUCCESS, 0) X(2BIG, 1) X(ACCES, 2) X(ADDRINUSE, 3) X(ADDRNOTAVAIL, 4)     \
  X(AFNOSUPPORT, 5) X(AGAIN, 6) X(ALREADY, 7) X(BADF, 8) X(BADMSG, 9)         \
  X(BUSY, 10) X(CANCELED, 11) X(CHILD, 12) X(CONNABORTED, 13)                 \
  X(CONNREFUSED, 14) X(CONNRESET, 15) X(DEADLK, 16) X(DESTADDRREQ, 17)        \
  X(DOM, 18) X(DQUOT, 19) X(EXIST, 20) X(FAULT, 21) X(FBIG, 22)               \
  X(HOSTUNREACH, 23) X(IDRM, 24) X(ILSEQ, 25) X(INPROGRESS, 26) X(INTR, 27)   \
  X(INVAL, 28) X(IO, 29) X(ISCONN, 30) X(ISDIR, 31) X(LOOP, 32) X(MFILE, 33)  \
  X(MLINK, 34) X(MSGSIZE, 35) X(MULTIHOP, 36) X(NAMETOOLONG, 37)              \
  X(NETDOWN, 38) X(NETRESET, 39) X(NETUNREACH, 40) X(NFILE, 41)               \
  X(NOBUFS, 42) X(NODEV, 43) X(NOENT, 44) X(NOEXEC, 45) X(NOLCK, 46)          \
  X(NOLINK, 47) X(NOMEM, 48) X(NOMSG, 49) X(NOPROTOOPT, 50) X(NOSPC, 51)      \
  X(NOSYS, 52) X(NOTCONN, 53) X(NOTDIR, 54) X(NOTEMPTY, 55)                   \
  X(NOTRECOVERABLE, 56) X(NOTSOCK, 57) X(NOTSUP, 58) X(NOTTY, 59)             \
  X(NXIO, 60) X(OVERFLOW, 61) X(OWNERDEAD, 62) X(PERM, 63) X(PIPE, 64)        \
  X(PROTO, 65) X(PROTONOSUPPORT, 66) X(PROTOTYPE, 67) X(RANGE, 68)            \
  X(ROFS, 69) X(SPIPE, 70) X(SRCH, 71) X(STALE, 72) X(TIMEDOUT, 73)           \
  X(TXTBSY, 74) X(XDEV, 75) X(NOTCAPABLE, 76)

enum {
#define WGI__E(name, v) WGI_E##name = v,
  WGI_ERRNO_MAP(WGI__E)
#undef WGI__E
};

/* What a handler returns instead of an errno to end the run (proc_exit). */
#define WGI_RET_EXIT 0x10000u

/* Maps a host errno value to preview1's. */
uint32_t wgi_errno(int host_errno) WGI_HIDDEN;

/* ------------------------------------------------------------------ */
/* Rights, flags, types                                                */

#define WGI_R_FD_DATASYNC (1ull << 0)
#define WGI_R_FD_READ (1ull << 1)
#define WGI_R_FD_SEEK (1ull << 2)
#define WGI_R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define WGI_R_FD_SYNC (1ull << 4)
#define WGI_R_FD_TELL (1ull << 5)
#define WGI_R_FD_WRITE (1ull << 6)
#define WGI_R_FD_ADVISE (1ull << 7)
#define WGI_R_FD_ALLOCATE (1ull << 8)
#define WGI_R_PATH_CREATE_DIRECTORY (1ull << 9)
#define WGI_R_PATH_CREATE_FILE (1ull << 10)
#define WGI_R_PATH_LINK_SOURCE (1ull << 11)
#define WGI_R_PATH_LINK_TARGET (1ull << 12)
#define WGI_R_PATH_OPEN (1ull << 13)
#define WGI_R_FD_READDIR (1ull << 14)
#define WGI_R_PATH_READLINK (1ull << 15)
#define WGI_R_PATH_RENAME_SOURCE (1ull << 16)
#define WGI_R_PATH_RENAME_TARGET (1ull << 17)
#define WGI_R_PATH_FILESTAT_GET (1ull << 18)
#define WGI_R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define WGI_R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define WGI_R_FD_FILESTAT_GET (1ull << 21)
#define WGI_R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define WGI_R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define WGI_R_PATH_SYMLINK (1ull << 24)
#define WGI_R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define WGI_R_PATH_UNLINK_FILE (1ull << 26)
#define WGI_R_POLL_FD_READWRITE (1ull << 27)
#define WGI_R_SOCK_SHUTDOWN (1ull << 28)
#define WGI_R_SOCK_ACCEPT (1ull << 29)
#define WGI_R_ALL ((1ull << 30) - 1)

/* Rights that mean something on a regular file (or device)... */
#define WGI_R_FILE                                                            \
  (WGI_R_FD_DATASYNC | WGI_R_FD_READ | WGI_R_FD_SEEK |                        \
   WGI_R_FD_FDSTAT_SET_FLAGS | WGI_R_FD_SYNC | WGI_R_FD_TELL |                \
   WGI_R_FD_WRITE | WGI_R_FD_ADVISE | WGI_R_FD_ALLOCATE |                     \
   WGI_R_FD_FILESTAT_GET | WGI_R_FD_FILESTAT_SET_SIZE |                       \
   WGI_R_FD_FILESTAT_SET_TIMES | WGI_R_POLL_FD_READWRITE)
/* ...and on a directory. */
#define WGI_R_DIR                                                             \
  (WGI_R_FD_DATASYNC | WGI_R_FD_FDSTAT_SET_FLAGS | WGI_R_FD_SYNC |            \
   WGI_R_PATH_CREATE_DIRECTORY | WGI_R_PATH_CREATE_FILE |                     \
   WGI_R_PATH_LINK_SOURCE | WGI_R_PATH_LINK_TARGET | WGI_R_PATH_OPEN |        \
   WGI_R_FD_READDIR | WGI_R_PATH_READLINK | WGI_R_PATH_RENAME_SOURCE |        \
   WGI_R_PATH_RENAME_TARGET | WGI_R_PATH_FILESTAT_GET |                       \
   WGI_R_PATH_FILESTAT_SET_SIZE | WGI_R_PATH_FILESTAT_SET_TIMES |             \
   WGI_R_FD_FILESTAT_GET | WGI_R_FD_FILESTAT_SET_TIMES | WGI_R_PATH_SYMLINK | \
   WGI_R_PATH_REMOVE_DIRECTORY | WGI_R_PATH_UNLINK_FILE)
/* Rights that change something on disk: none of them reaches an fd that
** comes from a read-only preopen. */
#define WGI_R_WRITES                                                          \
  (WGI_R_FD_WRITE | WGI_R_FD_ALLOCATE | WGI_R_PATH_CREATE_DIRECTORY |         \
   WGI_R_PATH_CREATE_FILE | WGI_R_PATH_LINK_SOURCE | WGI_R_PATH_LINK_TARGET | \
   WGI_R_PATH_RENAME_SOURCE | WGI_R_PATH_RENAME_TARGET |                      \
   WGI_R_PATH_FILESTAT_SET_SIZE | WGI_R_PATH_FILESTAT_SET_TIMES |             \
   WGI_R_FD_FILESTAT_SET_SIZE | WGI_R_FD_FILESTAT_SET_TIMES |                 \
   WGI_R_PATH_SYMLINK | WGI_R_PATH_REMOVE_DIRECTORY | WGI_R_PATH_UNLINK_FILE)

enum {
  WGI_FT_UNKNOWN = 0, WGI_FT_BLOCK = 1, WGI_FT_CHAR = 2, WGI_FT_DIR = 3,
  WGI_FT_REG = 4, WGI_FT_SOCK_DGRAM = 5, WGI_FT_SOCK_STREAM = 6, WGI_FT_LNK = 7,
};

#define WGI_FDF_APPEND 1u
#define WGI_FDF_DSYNC 2u
#define WGI_FDF_NONBLOCK 4u
#define WGI_FDF_RSYNC 8u
#define WGI_FDF_SYNC 16u
#define WGI_FDF_ALL 31u

#define WGI_O_CREAT 1u
#define WGI_O_DIRECTORY 2u
#define WGI_O_EXCL 4u
#define WGI_O_TRUNC 8u

#define WGI_LOOKUP_FOLLOW 1u

#define WGI_FST_ATIM 1u
#define WGI_FST_ATIM_NOW 2u
#define WGI_FST_MTIM 4u
#define WGI_FST_MTIM_NOW 8u

/* ------------------------------------------------------------------ */
/* The context                                                         */

typedef enum wgi_kind {
  WGI_FREE = 0,
  WGI_FILE,     /* host fd of a non-directory beneath a preopen */
  WGI_DIR,      /* host fd of a directory (O_RDONLY | O_DIRECTORY) */
  WGI_STDIN,    /* the stdin source of the context */
  WGI_STDOUT,   /* output stream 0 (stdout) or 1 (stderr): see stream */
} wgi_kind;

typedef struct wgi_fd {
  uint8_t kind;             /* wgi_kind */
  uint8_t filetype;         /* preview1 filetype, fixed at open */
  uint8_t stream;           /* WGI_STDOUT: 0 stdout, 1 stderr */
  bool readonly;            /* derived from a read-only preopen */
  uint16_t fdflags;         /* for stdio entries (host files ask fcntl) */
  int host;                 /* host fd we own (-1 for stdio entries) */
  uint64_t base, inh;       /* rights */
  char *preopen;            /* guest name when this is a preopen, else NULL */
  size_t preopen_len;
} wgi_fd;

typedef struct wgi_out {
  int fd;                   /* host fd (borrowed), or -1 */
  bool capture;             /* into buf (else discard, when fd < 0) */
  bool truncated;
  wg_buf buf;
} wgi_out;

struct wg_wasi {
  char **argv;              /* copies */
  size_t argc, argv_bytes;  /* argv_bytes: with NULs */
  char **env;
  size_t envc, env_bytes;
  wgi_fd *fds;              /* the guest's fd table, index = guest fd */
  uint32_t nfds, capfds;    /* slots in use (high-water), slots allocated */
  uint32_t open_fds;        /* slots not free */
  uint32_t max_fds;
  int stdin_fd;             /* borrowed, or -1 */
  uint8_t *stdin_bytes;     /* copy */
  size_t stdin_len, stdin_pos;
  wgi_out out[2];           /* stdout, stderr */
  uint64_t max_write, written;
  unsigned limits;          /* WG_WASI_LIMIT_* */
  bool openat2;             /* resolve with openat2 */
  atomic_int cancel;
  wg_store *store;
  wg_resolver next;         /* other import modules (wg_wasi_set_next) */
  void *next_user;
  wg_func **funcs;          /* [wg_wasi_func_count()] made in store */
  struct wgi_binding *binds;/* [wg_wasi_func_count()] their user pointers */
};

/* What a handler sees: the context and the caller's memory 0 (or NULL). */
typedef struct wgi_ctx {
  wg_wasi *w;
  wg_memory *mem;
  wg_host_call *call;
} wgi_ctx;

/* A handler gets the raw arguments and returns an errno (or WGI_RET_EXIT). */
typedef uint32_t (*wgi_handler)(wgi_ctx *c, const uint64_t *a);

/* The checked door: a pointer to guest bytes [ptr, ptr+len) or NULL. */
static inline uint8_t *wgi_mem(wgi_ctx *c, uint64_t ptr, uint64_t len) {
  return (uint8_t *)wg_memory_translate(c->mem, ptr, len);
}

static inline uint32_t wgi_u32(const uint64_t *a, int i) { return (uint32_t)a[i]; }

/* Little-endian stores and loads into guest bytes (already translated). */
static inline void wgi_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}
static inline void wgi_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wgi_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t wgi_get16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wgi_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t wgi_get64(const uint8_t *p) {
  return (uint64_t)wgi_get32(p) | (uint64_t)wgi_get32(p + 4) << 32;
}

/* ------------------------------------------------------------------ */
/* fd table (fdtable.c)                                                */

/* The entry for guest fd, or NULL when it is not open. */
wgi_fd *wgi_fd_get(wg_wasi *w, uint32_t fd) WGI_HIDDEN;
/* Looks up fd and checks it has every right in need: BADF when it is not
** open, NOTCAPABLE when a right is missing. */
uint32_t wgi_fd_lookup(wg_wasi *w, uint32_t fd, uint64_t need,
                       wgi_fd **out) WGI_HIDDEN;
/* Like wgi_fd_lookup for path functions: NOTDIR when fd is not a directory. */
uint32_t wgi_dir_lookup(wg_wasi *w, uint32_t fd, uint64_t need,
                        wgi_fd **out) WGI_HIDDEN;
/* True when one more fd may be opened; else records the limit (MFILE). */
bool wgi_fd_room(wg_wasi *w) WGI_HIDDEN;
/* Stores e in the lowest free slot; its number in *fd. MFILE or NOMEM;
** on failure e->host is not closed (the caller still owns it). */
uint32_t wgi_fd_add(wg_wasi *w, const wgi_fd *e, uint32_t *fd) WGI_HIDDEN;
/* Closes the entry (its host fd if owned) and frees the slot. */
void wgi_fd_close(wg_wasi *w, uint32_t fd) WGI_HIDDEN;
/* Moves entry from onto to (closing to). Both must be open. */
void wgi_fd_move(wg_wasi *w, uint32_t from, uint32_t to) WGI_HIDDEN;
/* Preview1 filetype of a host st_mode. */
uint8_t wgi_filetype(unsigned mode) WGI_HIDDEN;
/* Sets up stdio and preopens; frees what it made on failure. */
wg_err wgi_fds_init(wg_wasi *w, const wg_wasi_config *cfg,
                    wg_error *err) WGI_HIDDEN;
void wgi_fds_free(wg_wasi *w) WGI_HIDDEN;
/* Output: appends to a captured stream or writes to its host fd. */
uint32_t wgi_out_write(wg_wasi *w, int stream, const uint8_t *p, size_t n,
                       size_t *done) WGI_HIDDEN;

/* ------------------------------------------------------------------ */
/* Paths (path.c)                                                      */

/* A resolved path: an operation acts on name inside directory dir. */
typedef struct wgi_path {
  int dir;                  /* host directory fd (maybe O_PATH) */
  bool own;                 /* dir must be closed by wgi_path_done */
  bool slash;               /* the guest path ended with '/' */
  char name[WG_WASI_PATH_MAX + 2];   /* one component, or "." */
} wgi_path;

/* How wgi_resolve treats the final component. */
#define WGI_RES_FOLLOW 1u   /* follow a final symlink (beneath the start) */
#define WGI_RES_LOOKUP 2u   /* a lookup: a trailing '/' follows and needs a dir */

/* Copies the guest path [ptr, ptr+len) (FAULT, NAMETOOLONG, INVAL for an
** embedded NUL, ILSEQ for bad UTF-8) into out as a C string. */
uint32_t wgi_path_copy(wgi_ctx *c, uint32_t ptr, uint32_t len,
                       char *out) WGI_HIDDEN;
/* Resolves the C-string path relative to the directory host fd dirfd,
** never leaving it. On success p->name is one component (never "..", and
** never a symlink when WGI_RES_FOLLOW was given) inside p->dir. */
uint32_t wgi_resolve(wg_wasi *w, int dirfd, const char *path, unsigned how,
                     wgi_path *p) WGI_HIDDEN;
void wgi_path_done(wgi_path *p) WGI_HIDDEN;
/* Opens path beneath dirfd with open(2) flags and mode (the final
** component follows symlinks unless flags has O_NOFOLLOW). Returns the
** host fd, or -1 with the preview1 errno in *err. */
int wgi_open_beneath(wg_wasi *w, int dirfd, const char *path, int flags,
                     unsigned mode, uint32_t *err) WGI_HIDDEN;
/* Name with the trailing slash put back when the guest gave one (for
** calls that never follow the final component: mkdir, unlink, rename...). */
const char *wgi_path_name_slash(wgi_path *p) WGI_HIDDEN;
/* True when openat2 works here (probed once per process). */
bool wgi_openat2_available(void) WGI_HIDDEN;

/* ------------------------------------------------------------------ */
/* Shared by fd.c and pathops.c                                        */

struct stat;
struct timespec;
/* Checks an iovec array of n entries at ptr and every buffer in it. */
uint32_t wgi_iovs_check(wgi_ctx *c, uint32_t ptr, uint32_t n) WGI_HIDDEN;
/* Writes a preview1 filestat (64 bytes) for st. */
void wgi_put_filestat(uint8_t *p, const struct stat *st) WGI_HIDDEN;
/* Checks fstflags and turns the times into utimensat's pair. */
uint32_t wgi_times(uint32_t fst, uint64_t atim, uint64_t mtim,
                   struct timespec ts[2]) WGI_HIDDEN;

/* ------------------------------------------------------------------ */
/* Handlers                                                            */

#define WGI_FUNC(name, sig, fn) uint32_t fn(wgi_ctx *c, const uint64_t *a) WGI_HIDDEN;
#include "wasi/imports.def"
#undef WGI_FUNC

#endif
