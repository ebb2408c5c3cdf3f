/*
** The wasi_ephemeral_nn ABI against the scripted fake backend: every errno
** of shared/wasi-nn.md section 4.4 / the section 10 checklist, with exact
** values, called from guest code (guests/abi.wat) so that every pointer
** goes through the module's checks.
*/
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_backend.h"
#include "nn_test.h"

/* Guest memory layout of the tests. */
enum { OUT = 0x10, WRITTEN = 0x18, NAME = 0x100, T = 0x200, CFG = 0x2000,
       BUF = 0x4000, END = 65536 };

static char dir[] = "/tmp/wg-nn-abi-XXXXXX";
static wg_nn_host *host;

static int group_setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  host = wg_nn_host_new(fake_backend(), NULL);
  wg_error err;
  struct { const char *name, *file, *text; uint32_t ctx; } ms[] = {
      {"chat", "chat.gguf", "Hello", 0},
      {"loop", "loop.gguf", "LOOP", 1u << 30},
      {"junk", "junk.gguf", "JUNK", 0},
      {"secret", "secret.gguf", "s3cret", 0},
      {"small", "small.gguf", "abcdefghijklmnopqrstuvwxyz", 16},
      {"stop", "stop.gguf", "one two</s>three", 0},
  };
  for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
    wg_nn_model_cfg mc = {ms[i].name, nnt_write_file(dir, ms[i].file, ms[i].text),
                          ms[i].ctx, 0, 1};
    if (wg_nn_host_add(host, &mc, &err)) return -1;
  }
  wg_nn_model_cfg missing = {"missing", "/nonexistent/model.gguf", 0, 0, 1};
  if (wg_nn_host_add(host, &missing, &err)) return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  wg_nn_host_free(host);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *const tenant_models[] = {"chat", "loop", "junk", "small",
                                            "stop", "missing"};

static int env_setup(void **state) {
  nn_env *e = calloc(1, sizeof *e);
  wg_nn_config cfg = {host, tenant_models, 6, false, NULL, NULL};
  nnt_env_init(e, &cfg, 0);
  *state = e;
  return 0;
}

static int env_teardown(void **state) {
  nnt_env_free(*state);
  free(*state);
  return 0;
}

/* load_by_name(name) -> errno, graph id in *g. */
static uint32_t by_name(nn_env *e, const char *name, uint32_t *g) {
  nnt_put_str(e, NAME, name);
  nnt_put32(e, OUT, 0xdeadbeef);
  uint32_t r = nnt_call(e, NULL, "load_by_name", 3, NAME, (uint32_t)strlen(name), OUT);
  if (g) *g = nnt_get32(e, OUT);
  return r;
}

static uint32_t init_ctx(nn_env *e, uint32_t g, uint32_t *x) {
  nnt_put32(e, OUT, 0xdeadbeef);
  uint32_t r = nnt_call(e, NULL, "init_execution_context", 2, g, OUT);
  if (x) *x = nnt_get32(e, OUT);
  return r;
}

static uint32_t set_text(nn_env *e, uint32_t x, uint32_t index, const char *s) {
  nnt_tensor(e, T, 3, s, (uint32_t)strlen(s));
  return nnt_call(e, NULL, "set_input", 3, x, index, T);
}

/* get_output(index) into BUF (max bytes): errno; *n the written size. */
static uint32_t output(nn_env *e, const char *fn, uint32_t x, uint32_t index,
                       uint32_t max, uint32_t *n) {
  nnt_put32(e, WRITTEN, 0xdeadbeef);
  uint32_t r = nnt_call(e, NULL, fn, 5, x, index, BUF, max, WRITTEN);
  *n = nnt_get32(e, WRITTEN);
  return r;
}

static void assert_output(nn_env *e, uint32_t x, uint32_t index, const char *want) {
  uint32_t n;
  assert_int_equal(output(e, "get_output", x, index, 4096, &n), 0);
  if (n != strlen(want) || memcmp(e->m + BUF, want, n))
    fail_msg("output %u: '%.*s', want '%s'", index, (int)n, e->m + BUF, want);
}

/* A ready context on model `name` with prompt `prompt`. */
static uint32_t ready(nn_env *e, const char *name, const char *prompt) {
  uint32_t g, x;
  assert_int_equal(by_name(e, name, &g), 0);
  assert_int_equal(init_ctx(e, g, &x), 0);
  assert_int_equal(set_text(e, x, 0, prompt), 0);
  return x;
}

