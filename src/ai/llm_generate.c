/*
** Prompt evaluation and token-by-token generation.
**
** A step samples a token from the logits of the last decode and hands its
** text out at once; the token itself is decoded at the start of the next
** step (so the last token of a generation is never decoded for nothing,
** and a streaming client sees each piece before the model works on the
** next one).
**
** ai_llm_generate delivers text that is final: a stop string is found in
** the text not yet delivered, and the longest tail of it that could still
** grow into a stop string is held back; a UTF-8 sequence split across
** tokens (byte-fallback tokens) is held until it is complete, and invalid
** bytes become U+FFFD, so the caller can put the text in JSON as it is.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ai/llm_int.h"
#include "base/alloc.h"

#define PENDING_MAX (1u << 20)

/* greedy, unlimited, no stop strings, no grammar, seed 0 */
void ai_llm_params_init(ai_llm_params *p) {
  memset(p, 0, sizeof *p);
  p->max_tokens = -1;
  p->temperature = 0.0f;
  p->top_p = 1.0f;
  p->repeat_penalty = 1.0f;
  p->penalty_last_n = 64;        /* llama.cpp's common_params default */
  p->typical_p = 1.0f;
  p->mirostat_tau = 5.0f;        /* idem */
  p->mirostat_eta = 0.1f;        /* idem */
  p->embd_normalize = 2;
}

/* ------------------------------------------------------------------ */
/* UTF-8 and stop strings                                              */

/* Length of the sequence a lead byte starts (0: not a lead byte). */
static size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

/* Whether b may be the second byte after lead c (RFC 3629 table). */
static bool utf8_second_ok(unsigned char c, unsigned char b) {
  if ((b & 0xc0) != 0x80) return false;
  if (c == 0xe0) return b >= 0xa0;
  if (c == 0xed) return b <= 0x9f;
  if (c == 0xf0) return b >= 0x90;
  if (c == 0xf4) return b <= 0x8f;
  return true;
}

/* Valid sequence length at s (<= n bytes available): 0 if invalid,
** SIZE_MAX if it is a valid but incomplete prefix. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  size_t l = utf8_len(s[0]);
  if (l <= 1) return l;
  for (size_t i = 1; i < l; i++) {
    if (i >= n) return SIZE_MAX;
    if (i == 1 ? !utf8_second_ok(s[0], s[1]) : (s[i] & 0xc0) != 0x80)
      return 0;
  }
  return l;
}

/* Longest prefix ending on a sequence boundary (see llm_int.h). */
size_t ai_llm__utf8_complete(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t start = n > 3 ? n - 3 : 0;
  for (size_t i = n; i > start; i--) {
    size_t at = i - 1;
    if ((u[at] & 0xc0) == 0x80) continue;
    return utf8_seq(u + at, n - at) == SIZE_MAX ? at : n;
  }
  return n;
}

/* Appends s with invalid bytes replaced by U+FFFD (see llm_int.h). */
wg_err ai_llm__utf8_sanitize(const char *s, size_t n, wg_buf *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0;   /* valid bytes from run to i not yet copied */
  while (i < n) {
    size_t l = utf8_seq(u + i, n - i);
    if (l != 0 && l != SIZE_MAX) {
      i += l;
      continue;
    }
    wg_err rc = wg_buf_append(out, s + run, i - run);
    if (!rc) rc = wg_buf_append(out, "\xef\xbf\xbd", 3);
    if (rc) return rc;
    i++;
    run = i;
  }
  return wg_buf_append(out, s + run, i - run);
}

