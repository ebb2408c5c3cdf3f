/*
** chat: a WASI-NN guest in the manner of LlamaEdge's llama-chat, in C.
**
**   chat.wasm [--stream] [--max N] MODEL METADATA PROMPT
**
** load_by_name(MODEL), init_execution_context, set_input(1, METADATA JSON)
** unless METADATA is "", set_input(0, PROMPT as U8 [1]), then either
** compute + get_output(0) (the text, on stdout) or, with --stream, a loop of
** compute_single + get_output_single(0) writing each piece as it comes,
** until end of sequence (100), a full context (101) or N tokens. Then
** get_output(1) (or get_output_single(1)) on stderr as "usage: JSON", and
** fini_single after a stream. The first call that fails prints
** "NAME: errno E" on stderr and the guest exits with E (1..103).
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasi_nn.h"

/* LlamaEdge's output buffer size. */
#define MAX_BUFFER_SIZE (16384 * 15 + 128)
static uint8_t out[MAX_BUFFER_SIZE];

int main(int argc, char **argv) {
  int stream = 0;
  long max = -1;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (!strcmp(argv[i], "--stream")) stream = 1;
    else if (!strcmp(argv[i], "--max") && i + 1 < argc) max = strtol(argv[++i], NULL, 10);
  }
  if (argc - i != 3) {
    fprintf(stderr, "usage: chat [--stream] [--max N] MODEL METADATA PROMPT\n");
    return 2;
  }
  const char *model = argv[i], *meta = argv[i + 1], *prompt = argv[i + 2];
  uint32_t graph, ctx, n;
  check("load_by_name", nn_load_by_name(model, (uint32_t)strlen(model), &graph));
  check("init_execution_context", nn_init(graph, &ctx));
  if (meta[0]) set_text(ctx, 1, meta);
  set_text(ctx, 0, prompt);
  int32_t end = 0;
  if (!stream) {
    end = nn_compute(ctx);
    if (end != 0 && end != 101) check("compute", end);
    check("get_output(0)", nn_get_output(ctx, 0, out, sizeof out, &n));
    fwrite(out, 1, n, stdout);
    check("get_output(1)", nn_get_output(ctx, 1, out, sizeof out - 1, &n));
  } else {
    for (long k = 0; max < 0 || k < max; k++) {
      end = nn_compute_single(ctx);
      if (end != 0 && end != 100 && end != 101) check("compute_single", end);
      if (end == 101) break;
      check("get_output_single(0)", nn_get_output_single(ctx, 0, out, sizeof out, &n));
      fwrite(out, 1, n, stdout);
      fflush(stdout);
      if (end == 100) break;
    }
    check("get_output_single(1)", nn_get_output_single(ctx, 1, out, sizeof out - 1, &n));
  }
  out[n] = 0;
  fprintf(stderr, "end: %d\nusage: %s\n", (int)end, (const char *)out);
  if (stream) check("fini_single", nn_fini_single(ctx));
  check("finalize_execution_context", nn_finalize(ctx));
  check("unload", nn_unload(graph));
  return 0;
}
