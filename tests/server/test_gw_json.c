/* The gateway's one-pass JSON (src/server/gw_json.c). The answer rewrite:
** what is replaced and what is kept byte for byte, the usage read, every
** way the text can be invalid. The tree builder: the same trees as
** json_loadb. And - against jansson, whose json_loadb both stand in for -
** the same verdict and the same values on thousands of mutated texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/gw_json.h"
#include "server/srv.h"

/* The callback: records each content and its choice, replaces it by
** "<choice>:<text in upper case>" (ASCII), or fails when asked to. */
typedef struct seen {
  char texts[8][256];
  size_t lens[8];
  size_t choices[8];
  size_t n;
  wg_err fail_with;
} seen;

static wg_err upper(void *user, size_t choice, const char *text, size_t n,
                    const char *raw, size_t rawn, wg_buf *out) {
  seen *s = user;
  (void)raw;
  (void)rawn;
  if (s->fail_with) return s->fail_with;
  if (s->n < 8 && n < 256) {
    memcpy(s->texts[s->n], text, n);
    s->lens[s->n] = n;
    s->choices[s->n++] = choice;
  }
  char t[300];
  int k = snprintf(t, sizeof t, "%zu:", choice);
  for (size_t i = 0; i < n && k < (int)sizeof t - 1; i++) {
    char c = text[i];
    t[k++] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
  }
  srv_json_str(out, t, (size_t)k);
  return WG_OK;
}

/* Keeps the raw string: the rewrite must then give back the input. */
static wg_err keep(void *user, size_t choice, const char *text, size_t n,
                   const char *raw, size_t rawn, wg_buf *out) {
  (void)user;
  (void)choice;
  (void)text;
  (void)n;
  return wg_buf_append(out, raw, rawn);
}

static wg_err rewrite(const char *in, size_t n, seen *s, gw_answer_usage *u,
                      wg_buf *out) {
  return srv_gw_answer_rewrite(in, n, "public", upper, s, u, out);
}

/* rewrite() of in into a new buffer, with nothing seen yet. */
static wg_err run(const char *in, seen *s, gw_answer_usage *u, wg_buf *out) {
  memset(s, 0, sizeof *s);
  wg_buf_init(out, 1 << 20);
  return rewrite(in, strlen(in), s, u, out);
}

static void test_rewrites_model_and_contents_only(void **state) {
  (void)state;
  const char *in =
      "{ \"id\":\"c1\", \"model\" : \"up-7b\",\n \"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":\"hi \\u0040 you\"},"
      "\"finish_reason\":\"stop\"},{\"message\":{\"content\":\"two\"}}],"
      "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,"
      "\"total_tokens\":21},\"x\":[1.5e3,-0,true,null]}  ";
  const char *want =
      "{ \"id\":\"c1\", \"model\" : \"public\",\n \"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":\"0:HI @ YOU\"},"
      "\"finish_reason\":\"stop\"},{\"message\":{\"content\":\"1:TWO\"}}],"
      "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,"
      "\"total_tokens\":21},\"x\":[1.5e3,-0,true,null]}  ";
  seen s = {0};
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, 1 << 20);
  wg_buf_append(&out, "kept", 4);
  assert_int_equal(rewrite(in, strlen(in), &s, &u, &out), WG_OK);
  assert_string_equal((const char *)out.data + 4, want);
  assert_memory_equal(out.data, "kept", 4);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.lens[0], 8);
  assert_memory_equal(s.texts[0], "hi @ you", 8);
  assert_int_equal(s.choices[1], 1);
  assert_true(u.object && u.has_prompt && u.has_completion);
  assert_int_equal(u.prompt, 9);
  assert_int_equal(u.completion, 12);
  wg_buf_free(&out);
}

static void test_keeping_the_raw_string_gives_back_the_input(void **state) {
  (void)state;
  const char *in = "{\"choices\":[{\"message\":{\"content\":\"a\\\"b\\n"
                   "\\ud83d\\ude00 \\u00e9\"}}]}";
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, 1 << 20);
  assert_int_equal(srv_gw_answer_rewrite(in, strlen(in), "m", keep, NULL, &u,
                                         &out), WG_OK);
  assert_string_equal((const char *)out.data, in);
  assert_false(u.object);
  wg_buf_free(&out);
}