/* Final bytes of s given the stop strings (see llm_int.h). */
size_t ai_llm__stop_scan(const char *s, size_t n, const char *const *stop,
                         size_t nstop, size_t *match) {
  size_t best = SIZE_MAX, hold = 0;
  for (size_t k = 0; k < nstop; k++) {
    size_t sl = strlen(stop[k]);
    if (!sl) continue;
    const char *hit = memmem(s, n, stop[k], sl);
    if (hit && (size_t)(hit - s) < best) best = (size_t)(hit - s);
    /* the longest suffix of s that is a proper prefix of stop[k] */
    for (size_t h = sl - 1 < n ? sl - 1 : n; h > hold; h--)
      if (!memcmp(s + n - h, stop[k], h)) {
        hold = h;
        break;
      }
  }
  *match = best;
  return best != SIZE_MAX ? best : n - hold;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */

static bool stopped(ai_llm_session *s) {
  if (atomic_load(&s->cancel)) return true;
  uint64_t d = atomic_load(&s->deadline_ms);
  return d && ai_llm__now_ms() >= d;
}

/* Whether p asks for any of the three penalties. */
static bool penalties_on(const ai_llm_params *p) {
  return p->penalty_last_n != 0 &&
         ((p->repeat_penalty > 0.0f && p->repeat_penalty != 1.0f) ||
          p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

/* Rebuilt by every prompt, so that a change of any sampling option (the
** penalties included) takes effect with the next prompt. */
static wg_err build_sampler(ai_llm_session *s, const ai_llm_params *p,
                            wg_error *err) {
  if (s->smpl) LL->llama_sampler_free(s->smpl);
  if (s->gram) LL->llama_sampler_free(s->gram);
  s->smpl = s->gram = NULL;
  struct llama_sampler_chain_params cp =
      LL->llama_sampler_chain_default_params();
  cp.no_perf = true;
  struct llama_sampler *c = s->smpl = LL->llama_sampler_chain_init(cp);
  if (!c) return wg_error_set(err, WG_ENOMEM, "sampler: out of memory");
  if (p->grammar) {   /* kept apart: see sample() */
    s->gram = LL->llama_sampler_init_grammar(s->m->vocab, p->grammar, "root");
    if (!s->gram)
      return wg_error_set(err, WG_EINVAL,
                          "grammar: llama.cpp rejected the GBNF grammar");
  }
  if (p->ignore_eos) {
    int32_t nv = LL->llama_vocab_n_tokens(s->m->vocab), ne = 0;
    for (int32_t t = 0; t < nv; t++)
      if (LL->llama_vocab_is_eog(s->m->vocab, t)) ne++;
    if (ne) {
      llama_logit_bias *b = wg_new_array(llama_logit_bias, (size_t)ne);
      if (!b) return wg_error_set(err, WG_ENOMEM, "sampler: out of memory");
      for (int32_t t = 0, i = 0; t < nv; t++)
        if (LL->llama_vocab_is_eog(s->m->vocab, t))
          b[i++] = (llama_logit_bias){t, -INFINITY};
      LL->llama_sampler_chain_add(
          c, LL->llama_sampler_init_logit_bias(nv, ne, b));
      wg_free_array(b, (size_t)ne);
    }
  }
  /* llama.cpp's order (common_sampler): penalties, top_k, typical, top_p,
  ** min_p, temperature, then the pick. Greedy leaves out the filters
  ** that cannot change the most likely token (top_k, top_p, min_p);
  ** penalties and typical can, so they stay. */
  float rep = p->repeat_penalty > 0.0f ? p->repeat_penalty : 1.0f;
  if (penalties_on(p)) {
    int32_t last_n = p->penalty_last_n < 0 ? (int32_t)s->m->n_ctx
                                           : p->penalty_last_n;
    LL->llama_sampler_chain_add(
        c, LL->llama_sampler_init_penalties(
               LL->llama_vocab_n_tokens(s->m->vocab), last_n, rep,
               p->frequency_penalty, p->presence_penalty));
  }
  bool greedy = p->temperature <= 0.0f;
  if (!greedy && p->mirostat == 1) {
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_temp(p->temperature));
    LL->llama_sampler_chain_add(
        c, LL->llama_sampler_init_mirostat(LL->llama_vocab_n_tokens(s->m->vocab),
                                           p->seed, p->mirostat_tau,
                                           p->mirostat_eta, 100));
    return WG_OK;
  }
  if (!greedy && p->mirostat == 2) {
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_temp(p->temperature));
    LL->llama_sampler_chain_add(
        c, LL->llama_sampler_init_mirostat_v2(p->seed, p->mirostat_tau,
                                              p->mirostat_eta));
    return WG_OK;
  }
  if (!greedy && p->top_k > 0)
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_top_k(p->top_k));
  if (p->typical_p > 0.0f && p->typical_p < 1.0f)
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_typical(p->typical_p, 1));
  if (greedy) {
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_greedy());
    return WG_OK;
  }
  if (p->top_p > 0.0f && p->top_p < 1.0f)
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_top_p(p->top_p, 1));
  if (p->min_p > 0.0f && p->min_p <= 1.0f)
    LL->llama_sampler_chain_add(c, LL->llama_sampler_init_min_p(p->min_p, 1));
  LL->llama_sampler_chain_add(c, LL->llama_sampler_init_temp(p->temperature));
  LL->llama_sampler_chain_add(c, LL->llama_sampler_init_dist(p->seed));
  return WG_OK;
}

