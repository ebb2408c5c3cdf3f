/*
** wasmgate WASI-NN: the `wasi_ephemeral_nn` host module (WasmEdge's ABI,
** GGML backend semantics, as LlamaEdge guests use it).
**
** Two objects:
**
**  wg_nn_host   The models a process offers, by name (`--nn-preload`, or
**               `nn.models` in serve's config). Shared by every execution
**               and thread; a model file is opened on the first
**               load_by_name that names it and stays open until
**               wg_nn_host_free. Each model has a bounded number of slots
**               (one llama context each).
**  wg_nn        The WASI-NN state of one execution: its graph and context
**               handles, which of the host's models it may use, its token
**               accounting. Binds to one store at a time, like wg_wasi.
**
** Sessions: every execution context takes its own slot of the model while
** it computes (compute: for the call; compute_single: from the first call
** until end of sequence, an error, fini_single or finalize), so the KV
** cache and sampler of one execution are never seen by another; outputs are
** copied out and stay readable after the slot is given back. Unlike
** WasmEdge, two contexts of one graph therefore do not share a KV cache.
**
** Limits: the host's model config (ctx_size, threads, batch) is the most a
** guest gets; the guest's `ctx-size` metadata may only lower the context
** window, `threads` and `batch-size` are accepted and capped (the slot's
** values are used; in embedding mode `batch-size` may lower the most
** prompt tokens, errno 102 above). Host paths from guests (`mmproj`, `image`,
** `model-vocoder`, a `preload:` builder) are refused with errno 1;
** `stream-stdout` and `enable-log` never write to the host's streams.
** `load` from guest bytes fails with errno 1 unless allow_guest_load (then
** at most max_guest_model_bytes, errno 7 above; the bytes go to a file in a
** host-private directory that is unlinked once the model is open).
**
** Cancellation: a compute checks the store's interrupt word (the wall-clock
** watchdog sets it) between tokens, and the deadline given to
** wg_nn_bind_store aborts a decode in progress; the host call then traps
** with WG_TRAP_INTERRUPT, which ends the run like any other interrupt.
*/
#ifndef WASMGATE_NN_H
#define WASMGATE_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasmgate/engine.h"
#include "wasmgate/error.h"
#include "wasmgate/sandbox.h"

/* The import module name. */
#define WG_NN_MODULE "wasi_ephemeral_nn"

/* Limits (the host config may only lower them). */
#define WG_NN_MAX_MODELS 64u          /* models a host offers */
#define WG_NN_MAX_GRAPHS 16u          /* live graph handles per execution */
#define WG_NN_MAX_CONTEXTS 64u        /* live context handles per execution */
#define WG_NN_MAX_INPUT (16u << 20)   /* prompt / metadata bytes per set_input */
#define WG_NN_MAX_OUTPUT (16u << 20)  /* generated text kept per context */
#define WG_NN_MAX_NAME 256u           /* model name bytes */

/* The errno values of the ABI (wasi-nn witx + WasmEdge's extensions). */
typedef enum wg_nn_errno {
  WG_NN_SUCCESS = 0,
  WG_NN_INVALID_ARGUMENT = 1,
  WG_NN_INVALID_ENCODING = 2,
  WG_NN_MISSING_MEMORY = 3,
  WG_NN_BUSY = 4,
  WG_NN_RUNTIME_ERROR = 5,
  WG_NN_UNSUPPORTED_OPERATION = 6,
  WG_NN_TOO_LARGE = 7,
  WG_NN_NOT_FOUND = 8,
  WG_NN_END_OF_SEQUENCE = 100,
  WG_NN_CONTEXT_FULL = 101,
  WG_NN_PROMPT_TOO_LONG = 102,
  WG_NN_MODEL_NOT_FOUND = 103,
} wg_nn_errno;

/* The inference engine behind the module (src/nn/nn_int.h). */
typedef struct wg_nn_backend wg_nn_backend;

/* llama.cpp through src/ai/llm.h (the library is loaded on first use). */
const wg_nn_backend *wg_nn_backend_llama(void);

/* ------------------------------------------------------------------ */
/* Models                                                              */

typedef struct wg_nn_model_cfg {
  const char *name;        /* what load_by_name asks for */
  const char *path;        /* GGUF file on the host */
  uint32_t ctx_size;       /* tokens per slot; 0: the backend's default */
  uint32_t threads;        /* 0: the backend's default */
  uint32_t slots;          /* concurrent sessions; 0: 1 */
} wg_nn_model_cfg;

typedef struct wg_nn_host_config {
  bool allow_guest_load;          /* `load` from guest bytes */
  uint64_t max_guest_model_bytes; /* 0: 64 MiB */
  uint32_t guest_ctx_size;        /* ctx of guest-loaded models; 0: 2048 */
  uint32_t guest_threads;         /* 0: the backend's default */
  uint32_t queue_wait_ms;         /* wait for a free slot; 0: 30000 */
} wg_nn_host_config;

