/*
** libcurl, loaded on first use (src/base/dl.h): the functions the gateway
** calls, defined with libcurl's own names and prototypes (checked against
** <curl/curl.h>), each forwarding to libcurl.so.4. Only `serve` with
** models configured reaches them; `wasmgate run` never maps libcurl and
** the thirty libraries it depends on.
**
** Calling a libcurl function that is not listed here is a link error:
** add it to CURL_FUNCS and give it a stub below. Each stub behaves as the
** libcurl function of its name; when libcurl cannot be loaded it does
** nothing and returns libcurl's own failure value (NULL,
** CURLE_FAILED_INIT, CURLM_BAD_HANDLE).
**
** The three variadic functions take exactly one argument after the
** option, whose type follows from the option's number: libcurl numbers
** each option CURLOPTTYPE_* + n (long, object pointer, function pointer,
** curl_off_t, blob), and every curl_easy_getinfo result is a pointer.
*/
#define CURL_DISABLE_TYPECHECK /* the type-checking macros would hide the stubs */
#include <curl/curl.h>
#include <stdarg.h>

#include "base/dl.h"

#define CURL_FUNCS(X)                                                      \
  X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init)              \
  X(curl_easy_pause) X(curl_easy_perform) X(curl_easy_setopt)          \
  X(curl_easy_strerror)             \
  X(curl_global_init) X(curl_multi_add_handle) X(curl_multi_cleanup)       \
  X(curl_multi_info_read) X(curl_multi_init) X(curl_multi_perform)         \
  X(curl_multi_poll) X(curl_multi_remove_handle) X(curl_multi_setopt)      \
  X(curl_multi_wakeup) X(curl_slist_append) X(curl_slist_free_all)

WG_DL_STUBS(CURL_FUNCS, "libcurl.so.4",
            "the AI gateway's upstream calls");

/* The real function F, with F's own type. */
#define REAL(f) WG_DL_REAL(f)
#define READY() WG_DL_READY()

typedef void (*curl__fn)(void); /* any function pointer, passed through */

/* Forwards the one argument of an option numbered OPT, read from AP with
** the type libcurl will read it with. */
#define FORWARD_OPTION(call, opt, ap)                                      \
  ((opt) < CURLOPTTYPE_OBJECTPOINT     ? call(va_arg(ap, long))            \
   : (opt) < CURLOPTTYPE_FUNCTIONPOINT ? call(va_arg(ap, void *))          \
   : (opt) < CURLOPTTYPE_OFF_T         ? call(va_arg(ap, curl__fn))        \
   : (opt) < CURLOPTTYPE_BLOB          ? call(va_arg(ap, curl_off_t))      \
                                       : call(va_arg(ap, struct curl_blob *)))

CURLcode curl_global_init(long flags) {
  return READY() ? REAL(curl_global_init)(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void) {
  return READY() ? REAL(curl_easy_init)() : NULL;
}

void curl_easy_cleanup(CURL *curl) {
  if (READY()) REAL(curl_easy_cleanup)(curl);
}

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...) {
  if (!READY()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
#define CALL(v) REAL(curl_easy_setopt)(curl, option, v)
  CURLcode rc = FORWARD_OPTION(CALL, (int)option, ap);
#undef CALL
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...) {
  if (!READY()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  void *out = va_arg(ap, void *); /* every CURLINFO_* result is a pointer */
  va_end(ap);
  return REAL(curl_easy_getinfo)(curl, info, out);
}

CURLcode curl_easy_pause(CURL *handle, int bitmask) {
  return READY() ? REAL(curl_easy_pause)(handle, bitmask) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_perform(CURL *curl) {
  return READY() ? REAL(curl_easy_perform)(curl) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code) {
  return READY() ? REAL(curl_easy_strerror)(code)
                 : "libcurl.so.4 could not be loaded";
}

CURLM *curl_multi_init(void) {
  return READY() ? REAL(curl_multi_init)() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *multi) {
  return READY() ? REAL(curl_multi_cleanup)(multi) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl) {
  return READY() ? REAL(curl_multi_add_handle)(multi, curl)
                 : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl) {
  return READY() ? REAL(curl_multi_remove_handle)(multi, curl)
                 : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...) {
  if (!READY()) return CURLM_BAD_HANDLE;
  va_list ap;
  va_start(ap, option);
#define CALL(v) REAL(curl_multi_setopt)(multi, option, v)
  CURLMcode rc = FORWARD_OPTION(CALL, (int)option, ap);
#undef CALL
  va_end(ap);
  return rc;
}

CURLMcode curl_multi_perform(CURLM *multi, int *running) {
  return READY() ? REAL(curl_multi_perform)(multi, running)
                 : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd extra_fds[],
                          unsigned int extra_nfds, int timeout_ms,
                          int *ret) {
  return READY() ? REAL(curl_multi_poll)(multi, extra_fds, extra_nfds,
                                         timeout_ms, ret)
                 : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_wakeup(CURLM *multi) {
  return READY() ? REAL(curl_multi_wakeup)(multi) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *msgs_in_queue) {
  if (!READY()) {
    if (msgs_in_queue) *msgs_in_queue = 0;
    return NULL;
  }
  return REAL(curl_multi_info_read)(multi, msgs_in_queue);
}

struct curl_slist *curl_slist_append(struct curl_slist *list,
                                     const char *s) {
  return READY() ? REAL(curl_slist_append)(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list) {
  if (READY()) REAL(curl_slist_free_all)(list);
}