static ai_llm_status decode_in(ai_llm_session *s, struct llama_context *ctx,
                               llama_token *t, int32_t n) {
  int32_t rc = LL->llama_decode(ctx, LL->llama_batch_get_one(t, n));
  if (rc == 0) return AI_LLM_OK;
  if (rc == 2 || stopped(s)) return AI_LLM_CANCELLED;
  if (rc == 1) return AI_LLM_CONTEXT_FULL;
  return AI_LLM_DECODE_FAILED;
}

static ai_llm_status decode(ai_llm_session *s, llama_token *t, int32_t n) {
  return decode_in(s, s->ctx, t, n);
}

/* Tokenizes text into s->toks (add_special and parse_special), *n the
** count, unless it exceeds max (then only *n is set:
** AI_LLM_PROMPT_TOO_LONG, the message says what holds max). An empty
** prompt fails. */
static ai_llm_status tokenize(ai_llm_session *s, const char *text, size_t len,
                              uint32_t max, const char *holder, uint32_t shown,
                              int32_t *n, wg_error *err) {
  *n = 0;
  if (len > (size_t)INT32_MAX / 2) {
    wg_error_set(err, WG_ELIMIT, "prompt too long: %zu bytes", len);
    return AI_LLM_PROMPT_TOO_LONG;
  }
  int32_t k = -LL->llama_tokenize(s->m->vocab, text, (int32_t)len, NULL, 0,
                                  true, true);
  if (k < 0) k = 0;   /* fits in 0 tokens: empty */
  *n = k;
  if ((uint32_t)k > max) {
    wg_error_set(err, WG_ELIMIT, "prompt too long: %d tokens, %s %u", k,
                 holder, shown);
    return AI_LLM_PROMPT_TOO_LONG;
  }
  if (k == 0) {
    wg_error_set(err, WG_EINVAL, "empty prompt");
    return AI_LLM_DECODE_FAILED;
  }
  if ((size_t)k > s->ntoks_cap) {
    llama_token *t = wg_new_array(llama_token, (size_t)k);
    if (!t) {
      wg_error_set(err, WG_ENOMEM, "prompt: out of memory");
      return AI_LLM_DECODE_FAILED;
    }
    if (s->toks) wg_free_array(s->toks, s->ntoks_cap);
    s->toks = t;
    s->ntoks_cap = (size_t)k;
  }
  LL->llama_tokenize(s->m->vocab, text, (int32_t)len, s->toks, k, true, true);
  return AI_LLM_OK;
}

/* out = in / norm(in) (see llm.h). */
void ai_llm_embd_normalize(const float *in, float *out, size_t n, int mode) {
  double sum = 0.0;
  if (mode < 0) {
    sum = 1.0;
  } else if (mode == 0) {         /* the int16 range: max |x| -> 32760 */
    for (size_t i = 0; i < n; i++)
      if (fabs((double)in[i]) > sum) sum = fabs((double)in[i]);
    sum /= 32760.0;
  } else if (mode == 2) {
    for (size_t i = 0; i < n; i++) sum += (double)in[i] * (double)in[i];
    sum = sqrt(sum);
  } else {                        /* p-norm; 1 is taxicab */
    for (size_t i = 0; i < n; i++) sum += pow(fabs((double)in[i]), mode);
    sum = pow(sum, 1.0 / mode);
  }
  double k = sum > 0.0 ? 1.0 / sum : 0.0;
  for (size_t i = 0; i < n; i++) out[i] = (float)((double)in[i] * k);
}

