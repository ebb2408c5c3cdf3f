/* The scripted WASI-NN backend of the ABI tests (see fake_backend.c). */
#ifndef WG_TESTS_NN_FAKE_BACKEND_H
#define WG_TESTS_NN_FAKE_BACKEND_H

#include "nn/nn_int.h"

typedef struct fake_params {
  float temp, top_p;
  int32_t top_k;
  uint32_t seed;
  bool ignore_eos;
  char grammar[256];
  int prompts;
} fake_params;

extern fake_params fake_last;   /* what the last prompt got */
extern int fake_open_count;     /* models opened so far */

const wg_nn_backend *fake_backend(void);

#endif