/* ------------------------------------------------------------------ */

static void resolve_all_twelve(void **state) {
  nn_env *e = *state;
  static const struct { const char *name; uint32_t n; } fs[] = {
      {"load", 5}, {"load_by_name", 3}, {"load_by_name_with_config", 5},
      {"init_execution_context", 2}, {"set_input", 3}, {"compute", 1},
      {"get_output", 5}, {"compute_single", 1}, {"get_output_single", 5},
      {"fini_single", 1}, {"unload", 1}, {"finalize_execution_context", 1}};
  uint8_t i32s[6] = {WG_I32, WG_I32, WG_I32, WG_I32, WG_I32, WG_I32};
  uint8_t i64s[6] = {WG_I64, WG_I64, WG_I64, WG_I64, WG_I64, WG_I64};
  wg_name mod = {WG_NN_MODULE, (uint32_t)strlen(WG_NN_MODULE)};
  for (size_t i = 0; i < 12; i++) {
    wg_name nm = {fs[i].name, (uint32_t)strlen(fs[i].name)};
    wg_externtype t = {.kind = WG_EXTERN_FUNC};
    t.of.func = (wg_functype){fs[i].n, 1, i32s, i32s};
    wg_extern out;
    assert_int_equal(wg_nn_resolve(e->nn, mod, nm, &t, &out), WG_OK);
    t.of.func.nparams = fs[i].n + 1;
    assert_int_equal(wg_nn_resolve(e->nn, mod, nm, &t, &out), WG_EIMPORTTYPE);
    t.of.func = (wg_functype){fs[i].n, 1, i64s, i32s};
    assert_int_equal(wg_nn_resolve(e->nn, mod, nm, &t, &out), WG_EIMPORTTYPE);
  }
  wg_externtype t = {.kind = WG_EXTERN_FUNC};
  t.of.func = (wg_functype){1, 1, i32s, i32s};
  wg_extern out;
  assert_int_equal(wg_nn_resolve(e->nn, mod, (wg_name){"set_input_string", 16}, &t, &out),
                   WG_EUNKNOWNIMPORT);
  assert_int_equal(wg_nn_resolve(e->nn, (wg_name){"wasi_nn", 7}, (wg_name){"compute", 7},
                                 &t, &out),
                   WG_EUNKNOWNIMPORT);
  wg_module *m = nnt_load_guest("abi.wasm");
  assert_true(wg_nn_module_uses(m));
  wg_module_release(m);
}

static void load_by_name_errors(void **state) {
  nn_env *e = *state;
  uint32_t g;
  assert_int_equal(by_name(e, "nope", &g), 8);
  assert_int_equal(g, 0xdeadbeef);               /* nothing written */
  assert_int_equal(by_name(e, "secret", &g), 8);  /* the host's, not ours */
  assert_int_equal(by_name(e, "chatx", &g), 8);
  assert_int_equal(by_name(e, "cha", &g), 8);
  assert_int_equal(by_name(e, "missing", &g), 103);
  assert_int_equal(by_name(e, "junk", &g), 1);
  assert_int_equal(g, 0xdeadbeef);
  /* pointers: name out of bounds, overflowing, out pointer out of bounds */
  assert_int_equal(nnt_call(e, NULL, "load_by_name", 3, END - 2, 4, OUT), 1);
  assert_int_equal(nnt_call(e, NULL, "load_by_name", 3, 0xfffffffeu, 4, OUT), 1);
  assert_int_equal(nnt_call(e, NULL, "load_by_name", 3, NAME, 0xffffffffu, OUT), 1);
  nnt_put_str(e, NAME, "chat");
  assert_int_equal(nnt_call(e, NULL, "load_by_name", 3, NAME, 4, END - 3), 1);
  assert_int_equal(nnt_call(e, NULL, "load_by_name", 3, NAME, 4, 0xffffffffu), 1);
  /* failures made no handle: the first graph is 0 */
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(g, 0);
}