/* The embedding path of ai_llm_session_prompt: the whole prompt in one
** batch of the embedding context, pooled, normalised into s->embd. */
static ai_llm_status embed(ai_llm_session *s, const char *text, size_t len,
                           const ai_llm_params *p, uint32_t *prompt_tokens,
                           wg_error *err) {
  if (ai_llm__session_ectx(s, err)) return AI_LLM_DECODE_FAILED;
  uint32_t max = s->m->n_batch;
  if (p->batch_size && p->batch_size < max) max = p->batch_size;
  int32_t n;
  ai_llm_status st = tokenize(s, text, len, max, "the batch holds", max, &n,
                              err);
  if (prompt_tokens) *prompt_tokens = (uint32_t)n;
  if (st != AI_LLM_OK) return st;
  uint32_t ne = ai_llm__n_embd(s->m);
  if (!s->embd && ne && !(s->embd = wg_new_array(float, ne))) {
    wg_error_set(err, WG_ENOMEM, "embedding: out of memory");
    return AI_LLM_DECODE_FAILED;
  }
  LL->llama_memory_clear(LL->llama_get_memory(s->ectx), true);
  if (stopped(s)) return AI_LLM_CANCELLED;
  st = decode_in(s, s->ectx, s->toks, n);
  if (st != AI_LLM_OK) {
    if (st == AI_LLM_DECODE_FAILED)
      wg_error_set(err, WG_EIO, "llama_decode failed on the prompt");
    return st;
  }
  const float *v = LL->llama_get_embeddings_seq(s->ectx, 0);
  if (!v) v = LL->llama_get_embeddings_ith(s->ectx, -1);
  if (!v || !ne) {
    wg_error_set(err, WG_EIO, "llama.cpp gave no embedding");
    return AI_LLM_DECODE_FAILED;
  }
  ai_llm_embd_normalize(v, s->embd, ne, p->embd_normalize);
  s->has_embd = true;
  return AI_LLM_OK;
}

/* The last embedding prompt's vector (see llm.h). */
const float *ai_llm_session_embedding(const ai_llm_session *s, uint32_t *n) {
  *n = s->has_embd ? ai_llm__n_embd(s->m) : 0;
  return s->has_embd ? s->embd : NULL;
}

/*
** Resets the slot, builds the sampler from p, tokenizes and evaluates the
** prompt (in batches of the model's batch size). The tokens the penalties
** look back on include the prompt's, as in llama.cpp's server and CLI.
** With p->embedding, computes the prompt's embedding instead.
*/
ai_llm_status ai_llm_session_prompt(ai_llm_session *s, const char *text,
                                    size_t len, const ai_llm_params *p,
                                    uint32_t *prompt_tokens, wg_error *err) {
  if (prompt_tokens) *prompt_tokens = 0;
  atomic_store(&s->cancel, false);
  s->has_input = s->has_pending = s->has_embd = false;
  s->generated = 0;
  s->n_past = 0;
  if (p->embedding) return embed(s, text, len, p, prompt_tokens, err);
  if (ai_llm__session_ctx(s, err)) return AI_LLM_DECODE_FAILED;
  LL->llama_memory_clear(LL->llama_get_memory(s->ctx), true);
  if (build_sampler(s, p, err)) return AI_LLM_DECODE_FAILED;
  int32_t n;
  ai_llm_status tst = tokenize(s, text, len, s->m->n_ctx - 4,
                               "the context holds", s->m->n_ctx, &n, err);
  if (prompt_tokens) *prompt_tokens = (uint32_t)n;
  if (tst != AI_LLM_OK) return tst;
  if (penalties_on(p)) {
    int32_t from = 0;
    if (p->penalty_last_n > 0 && n > p->penalty_last_n)
      from = n - p->penalty_last_n;
    for (int32_t i = from; i < n; i++)
      LL->llama_sampler_accept(s->smpl, s->toks[i]);
  }
  for (int32_t at = 0; at < n;) {
    if (stopped(s)) return AI_LLM_CANCELLED;
    int32_t k = n - at;
    if ((uint32_t)k > s->m->n_batch) k = (int32_t)s->m->n_batch;
    ai_llm_status st = decode(s, s->toks + at, k);
    if (st != AI_LLM_OK) {
      if (st == AI_LLM_DECODE_FAILED)
        wg_error_set(err, WG_EIO, "llama_decode failed on the prompt");
      return st;
    }
    at += k;
  }
  s->n_past = (uint32_t)n;
  s->has_input = true;
  return AI_LLM_OK;
}

