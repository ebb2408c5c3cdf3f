/*
** llama_embed_direct: the reference of the WASI-NN embedding tests, a plain
** C program on llama.cpp's C API (llama.h) that uses none of wasmgate's
** code, linked against the same prebuilt shared objects wasmgate loads.
**
**   llama_embed_direct LIBDIR MODEL.gguf TEXT NORMALIZE
**
** Loads the model on one thread, makes a context with embeddings on and
** mean pooling (the tiny test model names no pooling type), 512-token
** batches, tokenizes TEXT (add_special and parse_special, as WASI-NN's
** set_input does), decodes it in one batch, takes the sequence's pooled
** embedding and normalises it (NORMALIZE: -1 none, 0 max-abs to the int16
** range, 1 taxicab, 2 euclidean, k > 2 the k-norm; written here from the
** definitions, not shared with src/ai). Prints
**   {"n_embedding": N, "embedding": [...]}
** each number as %.10g, then on stderr "prompt_tokens=N n_embd=N".
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ggml-backend.h>
#include <llama.h>

static void quiet(enum ggml_log_level l, const char *t, void *u) {
  (void)l;
  (void)t;
  (void)u;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: llama_embed_direct LIBDIR MODEL TEXT NORMALIZE\n");
    return 2;
  }
  int norm = (int)strtol(argv[4], NULL, 10);
  llama_log_set(quiet, NULL);
  ggml_backend_load_all_from_path(argv[1]);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  struct llama_model *model = llama_model_load_from_file(argv[2], mp);
  if (!model) {
    fprintf(stderr, "llama_embed_direct: cannot load %s\n", argv[2]);
    return 1;
  }
  const struct llama_vocab *vocab = llama_model_get_vocab(model);
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = 512;
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = 1;
  cp.embeddings = true;
  cp.pooling_type = LLAMA_POOLING_TYPE_MEAN;
  cp.no_perf = true;
  struct llama_context *ctx = llama_init_from_model(model, cp);
  if (!ctx) return 1;
  const char *text = argv[3];
  int len = (int)strlen(text);
  int n = -llama_tokenize(vocab, text, len, NULL, 0, true, true);
  if (n <= 0 || n > 512) return 1;
  llama_token *toks = malloc((size_t)n * sizeof *toks);
  llama_tokenize(vocab, text, len, toks, n, true, true);
  if (llama_decode(ctx, llama_batch_get_one(toks, n))) return 1;
  free(toks);
  int ne = llama_model_n_embd(model);
  const float *v = llama_get_embeddings_seq(ctx, 0);
  if (!v || ne <= 0) return 1;
  double sum = 0;
  for (int i = 0; i < ne; i++) {
    double a = fabs((double)v[i]);
    if (norm == 0) sum = a > sum ? a : sum;
    else if (norm == 2) sum += a * a;
    else if (norm > 0) sum += pow(a, norm);
  }
  if (norm < 0) sum = 1;
  else if (norm == 0) sum /= 32760.0;
  else if (norm == 2) sum = sqrt(sum);
  else sum = pow(sum, 1.0 / norm);
  printf("{\"n_embedding\": %d, \"embedding\": [", ne);
  for (int i = 0; i < ne; i++) {
    float x = sum > 0 ? (float)((double)v[i] / sum) : 0.0f;
    printf(i ? ",%.10g" : "%.10g", (double)x);
  }
  printf("]}");
  fprintf(stderr, "prompt_tokens=%d n_embd=%d\n", n, ne);
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
