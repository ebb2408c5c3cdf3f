/*
** llm_probe: drives src/ai/llm.h directly (no server), the second path the
** gateway tests compare against.
**
**   llm_probe template MODEL USER [SYSTEM]   the chat prompt, on stdout
**   llm_probe generate MODEL PROMPT MAX [TEMP SEED] [STOP...]
**       the generated text on stdout, then on stderr one line
**       "status=S prompt_tokens=N completion_tokens=M"
**   llm_probe chat MODEL USER MAX [TEMP SEED]   template + generate
**   llm_probe embed MODEL TEXT [NORMALIZE [BATCH]]
**       the embedding as WASI-NN's output 0 would hold it, via llm.h
** Sampling options go first, before the command: --repeat-penalty R,
** --presence-penalty P, --frequency-penalty F, --last-n N, --min-p X,
** --typical-p X, --mirostat N, --top-k K, --top-p X (ai_llm_params fields).
** Exit status 0, or 1 with a message (77 when llama.cpp is not installed).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/llm.h"

static bool out(void *user, const char *t, size_t n) {
  (void)user;
  fwrite(t, 1, n, stdout);
  return true;
}

static ai_llm_params opts;   /* from the leading --options */

/* Consumes the leading --name value pairs into opts; the new argv start. */
static int parse_opts(int argc, char **argv) {
  ai_llm_params_init(&opts);
  int i = 1;
  for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
    const char *n = argv[i] + 2, *v = argv[i + 1];
    if (!strcmp(n, "repeat-penalty")) opts.repeat_penalty = strtof(v, NULL);
    else if (!strcmp(n, "presence-penalty")) opts.presence_penalty = strtof(v, NULL);
    else if (!strcmp(n, "frequency-penalty")) opts.frequency_penalty = strtof(v, NULL);
    else if (!strcmp(n, "last-n")) opts.penalty_last_n = (int32_t)strtol(v, NULL, 10);
    else if (!strcmp(n, "min-p")) opts.min_p = strtof(v, NULL);
    else if (!strcmp(n, "typical-p")) opts.typical_p = strtof(v, NULL);
    else if (!strcmp(n, "mirostat")) opts.mirostat = (int32_t)strtol(v, NULL, 10);
    else if (!strcmp(n, "top-k")) opts.top_k = (int32_t)strtol(v, NULL, 10);
    else if (!strcmp(n, "top-p")) opts.top_p = strtof(v, NULL);
    else return -1;
  }
  return i - 1;
}

/* The embedding of text, printed as WASI-NN's output 0. */
static int embed(ai_llm_model *m, const char *text, int argc, char **argv) {
  ai_llm_params p = opts;
  p.embedding = true;
  if (argc > 4) p.embd_normalize = (int32_t)strtol(argv[4], NULL, 10);
  if (argc > 5) p.batch_size = (uint32_t)strtoul(argv[5], NULL, 10);
  ai_llm_session *s;
  if (ai_llm_session_acquire(m, 0, &s)) {
    fprintf(stderr, "llm_probe: no slot\n");
    return 1;
  }
  wg_error err;
  wg_error_clear(&err);
  uint32_t pt = 0, n = 0;
  ai_llm_status st = ai_llm_session_prompt(s, text, strlen(text), &p, &pt, &err);
  const float *v = ai_llm_session_embedding(s, &n);
  if (st == AI_LLM_OK && v) {
    printf("{\"n_embedding\": %u, \"embedding\": [", n);
    for (uint32_t i = 0; i < n; i++) printf(i ? ",%.10g" : "%.10g", (double)v[i]);
    printf("]}");
  }
  fflush(stdout);
  fprintf(stderr, "%s%sstatus=%s prompt_tokens=%u\n", err.message,
          err.message[0] ? "\n" : "", ai_llm_status_name(st), pt);
  ai_llm_session_release(s);
  return st == AI_LLM_OK ? 0 : 1;
}

static int run(ai_llm_model *m, const char *prompt, int argc, char **argv,
               int at) {
  ai_llm_params p = opts;
  p.max_tokens = (int32_t)strtol(argv[at], NULL, 10);
  if (argc > at + 2) {
    p.temperature = strtof(argv[at + 1], NULL);
    p.seed = (uint32_t)strtoul(argv[at + 2], NULL, 10);
  }
  if (argc > at + 3) {
    p.stop = (const char *const *)argv + at + 3;
    p.nstop = (size_t)(argc - at - 3);
  }
  ai_llm_session *s;
  if (ai_llm_session_acquire(m, 0, &s)) {
    fprintf(stderr, "llm_probe: no slot\n");
    return 1;
  }
  wg_error err;
  wg_error_clear(&err);
  uint32_t pt = 0, ct = 0;
  ai_llm_status st = ai_llm_generate(s, prompt, strlen(prompt), &p, out, NULL,
                                     &pt, &ct, &err);
  fflush(stdout);
  fprintf(stderr, "status=%s prompt_tokens=%u completion_tokens=%u\n",
          ai_llm_status_name(st), pt, ct);
  ai_llm_session_release(s);
  return st == AI_LLM_DECODE_FAILED ? 1 : 0;
}

int main(int argc, char **argv) {
  int shift = parse_opts(argc, argv);
  if (shift < 0) {
    fprintf(stderr, "llm_probe: unknown option\n");
    return 2;
  }
  argv += shift;
  argc -= shift;
  if (argc < 4) {
    fprintf(stderr, "usage: llm_probe template|generate|chat MODEL TEXT ...\n");
    return 2;
  }
  wg_error err;
  wg_error_clear(&err);
  if (ai_llm_runtime_init(NULL, &err)) {
    fprintf(stderr, "llm_probe: %s\n", err.message);
    return 77;
  }
  ai_llm_model_cfg cfg = {.path = argv[2], .threads = 1};
  ai_llm_model *m;
  if (ai_llm_model_open(&cfg, &m, &err)) {
    fprintf(stderr, "llm_probe: %s\n", err.message);
    return 1;
  }
  int rc = 0;
  wg_buf prompt;
  wg_buf_init(&prompt, 1u << 20);
  if (!strcmp(argv[1], "generate") && argc >= 5) {
    rc = run(m, argv[3], argc, argv, 4);
  } else if (!strcmp(argv[1], "embed")) {
    rc = embed(m, argv[3], argc, argv);
  } else if (!strcmp(argv[1], "template") || !strcmp(argv[1], "chat")) {
    ai_llm_msg msgs[2];
    size_t n = 0;
    bool chat = !strcmp(argv[1], "chat");
    if (!chat && argc > 4) msgs[n++] = (ai_llm_msg){"system", argv[4]};
    msgs[n++] = (ai_llm_msg){"user", argv[3]};
    if (ai_llm_apply_template(m, msgs, n, &prompt, &err)) {
      fprintf(stderr, "llm_probe: %s\n", err.message);
      rc = 1;
    } else if (chat) {
      rc = argc >= 5 ? run(m, (const char *)prompt.data, argc, argv, 4) : 2;
    } else {
      fwrite(prompt.data, 1, prompt.len, stdout);
    }
  } else {
    fprintf(stderr, "llm_probe: bad arguments\n");
    rc = 2;
  }
  wg_buf_free(&prompt);
  ai_llm_model_unref(m);
  return rc;
}