static void load_by_name_caches(void **state) {
  nn_env *e = *state;
  uint32_t g1, g2, g3;
  assert_int_equal(by_name(e, "chat", &g1), 0);
  assert_int_equal(by_name(e, "chat", &g2), 0);
  assert_int_equal(g1, g2);
  /* with_config on a cached name: same id, config (even invalid) ignored */
  nnt_put_str(e, NAME, "chat");
  nnt_put_str(e, CFG, "{not json");
  assert_int_equal(nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG, 9, OUT), 0);
  assert_int_equal(nnt_get32(e, OUT), g1);
  /* unload evicts: the next load is a new graph */
  assert_int_equal(nnt_call(e, NULL, "unload", 1, g1), 0);
  assert_int_equal(by_name(e, "chat", &g3), 0);
  assert_int_not_equal(g3, g1);
}

static void load_with_config_errors(void **state) {
  nn_env *e = *state;
  nnt_put_str(e, NAME, "chat");
  const char *bad[] = {"{not json", "[1,2]", "\"x\"", ""};
  for (size_t i = 0; i < 4; i++) {
    nnt_put_str(e, CFG, bad[i]);
    assert_int_equal(nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG,
                              (uint32_t)strlen(bad[i]), OUT), 2);
  }
  const char *wrong[] = {"{\"n-predict\":\"5\"}", "{\"ctx-size\":1.5}",
                         "{\"temp\":\"hot\"}", "{\"stream-stdout\":1}",
                         "{\"reverse-prompt\":3}", "{\"ctx-size\":-1}",
                         "{\"mmproj\":\"/etc/passwd\"}", "{\"image\":\"/x.png\"}",
                         "{\"model-vocoder\":\"/v.gguf\"}", "{\"mirostat\":3}",
                         "{\"json-schema\":\"bad\"}", "{\"seed\":-2}",
                         "{\"seed\":4294967296}"};
  for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
    nnt_put_str(e, CFG, wrong[i]);
    uint32_t r = nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG,
                          (uint32_t)strlen(wrong[i]), OUT);
    if (r != 1) fail_msg("%s gave %u, want 1", wrong[i], r);
  }
  /* every known key, given a value of another type: 1 (b bool, i integer,
  ** f number, s string) */
  static const char *const keys[] = {
      "batch-size:i", "ctx-size:i", "embd-normalize:i", "embedding:b",
      "enable-debug-log:b", "enable-log:b", "flash-attn:s", "frequency-penalty:f",
      "grammar:s", "ignore-eos:b", "image:s", "json-schema:s", "last-n-penalty:i",
      "main-gpu:i", "min-p:f", "mirostat:i", "mirostat-eta:f", "mirostat-tau:f",
      "mmproj:s", "model-vocoder:s", "n-gpu-layers:i", "n-predict:i",
      "presence-penalty:f", "repeat-penalty:f", "reverse-prompt:s", "seed:i",
      "split-mode:s", "stream-stdout:b", "temp:f", "tensor-split:s", "threads:i",
      "threads-batch:i", "top-k:i", "top-p:f", "tts:b", "typ-p:f",
      "ubatch-size:i", "use-mlock:b", "use-mmap:b"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    char cfg[128], name[64];
    const char *colon = strchr(keys[i], ':');
    snprintf(name, sizeof name, "%.*s", (int)(colon - keys[i]), keys[i]);
    const char *wrongv = colon[1] == 's' ? "true" : "\"x\"";
    snprintf(cfg, sizeof cfg, "{\"%s\":%s}", name, wrongv);
    nnt_put_str(e, CFG, cfg);
    uint32_t r = nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG,
                          (uint32_t)strlen(cfg), OUT);
    if (r != 1) fail_msg("%s gave %u, want 1", cfg, r);
    if (colon[1] == 'i') {     /* a float is not an integer */
      snprintf(cfg, sizeof cfg, "{\"%s\":1.5}", name);
      nnt_put_str(e, CFG, cfg);
      r = nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG,
                   (uint32_t)strlen(cfg), OUT);
      if (r != 1) fail_msg("%s gave %u, want 1", cfg, r);
    }
  }
  /* config pointer checks */
  assert_int_equal(nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, END - 1, 2, OUT), 1);
  assert_int_equal(nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, 0xffffff00u,
                            0x200, OUT), 1);
  /* unknown keys, empty host paths and known keys: fine; first graph is 0 */
  const char *ok = "{\"unknown-key\":[1],\"mmproj\":\"\",\"n-gpu-layers\":100,"
                   "\"ctx-size\":4096,\"temp\":0,\"top-p\":1,\"seed\":7,"
                   "\"embedding\":false,\"enable-log\":true}";
  nnt_put_str(e, CFG, ok);
  assert_int_equal(nnt_call(e, NULL, "load_by_name_with_config", 5, NAME, 4, CFG,
                            (uint32_t)strlen(ok), OUT), 0);
  assert_int_equal(nnt_get32(e, OUT), 0);
}

