/*
** embed: a WASI-NN guest in the manner of LlamaEdge's embedding path, in C.
**
**   embed.wasm [--single] [--config] MODEL METADATA PROMPT [METADATA2]
**
** load_by_name(MODEL), init_execution_context, set_input(1, METADATA JSON)
** (which turns on `embedding`) -- or with --config, as LlamaEdge does it,
** load_by_name_with_config(MODEL, METADATA) and no set_input(1) --,
** set_input(0, PROMPT as U8 [1]), compute
** (or compute_single with --single), then get_output(0) on stdout (the
** embedding JSON) and get_output(1) on stderr as "usage: JSON". With
** METADATA2, the same context then gets set_input(1, METADATA2) (e.g.
** embedding off) and compute again; its output 0 follows on stdout after
** a newline. The first call that fails prints "NAME: errno E" on stderr and
** the guest exits with E (1..103).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NN(name)                                                              \
  __attribute__((import_module("wasi_ephemeral_nn"), import_name(#name)))

NN(load_by_name) int32_t nn_load_by_name(const char *name, uint32_t len, uint32_t *graph);
NN(load_by_name_with_config) int32_t nn_load_by_name_with_config(
    const char *name, uint32_t len, const char *cfg, uint32_t cfglen, uint32_t *graph);
NN(init_execution_context) int32_t nn_init(uint32_t graph, uint32_t *ctx);
NN(set_input) int32_t nn_set_input(uint32_t ctx, uint32_t index, const void *tensor);
NN(compute) int32_t nn_compute(uint32_t ctx);
NN(compute_single) int32_t nn_compute_single(uint32_t ctx);
NN(get_output) int32_t nn_get_output(uint32_t ctx, uint32_t index, uint8_t *out,
                                     uint32_t max, uint32_t *written);
NN(finalize_execution_context) int32_t nn_finalize(uint32_t ctx);
NN(unload) int32_t nn_unload(uint32_t graph);

/* The tensor layout of the ABI (20 bytes). */
typedef struct tensor {
  const uint32_t *dims;
  uint32_t ndims;
  uint32_t type;          /* 3: U8 */
  const void *data;
  uint32_t len;
} tensor;

_Static_assert(sizeof(tensor) == 20, "the ABI's tensor is 20 bytes");

static uint8_t out[1 << 20];

static void check(const char *what, int32_t e) {
  if (e == 0) return;
  fprintf(stderr, "%s: errno %d\n", what, (int)e);
  exit(e);
}

static void set_text(uint32_t ctx, uint32_t index, const char *s) {
  static const uint32_t dims[1] = {1};
  tensor t = {dims, 1, 3, s, (uint32_t)strlen(s)};
  check(index ? "set_input(1)" : "set_input(0)", nn_set_input(ctx, index, &t));
}

int main(int argc, char **argv) {
  int single = 0, config = 0, i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (!strcmp(argv[i], "--single")) single = 1;
    else if (!strcmp(argv[i], "--config")) config = 1;
  }
  if (argc - i != 3 && argc - i != 4) {
    fprintf(stderr, "usage: embed [--single] [--config] MODEL METADATA PROMPT "
                    "[METADATA2]\n");
    return 2;
  }
  const char *model = argv[i], *meta = argv[i + 1], *prompt = argv[i + 2];
  uint32_t graph, ctx, n;
  if (config)
    check("load_by_name_with_config",
          nn_load_by_name_with_config(model, (uint32_t)strlen(model), meta,
                                      (uint32_t)strlen(meta), &graph));
  else
    check("load_by_name", nn_load_by_name(model, (uint32_t)strlen(model), &graph));
  check("init_execution_context", nn_init(graph, &ctx));
  if (!config) set_text(ctx, 1, meta);
  set_text(ctx, 0, prompt);
  if (single) check("compute_single", nn_compute_single(ctx));
  else check("compute", nn_compute(ctx));
  check("get_output(0)", nn_get_output(ctx, 0, out, sizeof out, &n));
  fwrite(out, 1, n, stdout);
  check("get_output(1)", nn_get_output(ctx, 1, out, sizeof out - 1, &n));
  out[n] = 0;
  fprintf(stderr, "usage: %s\n", (const char *)out);
  if (argc - i == 4) {
    set_text(ctx, 1, argv[i + 3]);
    check("compute(2)", nn_compute(ctx));
    check("get_output(0)", nn_get_output(ctx, 0, out, sizeof out, &n));
    putchar('\n');
    fwrite(out, 1, n, stdout);
  }
  check("finalize_execution_context", nn_finalize(ctx));
  check("unload", nn_unload(graph));
  return 0;
}