typedef struct wg_nn_host wg_nn_host;

/* A host with no models. cfg may be NULL (defaults). The backend must
** outlive the host. NULL when memory runs out. */
wg_nn_host *wg_nn_host_new(const wg_nn_backend *b, const wg_nn_host_config *cfg);
/* Frees the host and closes its models. Every wg_nn made from it must be
** freed first. NULL is a no-op. */
void wg_nn_host_free(wg_nn_host *h);
/* Adds a model (copied; the file is not opened now). WG_EEXIST when the
** name is taken, WG_EINVAL for an empty or too long name or path, WG_ELIMIT
** past WG_NN_MAX_MODELS; the message in err names the model. */
wg_err wg_nn_host_add(wg_nn_host *h, const wg_nn_model_cfg *m, wg_error *err);
size_t wg_nn_host_count(const wg_nn_host *h);

/* Parses one `--nn-preload` value NAME:ENCODING:TARGET:PATH[:PATH...]:
** ENCODING (ggml or autodetect) and TARGET (cpu, gpu, tpu, auto) compare
** case-insensitively; everything after the third ':' is the path (it may
** hold ':'). Fills *out with pointers into buf (a copy of spec, of
** bufsize bytes). WG_EINVAL with the reason in err (see preload.c for the
** exact messages). */
wg_err wg_nn_parse_preload(const char *spec, char *buf, size_t bufsize,
                           wg_nn_model_cfg *out, wg_error *err);

/* ------------------------------------------------------------------ */
/* Executions                                                          */

/* Token accounting: called after a prompt is evaluated (prompt tokens) and
** after every generated token (completion 1). Returning false ends the
** generation (the guest's call returns errno 4, busy): the tenant's token
** quota is spent. */
typedef bool (*wg_nn_tokens_fn)(void *user, uint32_t prompt,
                                uint32_t completion);

typedef struct wg_nn_config {
  wg_nn_host *host;              /* required; outlives the wg_nn */
  const char *const *models;     /* names the guest may load; ... */
  size_t nmodels;
  bool all_models;               /* ... or every model of the host */
  wg_nn_tokens_fn tokens;        /* NULL: no accounting */
  void *tokens_user;
} wg_nn_config;

typedef struct wg_nn wg_nn;

/* The WASI-NN state of one execution (the config is copied). NULL when
** memory runs out. */
wg_nn *wg_nn_new(const wg_nn_config *cfg);
/* Gives back every slot and handle. NULL is a no-op. */
void wg_nn_free(wg_nn *nn);
/* Makes s the store whose host functions wg_nn_resolve creates and whose
** interrupt word stops a compute; deadline_ms (monotonic ms, 0: none) also
** aborts a decode in progress. NULL unbinds. */
void wg_nn_bind_store(wg_nn *nn, wg_store *s, uint64_t deadline_ms);
/* A wg_resolver (user = wg_nn *) for module "wasi_ephemeral_nn": the 12
** functions, all (i32...) -> i32. WG_EUNKNOWNIMPORT for other modules or
** names, WG_EIMPORTTYPE for a wrong signature, WG_EINVAL when unbound. */
wg_err wg_nn_resolve(void *user, wg_name module, wg_name name,
                     const wg_externtype *type, wg_extern *out);
/* Tokens this execution used so far. */
void wg_nn_usage(const wg_nn *nn, uint64_t *prompt, uint64_t *completion);

/* True when m imports anything from "wasi_ephemeral_nn". */
bool wg_nn_module_uses(const wg_module *m);

/* ------------------------------------------------------------------ */
/* Operations on plain values (the guest-memory side is separate)       */
/*
** The 12 functions split in two layers. The marshalling layer reads the
** guest's arguments through the checked accessor, calls an operation and
** writes its outputs back; the operation layer below works on handles,
** bytes and sizes only. In one process the first calls the second
** directly (wg_nn_resolve). In a worker process of `serve` (isolation:
** process) the first runs in the worker (wg_nn_proxy) and every call
** crosses the worker's socket as a message (wg_nn_serve decodes it in the
** server, against that execution's own wg_nn): the model never enters
** the worker. Both paths give the same errno for the same call.
*/
typedef enum wg_nn_op {
  WG_NN_OP_LOAD, WG_NN_OP_LOAD_BY_NAME, WG_NN_OP_LOAD_BY_NAME_WITH_CONFIG,
  WG_NN_OP_UNLOAD, WG_NN_OP_INIT_EXECUTION_CONTEXT,
  WG_NN_OP_FINALIZE_EXECUTION_CONTEXT, WG_NN_OP_SET_INPUT, WG_NN_OP_COMPUTE,
  WG_NN_OP_COMPUTE_SINGLE, WG_NN_OP_FINI_SINGLE, WG_NN_OP_GET_OUTPUT,
  WG_NN_OP_GET_OUTPUT_SINGLE,
  WG_NN_NOPS
} wg_nn_op;

