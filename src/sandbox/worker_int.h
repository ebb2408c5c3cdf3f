/*
** Between the worker pool (workerpool.c) and a worker (worker.c): the
** frame types of their protocol and the codecs of its two big messages
** (proto.c).
**
**   worker -> server  HELLO   u32 version, u32 features, str detail
**   server -> worker  RUN     the request (fds: its directories, then
**                             the host stdin/stdout/stderr it names)
**   worker -> server  NEED    str key: not cached, send its bytes
**   server -> worker  MODULE  str key, u64 size (fd: a sealed memfd)
**   worker -> server  NN_CALL  a WASI-NN call of the guest (a RUN with
**                             nn set): wg_nn_serve's call message
**   server -> worker  NN_REPLY its answer
**   worker -> server  RESULT  the result, u64 peak RSS, u64 CPU ns
**
** NEED/MODULE and NN_CALL/NN_REPLY come between a RUN and its RESULT, any
** number of times; the server treats each NN_CALL as hostile (its bytes
** are checked by wg_nn_serve, against that run's own wg_nn): a malformed
** one kills the worker like any other protocol violation.
*/
#ifndef WG_SANDBOX_WORKER_INT_H
#define WG_SANDBOX_WORKER_INT_H

#include "base/buf.h"
#include "sandbox/frame.h"
#include "sandbox/workers.h"

#define WGW_VERSION 3u
enum { WGW_HELLO = 1, WGW_RUN, WGW_NEED, WGW_MODULE, WGW_RESULT, WGW_NN_CALL,
       WGW_NN_REPLY };

/* A module key (content id) is at most this long. */
#define WGW_KEY_MAX 96u
#define WGW_MAX_DIRS 64u        /* as wg_exec_run */
/* The most fds a RUN carries: its directories and three stdio streams. */
#define WGW_MAX_RUN_FDS (WGW_MAX_DIRS + 3u)

/* A decoded RUN: the request points into the frame's payload and the
** arrays below (freed by wgw_run_free). */
typedef struct wgw_run {
  char key[WGW_KEY_MAX];
  wg_exec_request req;
  const char **strs;            /* argv then env */
  size_t nstrs;
  wg_exec_dir dirs[WGW_MAX_DIRS];
  wg_val args[16];
  bool nn;                      /* link WASI-NN through NN_CALL frames */
} wgw_run;

/* Encodes req into a RUN frame in b. WG_EINVAL for what a worker cannot
** take (host paths, non-null reference arguments, too many dirs, another
** host module beside WASI: req->host). */
wg_err wgw_encode_run(wg_buf *b, const char *key, const wg_exec_request *req);
/* The same, nn: the worker links wasi_ephemeral_nn to NN_CALL frames. */
wg_err wgw_encode_run_nn(wg_buf *b, const char *key, const wg_exec_request *req,
                         bool nn);
/* The fds that travel with req's RUN frame, in order, into fds (at least
** WGW_MAX_RUN_FDS entries): each directory's host_fd, then stdin_fd
** (unless stdin_bytes), stdout_fd and stderr_fd when not -1. Returns how
** many. */
size_t wgw_run_fds(const wg_exec_request *req, int *fds);
/* Decodes a RUN payload; fds are the frame's (wgw_run_fds's order, kept
** by the caller). WG_EINVAL when malformed. */
wg_err wgw_decode_run(const wg_buf *payload, const int *fds, size_t nfds,
                      wgw_run *out);
void wgw_run_free(wgw_run *r);

/* A RESULT: ret is wg_exec_run's return; rss/cpu describe the worker. */
wg_err wgw_encode_result(wg_buf *b, wg_err ret, const wg_exec_result *res,
                         uint64_t rss_bytes, uint64_t cpu_ns);
/* Fills res (which then owns copies of the output) and the rest. */
wg_err wgw_decode_result(const wg_buf *payload, wg_err *ret,
                         wg_exec_result *res, uint64_t *rss_bytes,
                         uint64_t *cpu_ns);

#endif
