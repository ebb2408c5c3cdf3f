/* --nn-preload parsing (wg_nn_parse_preload) and the host's model table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "wasmgate/nn.h"

static void check_ok(const char *spec, const char *name, const char *path) {
  char buf[512];
  wg_nn_model_cfg m;
  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(wg_nn_parse_preload(spec, buf, sizeof buf, &m, &err), WG_OK);
  assert_string_equal(m.name, name);
  assert_string_equal(m.path, path);
}

static void check_bad(const char *spec, const char *message) {
  char buf[512];
  wg_nn_model_cfg m;
  wg_error err;
  wg_error_clear(&err);
  assert_int_equal(wg_nn_parse_preload(spec, buf, sizeof buf, &m, &err), WG_EINVAL);
  assert_string_equal(err.message, message);
}

static void preload_good(void **state) {
  (void)state;
  check_ok("default:GGML:AUTO:model.gguf", "default", "model.gguf");
  check_ok("default:ggml:auto:/m/model.gguf", "default", "/m/model.gguf");
  check_ok("chat:GgMl:CPU:C:\\models\\a.gguf", "chat", "C:\\models\\a.gguf");
  check_ok("e:AUTODETECT:gpu:/a:b:c.gguf", "e", "/a:b:c.gguf");
  check_ok("x:ggml:TPU:rel", "x", "rel");
}

static void preload_bad(void **state) {
  (void)state;
  check_bad("default", "'default' is not NAME:ENCODING:TARGET:PATH");
  check_bad("default:GGML:AUTO", "'default:GGML:AUTO' is not NAME:ENCODING:TARGET:PATH");
  check_bad(":GGML:AUTO:m.gguf", "empty model name in ':GGML:AUTO:m.gguf'");
  check_bad("d:GGUF:AUTO:m.gguf",
            "unknown encoding 'GGUF' (known: openvino, onnx, tensorflow, pytorch, "
            "tensorflowlite, autodetect, ggml, neuralspeed, whisper, mlx, piper, "
            "chattts, openvinogenai, bitnet, pytorchaoti)");
  check_bad("d:ONNX:CPU:m.onnx", "encoding 'ONNX' is not supported (only ggml and autodetect)");
  check_bad("d:GGML:NPU:m.gguf", "unknown target 'NPU' (cpu, gpu, tpu or auto)");
  check_bad("d:GGML:AUTO:", "empty path in 'd:GGML:AUTO:'");
  char longname[300];
  memset(longname, 'n', 257);
  strcpy(longname + 257, ":GGML:AUTO:p");
  check_bad(longname, "model name longer than 256 bytes");
}

static void host_table(void **state) {
  (void)state;
  wg_nn_host *h = wg_nn_host_new(wg_nn_backend_llama(), NULL);
  wg_error err;
  wg_error_clear(&err);
  wg_nn_model_cfg a = {"a", "/x/a.gguf", 0, 0, 1};
  assert_int_equal(wg_nn_host_add(h, &a, &err), WG_OK);
  assert_int_equal(wg_nn_host_add(h, &a, &err), WG_EEXIST);
  assert_string_equal(err.message, "model 'a' is given twice");
  wg_error_clear(&err);
  wg_nn_model_cfg b = {"b", "", 0, 0, 1};
  assert_int_equal(wg_nn_host_add(h, &b, &err), WG_EINVAL);
  assert_string_equal(err.message, "model 'b' has no path");
  assert_int_equal(wg_nn_host_count(h), 1);
  wg_nn_host_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(preload_good),
      cmocka_unit_test(preload_bad),
      cmocka_unit_test(host_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
