/*
** wasi_ephemeral_nn as the test guests call it: the functions of
** ../shared/wasi-nn.md (WasmEdge's ABI) and the 20-byte tensor (an import
** a guest never calls is not imported), and the guests' two helpers:
** check (the first failing call prints "NAME: errno E" on stderr and the
** guest exits with E) and set_text (an input tensor of U8 [1]).
*/
#ifndef WG_TEST_GUEST_WASI_NN_H
#define WG_TEST_GUEST_WASI_NN_H
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

#endif