static void test_decodes_escapes_for_the_callback(void **state) {
  (void)state;
  /* escaped key names count as the plain ones */
  const char *in = "{\"mod\\u0065l\":1,\"choices\":[{\"message\":{\"cont"
                   "ent\":\"\\ud83d\\ude00\\t\\/\\\\\\u00e9\"}}]}";
  seen s;
  gw_answer_usage u;
  wg_buf out;
  assert_int_equal(run(in, &s, &u, &out), WG_OK);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.lens[0], 9);
  assert_memory_equal(s.texts[0], "\xf0\x9f\x98\x80\t/\\\xc3\xa9", 9);
  assert_non_null(strstr((const char *)out.data, "\"mod\\u0065l\":\"public\""));
  wg_buf_free(&out);
}

static void test_only_the_right_places_are_rewritten(void **state) {
  (void)state;
  /* content outside choices[i].message, non-string contents, a "choices"
  ** that is not at the root, a message that is not in a choice */
  const char *in =
      "{\"content\":\"a\",\"message\":{\"content\":\"b\"},\"choices\":[{\""
      "content\":\"c\",\"message\":{\"content\":null,\"x\":{\"content\":\"d\""
      "}}},[{\"message\":{\"content\":\"e\"}}],{\"message\":{\"content\":["
      "\"f\"]}}],\"y\":{\"choices\":[{\"message\":{\"content\":\"g\"}}],"
      "\"model\":\"h\"}}";
  seen s;
  gw_answer_usage u;
  wg_buf out;
  assert_int_equal(run(in, &s, &u, &out), WG_OK);
  assert_int_equal(s.n, 0);
  assert_string_equal((const char *)out.data, in);
  wg_buf_free(&out);
}

static void test_duplicates(void **state) {
  (void)state;
  /* every content is rewritten (a second "content" must not leak past
  ** redaction); usage: the last "usage" and its last values count, as
  ** json_object_get sees them */
  const char *in =
      "{\"model\":\"a\",\"model\":\"b\",\"choices\":[{\"message\":{\"conten"
      "t\":\"x\",\"content\":\"y\"}}],\"usage\":{\"prompt_tokens\":1},"
      "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,"
      "\"completion_tokens\":\"4\"}}";
  seen s;
  gw_answer_usage u;
  wg_buf out;
  assert_int_equal(run(in, &s, &u, &out), WG_OK);
  assert_int_equal(s.n, 2);
  assert_non_null(strstr((const char *)out.data,
                         "{\"model\":\"public\",\"model\":\"public\","));
  assert_non_null(strstr((const char *)out.data,
                         "\"content\":\"0:X\",\"content\":\"0:Y\""));
  assert_true(u.object && u.has_prompt && !u.has_completion);
  assert_int_equal(u.prompt, 2);
  wg_buf_reset(&out);
  const char *last_null = "{\"usage\":{\"prompt_tokens\":5},\"usage\":null}";
  assert_int_equal(rewrite(last_null, strlen(last_null), &s, &u, &out),
                   WG_OK);
  assert_false(u.object || u.has_prompt);
  wg_buf_free(&out);
}

