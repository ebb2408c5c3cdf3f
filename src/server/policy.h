/*
** Policies in `wasmgate serve` (policy.c): the OPA-style policy API, the
** decision API, and enforcement at the decision points named in the
** configuration (policy.module_upload, policy.execution, policy.chat,
** each "POLICY_ID:ENTRYPOINT").
**
** A decision point's entrypoint gets an input document (see the comment
** of each gate) and must produce either a boolean or an object
**   {"allow": bool, "reasons": [string...], "limits": {name: number}}
** An undefined result, a result of another shape, a missing policy, a
** policy not owned by the administrator, or an evaluation that fails
** (trap, opa_abort, fuel, deadline) all deny: the gates fail closed.
** "limits" can only lower what the tenant's quotas allow.
*/
#ifndef WG_SERVER_POLICY_H
#define WG_SERVER_POLICY_H

#include <jansson.h>
#include <stdbool.h>

#include "server/srv.h"
#include "wasmgate/policy.h"
#include "wasmgate/sandbox.h"

typedef struct srv_policies srv_policies;

/* Loads the policies kept in <data_dir>/policies (a broken file is
** reported and skipped). */
wg_err srv_policies_new(srv *s, srv_policies **out, wg_error *err);
void srv_policies_free(srv_policies *ps);
/* The builtin registry policies are loaded with: add custom builtins to
** it before policies that need them are uploaded. */
wg_policy_builtins *srv_policies_builtins(srv *s);

typedef enum srv_policy_point {
  SRV_POLICY_MODULE_UPLOAD,
  SRV_POLICY_EXECUTION,
  SRV_POLICY_CHAT,
  SRV_POLICY_NPOINTS
} srv_policy_point;

typedef struct srv_decision {
  bool configured;             /* false: no policy for this point (allow) */
  bool allow;
  json_t *reasons;             /* array of strings (owned) */
  json_t *limits;              /* object or NULL (owned) */
  char policy[128];            /* the policy id, "" when not configured */
  uint64_t version;
  bool failed;                 /* denied because evaluation failed */
} srv_decision;

/* Decides at point pt with input (borrowed). r may be NULL; when given,
** the decision's policy id and version go to its audit line. Returns
** d->allow. Always fill d; release it with srv_decision_free. This is the
** function the chat gateway calls with its input
**   {"point":"chat","tenant","model","messages":N,"message_bytes":N,
**    "max_tokens":N,"findings":[...]}. */
bool srv_policy_decide(srv *s, srv_req *r, srv_policy_point pt,
                       json_t *input, srv_decision *d);
void srv_decision_free(srv_decision *d);
/* Answers 403 policy_denied with the decision's reasons. */
void srv_policy_fail(srv_req *r, const srv_decision *d);

/* The gates of the module routes. Each answers and returns false when
** denied. Upload input:
**   {"point":"module_upload","tenant","module":{"id","size","imports":
**    [{"module","name","kind"}],"exports":[...]}} */
bool srv_policy_gate_upload(srv_req *r, const wg_module *m, size_t size);
/* Execution input:
**   {"point":"execution","tenant","module":{"id","imports"},"function",
**    "limits":{"fuel","memory_bytes","timeout_ms","max_output_bytes"}}
** and lowers *limits by the decision's "limits". */
bool srv_policy_gate_execution(srv_req *r, const wg_module *m,
                               const char *function, wg_exec_limits *limits);

#endif
