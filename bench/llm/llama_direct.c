/*
** llama_direct: the baseline of bench/llm/llm_bench.py, a plain C program
** on llama.cpp's C API (llama.h), linked against the same prebuilt shared
** objects wasmgate loads at run time, and using none of wasmgate's code.
**
**   llama_direct LIBDIR MODEL.gguf TOKENS THREADS USER_MESSAGE
**
** Formats USER_MESSAGE with the model's chat template, evaluates it, then
** generates TOKENS tokens greedily with end-of-generation masked (so the
** count is exact), one llama_decode per token. Prints one JSON line:
**   {"prompt_tokens":N,"tokens":N,"ttft_ms":X,"gen_s":X,"tok_per_s":X}
** ttft_ms: from before tokenizing to the first sampled token's text;
** tok_per_s: tokens after the first over the time after the first;
** tok_per_cpu_s: the same over the process's CPU time (what a loaded,
** shared machine distorts least). A
** 4-token warm-up on the same context runs before (so that first-decode
** allocations are not timed, as they are not in a running server).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ggml-backend.h>
#include <llama.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void quiet(enum ggml_log_level l, const char *t, void *u) {
  (void)u;
  if (getenv("LLAMA_DIRECT_LOG") && l != GGML_LOG_LEVEL_DEBUG)
    fputs(t, stderr);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: llama_direct LIBDIR MODEL TOKENS THREADS MSG\n");
    return 2;
  }
  int ntok = (int)strtol(argv[3], NULL, 10);
  int nth = (int)strtol(argv[4], NULL, 10);
  llama_log_set(quiet, NULL);
  ggml_backend_load_all_from_path(argv[1]);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *model = llama_model_load_from_file(argv[2], mp);
  if (!model) {
    fprintf(stderr, "llama_direct: cannot load %s\n", argv[2]);
    return 1;
  }
  const struct llama_vocab *vocab = llama_model_get_vocab(model);
  struct llama_chat_message msg = {"user", argv[5]};
  char prompt[8192];
  const char *tmpl = llama_model_chat_template(model, NULL);
  int plen = tmpl ? llama_chat_apply_template(tmpl, &msg, 1, true, prompt,
                                              sizeof prompt)
                  : -1;
  if (plen < 0)
    plen = llama_chat_apply_template("chatml", &msg, 1, true, prompt,
                                     sizeof prompt);
  if (plen < 0 || plen >= (int)sizeof prompt) return 1;

  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = (uint32_t)(ntok + 512);
  cp.n_batch = 512;
  cp.n_ubatch = 512;
  cp.n_threads = cp.n_threads_batch = nth;
  cp.no_perf = true;
  struct llama_context *ctx = llama_init_from_model(model, cp);
  if (!ctx) return 1;

  /* greedy, end of generation masked */
  struct llama_sampler *smpl =
      llama_sampler_chain_init(llama_sampler_chain_default_params());
  int nv = llama_vocab_n_tokens(vocab), ne = 0;
  llama_logit_bias *bias = calloc((size_t)nv, sizeof *bias);
  for (int t = 0; t < nv; t++)
    if (llama_vocab_is_eog(vocab, t)) bias[ne++] = (llama_logit_bias){t, -INFINITY};
  llama_sampler_chain_add(smpl, llama_sampler_init_logit_bias(nv, ne, bias));
  llama_sampler_chain_add(smpl, llama_sampler_init_greedy());

  /* A short warm-up first (the gateway's context is warm too: graphs and
  ** buffers are allocated by the first decodes), then the timed run. */
  double t0 = 0, t_first = 0, t_end = 0, c_first = 0, c_end = 0;
  int n = 0;
  size_t chars = 0;
  for (int pass = 0; pass < 2; pass++) {
    int want = pass ? ntok : 4;
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_sampler_reset(smpl);
    t0 = now_s();
    n = -llama_tokenize(vocab, prompt, plen, NULL, 0, true, true);
    llama_token *toks = malloc((size_t)n * sizeof *toks);
    llama_tokenize(vocab, prompt, plen, toks, n, true, true);
    if (llama_decode(ctx, llama_batch_get_one(toks, n))) return 1;
    free(toks);
    char piece[256];
    chars = 0;
    for (int i = 0; i < want; i++) {
      llama_token t = llama_sampler_sample(smpl, ctx, -1);
      int k = llama_token_to_piece(vocab, t, piece, sizeof piece, 0, false);
      chars += k > 0 ? (size_t)k : 0;
      if (i == 0) {
        t_first = now_s();
        c_first = cpu_s();
      }
      if (i + 1 < want && llama_decode(ctx, llama_batch_get_one(&t, 1)))
        return 1;
    }
    t_end = now_s();
    c_end = cpu_s();
  }
  printf("{\"prompt_tokens\":%d,\"tokens\":%d,\"chars\":%zu,"
         "\"ttft_ms\":%.3f,\"gen_s\":%.6f,\"tok_per_s\":%.1f,"
         "\"tok_per_cpu_s\":%.1f}\n",
         n, ntok, chars, (t_first - t0) * 1e3, t_end - t_first,
         ntok > 1 ? (ntok - 1) / (t_end - t_first) : 0.0,
         ntok > 1 ? (ntok - 1) / (c_end - c_first) : 0.0);
  free(bias);
  llama_sampler_free(smpl);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