static void context_handles_never_reused(void **state) {
  nn_env *e = *state;
  uint32_t g, x0, x1, x2;
  assert_int_equal(init_ctx(e, 0, &x0), 1);       /* no graph yet */
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g + 1, &x0), 1);
  assert_int_equal(x0, 0xdeadbeef);
  assert_int_equal(nnt_call(e, NULL, "init_execution_context", 2, g, END - 2), 1);
  assert_int_equal(init_ctx(e, g, &x0), 0);
  assert_int_equal(init_ctx(e, g, &x1), 0);
  assert_int_equal(x0, 0);
  assert_int_equal(x1, 1);
  assert_int_equal(nnt_call(e, NULL, "finalize_execution_context", 1, x0), 0);
  assert_int_equal(nnt_call(e, NULL, "finalize_execution_context", 1, x0), 1);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x0), 1);       /* stale */
  assert_int_equal(set_text(e, x0, 0, "hi"), 1);
  uint32_t n;
  assert_int_equal(output(e, "get_output", x0, 0, 16, &n), 1);
  assert_int_equal(nnt_call(e, NULL, "fini_single", 1, x0), 1);
  assert_int_equal(init_ctx(e, g, &x2), 0);
  assert_int_equal(x2, 2);                        /* never the freed 0 */
  assert_int_equal(nnt_call(e, NULL, "unload", 1, g + 7), 1);
  assert_int_equal(nnt_call(e, NULL, "finalize_execution_context", 1, 99), 1);
}

static void set_input_tensors(void **state) {
  nn_env *e = *state;
  uint32_t g, x;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g, &x), 0);
  /* U8 dims [1], any length; F16, F32, I32 too; type read from the low byte */
  static const uint32_t ok_types[] = {3, 0, 1, 4, 0xffffff03u};
  for (size_t i = 0; i < 5; i++) {
    nnt_tensor(e, T, ok_types[i], "a prompt of any length", 22);
    assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 0);
  }
  static const uint32_t bad_types[] = {2, 5, 6, 9};    /* F64, I64, unknown */
  for (size_t i = 0; i < 4; i++) {
    nnt_tensor(e, T, bad_types[i], "x", 1);
    assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 1);
  }
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, END - 19), 1);
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, 0xfffffff0u), 1);
  nnt_tensor(e, T, 3, "x", 1);
  nnt_put32(e, T, END - 4);                       /* dims: 2 x u32 past the end */
  nnt_put32(e, T + 4, 2);
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 1);
  nnt_tensor(e, T, 3, "x", 1);
  nnt_put32(e, T + 4, 0x40000001u);               /* dims_len * 4 overflows u32 */
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 1);
  nnt_tensor(e, T, 3, "x", 1);
  nnt_put32(e, T + 12, 0xffffff00u);              /* data overflowing */
  nnt_put32(e, T + 16, 0x1000);
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 1);
  nnt_tensor(e, T, 3, "x", 1);
  nnt_put32(e, T + 16, END);                      /* data too long */
  assert_int_equal(nnt_call(e, NULL, "set_input", 3, x, 0, T), 1);
  /* metadata: malformed 2, wrong type 1, host path 1, fine 0 */
  assert_int_equal(set_text(e, x, 1, "{\"n-predict\":"), 2);
  assert_int_equal(set_text(e, x, 1, "{\"n-predict\":true}"), 1);
  assert_int_equal(set_text(e, x, 1, "{\"image\":\"/etc/shadow\"}"), 1);
  assert_int_equal(set_text(e, x, 1, "{\"n-predict\":3,\"whatever\":null}"), 0);
}

