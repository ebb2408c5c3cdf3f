/*
** Helpers for the WASI cmocka tests: run a guest program from the build's
** guests/ folder through include/wasmgate/wasi.h, and make scratch
** directories with a sentinel outside the preopen.
**
** Path-resolution mode: every run sets no_openat2 from the environment
** variable WASMGATE_NO_OPENAT2, so ctest runs each test binary twice (once
** per mode) and the tests check which mode was used.
*/
#ifndef WG_TESTS_WASI_TEST_H
#define WG_TESTS_WASI_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/wasi.h"

typedef struct wt_run {
  int exit_code;
  bool exited;
  wg_err trap;
  unsigned limits;
  char *out, *err;           /* captured, NUL-terminated (malloc) */
  size_t out_len, err_len;
  bool out_trunc, err_trunc;
  bool openat2;              /* the mode the run used */
} wt_run;

/* Path of guest NAME (e.g. "fsprobe.wasm") in the build. */
const char *wt_guest(const char *name);
/* True when this process runs the walk (WASMGATE_NO_OPENAT2 set). */
bool wt_walk_mode(void);
/* Loads and runs guest NAME with cfg (argv/env/preopens as set by the
** caller; argv[0] must be included). Fails the test on setup errors. */
void wt_run_guest(const char *name, wg_wasi_config *cfg, wt_run *r);
void wt_run_free(wt_run *r);
/* Runs fsprobe with ops (NULL-terminated) on preopen root ("/", read-only
** when ro); returns its stdout (malloc). */
char *wt_fsprobe(const char *root, bool ro, const char *const *ops);
/* The same with limits (0: defaults); *limits (may be NULL) gets the
** WG_WASI_LIMIT_* bits hit. */
char *wt_fsprobe_ex(const char *root, bool ro, uint32_t max_fds,
                    uint64_t max_write, const char *const *ops,
                    unsigned *limits);

/* A scratch directory T (malloc'd path) holding root/ (to preopen) and
** outside/sentinel ("SENTINEL\n"). */
char *wt_sandbox(void);
/* Everything under T except root/, as text: names, types, sizes, mtimes,
** link targets and file contents. Equal before and after = untouched. */
char *wt_snapshot(const char *t);
void wt_rmrf(const char *path);
void wt_write(const char *path, const char *content);
/* File content (malloc) or NULL. */
char *wt_read(const char *path);
/* Joins a and b with '/' into a static rotating buffer. */
const char *wt_path(const char *a, const char *b);

#endif