/* The largest config JSON of load_by_name_with_config (errno 7 above). */
#define WG_NN_MAX_CONFIG WG_NN_MAX_INPUT
/* Model bytes of `load` that cross from a worker to the server; a larger
** guest model gets errno 7 under process isolation. */
#define WG_NN_MAX_REMOTE_MODEL (256u << 20)

/* One call. Per op (h: the graph or context handle):
**   LOAD          a = encoding, b = target, n = builders (>= 1),
**                 size = builder 0's length; data[0] = builder 0 (NULL
**                 when too large to pass: errno 7 once the other checks
**                 pass), data[1] = builder 1 (metadata JSON) when n > 1
**   LOAD_BY_NAME[_WITH_CONFIG]  data[0] = name, data[1] = config;
**                 size = the name's length as the guest gave it (a name
**                 longer than WG_NN_MAX_NAME is not found)
**   SET_INPUT     h, a = index, b = tensor type, size = data length;
**                 data[0] = the bytes (NULL when size > WG_NN_MAX_INPUT)
**   GET_OUTPUT[_SINGLE]  h, a = index, b = the guest buffer's size
**   the others    h only
** len[i] is data[i]'s length. */
typedef struct wg_nn_call_args {
  wg_nn_op op;
  uint32_t h, a, b, n;
  uint64_t size;
  const uint8_t *data[2];
  uint32_t len[2];
} wg_nn_call_args;

/* What a call gives back. */
typedef struct wg_nn_call_result {
  uint32_t err;           /* the ABI errno */
  uint32_t value;         /* a new handle; get_output*: the output's size
                             (also with errno 7: the size needed) */
  const uint8_t *data;    /* get_output* with errno 0: value bytes, valid
                             until the next call on the wg_nn */
  bool interrupted;       /* the deadline or an interrupt stopped it: the
                             host call traps (WG_TRAP_INTERRUPT) */
} wg_nn_call_result;

/* Runs one operation on nn. Every field of a is checked (a is hostile
** under process isolation): handles through nn's own tables, lengths
** against the limits above. Never fails otherwise: the outcome is r->err. */
void wg_nn_call(wg_nn *nn, const wg_nn_call_args *a, wg_nn_call_result *r);

/* For a wg_nn with no store (the server's side of a worker): deadline_ms
** (monotonic ms, 0: none) stops a compute between tokens and aborts a
** decode in progress; cancelled(user), polled between tokens, stops it
** too (a worker that went away). Both end the call with r->interrupted. */
void wg_nn_set_cancel(wg_nn *nn, uint64_t deadline_ms,
                      bool (*cancelled)(void *user), void *user);

/* ------------------------------------------------------------------ */
/* Calls across a process boundary                                     */

/* The message of one call (wg_nn_call_args) and of its answer: a flat
** little-endian encoding, at most WG_NN_MAX_MESSAGE bytes. */
#define WG_NN_MAX_MESSAGE (WG_NN_MAX_REMOTE_MODEL + WG_NN_MAX_INPUT + 64u)

/* Serves one call message against nn: the answer's bytes in *reply
** (owned by nn, valid until its next call). The message carries the
** sender's run deadline, which stops a compute when it comes before the
** deadline given to wg_nn_set_cancel (a cap the sender cannot pass). WG_EINVAL with the reason in
** err when the message is malformed (unknown op, lengths that do not add
** up, a part above its limit): the sender is not a well-behaved worker,
** nothing was done. WG_ENOMEM when the answer cannot be built. */
wg_err wg_nn_serve(wg_nn *nn, const uint8_t *msg, size_t n,
                   const uint8_t **reply, size_t *reply_len, wg_error *err);

/* wg_nn_serve for one call of a worker (the wg_workers_calls.serve of a
** run): deadline_ms and gone(peer) stop a compute (wg_nn_set_cancel)
** during this call only. The reason of an error is logged to stderr,
** after who (e.g. "request <id>"), and is in err. */
wg_err wg_nn_serve_worker(wg_nn *nn, uint64_t deadline_ms,
                          bool (*gone)(void *peer), void *peer,
                          const char *who, const uint8_t *msg, size_t n,
                          const uint8_t **reply, size_t *reply_len);

/* Sends a call message (msg, n) and gives the answer's bytes (valid until
** the next call); an error: the link is gone. */
typedef wg_err (*wg_nn_transport)(void *user, const uint8_t *msg, size_t n,
                                  const uint8_t **reply, size_t *reply_len);

/* The guest side of WASI-NN in a process that has no models: a resolver
** whose 12 functions marshal each call and send it through fn. */
typedef struct wg_nn_proxy wg_nn_proxy;
wg_nn_proxy *wg_nn_proxy_new(wg_nn_transport fn, void *user);
void wg_nn_proxy_free(wg_nn_proxy *p);
/* A wg_exec_host for wg_exec_run (user = p): resolve and bind. */
wg_exec_host wg_nn_proxy_host(wg_nn_proxy *p);

#endif
