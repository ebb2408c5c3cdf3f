/*
** Sandbox internals: the deadline watchdog.
*/
#ifndef WG_SANDBOX_INT_H
#define WG_SANDBOX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/sandbox.h"
#include "wasmgate/wasi.h"

/* One run watched for its deadline and its cancel token. The watchdog
** thread interrupts the store (and wakes a WASI sleep) once the deadline
** passes and sets fired; firing the token does the same, without fired. */
typedef struct wgs_watch {
  uint64_t deadline_ns;       /* CLOCK_MONOTONIC; UINT64_MAX: none */
  wg_store *store;
  wg_wasi *wasi;
  wg_exec_cancel *cancel;     /* or NULL */
  bool fired;                 /* written by the watchdog, under its lock */
  struct wgs_watch *next;
} wgs_watch;

uint64_t wgs_now_ns(void);
/* Starts watching w (the watchdog thread starts on first use). */
wg_err wgs_watch_add(wgs_watch *w);
/* Stops watching w; returns whether its deadline fired. */
bool wgs_watch_remove(wgs_watch *w);
/* Starts the watchdog thread now (workers do so before installing their
** seccomp filter). False when it could not be started. */
bool wgs_watchdog_start(void);
/* The token's eventfd, readable once it fired; -1 for NULL. */
int wgs_cancel_fd(const wg_exec_cancel *c);
/* Fills res as a run cancelled before or while it ran (exec.c): trap
** interrupted, limit none, empty captured output. */
void wgs_cancelled_result(wg_exec_result *res);

/* Installs the worker's seccomp allowlist (seccomp.c) in this process;
** why gets a message on failure. */
wg_err wgs_seccomp_install(char *why, size_t whysize);

/* The kernel's Landlock ABI version; 0 when it has none (or it is off). */
int wgs_landlock_abi(void);
/* Confines this process's file access to beneath the directories dirs
** (open fds, O_PATH will do) with Landlock (landlock.c); the process must
** have no_new_privs set. 1: in force; 0: the kernel has no usable
** Landlock (ABI < 2), nothing done; -1: the kernel refused (why says
** how), the process must not serve. */
int wgs_landlock_restrict(const int *dirs, size_t ndirs, char *why,
                          size_t whysize);

#endif
