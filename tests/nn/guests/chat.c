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

#define NN(name)                                                              \
  __attribute__((import_module("wasi_ephemeral_nn"), import_name(#name)))

NN(load_by_name) int32_t nn_load_by_name(const char *name, uint32_t len, uint32_t *graph);
NN(init_execution_context) int32_t nn_init(uint32_t graph, uint32_t *ctx);
NN(set_input) int32_t nn_set_input(uint32_t ctx, uint32_t index, const void *tensor);
NN(compute) int32_t nn_compute(uint32_t ctx);
NN(get_output) int32_t nn_get_output(uint32_t ctx, uint32_t index, uint8_t *out,
                                     uint32_t max, uint32_t *written);
NN(compute_single) int32_t nn_compute_single(uint32_t ctx);
NN(get_output_single) int32_t nn_get_output_single(uint32_t ctx, uint32_t index,
                                                   uint8_t *out, uint32_t max,
                                                   uint32_t *written);
NN(fini_single) int32_t nn_fini_single(uint32_t ctx);
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

/* LlamaEdge's output buffer size. */
#define MAX_BUFFER_SIZE (16384 * 15 + 128)
static uint8_t out[MAX_BUFFER_SIZE];

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
