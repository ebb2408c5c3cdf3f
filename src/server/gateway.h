/*
** The OpenAI-compatible gateway inside `wasmgate serve` (issue 6):
** configuration (gw_config.c), the routes POST /v1/chat/completions,
** GET /v1/models, GET /v1/models/{id} (gateway.c, gw_stream.c), its
** audit lines and metrics.
**
** A chat request is parsed and checked on the HTTP thread (guardrails,
** model, tenant's models), then handed to the ai engine with the
** connection suspended. The engine's thread calls back: a non-streaming
** answer is collected, redacted and sent at the end; a stream is relayed
** event by event through a callback response, the connection suspended
** whenever there is nothing to send and resumed by the engine.
**
** With models configured, the HTTP threads are the engine's threads
** (http.c runs one daemon per engine thread, ai_engine_attach): a
** request, its upstream call and its answer stay on one thread, with no
** hand-off or wake-up between threads. There are max(server.threads,
** gateway.event_threads) of them.
*/
#ifndef WG_SERVER_GATEWAY_H
#define WG_SERVER_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "ai/ai.h"
#include "base/buf.h"
#include "guard/guard.h"

struct MHD_Response;
struct srv;
struct srv_req;
struct wg_config;

/* Per tenant (gateway.tenants.<id>), and the defaults (gateway.guard). */
typedef struct srv_gw_tenant {
  char id[80];
  char (*models)[AI_NAME_MAX];   /* allowed models; NULL: all */
  size_t nmodels;
  guard_cfg guard;
} srv_gw_tenant;

typedef struct srv_gw_config {
  ai_router router;              /* deployments (models:) and policy */
  size_t deps_cap;
  uint32_t event_threads;        /* gateway.event_threads */
  guard_cfg guard;               /* gateway.guard: the default */
  bool redact_input;             /* gateway.guard.redact_input */
  bool redact_output;            /* gateway.guard.redact_output */
  bool audit_content;            /* gateway.audit.content: redacted text */
  guard_pattern *patterns;       /* gateway.guard.patterns */
  size_t npatterns;
  srv_gw_tenant *tenants;        /* gateway.tenants */
  size_t ntenants;
  uint32_t session_turns;        /* gateway.sessions.max_turns */
  uint32_t session_ttl_s;        /* gateway.sessions.ttl_s */
  uint32_t format_retries;       /* gateway.response_format_retries */
} srv_gw_config;

/* The YAML node of the top-level key "models" or "gateway" (key) into
** c->gw (created on first use). false with "line N: why" in msg. */
bool srv_gw_config_node(struct wg_config *c, yaml_document_t *doc,
                        yaml_node_t *n, const char *key, char *msg,
                        size_t msgsize);
void srv_gw_config_free(srv_gw_config *g);
/* `serve --model FILE.gguf`: adds a local deployment of that file, named
** after the file's stem, unless a local deployment of the config already
** serves it. false with why in msg (unreadable file, name taken). */
bool srv_gw_config_local(struct wg_config *c, const char *path, char *msg,
                         size_t msgsize);

/* Start-up and shutdown of the gateway (engine threads, redactor). A
** server without models still answers /v1/models (an empty list). */
wg_err srv_gw_start(struct srv *s, wg_error *err);
/* Cancels what is in flight and joins the engine threads. */
void srv_gw_stop(struct srv *s);
/* The engine whose threads run the HTTP daemons (http.c), or NULL (no
** upstream deployments: the daemons run their own threads). */
ai_engine *srv_gw_engine(struct srv *s);

/* http.c's hooks for requests with r->gw set. */
struct MHD_Response *srv_gw_response(struct srv_req *r);
void srv_gw_headers(struct srv_req *r, struct MHD_Response *resp);
void srv_gw_completed(struct srv_req *r, int toe);
/* metrics.c: appends the gateway's metrics. */
void srv_gw_metrics(struct srv *s, wg_buf *out);

#endif
