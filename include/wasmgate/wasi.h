/*
** wasmgate WASI: the `wasi_snapshot_preview1` host module.
**
** One wg_wasi is the WASI state of one execution: arguments, environment,
** the guest's fd table (stdio, preopened directories, files it opened),
** captured output and the limits it hit. It binds into one store at a time.
**
** Typical use:
**
**   wg_wasi *w = wg_wasi_new(&cfg, &err);          opens the preopens now
**   wg_store *s = wg_store_new(&scfg);
**   wg_wasi_bind_store(w, s);
**   wg_wasi_result r;
**   wg_wasi_run(w, s, module, &r, &err);            instantiate + _start
**   ... r.exit_code, wg_wasi_stdout(w, ...), r.limits ...
**   wg_store_free(s);
**   wg_wasi_free(w);
**
** or, to link other host modules too, call wg_instance_new with a resolver
** that tries wg_wasi_resolve first (it answers WG_EUNKNOWNIMPORT for any
** module other than wasi_snapshot_preview1, so resolvers can be chained).
**
** Ownership: wg_wasi_new copies everything in the config (strings, preopen
** paths, stdin bytes); the caller may free the config right after. Host fds
** given as stdin_fd / stdout_fd / stderr_fd are borrowed: never closed by
** wasmgate, and they must stay open until wg_wasi_free. Host functions are
** owned by the bound store and must not be called after wg_wasi_free.
**
** Sandbox: the guest reaches the host file system only beneath its
** preopened directories. Every path is resolved beneath the directory fd it
** is relative to: absolute paths, `..` above it and symbolic links leading
** out of it (absolute targets or too many `..`) fail with NOTCAPABLE. Paths
** are resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) when the
** kernel has it, else (or when no_openat2 is set, or the host environment
** has WASMGATE_NO_OPENAT2=1) by a component-by-component walk that opens
** each directory with O_NOFOLLOW and follows symbolic links itself (at most
** WG_WASI_SYMLINK_HOPS of them). No host environment variable reaches the
** guest unless passed in env.
*/
#ifndef WASMGATE_WASI_H
#define WASMGATE_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/error.h"

/* ------------------------------------------------------------------ */
/* Limits                                                              */

/* Open fds (stdio and preopens included) when max_open_fds is 0. */
#define WG_WASI_DEFAULT_MAX_FDS 1024u
/* The most max_open_fds may be. */
#define WG_WASI_MAX_FDS 65536u
/* Longest guest path (bytes, without the NUL) and symlink target. */
#define WG_WASI_PATH_MAX 4096u
/* Symbolic links followed while resolving one path (as Linux's MAXSYMLINKS). */
#define WG_WASI_SYMLINK_HOPS 40u
/* Largest number of argv / env entries and their total bytes. */
#define WG_WASI_MAX_ARGS 65536u
#define WG_WASI_MAX_ARG_BYTES (16u << 20)

#if WG_WASI_DEFAULT_MAX_FDS > WG_WASI_MAX_FDS
#error "WG_WASI_DEFAULT_MAX_FDS above WG_WASI_MAX_FDS"
#endif

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct wg_wasi_preopen {
  const char *host_path;   /* directory on the host, opened by wg_wasi_new;
                              NULL: use host_fd */
  const char *guest_path;  /* its name for the guest, e.g. "/" or "/data" */
  bool readonly;           /* no write of any kind through it (rights) */
  int host_fd;             /* with host_path NULL: an open directory fd,
                              duplicated by wg_wasi_new (the caller keeps
                              and closes its own) */
} wg_wasi_preopen;

typedef struct wg_wasi_config {
  const char *const *argv; /* argv[0] is the program name */
  size_t argc;
  const char *const *env;  /* "K=V" strings: the guest's whole environment */
  size_t envc;
  const wg_wasi_preopen *preopens;  /* become fds 3, 4, ... in order */
  size_t npreopens;
  int stdin_fd;            /* host fd to read; -1: stdin_bytes */
  const uint8_t *stdin_bytes;       /* with stdin_fd -1; NULL: empty (EOF) */
  size_t stdin_len;
  int stdout_fd, stderr_fd;         /* host fd; -1: captured (see max_output) */
  size_t max_output;       /* cap of each captured stream; 0: discard */
  uint32_t max_open_fds;   /* 0: WG_WASI_DEFAULT_MAX_FDS; at most WG_WASI_MAX_FDS */
  uint64_t max_write_bytes;/* bytes written to files beneath preopens; 0: no cap */
  bool no_openat2;         /* force the portable path walk */
} wg_wasi_config;

