/*
** Sandbox internals: the deadline watchdog.
*/
#ifndef WG_SANDBOX_INT_H
#define WG_SANDBOX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/wasi.h"

/* One run watched for its deadline. The watchdog thread interrupts the
** store (and wakes a WASI sleep) once the deadline passes and sets fired. */
typedef struct wgs_watch {
  uint64_t deadline_ns;       /* CLOCK_MONOTONIC */
  wg_store *store;
  wg_wasi *wasi;
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

/* Installs the worker's seccomp allowlist (seccomp.c) in this process;
** why gets a message on failure. */
wg_err wgs_seccomp_install(char *why, size_t whysize);

#endif