static void compute_and_outputs(void **state) {
  nn_env *e = *state;
  uint32_t g, x;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g, &x), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 1);   /* no input */
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 1);
  assert_int_equal(set_text(e, x, 0, "Hi there"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_output(e, x, 0, "Hello");
  assert_output(e, x, 7, "Hello");                /* any index but 1 */
  assert_output(e, x, 1, "{\"input_tokens\":8,\"output_tokens\":6,"
                         "\"llama_build_number\":42,\"llama_commit\":\"fakecommit\"}");
  uint32_t n;
  memset(e->m + BUF, 0x55, 8);
  assert_int_equal(output(e, "get_output", x, 0, 4, &n), 7);
  assert_int_equal(n, 5);                         /* the size needed */
  assert_int_equal(e->m[BUF], 0x55);              /* nothing copied */
  assert_int_equal(output(e, "get_output", x, 1, 10, &n), 7);
  assert_int_equal(n, 88);
  assert_int_equal(output(e, "get_output", x, 0, 5, &n), 0);
  assert_int_equal(n, 5);
  /* bad buffers: 1, nothing written */
  nnt_put32(e, WRITTEN, 0xdeadbeef);
  assert_int_equal(nnt_call(e, NULL, "get_output", 5, x, 0, END - 2, 16, WRITTEN), 1);
  assert_int_equal(nnt_call(e, NULL, "get_output", 5, x, 0, 0xfffffff0u, 0x20, WRITTEN), 1);
  assert_int_equal(nnt_call(e, NULL, "get_output", 5, x, 0, BUF, 16, END - 1), 1);
  assert_int_equal(nnt_get32(e, WRITTEN), 0xdeadbeef);
  /* compute again: outputs replaced, not appended */
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_output(e, x, 0, "Hello");
  /* n-predict per context */
  assert_int_equal(set_text(e, x, 1, "{\"n-predict\":2}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_output(e, x, 0, "He");
  /* a decode failure: 5 */
  assert_int_equal(set_text(e, x, 0, "FAIL"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 5);
}

static void compute_context_full_and_long_prompt(void **state) {
  nn_env *e = *state;
  /* ctx 16: a 10-token prompt leaves 6 tokens, then 101, output kept */
  uint32_t x = ready(e, "small", "0123456789");
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 101);
  assert_output(e, x, 0, "abcdef");
  assert_output(e, x, 1, "{\"input_tokens\":10,\"output_tokens\":6,"
                         "\"llama_build_number\":42,\"llama_commit\":\"fakecommit\"}");
  /* prompt tokens > ctx - 4: 102 */
  assert_int_equal(set_text(e, x, 0, "0123456789abc"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 102);
  assert_int_equal(set_text(e, x, 0, "0123456789ab"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 101);
  /* the guest's ctx-size lowers the window (never raises it) */
  uint32_t y = ready(e, "chat", "0123456789");
  assert_int_equal(set_text(e, y, 1, "{\"ctx-size\":14}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 101);
  assert_output(e, y, 0, "Hell");
  assert_int_equal(set_text(e, y, 1, "{\"ctx-size\":13}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 102);
  assert_int_equal(set_text(e, y, 1, "{\"ctx-size\":100000}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 0);
  assert_output(e, y, 0, "Hello");
}

static void compute_reverse_prompt(void **state) {
  nn_env *e = *state;
  uint32_t x = ready(e, "stop", "p");
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_output(e, x, 0, "one two</s>three");
  assert_int_equal(set_text(e, x, 1, "{\"reverse-prompt\":\"</s>\"}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_output(e, x, 0, "one two</s>");
}

static void streaming(void **state) {
  nn_env *e = *state;
  uint32_t x = ready(e, "chat", "Hi");
  const char *want = "Hello";
  uint32_t n;
  assert_int_equal(output(e, "get_output_single", x, 0, 16, &n), 0);
  assert_int_equal(n, 0);                         /* no token yet */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 0);
    assert_int_equal(output(e, "get_output_single", x, 0, 16, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e->m[BUF], want[i]);         /* the last piece only */
  }
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 100);
  assert_int_equal(output(e, "get_output_single", x, 0, 16, &n), 0);
  assert_int_equal(n, 0);                         /* the EOG piece: empty */
  assert_int_equal(output(e, "get_output_single", x, 1, 4096, &n), 0);
  assert_memory_equal(e->m + BUF, "{\"input_tokens\":2,\"output_tokens\":6,", 36);
  assert_output(e, x, 0, "Hello");
  assert_int_equal(output(e, "get_output_single", x, 0, 0, &n), 0);
  assert_int_equal(nnt_call(e, NULL, "fini_single", 1, x), 0);
  assert_output(e, x, 0, "");
  /* a new stream after fini_single starts from the prompt again */
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 0);
  assert_output(e, x, 0, "H");
  /* streaming ignores n-predict; context full gives 101 */
  uint32_t y = ready(e, "small", "0123456789ab");
  assert_int_equal(set_text(e, y, 1, "{\"n-predict\":1}"), 0);
  assert_int_equal(set_text(e, y, 0, "0123456789ab"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 101);
  assert_output(e, y, 0, "abcd");
  assert_int_equal(set_text(e, y, 0, "0123456789abcdef"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, y), 102);
}

static void unload_detaches(void **state) {
  nn_env *e = *state;
  uint32_t g, x;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g, &x), 0);
  assert_int_equal(set_text(e, x, 0, "Hi"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_int_equal(nnt_call(e, NULL, "unload", 1, g), 0);
  assert_int_equal(nnt_call(e, NULL, "unload", 1, g), 1);
  assert_int_equal(init_ctx(e, g, NULL), 1);
  /* the context lives on: outputs readable, no new work */
  assert_output(e, x, 0, "Hello");
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 1);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 1);
  assert_int_equal(set_text(e, x, 0, "Hi"), 1);
  assert_int_equal(nnt_call(e, NULL, "fini_single", 1, x), 0);
  assert_int_equal(nnt_call(e, NULL, "finalize_execution_context", 1, x), 0);
}

static void one_slot_busy(void **state) {
  nn_env *e = *state;
  /* the model has one slot: a stream holds it, a second context gets 4 */
  uint32_t x = ready(e, "chat", "Hi");
  uint32_t g, y;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g, &y), 0);
  assert_int_equal(set_text(e, y, 0, "Yo"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute_single", 1, x), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 4);
  assert_int_equal(nnt_call(e, NULL, "fini_single", 1, x), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 0);
  assert_output(e, y, 0, "Hello");
}

static void metadata_reaches_sampler(void **state) {
  nn_env *e = *state;
  uint32_t x = ready(e, "chat", "Hi");
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_true(fake_last.temp > 0.79f && fake_last.temp < 0.81f);  /* defaults */
  assert_int_equal(fake_last.top_k, 40);
  assert_int_equal(set_text(e, x, 1, "{\"temp\":0.5,\"top-p\":0.25,\"top-k\":3,"
                                     "\"seed\":1234,\"ignore-eos\":true,"
                                     "\"grammar\":\"root ::= \\\"a\\\"\"}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_true(fake_last.temp == 0.5f);
  assert_true(fake_last.top_p == 0.25f);
  assert_int_equal(fake_last.top_k, 3);
  assert_int_equal(fake_last.seed, 1234);
  assert_true(fake_last.ignore_eos);
  assert_string_equal(fake_last.grammar, "root ::= \"a\"");
  assert_int_equal(set_text(e, x, 1, "{\"json-schema\":\"{\\\"type\\\":\\\"object\\\"}\"}"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_string_equal(fake_last.grammar, "root ::= \"{}\" # {\"type\":\"object\"}");
  /* a refused key changes nothing */
  assert_int_equal(set_text(e, x, 1, "{\"temp\":0.1,\"mmproj\":\"/p\"}"), 1);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, x), 0);
  assert_true(fake_last.temp == 0.5f);
  /* new contexts of the graph inherit the graph's options */
  uint32_t g, y;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(init_ctx(e, g, &y), 0);
  assert_int_equal(set_text(e, y, 0, "Hi"), 0);
  assert_int_equal(nnt_call(e, NULL, "compute", 1, y), 0);
  assert_int_equal(fake_last.seed, 1234);
}

static void *interrupt_later(void *arg) {
  struct timespec t = {0, 50 * 1000000};
  nanosleep(&t, NULL);
  wg_store_interrupt(arg);
  return NULL;
}

static void interrupt_stops_compute(void **state) {
  nn_env *e = *state;
  uint32_t x = ready(e, "loop", "go");
  pthread_t th;
  pthread_create(&th, NULL, interrupt_later, e->s);
  wg_err trap;
  nnt_call(e, &trap, "compute", 1, x);
  pthread_join(th, NULL);
  assert_int_equal(trap, WG_TRAP_INTERRUPT);
  assert_non_null(strstr(wg_store_trap(e->s)->message, "wasi_ephemeral_nn.compute"));
}

static void deadline_stops_compute(void **state) {
  (void)state;
  /* no watchdog here: the slot's deadline (+ grace) ends the decode */
  nn_env e;
  wg_nn_config cfg = {host, NULL, 0, true, NULL, NULL};
  nnt_env_init(&e, &cfg, 0);
  uint32_t x = ready(&e, "loop", "go");
  wg_err trap;
  nnt_call(&e, &trap, "compute_single", 1, x);      /* no deadline yet: fine */
  assert_int_equal(trap, WG_OK);
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  uint64_t now = (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
  wg_nn_bind_store(e.nn, e.s, now + 30);            /* the loop never ends by itself */
  nnt_call(&e, &trap, "compute", 1, x);
  assert_int_equal(trap, WG_TRAP_INTERRUPT);
  nnt_env_free(&e);
}

static bool quota_left;
static uint32_t charged_prompt, charged_completion;

static bool quota(void *user, uint32_t prompt, uint32_t completion) {
  (void)user;
  charged_prompt += prompt;
  charged_completion += completion;
  return charged_completion < 3 || quota_left;
}

static void tokens_charged(void **state) {
  (void)state;
  nn_env e;
  wg_nn_config cfg = {host, NULL, 0, true, quota, NULL};
  nnt_env_init(&e, &cfg, 0);
  quota_left = true;
  uint32_t x = ready(&e, "chat", "abc");
  assert_int_equal(nnt_call(&e, NULL, "compute", 1, x), 0);
  assert_int_equal(charged_prompt, 3);
  assert_int_equal(charged_completion, 6);
  uint64_t p, c;
  wg_nn_usage(e.nn, &p, &c);
  assert_int_equal(p, 3);
  assert_int_equal(c, 6);
  quota_left = false;           /* spent: the generation stops with 4 */
  assert_int_equal(nnt_call(&e, NULL, "compute", 1, x), 4);
  assert_output(&e, x, 0, "");
  nnt_env_free(&e);
}

static void no_memory_traps(void **state) {
  (void)state;
  wg_module *m = nnt_load_guest("nomem.wasm");
  assert_non_null(m);
  wg_nn_config cfg = {host, NULL, 0, true, NULL, NULL};
  wg_nn *nn = wg_nn_new(&cfg);
  wg_store_config sc = {.fuel = -1};
  wg_store *s = wg_store_new(&sc);
  wg_nn_bind_store(nn, s, 0);
  wg_error err;
  wg_instance *inst = wg_instance_new(s, m, wg_nn_resolve, nn, &err);
  assert_non_null(inst);
  wg_extern ex;
  assert_int_equal(wg_instance_export(inst, (wg_name){"compute", 7}, &ex), WG_OK);
  wg_val a = {.type = WG_I32}, r;
  assert_int_equal(wg_call(s, ex.of.func, &a, 1, &r, 1), WG_TRAP_HOST);
  assert_string_equal(wg_store_trap(s)->message,
                      "wasi_ephemeral_nn.compute: the caller has no memory");
  wg_store_free(s);
  wg_nn_free(nn);
  wg_module_release(m);
}

/* load from guest bytes */
static uint32_t load_bytes(nn_env *e, const char *bytes, const char *meta,
                           uint32_t enc, uint32_t target) {
  nnt_put_str(e, CFG, bytes);
  nnt_put_str(e, CFG + 0x800, meta ? meta : "");
  nnt_put32(e, NAME, CFG);
  nnt_put32(e, NAME + 4, (uint32_t)strlen(bytes));
  nnt_put32(e, NAME + 8, CFG + 0x800);
  nnt_put32(e, NAME + 12, meta ? (uint32_t)strlen(meta) : 0);
  return nnt_call(e, NULL, "load", 5, NAME, meta ? 2 : 1, enc, target, OUT);
}

static void guest_load(void **state) {
  nn_env *e = *state;
  /* refused unless the host allows it */
  assert_int_equal(load_bytes(e, "Bytes reply", NULL, 6, 0), 1);
  wg_nn_host_config hc = {.allow_guest_load = true, .max_guest_model_bytes = 64};
  wg_nn_host *h2 = wg_nn_host_new(fake_backend(), &hc);
  nn_env f;
  wg_nn_config cfg = {h2, NULL, 0, true, NULL, NULL};
  nnt_env_init(&f, &cfg, 0);
  assert_int_equal(load_bytes(&f, "Bytes reply", NULL, 6, 3), 1);   /* AUTO */
  assert_int_equal(load_bytes(&f, "Bytes reply", NULL, 8, 0), 2);
  assert_int_equal(load_bytes(&f, "Bytes reply", NULL, 15, 0), 2);
  assert_int_equal(load_bytes(&f, "Bytes reply", NULL, 0, 0), 1);   /* OpenVINO */
  assert_int_equal(load_bytes(&f, "preload:/etc/passwd", NULL, 6, 0), 1);
  assert_int_equal(load_bytes(&f, "JUNK bytes", NULL, 6, 0), 1);
  assert_int_equal(load_bytes(&f, "Bytes reply", "{\"temp\":\"x\"}", 6, 0), 1);
  assert_int_equal(load_bytes(&f, "Bytes reply", "{", 6, 0), 2);
  char big[80];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  assert_int_equal(load_bytes(&f, big, NULL, 6, 0), 7);
  assert_int_equal(nnt_call(&f, NULL, "load", 5, NAME, 0, 6, 0, OUT), 1);
  assert_int_equal(nnt_call(&f, NULL, "load", 5, END - 8, 2, 6, 0, OUT), 1);
  assert_int_equal(nnt_call(&f, NULL, "load", 5, NAME, 0x20000000u, 6, 0, OUT), 1);
  nnt_put32(&f, NAME, 0xfffffff0u);               /* builder slice overflows */
  nnt_put32(&f, NAME + 4, 0x100);
  assert_int_equal(nnt_call(&f, NULL, "load", 5, NAME, 1, 6, 0, OUT), 1);
  assert_int_equal(load_bytes(&f, "Bytes reply", "{\"n-predict\":5}", 6, 2), 0);
  uint32_t g = nnt_get32(&f, OUT), x;
  assert_int_equal(g, 0);
  assert_int_equal(init_ctx(&f, g, &x), 0);
  assert_int_equal(set_text(&f, x, 0, "Hi"), 0);
  assert_int_equal(nnt_call(&f, NULL, "compute", 1, x), 0);
  assert_output(&f, x, 0, "Bytes");
  assert_int_equal(load_bytes(&f, "Other", NULL, 5, 1), 0);   /* autodetect */
  nnt_env_free(&f);
  wg_nn_host_free(h2);
}

static void models_open_once(void **state) {
  nn_env *e = *state;
  int before = fake_open_count;
  uint32_t g;
  assert_int_equal(by_name(e, "chat", &g), 0);
  assert_int_equal(nnt_call(e, NULL, "unload", 1, g), 0);
  assert_int_equal(by_name(e, "chat", &g), 0);
  nn_env f;
  wg_nn_config cfg = {host, NULL, 0, true, NULL, NULL};
  nnt_env_init(&f, &cfg, 0);
  assert_int_equal(by_name(&f, "chat", &g), 0);
  assert_int_equal(by_name(&f, "secret", &g), 0);  /* all_models */
  nnt_env_free(&f);
  /* chat was opened by an earlier test or here, once; secret once */
  assert_true(fake_open_count - before <= 2);
}

int main(int argc, char **argv) {
  /* --proxy: every case again through wg_nn_proxy and wg_nn_serve */
  nnt_proxy = argc > 1 && !strcmp(argv[1], "--proxy");
#define T(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
  const struct CMUnitTest tests[] = {
      T(resolve_all_twelve),
      T(load_by_name_errors),
      T(load_by_name_caches),
      T(load_with_config_errors),
      T(context_handles_never_reused),
      T(set_input_tensors),
      T(compute_and_outputs),
      T(compute_context_full_and_long_prompt),
      T(compute_reverse_prompt),
      T(streaming),
      T(unload_detaches),
      T(one_slot_busy),
      T(metadata_reaches_sampler),
      T(interrupt_stops_compute),
      T(deadline_stops_compute),
      T(tokens_charged),
      T(no_memory_traps),
      T(guest_load),
      T(models_open_once),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
