/*
** libmicrohttpd, loaded on first use (src/base/dl.h): the functions the
** server calls, defined with libmicrohttpd's own names and prototypes
** (checked against <microhttpd.h>), each forwarding to
** libmicrohttpd.so.12. Only `wasmgate serve` reaches them; `wasmgate run`
** never maps libmicrohttpd and GnuTLS behind it.
**
** Calling a libmicrohttpd function that is not listed here is a link
** error: add it to MHD_FUNCS and give it a stub below. Each stub behaves as
** the function of its name; when the library cannot be loaded it does
** nothing and returns the library's own failure value (NULL, MHD_NO,
** MHD_INVALID_SOCKET).
**
** Variadic functions: MHD_start_daemon forwards its option list to
** MHD_start_daemon_va. MHD_get_connection_info and MHD_get_daemon_info
** take no argument after the info type for any type the library defines
** (their "..." is reserved), so none is forwarded.
*/
#include <microhttpd.h>
#include <stdarg.h>

#include "base/dl.h"

#define MHD_FUNCS(X)                                                       \
  X(MHD_add_response_header) X(MHD_create_response_from_buffer)            \
  X(MHD_create_response_from_callback) X(MHD_destroy_response)             \
  X(MHD_get_connection_info) X(MHD_get_daemon_info)                        \
  X(MHD_lookup_connection_value) X(MHD_queue_response)                     \
  X(MHD_quiesce_daemon) X(MHD_resume_connection) X(MHD_start_daemon_va)    \
  X(MHD_stop_daemon) X(MHD_suspend_connection) X(MHD_run)                  \
  X(MHD_get_timeout)

WG_DL_STUBS(MHD_FUNCS, "libmicrohttpd.so.12",
            "the HTTP server");

/* The real function F, with F's own type. */
#define REAL(f) WG_DL_REAL(f)
#define READY() WG_DL_READY()

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc,
                                    void *apc_cls,
                                    MHD_AccessHandlerCallback dh,
                                    void *dh_cls, ...) {
  if (!READY()) return NULL;
  va_list ap;
  va_start(ap, dh_cls);
  struct MHD_Daemon *d =
      REAL(MHD_start_daemon_va)(flags, port, apc, apc_cls, dh, dh_cls, ap);
  va_end(ap);
  return d;
}

struct MHD_Daemon *MHD_start_daemon_va(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc,
                                       void *apc_cls,
                                       MHD_AccessHandlerCallback dh,
                                       void *dh_cls, va_list ap) {
  return READY() ? REAL(MHD_start_daemon_va)(flags, port, apc, apc_cls, dh,
                                             dh_cls, ap)
                 : NULL;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon) {
  if (READY()) REAL(MHD_stop_daemon)(daemon);
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *daemon) {
  return READY() ? REAL(MHD_quiesce_daemon)(daemon) : MHD_INVALID_SOCKET;
}

const union MHD_DaemonInfo *MHD_get_daemon_info(
    struct MHD_Daemon *daemon, enum MHD_DaemonInfoType info_type, ...) {
  return READY() ? REAL(MHD_get_daemon_info)(daemon, info_type) : NULL;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(
    struct MHD_Connection *connection,
    enum MHD_ConnectionInfoType info_type, ...) {
  return READY() ? REAL(MHD_get_connection_info)(connection, info_type)
                 : NULL;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
                                        enum MHD_ValueKind kind,
                                        const char *key) {
  return READY() ? REAL(MHD_lookup_connection_value)(connection, kind, key)
                 : NULL;
}

enum MHD_Result MHD_run(struct MHD_Daemon *daemon) {
  return READY() ? REAL(MHD_run)(daemon) : MHD_NO;
}
enum MHD_Result MHD_get_timeout(struct MHD_Daemon *daemon,
                                MHD_UNSIGNED_LONG_LONG *timeout) {
  return READY() ? REAL(MHD_get_timeout)(daemon, timeout) : MHD_NO;
}
void MHD_suspend_connection(struct MHD_Connection *connection) {
  if (READY()) REAL(MHD_suspend_connection)(connection);
}

void MHD_resume_connection(struct MHD_Connection *connection) {
  if (READY()) REAL(MHD_resume_connection)(connection);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection,
                                   unsigned int status_code,
                                   struct MHD_Response *response) {
  return READY() ? REAL(MHD_queue_response)(connection, status_code,
                                            response)
                 : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_buffer(
    size_t size, void *buffer, enum MHD_ResponseMemoryMode mode) {
  return READY() ? REAL(MHD_create_response_from_buffer)(size, buffer, mode)
                 : NULL;
}

struct MHD_Response *MHD_create_response_from_callback(
    uint64_t size, size_t block_size, MHD_ContentReaderCallback crc,
    void *crc_cls, MHD_ContentReaderFreeCallback crfc) {
  return READY() ? REAL(MHD_create_response_from_callback)(
                       size, block_size, crc, crc_cls, crfc)
                 : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response,
                                        const char *header,
                                        const char *content) {
  return READY() ? REAL(MHD_add_response_header)(response, header, content)
                 : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response) {
  if (READY()) REAL(MHD_destroy_response)(response);
}
