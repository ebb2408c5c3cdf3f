/*
** Decisions per second and p99 of rbac.wasm (app/rbac/allow) through
** wasmgate's policy evaluator: one warm pooled instance per thread, the
** heap reset between decisions. The same inputs as opa-js/bench.mjs.
** Usage: policy_rbac POLICY.wasm DATA.json N [AOT_CACHE_DIR]
** (prints one JSON line). With AOT_CACHE_DIR the policy is first compiled
** by the AOT tier (wasm2c + cc -O2, cached there; the build is not timed)
** and the decisions run on it ("impl": "wasmgate-aot").
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasmgate/policy.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return p;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void sink(void *user, const char *s, size_t n) {
  (void)s;
  *(size_t *)user += n;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: policy_rbac POLICY.wasm DATA.json [N]\n");
    return 2;
  }
  long n = argc > 3 ? strtol(argv[3], NULL, 10) : 200000;
  if (n <= 0) n = 200000;
  size_t wlen, dlen;
  char *wasm = slurp(argv[1], &wlen), *data = slurp(argv[2], &dlen);
  if (!wasm || !data) {
    fprintf(stderr, "policy_rbac: cannot read the inputs\n");
    return 1;
  }
  wg_policy_builtins *b = wg_policy_builtins_new();
  wg_policy_opts o = {0};
  o.data = data;
  o.data_len = dlen;
  wg_error err;
  wg_error_clear(&err);
  wg_policy *p = wg_policy_load((const uint8_t *)wasm, wlen, b, &o, &err);
  if (!p) {
    fprintf(stderr, "policy_rbac: %s\n", err.message);
    return 1;
  }
  wg_policy_aot *aot = NULL;
  if (argc > 4) {
    wg_policy_aot_config ac = {.cache_dir = argv[4]};
    if (!(aot = wg_policy_aot_new(&ac, &err)) ||
        wg_policy_aot_compile(aot, p, &err) != WG_OK) {
      fprintf(stderr, "policy_rbac: AOT: %s\n", err.message);
      return 1;
    }
  }
  static const char *inputs[] = {
      "{\"user\":\"alice\",\"action\":\"delete\",\"type\":\"dog\"}",
      "{\"user\":\"bob\",\"action\":\"update\",\"type\":\"finance\"}",
      "{\"user\":\"eve\",\"action\":\"update\",\"type\":\"dog\"}",
  };
  size_t lens[3], out = 0;
  for (int i = 0; i < 3; i++) lens[i] = strlen(inputs[i]);
  for (int i = 0; i < 20000; i++) {
    wg_policy_eval(p, "app/rbac/allow", inputs[i % 3], lens[i % 3], sink, &out,
                   &err);
  }
  uint64_t *lat = malloc((size_t)n * sizeof *lat);
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    uint64_t a = now_ns();
    if (wg_policy_eval(p, "app/rbac/allow", inputs[i % 3], lens[i % 3], sink,
                       &out, &err) != WG_OK) {
      fprintf(stderr, "policy_rbac: %s\n", err.message);
      return 1;
    }
    lat[i] = now_ns() - a;
  }
  uint64_t total = now_ns() - t0;
  qsort(lat, (size_t)n, sizeof *lat, cmp);
  printf("{\"impl\":\"%s\",\"n\":%ld,\"per_sec\":%.0f,\"mean_us\":%.3f,"
         "\"p50_us\":%.3f,\"p99_us\":%.3f}\n",
         aot ? "wasmgate-aot" : "wasmgate", n,
         (double)n / ((double)total * 1e-9), (double)total / (double)n / 1e3,
         (double)lat[n / 2] / 1e3, (double)lat[(size_t)((double)n * 0.99)] / 1e3);
  free(lat);
  wg_policy_release(p);
  wg_policy_aot_free(aot);
  wg_policy_builtins_free(b);
  free(wasm);
  free(data);
  return 0;
}
