/*
** The hang-up watcher: notices that the client of a suspended request has
** closed its connection and fires the request's cancel token.
**
** Executions run on the executor pool while libmicrohttpd holds their
** connection suspended, and a suspended connection is not looked at by
** the library: without this, a guest whose client went away would run on
** to its own deadline. One thread polls the sockets of the requests
** being watched for a hang-up (the client's FIN, POLLRDHUP, or a broken
** connection), never for input: bytes of a pipelined next request do not
** wake it. A client that half-closes its side and still waits for the
** answer counts as gone, as it does for the gateway's upstream calls.
*/
#ifndef WG_SERVER_HANGUP_H
#define WG_SERVER_HANGUP_H

#include <stdint.h>

#include "wasmgate/error.h"
#include "wasmgate/sandbox.h"

typedef struct srv_hangup srv_hangup;

/* One watched request: the caller's, valid from srv_hangup_begin to
** srv_hangup_end (the watcher only reads it under its lock). */
typedef struct srv_hangup_watch {
  int fd;
  wg_exec_cancel *cancel;
  uint64_t seq;                 /* set by srv_hangup_begin */
  struct srv_hangup_watch *next;
} srv_hangup_watch;

wg_err srv_hangup_new(srv_hangup **out);
/* Stops the thread. No watch may be left. NULL is a no-op. */
void srv_hangup_free(srv_hangup *h);

/* Watches fd (a connected socket) until srv_hangup_end, firing cancel
** when its peer hangs up; at once, when it already has. */
void srv_hangup_begin(srv_hangup *h, srv_hangup_watch *w, int fd,
                      wg_exec_cancel *cancel);
/* Stops watching w. After it returns, cancel is never fired by h. */
void srv_hangup_end(srv_hangup *h, srv_hangup_watch *w);

#endif
