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

#include "wasi_nn.h"

static uint8_t out[1 << 20];

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