/* s->cand filled with every token's logit; false: no memory. */
static bool fill_candidates(ai_llm_session *s, const float *logits,
                            llama_token_data_array *all) {
  size_t nv = (size_t)LL->llama_vocab_n_tokens(s->m->vocab);
  if (s->ncand < nv) {
    llama_token_data *c = wg_new_array(llama_token_data, nv);
    if (!c) return false;
    if (s->cand) wg_free_array(s->cand, s->ncand);
    s->cand = c;
    s->ncand = nv;
  }
  for (size_t i = 0; i < nv; i++)
    s->cand[i] = (llama_token_data){(llama_token)i, logits[i], 0.0f};
  *all = (llama_token_data_array){s->cand, nv, -1, false};
  return true;
}

/*
** The next token. With a grammar, the chain samples first and the grammar
** checks only that token (one candidate instead of the whole vocabulary:
** ~50x faster on a 32000-token vocabulary); when the grammar refuses it,
** the grammar filters every token and the chain samples again from what
** is left. Both are deterministic for a given seed. The chain accepts only
** the token kept (a refused one must not count for the penalties).
** false: no memory.
*/
static bool sample(ai_llm_session *s, llama_token *out) {
  if (!s->gram) {
    *out = LL->llama_sampler_sample(s->smpl, s->ctx, -1);
    return true;
  }
  const float *logits = LL->llama_get_logits_ith(s->ctx, -1);
  llama_token_data_array all;
  if (!logits || !fill_candidates(s, logits, &all)) return false;
  LL->llama_sampler_apply(s->smpl, &all);
  if (all.selected < 0 || (size_t)all.selected >= all.size) return false;
  llama_token t = all.data[all.selected].id;
  llama_token_data one = {t, logits[t], 0.0f};
  llama_token_data_array a1 = {&one, 1, -1, false};
  LL->llama_sampler_apply(s->gram, &a1);
  if (one.logit == -INFINITY) {   /* refused: sample again, grammar first */
    if (!fill_candidates(s, logits, &all)) return false;
    LL->llama_sampler_apply(s->gram, &all);
    LL->llama_sampler_apply(s->smpl, &all);
    if (all.selected < 0 || (size_t)all.selected >= all.size) return false;
    t = all.data[all.selected].id;
  }
  LL->llama_sampler_accept(s->smpl, t);
  LL->llama_sampler_accept(s->gram, t);
  *out = t;
  return true;
}

static bool set_piece(ai_llm_session *s, llama_token t, size_t *len) {
  if (!s->piece) {
    s->piece = wg_new_array(char, 256);
    if (!s->piece) return false;
    s->piece_cap = 256;
  }
  int32_t n = LL->llama_token_to_piece(s->m->vocab, t, s->piece,
                                       (int32_t)s->piece_cap, 0, false);
  if (n < 0) {
    char *p = wg_new_array(char, (size_t)-n);
    if (!p) return false;
    wg_free(s->piece, s->piece_cap);
    s->piece = p;
    s->piece_cap = (size_t)-n;
    n = LL->llama_token_to_piece(s->m->vocab, t, s->piece, -n, 0, false);
    if (n < 0) n = 0;
  }
  *len = (size_t)n;
  return true;
}

