/*
** nn_bench: WASI-NN against the same generation driven directly through
** src/ai/llm.h (llama.cpp), in one process and one run, rounds interleaved.
**
**   nn_bench MODEL.gguf CHAT.wasm [TOKENS [ROUNDS [THREADS]]]
**
** CHAT.wasm is tests/nn/guests/chat.c. Each round times, for the same
** prompt, greedy, end of sequence ignored:
**   direct  acquire a slot, prompt, TOKENS steps (what a C program on
**           llama.h does, through the shared session code);
**   wasi-nn a whole `wasmgate run`-style execution (wg_exec_run: new store,
**           instantiate the guest, load_by_name of the already-open model,
**           init, set_input x2, compute, get_output x2, finalize);
** and time to first token: the same with TOKENS = 1 (for WASI-NN the whole
** execution: instantiation included). tokens/s is counted after the first
** token, (TOKENS - 1) / (median time of TOKENS - median time of 1), as
** bench/llm/llm_bench.py does for the gateway (its wasi_nn_column() runs
** this program). The model is opened once for each path before the rounds.
** Prints one JSON object; wasi_nn_overhead_percent = 1 - nn/direct.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/llm.h"
#include "wasmgate/nn.h"
#include "wasmgate/sandbox.h"

static const char prompt[] = "USER: Write a long story about a lighthouse.\nASSISTANT:";

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One direct generation of n tokens; seconds, or -1. */
static double direct(ai_llm_model *m, int n) {
  ai_llm_session *s;
  if (ai_llm_session_acquire(m, 0, &s)) return -1;
  ai_llm_params p;
  ai_llm_params_init(&p);
  p.ignore_eos = true;
  wg_error err;
  wg_error_clear(&err);
  uint32_t pt;
  double t0 = now_s();
  ai_llm_status st = ai_llm_session_prompt(s, prompt, strlen(prompt), &p, &pt, &err);
  for (int i = 0; st == AI_LLM_OK && i < n; i++) {
    const char *piece;
    size_t len;
    st = ai_llm_session_step(s, &piece, &len);
  }
  double t = now_s() - t0;
  ai_llm_session_release(s);
  return st == AI_LLM_OK ? t : -1;
}

static void nn_bind(void *user, wg_store *s, uint64_t deadline_ms) {
  wg_nn_bind_store(user, s, deadline_ms);
}

/* One execution of the guest generating n tokens; seconds, or -1. */
static double through_nn(wg_nn_host *h, wg_module *mod, int n) {
  wg_nn_config cfg = {.host = h, .all_models = true};
  wg_nn *nn = wg_nn_new(&cfg);
  char meta[128];
  snprintf(meta, sizeof meta, "{\"n-predict\":%d,\"temp\":0,\"ignore-eos\":true}", n);
  const char *argv[] = {"chat.wasm", "default", meta, prompt};
  wg_exec_host link = {wg_nn_resolve, nn_bind, nn};
  wg_exec_request req;
  wg_exec_request_init(&req);
  req.module = mod;
  req.argv = argv;
  req.argc = 4;
  req.host = &link;
  wg_exec_result res;
  double t0 = now_s();
  wg_err e = wg_exec_run(&req, &res);
  double t = now_s() - t0;
  int code = res.exit_code;
  if (e || res.trap || code) fprintf(stderr, "nn_bench: run failed: %s %s\n",
                                     res.trap_message, res.err ? (char *)res.err : "");
  wg_exec_result_free(&res);
  wg_nn_free(nn);
  return e || code ? -1 : t;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nn_bench MODEL.gguf CHAT.wasm [TOKENS [ROUNDS [THREADS]]]\n");
    return 2;
  }
  int tokens = argc > 3 ? atoi(argv[3]) : 128;   /* checksrc: allow */
  int rounds = argc > 4 ? atoi(argv[4]) : 7;     /* checksrc: allow */
  uint32_t threads = argc > 5 ? (uint32_t)atoi(argv[5]) : 1;  /* checksrc: allow */
  if (tokens < 1 || rounds < 1 || rounds > 100) return 2;
  wg_error err;
  wg_error_clear(&err);
  if (ai_llm_runtime_init(NULL, &err)) {
    fprintf(stderr, "nn_bench: %s\n", err.message);
    return 77;
  }
  ai_llm_model_cfg mc = {.path = argv[1], .threads = threads, .slots = 1};
  ai_llm_model *m;
  if (ai_llm_model_open(&mc, &m, &err)) {
    fprintf(stderr, "nn_bench: %s\n", err.message);
    return 1;
  }
  wg_nn_host *h = wg_nn_host_new(wg_nn_backend_llama(), NULL);
  wg_nn_model_cfg nc = {"default", argv[1], 0, threads, 1};
  wg_nn_host_add(h, &nc, &err);
  FILE *f = fopen(argv[2], "rb");
  if (!f) return 1;
  static unsigned char wasm[1 << 20];
  size_t wlen = fread(wasm, 1, sizeof wasm, f);
  fclose(f);
  wg_module *mod = wg_module_load(wasm, wlen, &err);
  if (!mod) return 1;

  if (direct(m, 4) < 0 || through_nn(h, mod, 4) < 0) return 1;   /* warm up */
  double d[100], w[100], d1[100], w1[100];
  for (int r = 0; r < rounds; r++) {
    d[r] = direct(m, tokens);
    w[r] = through_nn(h, mod, tokens);
    d1[r] = direct(m, 1);
    w1[r] = through_nn(h, mod, 1);
    if (d[r] < 0 || w[r] < 0 || d1[r] < 0 || w1[r] < 0) return 1;
  }
  /* tokens/s after the first token (bench/llm/llm_bench.py's measure):
  ** (TOKENS - 1) over the difference of the medians */
  double dt = median(d, rounds), wt = median(w, rounds);
  double dt1 = median(d1, rounds), wt1 = median(w1, rounds);
  double dtps = tokens > 1 && dt > dt1 ? (tokens - 1) / (dt - dt1) : 0;
  double wtps = tokens > 1 && wt > wt1 ? (tokens - 1) / (wt - wt1) : 0;
  printf("{\"tokens\":%d,\"rounds\":%d,\"threads\":%u,"
         "\"direct_tok_per_s\":%.1f,\"wasi_nn_tok_per_s\":%.1f,"
         "\"wasi_nn_overhead_percent\":%.2f,"
         "\"direct_ttft_ms\":%.2f,\"wasi_nn_ttft_ms\":%.2f,"
         "\"direct_total_s\":%.4f,\"wasi_nn_total_s\":%.4f}\n",
         tokens, rounds, threads, dtps, wtps,
         dtps > 0 ? (1 - wtps / dtps) * 100 : 0, dt1 * 1e3, wt1 * 1e3, dt, wt);
  wg_module_release(mod);
  wg_nn_host_free(h);
  ai_llm_model_unref(m);
  return 0;
}