static void test_usage_integers(void **state) {
  (void)state;
  static const struct {
    const char *in;
    bool has;
    int64_t v;
  } rows[] = {
      {"{\"usage\":{\"prompt_tokens\":9223372036854775807}}", true,
       INT64_MAX},
      {"{\"usage\":{\"prompt_tokens\":-9223372036854775808}}", true,
       INT64_MIN},
      {"{\"usage\":{\"prompt_tokens\":-0}}", true, 0},
      {"{\"usage\":{\"prompt_tokens\":7.0}}", false, 0},
      {"{\"usage\":{\"prompt_tokens\":1e2}}", false, 0},
      {"{\"usage\":{\"prompt_tokens\":\"7\"}}", false, 0},
      {"{\"usage\":{\"prompt_tokens\":[7]}}", false, 0},
      {"{\"usage\":{\"prompt_tokens\":1e-999}}", false, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    seen s = {0};
    gw_answer_usage u;
    wg_buf out;
    wg_buf_init(&out, 1 << 20);
    assert_int_equal(rewrite(rows[i].in, strlen(rows[i].in), &s, &u, &out),
                     WG_OK);
    assert_true(u.object);
    assert_int_equal(u.has_prompt, rows[i].has);
    if (rows[i].has) assert_true(u.prompt == rows[i].v);
    wg_buf_free(&out);
  }
}

/* Invalid texts: WG_EINVAL, the output as it was, no usage. */
static const char *const bad[] = {
    "", "   ", "[]", "\"x\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\":}",
    "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{a:1}",
    "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}",
    "{\"a\":1e+}", "{\"a\":-}", "{\"a\":+1}", "{\"a\":0x10}", "{\"a\":tru}",
    "{\"a\":True}", "{\"a\":nul}", "{\"a\":NaN}", "{\"a\":Infinity}",
    "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":\"\\u0000\"}",
    "{\"a\\u0000\":1}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
    "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\ud800x\"}", "{\"a\":\"\\u12\"}",
    "{\"a\":\"\\u12g4\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\\"}",
    "{\"a\":\"\x01\"}", "{\"a\":\"\t\"}", "{\"a\":\"\xff\"}",
    "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xe2\x82\"}",
    "{\"\xff\":1}", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":\"b}",
    "{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
    "{\"a\":1e999}", "{\"a\":-1e999}", "\xef\xbb\xbf{}",
    "{\"choices\":[{\"message\":{\"content\":\"ok\"}}],\"usage\":{\"prompt_"
    "tokens\":1},\"z\":}",
    "{\"model\":[}",
    "{\"usage\":{\"prompt_tokens\":12345678901234567890123}}",
};

static void test_invalid_texts(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    seen s = {0};
    gw_answer_usage u;
    wg_buf out;
    wg_buf_init(&out, 1 << 20);
    wg_buf_append(&out, "kept", 4);
    if (rewrite(bad[i], strlen(bad[i]), &s, &u, &out) != WG_EINVAL) {
      fail_msg("accepted: %s", bad[i]);
    }
    assert_int_equal(out.len, 4);
    assert_string_equal((const char *)out.data, "kept");
    assert_false(u.object || u.has_prompt || u.has_completion);
    wg_buf_free(&out);
  }
  /* A NUL byte inside the text (strlen would stop there). */
  static const char nul[] = "{\"a\":\"x\0y\"}";
  seen s = {0};
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, 1 << 20);
  assert_int_equal(rewrite(nul, sizeof nul - 1, &s, &u, &out), WG_EINVAL);
  wg_buf_free(&out);
}

/* n nested arrays inside {"a": ...}. */
static char *nested(size_t n) {
  char *t = test_malloc(2 * n + 8);
  size_t k = 0;
  memcpy(t, "{\"a\":", 5);
  k = 5;
  for (size_t i = 0; i < n; i++) t[k++] = '[';
  for (size_t i = 0; i < n; i++) t[k++] = ']';
  t[k++] = '}';
  t[k] = 0;
  return t;
}

static void test_depth_limit(void **state) {
  (void)state;
  seen s = {0};
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, 1 << 20);
  char *ok = nested(2047), *deep = nested(2048);   /* + the root object */
  assert_int_equal(rewrite(ok, strlen(ok), &s, &u, &out), WG_OK);
  wg_buf_reset(&out);
  assert_int_equal(rewrite(deep, strlen(deep), &s, &u, &out), WG_EINVAL);
  /* jansson's own limit, which this one follows */
  json_t *j = json_loads(ok, 0, NULL);
  assert_non_null(j);
  json_decref(j);
  assert_null(json_loads(deep, 0, NULL));
  j = srv_json_build(ok, strlen(ok), 0);            /* the builder too */
  assert_non_null(j);
  json_decref(j);
  assert_null(srv_json_build(deep, strlen(deep), 0));
  test_free(ok);
  test_free(deep);
  wg_buf_free(&out);
}

static void test_callback_error_stops_it(void **state) {
  (void)state;
  const char *in = "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}";
  seen s = {0};
  s.fail_with = WG_EIO;
  gw_answer_usage u;
  wg_buf out;
  wg_buf_init(&out, 1 << 20);
  assert_int_equal(rewrite(in, strlen(in), &s, &u, &out), WG_EIO);
  assert_int_equal(out.len, 0);
  wg_buf_free(&out);
}

