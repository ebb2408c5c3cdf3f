/*
** Error names and messages, generated from WG_ERR_MAP.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wasmgate/error.h"

static const char *const err_names[] = {
#define WG__E(name, msg) "WG_" #name,
    WG_ERR_MAP(WG__E)
#undef WG__E
};

static const char *const err_msgs[] = {
#define WG__E(name, msg) msg,
    WG_ERR_MAP(WG__E)
#undef WG__E
};

_Static_assert(sizeof err_names / sizeof *err_names == WG_ERR_COUNT,
               "error name table out of step");

const char *wg_err_name(wg_err code) {
  return (unsigned)code < WG_ERR_COUNT ? err_names[code] : "WG_UNKNOWN";
}

const char *wg_strerror(wg_err code) {
  return (unsigned)code < WG_ERR_COUNT ? err_msgs[code] : "unknown error";
}

void wg_error_clear(wg_error *e) {
  if (!e) return;
  memset(e, 0, sizeof *e);
  e->section = -1;
  e->offset = -1;
  e->func = -1;
}

wg_err wg_error_set(wg_error *e, wg_err code, const char *fmt, ...) {
  if (!e || e->code != WG_OK) return code;
  e->code = code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(e->message, sizeof e->message, "%s", wg_strerror(code));
  }
  return code;
}
