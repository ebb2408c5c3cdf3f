/*
** ai_llm when wasmgate was configured without llama.cpp's headers
** (tools/setup.sh not run): every entry point that could start local
** inference fails with a message saying how to get it. No model or
** session can exist, so the others are never reached.
*/
#include <string.h>

#include "ai/llm.h"

#define ABSENT "wasmgate was built without llama.cpp (run tools/setup.sh, then reconfigure)"

/* Always WG_ENOTFOUND: see the file comment. */
wg_err ai_llm_runtime_init(const char *dir, wg_error *err) {
  (void)dir;
  return wg_error_set(err, WG_ENOTFOUND, "%s", ABSENT);
}
/* Always false. */
bool ai_llm_runtime_ready(void) { return false; }
/* Always "". */
const char *ai_llm_runtime_version(void) { return ""; }
/* No library, no build. */
int ai_llm_runtime_build_number(void) { return 0; }
/* No library, no commit. */
const char *ai_llm_runtime_commit(void) { return ""; }
/* Always "absent". */
const char *ai_llm_status_name(ai_llm_status s) {
  (void)s;
  return "absent";
}
/* Always WG_ENOTFOUND. */
wg_err ai_llm_model_open(const ai_llm_model_cfg *cfg, ai_llm_model **out,
                         wg_error *err) {
  (void)cfg;
  *out = NULL;
  return wg_error_set(err, WG_ENOTFOUND, "%s", ABSENT);
}
/* Unreachable without a model. */
void ai_llm_model_ref(ai_llm_model *m) { (void)m; }
/* Unreachable without a model. */
void ai_llm_model_unref(ai_llm_model *m) { (void)m; }
/* Unreachable without a model. */
uint32_t ai_llm_model_ctx_size(const ai_llm_model *m) {
  (void)m;
  return 0;
}
/* Unreachable without a model. */
void ai_llm_model_load(const ai_llm_model *m, uint32_t *busy,
                       uint32_t *waiting) {
  (void)m;
  if (busy) *busy = 0;
  if (waiting) *waiting = 0;
}
/* Unreachable without a model. */
wg_err ai_llm_session_acquire(ai_llm_model *m, uint64_t deadline_ms,
                              ai_llm_session **out) {
  (void)m, (void)deadline_ms;
  *out = NULL;
  return WG_ENOTFOUND;
}
/* Unreachable without a model. */
void ai_llm_session_release(ai_llm_session *s) { (void)s; }
/* Unreachable without a model. */
void ai_llm_session_cancel(ai_llm_session *s) { (void)s; }
/* Unreachable without a model. */
void ai_llm_session_set_deadline(ai_llm_session *s, uint64_t deadline_ms) {
  (void)s, (void)deadline_ms;
}
/* Always WG_ENOTFOUND. */
wg_err ai_llm_apply_template(const ai_llm_model *m, const ai_llm_msg *msgs,
                             size_t n, wg_buf *out, wg_error *err) {
  (void)m, (void)msgs, (void)n, (void)out;
  return wg_error_set(err, WG_ENOTFOUND, "%s", ABSENT);
}
/* greedy, unlimited, no stop strings, no grammar, seed 0 */
void ai_llm_params_init(ai_llm_params *p) {
  memset(p, 0, sizeof *p);
  p->max_tokens = -1;
  p->top_p = 1.0f;
  p->repeat_penalty = 1.0f;   /* the defaults of llm_generate.c */
  p->penalty_last_n = 64;
  p->typical_p = 1.0f;
  p->mirostat_tau = 5.0f;
  p->mirostat_eta = 0.1f;
  p->embd_normalize = 2;
}
/* Unreachable without a model. */
ai_llm_status ai_llm_session_prompt(ai_llm_session *s, const char *text,
                                    size_t len, const ai_llm_params *p,
                                    uint32_t *prompt_tokens, wg_error *err) {
  (void)s, (void)text, (void)len, (void)p;
  if (prompt_tokens) *prompt_tokens = 0;
  wg_error_set(err, WG_ENOTFOUND, "%s", ABSENT);
  return AI_LLM_DECODE_FAILED;
}
/* Unreachable without a model. */
const float *ai_llm_session_embedding(const ai_llm_session *s, uint32_t *n) {
  (void)s;
  *n = 0;
  return NULL;
}
/* Unreachable without a model. */
ai_llm_status ai_llm_session_step(ai_llm_session *s, const char **piece,
                                  size_t *len) {
  (void)s;
  *piece = "";
  *len = 0;
  return AI_LLM_NO_INPUT;
}
/* Unreachable without a model. */
uint32_t ai_llm_session_generated(const ai_llm_session *s) {
  (void)s;
  return 0;
}
/* Unreachable without a model. */
ai_llm_status ai_llm_generate(ai_llm_session *s, const char *prompt,
                              size_t len, const ai_llm_params *p,
                              ai_llm_text_fn fn, void *user,
                              uint32_t *prompt_tokens,
                              uint32_t *completion_tokens, wg_error *err) {
  (void)fn, (void)user;
  if (completion_tokens) *completion_tokens = 0;
  return ai_llm_session_prompt(s, prompt, len, p, prompt_tokens, err);
}