/* ------------------------------------------------------------------ */
/* Against jansson                                                     */

/* What gateway.c read from jansson's tree before: the verdict, usage and
** choice i's content. */
static void jansson_view(const char *in, size_t n, bool *ok,
                         gw_answer_usage *u, seen *s) {
  memset(u, 0, sizeof *u);
  memset(s, 0, sizeof *s);
  json_t *j = json_loadb(in, n, 0, NULL);
  *ok = json_is_object(j);
  json_t *usage = json_object_get(j, "usage");
  if (json_is_object(usage)) {
    json_t *p = json_object_get(usage, "prompt_tokens");
    json_t *c = json_object_get(usage, "completion_tokens");
    u->object = true;
    u->has_prompt = json_is_integer(p);
    u->has_completion = json_is_integer(c);
    if (u->has_prompt) u->prompt = json_integer_value(p);
    if (u->has_completion) u->completion = json_integer_value(c);
  }
  size_t i;
  json_t *ch;
  json_array_foreach(json_object_get(j, "choices"), i, ch) {
    json_t *c = json_object_get(json_object_get(ch, "message"), "content");
    if (json_is_string(c) && s->n < 8 && json_string_length(c) < 256) {
      memcpy(s->texts[s->n], json_string_value(c), json_string_length(c));
      s->lens[s->n] = json_string_length(c);
      s->choices[s->n++] = i;
    }
  }
  json_decref(j);
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {                       /* xorshift64* */
  rnd_state ^= rnd_state >> 12;
  rnd_state ^= rnd_state << 25;
  rnd_state ^= rnd_state >> 27;
  return (uint32_t)((rnd_state * 2685821657736338717ull) >> 32);
}

static void test_same_verdict_as_jansson(void **state) {
  (void)state;
  static const char *const seeds[] = {
      "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"m\","
      "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
      "\"content\":\"Hi \\u00e9 \\ud83d\\ude00 ann@example.com\"},"
      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
      "\"completion_tokens\":-3,\"total_tokens\":9}}",
      "{\"a\":[1,-0.5e-3,true,false,null,{\"b\":\"\\n\"}],\"usage\":{\"pro"
      "mpt_tokens\":1e1},\"choices\":[{\"message\":{\"content\":\"x\"}},"
      "{\"message\":{\"content\":\"\xc3\xa9\"}}]}",
  };
  static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF"
                                 "eE+-.tnrfl \t\n\x01\x80\xc3\xa9\xed\xff";
  char buf[512];
  unsigned agreed_ok = 0, agreed_bad = 0;
  for (int round = 0; round < 6000; round++) {
    const char *seed = seeds[round % 2];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rnd() % 3);
    for (int e = 0; e < edits; e++) {
      size_t at = rnd() % n;
      char c = alphabet[rnd() % (sizeof alphabet - 1)];
      switch (rnd() % 3) {
        case 0:                                   /* replace */
          buf[at] = c;
          break;
        case 1:                                   /* insert */
          if (n + 1 < sizeof buf) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = c;
            n++;
          }
          break;
        default:                                  /* delete */
          if (n > 1) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
          }
      }
    }
    bool jok;
    gw_answer_usage ju, u;
    seen js, s = {0};
    jansson_view(buf, n, &jok, &ju, &js);
    wg_buf out;
    wg_buf_init(&out, 1 << 20);
    wg_err e = srv_gw_answer_rewrite(buf, n, "m", upper, &s, &u, &out);
    if ((e == WG_OK) != jok) {
      fail_msg("round %d: jansson %s, rewrite %s: %.*s", round,
               jok ? "accepts" : "rejects", e ? "rejects" : "accepts",
               (int)n, buf);
    }
    if (jok) {
      agreed_ok++;
      assert_int_equal(u.object, ju.object);
      assert_int_equal(u.has_prompt, ju.has_prompt);
      assert_int_equal(u.has_completion, ju.has_completion);
      assert_true(u.prompt == ju.prompt && u.completion == ju.completion);
      /* jansson sees the last of duplicate keys; without duplicates
      ** (nearly every mutant) the contents are the same ones */
      if (s.n == js.n) {
        for (size_t i = 0; i < s.n; i++) {
          assert_int_equal(s.lens[i], js.lens[i]);
          assert_memory_equal(s.texts[i], js.texts[i], s.lens[i]);
          assert_int_equal(s.choices[i], js.choices[i]);
        }
      }
      /* and the output is valid JSON itself */
      json_t *back = json_loadb((const char *)out.data, out.len, 0, NULL);
      if (!json_is_object(back)) {
        fail_msg("round %d: output is not JSON: %s", round,
                 (const char *)out.data);
      }
      json_decref(back);
    } else {
      agreed_bad++;
    }
    wg_buf_free(&out);
  }
  /* both kinds were exercised */
  assert_true(agreed_ok > 300 && agreed_bad > 300);
}

