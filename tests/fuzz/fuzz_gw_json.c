/*
** libFuzzer target: the gateway's one-pass JSON (src/server/gw_json.c)
** against jansson, which it stands in for. Aborts when they disagree:
**   - what srv_json_build takes (flags from the first byte: none,
**     JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES or both), json_loadb takes
**     too, with the same tree (types and key order) and the same compact
**     dump; what it does not take goes to json_loadb (srv_json_loadb), so
**     it may refuse more, but only texts holding a raw NUL byte (which
**     jansson skips after a number: "[1\0]" is [1] to it);
**   - srv_gw_answer_rewrite accepts what json_loadb reads as an object,
**     with the same exception, and what it writes is JSON again.
**
**   build-fuzz/tests/fuzz/fuzz_gw_json -max_total_time=60 corpus_dir/
*/
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/gw_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wg_err keep(void *user, size_t choice, const char *text, size_t n,
                   const char *raw, size_t rawn, wg_buf *out) {
  (void)user;
  (void)choice;
  (void)text;
  (void)n;
  return wg_buf_append(out, raw, rawn);
}

static void same_dump(const json_t *j) {
  char *want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                             JSON_ENCODE_ANY);
  wg_buf got;
  wg_buf_init(&got, (size_t)64 << 20);
  if (srv_json_dump_compact(j, &got) != WG_OK || !want ||
      strcmp(want, got.data ? (const char *)got.data : "")) {
    abort();
  }
  free(want);
  wg_buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const size_t flag_sets[] = {
      0, JSON_ALLOW_NUL, JSON_REJECT_DUPLICATES,
      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL};
  size_t flags = flag_sets[data[0] & 3];
  const char *in = (const char *)data + 1;
  size_t n = size - 1;

  bool raw_nul = memchr(in, 0, n) != NULL;
  json_t *want = json_loadb(in, n, flags, NULL);
  json_t *got = srv_json_build(in, n, flags);
  if (got ? !want : want && !raw_nul) abort();
  if (got) {
    if (!json_equal(want, got)) abort();
    same_dump(got);             /* the order too: both dumps must agree */
    same_dump(want);
  }
  json_decref(want);
  json_decref(got);

  json_t *plain = json_loadb(in, n, 0, NULL);
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, (size_t)64 << 20);
  wg_err e = srv_gw_answer_rewrite(in, n, "m", keep, NULL, &u, &out);
  if (e == WG_OK ? !json_is_object(plain)
                 : json_is_object(plain) && !raw_nul) {
    abort();
  }
  if (e == WG_OK) {
    json_t *back = json_loadb((const char *)out.data, out.len, 0, NULL);
    if (!json_is_object(back)) abort();
    json_decref(back);
  }
  json_decref(plain);
  wg_buf_free(&out);
  return 0;
}