/* A config with no args, env, preopens; stdin empty; stdout and stderr
** captured up to 1 MiB each; default limits. */
void wg_wasi_config_init(wg_wasi_config *cfg);

/* ------------------------------------------------------------------ */
/* Contexts                                                            */

typedef struct wg_wasi wg_wasi;

/* Creates the WASI state for one execution and opens the preopened
** directories. Returns NULL and fills err (may be NULL) when a preopen
** cannot be opened (WG_EIO), the config is invalid (WG_EINVAL), the fds
** limit is below 3 + npreopens (WG_ELIMIT) or memory runs out. */
wg_wasi *wg_wasi_new(const wg_wasi_config *cfg, wg_error *err);

/* Closes every host fd the guest still holds and frees w. NULL is a no-op. */
void wg_wasi_free(wg_wasi *w);

/* Makes s the store that wg_wasi_resolve creates host functions in. A
** context binds to one store at a time; binding another forgets the
** functions made for the previous one. */
void wg_wasi_bind_store(wg_wasi *w, wg_store *s);

/* A wg_resolver (user = wg_wasi *): resolves imports of module
** "wasi_snapshot_preview1" to host functions in the bound store.
** WG_EUNKNOWNIMPORT for other modules or unknown names, WG_EIMPORTTYPE when
** the import's type differs from the WASI signature, WG_EINVAL when no store
** is bound, WG_ENOMEM. */
wg_err wg_wasi_resolve(void *user, wg_name module, wg_name name,
                       const wg_externtype *type, wg_extern *out);

/* Imports of every other module go to next(user, ...) instead of failing
** with WG_EUNKNOWNIMPORT (NULL: none), also in wg_wasi_run: how another
** host module (WASI-NN, nn.h) is linked beside WASI. */
void wg_wasi_set_next(wg_wasi *w, wg_resolver next, void *user);

/* Number of functions in the import table, and the name and signature of
** function i (signature as "iIi:i": i = i32, I = i64, params ':' results). */
size_t wg_wasi_func_count(void);
const char *wg_wasi_func_name(size_t i, const char **signature);

/* ------------------------------------------------------------------ */
/* Running and results                                                 */

/* Bits of wg_wasi_limits(): which limits the guest ran into. */
#define WG_WASI_LIMIT_FDS 1u     /* an open failed with EMFILE */
#define WG_WASI_LIMIT_WRITE 2u   /* a write was cut or refused (ENOSPC) */
#define WG_WASI_LIMIT_OUTPUT 4u  /* captured stdout or stderr was cut */

typedef struct wg_wasi_result {
  int exit_code;       /* proc_exit's code; 0 when _start returned; 1
                          after a trap or a link error */
  bool exited;         /* proc_exit was called */
  wg_err trap;         /* WG_OK, or the trap/error that ended the run */
  unsigned limits;     /* WG_WASI_LIMIT_* */
} wg_wasi_result;

/* Binds w to s, instantiates m with wg_wasi_resolve and calls its "_start"
** export (a command; WG_EUNKNOWNEXPORT if it has none). Returns WG_OK when
** the guest returned or called proc_exit (see res->exit_code), else the
** link error or trap, also in res->trap and err. The message of a trap is
** in err (and wg_store_trap). */
wg_err wg_wasi_run(wg_wasi *w, wg_store *s, wg_module *m,
                   wg_wasi_result *res, wg_error *err);

/* Captured output so far: bytes and length (valid until the next guest
** write or wg_wasi_free), and whether the cap cut it. Empty for streams
** going to a host fd or discarded. The bytes are NUL-terminated. */
const uint8_t *wg_wasi_stdout(const wg_wasi *w, size_t *len, bool *truncated);
const uint8_t *wg_wasi_stderr(const wg_wasi *w, size_t *len, bool *truncated);

/* WG_WASI_LIMIT_* bits hit so far, and bytes written to files so far. */
unsigned wg_wasi_limits(const wg_wasi *w);
uint64_t wg_wasi_bytes_written(const wg_wasi *w);
/* True when paths are resolved with openat2 (false: the portable walk). */
bool wg_wasi_uses_openat2(const wg_wasi *w);

/* Asks a guest blocked in poll_oneoff's sleep to wake up (any thread, also
** a signal handler). Pair it with wg_store_interrupt to stop a run. */
void wg_wasi_cancel(wg_wasi *w);

#endif
