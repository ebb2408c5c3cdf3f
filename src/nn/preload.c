/*
** `--nn-preload NAME:ENCODING:TARGET:PATH[:PATH...]`, as WasmEdge reads it:
** four fields split on ':', ENCODING and TARGET case-insensitive, and for
** GGML everything after the third ':' one path (so a path may hold ':').
** The file is not opened here: models load on the first load_by_name.
**
** Unlike WasmEdge, which logs a bad entry and skips it, a bad entry is an
** error (the CLI exits with its usage status), with one of these messages:
**   'SPEC' is not NAME:ENCODING:TARGET:PATH
**   empty model name in 'SPEC'
**   model name longer than 256 bytes
**   unknown encoding 'E' (known: openvino, onnx, tensorflow, pytorch,
**     tensorflowlite, autodetect, ggml, ...)
**   encoding 'E' is not supported (only ggml and autodetect)
**   unknown target 'T' (cpu, gpu, tpu or auto)
**   empty path in 'SPEC'
*/
#include <string.h>
#include <strings.h>

#include "nn/nn_int.h"

/* WasmEdge's encoding names (wasinntypes.h), value order. */
static const char *const encodings[] = {
    "openvino", "onnx",   "tensorflow", "pytorch", "tensorflowlite",
    "autodetect", "ggml", "neuralspeed", "whisper", "mlx",
    "piper",    "chattts", "openvinogenai", "bitnet", "pytorchaoti",
};
static const char *const targets[] = {"cpu", "gpu", "tpu", "auto"};

static bool in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(s, list[i])) return true;
  return false;
}

wg_err wg_nn_parse_preload(const char *spec, char *buf, size_t bufsize,
                           wg_nn_model_cfg *out, wg_error *err) {
  memset(out, 0, sizeof *out);
  size_t n = strlen(spec);
  if (n + 1 > bufsize)
    return wg_error_set(err, WG_EINVAL, "'%.64s...' is too long", spec);
  memcpy(buf, spec, n + 1);
  char *f[4];
  f[0] = buf;
  for (int i = 1; i < 4; i++) {
    char *c = strchr(f[i - 1], ':');
    if (!c)
      return wg_error_set(err, WG_EINVAL,
                          "'%s' is not NAME:ENCODING:TARGET:PATH", spec);
    *c = 0;
    f[i] = c + 1;
  }
  if (!f[0][0]) return wg_error_set(err, WG_EINVAL, "empty model name in '%s'", spec);
  if (strlen(f[0]) > WG_NN_MAX_NAME)
    return wg_error_set(err, WG_EINVAL, "model name longer than %u bytes",
                        WG_NN_MAX_NAME);
  if (!in_list(f[1], encodings, sizeof encodings / sizeof *encodings))
    return wg_error_set(err, WG_EINVAL,
                        "unknown encoding '%s' (known: openvino, onnx, "
                        "tensorflow, pytorch, tensorflowlite, autodetect, "
                        "ggml, neuralspeed, whisper, mlx, piper, chattts, "
                        "openvinogenai, bitnet, pytorchaoti)", f[1]);
  if (strcasecmp(f[1], "ggml") && strcasecmp(f[1], "autodetect"))
    return wg_error_set(err, WG_EINVAL,
                        "encoding '%s' is not supported (only ggml and "
                        "autodetect)", f[1]);
  if (!in_list(f[2], targets, sizeof targets / sizeof *targets))
    return wg_error_set(err, WG_EINVAL,
                        "unknown target '%s' (cpu, gpu, tpu or auto)", f[2]);
  if (!f[3][0]) return wg_error_set(err, WG_EINVAL, "empty path in '%s'", spec);
  out->name = f[0];
  out->path = f[3];
  return WG_OK;
}