/* ------------------------------------------------------------------ */
/* The tree builder                                                    */

/* Both trees, dumped in order (types and key order count). */
static void assert_same_tree(json_t *a, json_t *b, const char *in) {
  size_t f = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
  char *da = json_dumps(a, f), *db = json_dumps(b, f);
  if (!da || !db || strcmp(da, db) || !json_equal(a, b)) {
    fail_msg("different trees for %s: %s / %s", in, da ? da : "-",
             db ? db : "-");
  }
  free(da);
  free(db);
}

/* srv_json_dump_compact gives jansson's compact dump byte for byte. */
static void assert_same_dump(const json_t *j) {
  char *want = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                             JSON_ENCODE_ANY);
  wg_buf got;
  wg_buf_init(&got, 1 << 20);
  assert_int_equal(srv_json_dump_compact(j, &got), WG_OK);
  if (!want || strcmp(want, got.data ? (const char *)got.data : "")) {
    fail_msg("dump differs: %s / %s", want ? want : "-",
             got.data ? (const char *)got.data : "");
  }
  free(want);
  wg_buf_free(&got);
}

static void test_compact_dump_is_janssons(void **state) {
  (void)state;
  static const double reals[] = {
      0.7, 1.0, -0.0, 0.0, 1e300, -1e-7, 5e-324, 123456789.0, 1e21, 1e22,
      0.1, 3.14159, 2.5e-5, 1.7976931348623157e308, 100.0, -12.5e10};
  json_t *a = json_array();
  for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
    json_t *one = json_real(reals[i]);
    assert_same_dump(one);
    json_array_append_new(a, one);
  }
  json_array_append_new(a, json_integer(INT64_MIN));
  json_array_append_new(a, json_integer(INT64_MAX));
  json_array_append_new(a, json_stringn("a\0b\x01\x1f\x7f\"\\/\b\f\n\r\t"
                                        "\xc3\xa9\xf0\x9f\x98\x80", 20));
  json_t *o = json_pack("{s{}s[]sbsbsn}", "o", "a", "t", 1, "f", 0, "n");
  json_object_set_new(o, "k\ney\"", a);
  json_object_set_new(o, "z", json_string("last"));
  assert_same_dump(o);
  json_decref(o);
  wg_buf b;
  wg_buf_init(&b, 4);                              /* too small */
  wg_buf_append(&b, "ab", 2);
  json_t *big = json_string("0123456789");
  assert_int_equal(srv_json_dump_compact(big, &b), WG_ENOMEM);
  assert_string_equal((const char *)b.data, "ab");
  json_decref(big);
  wg_buf_free(&b);
}