/*
** Evaluates the token sampled last (if any), samples the next one and
** gives its text. After AI_LLM_EOG the session needs a new prompt.
*/
ai_llm_status ai_llm_session_step(ai_llm_session *s, const char **piece,
                                  size_t *len) {
  *piece = "";
  *len = 0;
  if (!s->has_input) return AI_LLM_NO_INPUT;
  if (stopped(s)) return AI_LLM_CANCELLED;
  if (s->has_pending) {
    if (s->n_past >= s->m->n_ctx) return AI_LLM_CONTEXT_FULL;
    ai_llm_status st = decode(s, &s->pending, 1);
    if (st != AI_LLM_OK) return st;
    s->n_past++;
    s->has_pending = false;
  }
  llama_token t;
  if (!sample(s, &t)) return AI_LLM_DECODE_FAILED;
  s->generated++;
  if (!set_piece(s, t, len)) return AI_LLM_DECODE_FAILED;
  *piece = s->piece;
  if (LL->llama_vocab_is_eog(s->m->vocab, t)) {
    s->has_input = false;
    return AI_LLM_EOG;
  }
  s->pending = t;
  s->has_pending = true;
  return AI_LLM_OK;
}

/* Tokens sampled since the last prompt. */
uint32_t ai_llm_session_generated(const ai_llm_session *s) {
  return s->generated;
}

/* Sends pend[0..n) (sanitized) to fn and drops it from pend. */
static bool deliver(wg_buf *pend, size_t n, wg_buf *tmp, ai_llm_text_fn fn,
                    void *user, bool *ok) {
  if (!n) return true;
  wg_buf_reset(tmp);
  if (ai_llm__utf8_sanitize((const char *)pend->data, n, tmp)) {
    *ok = false;
    return false;
  }
  bool go = fn(user, (const char *)tmp->data, tmp->len);
  memmove(pend->data, pend->data + n, pend->len - n);
  pend->len -= n;
  pend->data[pend->len] = 0;
  return go;
}

/*
** prompt + steps until EOG, a stop string, max_tokens, a full context or
** a cancel; final text goes to fn as it becomes final.
*/
ai_llm_status ai_llm_generate(ai_llm_session *s, const char *prompt,
                              size_t len, const ai_llm_params *p,
                              ai_llm_text_fn fn, void *user,
                              uint32_t *prompt_tokens,
                              uint32_t *completion_tokens, wg_error *err) {
  if (completion_tokens) *completion_tokens = 0;
  ai_llm_status st = ai_llm_session_prompt(s, prompt, len, p, prompt_tokens,
                                           err);
  if (st != AI_LLM_OK) return st;
  wg_buf pend, tmp;
  wg_buf_init(&pend, PENDING_MAX);
  wg_buf_init(&tmp, 3 * PENDING_MAX);
  bool ok = true;
  for (;;) {
    if (p->max_tokens >= 0 && s->generated >= (uint32_t)p->max_tokens) {
      st = AI_LLM_LENGTH;
      break;
    }
    const char *piece;
    size_t plen;
    st = ai_llm_session_step(s, &piece, &plen);
    if (st != AI_LLM_OK) break;
    if (wg_buf_append(&pend, piece, plen)) {
      ok = false;
      break;
    }
    size_t match;
    size_t fin = ai_llm__stop_scan((const char *)pend.data, pend.len, p->stop,
                                   p->nstop, &match);
    if (match != SIZE_MAX) {
      st = AI_LLM_STOP;
      if (!deliver(&pend, match, &tmp, fn, user, &ok)) st = AI_LLM_CANCELLED;
      pend.len = 0;
      break;
    }
    fin = ai_llm__utf8_complete((const char *)pend.data, fin);
    if (!deliver(&pend, fin, &tmp, fn, user, &ok)) {
      st = AI_LLM_CANCELLED;
      break;
    }
  }
  /* The generation is over: what was held back is final now. */
  if (ok && (st == AI_LLM_EOG || st == AI_LLM_LENGTH ||
             st == AI_LLM_CONTEXT_FULL))
    if (!deliver(&pend, pend.len, &tmp, fn, user, &ok)) st = AI_LLM_CANCELLED;
  if (!ok) {
    wg_error_set(err, WG_ENOMEM, "generation: out of memory");
    st = AI_LLM_DECODE_FAILED;
  }
  if (completion_tokens) *completion_tokens = s->generated;
  wg_buf_free(&pend);
  wg_buf_free(&tmp);
  return st;
}