static void test_builder_makes_jansson_trees(void **state) {
  (void)state;
  static const char *const good[] = {
      "{}", "[]", " {\"a\" : [1, -0, 2.5, -1e-3, 1E+2, 1e-999, true, false, "
      "null, \"x\"], \"b\":{\"c\":{}}}\n",
      "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\t\\/\\\\\\\"\xc3\xa9\"}",
      "{\"big\":9223372036854775807,\"small\":-9223372036854775808,"
      "\"r\":0.1000000000000000055511151231257827021181583404541015625}",
      "{\"z\":1,\"a\":2,\"m\":3}",
      "[[[[[[[[[[\"deep\"]]]]]]]]]]",
      "{\"dup\":1,\"dup\":[2]}",
      "{\"nul\":\"a\\u0000b\"}",
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    for (int k = 0; k < 2; k++) {
      size_t fl = k ? JSON_ALLOW_NUL : 0;
      json_t *want = json_loadb(good[i], strlen(good[i]), fl, NULL);
      json_t *got = srv_json_build(good[i], strlen(good[i]), fl);
      if (!want) {
        assert_null(got);
        continue;
      }
      if (!got) fail_msg("not taken (flags %zu): %s", fl, good[i]);
      assert_same_tree(got, want, good[i]);
      json_decref(want);
      json_decref(got);
    }
  }
  /* a duplicate key under JSON_REJECT_DUPLICATES, a NUL in a key, other
  ** flags: not taken, and srv_json_loadb then answers as jansson */
  static const struct {
    const char *in;
    size_t flags;
  } refused[] = {
      {"{\"a\":1,\"a\":2}", JSON_REJECT_DUPLICATES},
      {"{\"a\\u0000\":1}", JSON_ALLOW_NUL},
      {"{\"a\":1}", JSON_DECODE_ANY},
      {"{\"a\":\"\\u0000\"}", 0},
      {"\"top\"", 0},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    const char *in = refused[i].in;
    assert_null(srv_json_build(in, strlen(in), refused[i].flags));
    json_error_t e1, e2;
    json_t *a = srv_json_loadb(in, strlen(in), refused[i].flags, &e1);
    json_t *b = json_loadb(in, strlen(in), refused[i].flags, &e2);
    assert_int_equal(a != NULL, b != NULL);
    if (a) assert_same_tree(a, b, in);
    else assert_string_equal(e1.text, e2.text);
    json_decref(a);
    json_decref(b);
  }
}

static void test_builder_same_verdict_as_jansson(void **state) {
  (void)state;
  static const char seed[] =
      "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
      "\"Be brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
      "\"text\":\"hi \\u00e9\\ud83d\\ude00 \\u0000 a@b.io\"}]}],\"max_tokens\""
      ":32,\"temperature\":0.7,\"stream\":false,\"stop\":null,\"x\":-1.5e3}";
  static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF"
                                 "eE+-.tnrfl \t\n\x01\x80\xc3\xa9\xed\xff";
  static const size_t flag_sets[] = {0, JSON_ALLOW_NUL,
                                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL};
  char buf[600];
  unsigned taken = 0, refused = 0;
  for (int round = 0; round < 6000; round++) {
    size_t n = sizeof seed - 1;
    memcpy(buf, seed, n);
    int edits = 1 + (int)(rnd() % 3);
    for (int e = 0; e < edits; e++) {
      size_t at = rnd() % n;
      char c = alphabet[rnd() % (sizeof alphabet - 1)];
      switch (rnd() % 3) {
        case 0:
          buf[at] = c;
          break;
        case 1:
          if (n + 1 < sizeof buf) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = c;
            n++;
          }
          break;
        default:
          if (n > 1) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
          }
      }
    }
    size_t fl = flag_sets[round % 3];
    json_t *want = json_loadb(buf, n, fl, NULL);
    json_t *got = srv_json_build(buf, n, fl);
    if ((want != NULL) != (got != NULL)) {
      fail_msg("round %d (flags %zu): jansson %s, builder %s: %.*s", round,
               fl, want ? "accepts" : "rejects",
               got ? "accepts" : "rejects", (int)n, buf);
    }
    if (want) {
      assert_same_tree(got, want, "a mutant");
      assert_same_dump(got);
      taken++;
    } else {
      refused++;
    }
    json_decref(want);
    json_decref(got);
  }
  assert_true(taken > 300 && refused > 300);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rewrites_model_and_contents_only),
      cmocka_unit_test(test_keeping_the_raw_string_gives_back_the_input),
      cmocka_unit_test(test_decodes_escapes_for_the_callback),
      cmocka_unit_test(test_only_the_right_places_are_rewritten),
      cmocka_unit_test(test_duplicates),
      cmocka_unit_test(test_usage_integers),
      cmocka_unit_test(test_invalid_texts),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_callback_error_stops_it),
      cmocka_unit_test(test_same_verdict_as_jansson),
      cmocka_unit_test(test_builder_makes_jansson_trees),
      cmocka_unit_test(test_compact_dump_is_janssons),
      cmocka_unit_test(test_builder_same_verdict_as_jansson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
