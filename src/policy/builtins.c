/*
** The builtin registry and the host builtins wasmgate ships: the ones OPA
** leaves to the host that real policies need.
**
**   sprintf(fmt, args)            Go verbs %v %s %d %f %.Nf %e %g %x %X %o
**                                 %b %q %t %%, width and '-' / '0' flags
**   regex.match(pattern, value)   PCRE2 (OPA uses Go's RE2 syntax; the
**   regex.find_n(pattern, v, n)   common subset behaves the same)
**   regex.replace(s, pattern, r)  $1 / ${1} in r name groups
**   regex.split(pattern, value)
**   time.now_ns()
**   time.parse_rfc3339_ns(value)
**   json.is_valid(s)
**   json.match_schema(doc, schema)  -> [ok, errors]; doc and schema are
**       values or JSON strings. The subset of JSON Schema understood:
**       type (string or list), enum, const, properties, required,
**       additionalProperties (boolean), items (one schema), minItems,
**       maxItems, minLength, maxLength (code points), pattern, minimum,
**       maximum, exclusiveMinimum, exclusiveMaximum (numbers), allOf,
**       anyOf. Other keywords are ignored. Errors are
**       {"error", "type", "field", "desc"} like OPA's.
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "policy/policy_int.h"

struct wg_policy_builtins {
  wgp_builtin *v;
  size_t n, cap;
};

const wgp_builtin *wgp_builtins_find(const wg_policy_builtins *b,
                                     const char *name) {
  for (size_t i = 0; i < b->n; i++) {
    if (!strcmp(b->v[i].name, name)) return &b->v[i];
  }
  return NULL;
}

wg_err wg_policy_builtins_add(wg_policy_builtins *b, const char *name,
                              int arity, wg_policy_builtin_fn fn, void *user) {
  if (!name || !*name || !fn || arity < -1 || arity > 4) return WG_EINVAL;
  for (size_t i = 0; i < b->n; i++) {
    if (!strcmp(b->v[i].name, name)) {
      b->v[i].arity = arity;
      b->v[i].fn = fn;
      b->v[i].user = user;
      return WG_OK;
    }
  }
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    wgp_builtin *v = wg_grow_array(b->v, b->cap, cap, sizeof *v);
    if (!v) return WG_ENOMEM;
    b->v = v;
    b->cap = cap;
  }
  size_t len = strlen(name) + 1;
  char *copy = wg_realloc_(NULL, 0, len);
  if (!copy) return WG_ENOMEM;
  memcpy(copy, name, len);
  b->v[b->n++] = (wgp_builtin){copy, arity, fn, user};
  return WG_OK;
}

void wg_policy_builtins_free(wg_policy_builtins *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) {
    wg_free(b->v[i].name, strlen(b->v[i].name) + 1);
  }
  if (b->v) wg_free_array(b->v, b->cap);
  wg_free_obj(b);
}

static json_t *fail(wg_error *err, const char *fmt, const char *a) {
  wg_error_set(err, WG_EINVAL, fmt, a);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* sprintf                                                             */

static void put_value(wg_buf *b, const json_t *v, bool quoted) {
  if (json_is_string(v)) {
    if (quoted) {
      char *s = json_dumps(v, JSON_ENCODE_ANY);
      if (s) wg_buf_append(b, s, strlen(s));
      free(s);  /* checksrc: allow */ /* jansson's malloc */
    } else {
      wg_buf_append(b, json_string_value(v), json_string_length(v));
    }
    return;
  }
  if (json_is_integer(v)) {
    wg_buf_printf(b, "%lld", (long long)json_integer_value(v));
    return;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 1e15) {
      wg_buf_printf(b, "%.0f", d);
    } else {
      wg_buf_printf(b, "%g", d);
    }
    return;
  }
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s) wg_buf_append(b, s, strlen(s));
  free(s);  /* checksrc: allow */ /* jansson's malloc */
}

static json_t *b_sprintf(void *user, json_t *const *a, size_t n,
                         wg_error *err) {
  (void)user;
  (void)n;
  const char *f = json_string_value(a[0]);
  if (!f) return fail(err, "%s", "operand 1 must be a string");
  if (!json_is_array(a[1])) return fail(err, "%s", "operand 2 must be an array");
  wg_buf b;
  wg_buf_init(&b, 1u << 20);
  size_t argi = 0;
  for (const char *p = f; *p; p++) {
    if (*p != '%') {
      wg_buf_append(&b, p, 1);
      continue;
    }
    p++;
    if (*p == '%') {
      wg_buf_append(&b, "%", 1);
      continue;
    }
    char spec[32];
    size_t k = 0;
    spec[k++] = '%';
    while ((*p == '-' || *p == '0' || *p == '+' || *p == ' ') && k < 8) {
      spec[k++] = *p++;
    }
    while (*p >= '0' && *p <= '9' && k < 16) spec[k++] = *p++;
    if (*p == '.') {
      spec[k++] = *p++;
      while (*p >= '0' && *p <= '9' && k < 24) spec[k++] = *p++;
    }
    char verb = *p;
    if (!verb) break;
    json_t *v = json_array_get(a[1], argi++);
    if (!v) {
      wg_buf_printf(&b, "%%!%c(MISSING)", verb);
      continue;
    }
    wg_buf tmp;
    wg_buf_init(&tmp, 1u << 20);
    switch (verb) {
      case 'd': case 'x': case 'X': case 'o': case 'b':
        if (json_is_number(v)) {
          long long i = (long long)json_number_value(v);
          if (verb == 'b') {
            char bits[70];
            int m = 0;
            unsigned long long u = i < 0 ? (unsigned long long)-i
                                         : (unsigned long long)i;
            do bits[m++] = (char)('0' + (u & 1)); while ((u >>= 1) && m < 64);
            if (i < 0) wg_buf_append(&b, "-", 1);
            while (m) wg_buf_append(&b, &bits[--m], 1);
          } else {
            memcpy(spec + k, "ll", 2);
            spec[k + 2] = verb;
            spec[k + 3] = 0;
            wg_buf_printf(&b, spec, i);
          }
        } else if (json_is_string(v) && (verb == 'x' || verb == 'X')) {
          const unsigned char *s = (const unsigned char *)json_string_value(v);
          for (size_t i = 0; i < json_string_length(v); i++) {
            wg_buf_printf(&b, verb == 'x' ? "%02x" : "%02X", s[i]);
          }
        } else {
          wg_buf_printf(&b, "%%!%c(", verb);
          put_value(&b, v, false);
          wg_buf_append(&b, ")", 1);
        }
        break;
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        if (json_is_number(v)) {
          spec[k] = verb;
          spec[k + 1] = 0;
          wg_buf_printf(&b, spec, json_number_value(v));
        } else {
          wg_buf_printf(&b, "%%!%c(", verb);
          put_value(&b, v, false);
          wg_buf_append(&b, ")", 1);
        }
        break;
      case 't':
        put_value(&b, v, false);
        break;
      default:  /* v, s, q */
        put_value(&tmp, v, verb == 'q');
        spec[k] = 's';
        spec[k + 1] = 0;
        wg_buf_printf(&b, spec, tmp.data ? (const char *)tmp.data : "");
        break;
    }
    wg_buf_free(&tmp);
  }
  json_t *r = json_stringn(b.data ? (const char *)b.data : "", b.len);
  wg_buf_free(&b);
  return r ? r : fail(err, "%s", "result is not UTF-8");
}

/* ------------------------------------------------------------------ */
/* Regular expressions (PCRE2, UTF mode)                               */

static pcre2_code *re_compile(const char *pat, wg_error *err) {
  int ec;
  PCRE2_SIZE eo;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF, &ec, &eo, NULL);
  if (!re) {
    PCRE2_UCHAR msg[120];
    pcre2_get_error_message(ec, msg, sizeof msg);
    wg_error_set(err, WG_EINVAL, "invalid pattern: %s", (const char *)msg);
  }
  return re;
}

static json_t *b_regex_match(void *user, json_t *const *a, size_t n,
                             wg_error *err) {
  (void)user;
  (void)n;
  const char *pat = json_string_value(a[0]), *s = json_string_value(a[1]);
  if (!pat || !s) return fail(err, "%s", "operands must be strings");
  pcre2_code *re = re_compile(pat, err);
  if (!re) return NULL;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  int rc = md ? pcre2_match(re, (PCRE2_SPTR)s, json_string_length(a[1]), 0,
                            0, md, NULL)
              : -1;
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  return json_boolean(rc >= 0);
}

/* All matches (at most max, < 0 = all) of re in s, as strings, or the
** pieces between them when split. */
static json_t *re_scan(pcre2_code *re, const char *s, size_t len,
                       long long max, bool split) {
  json_t *out = json_array();
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  size_t off = 0, last = 0;
  while (md && out && off <= len && (max < 0 || (long long)
                                     json_array_size(out) < max)) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, off, 0, md, NULL);
    if (rc < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (split) {
      json_array_append_new(out, json_stringn(s + last, ov[0] - last));
      last = ov[1];
    } else {
      json_array_append_new(out, json_stringn(s + ov[0], ov[1] - ov[0]));
    }
    off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    while (off < len && ((uint8_t)s[off] & 0xC0) == 0x80) off++;
  }
  if (split && out) json_array_append_new(out, json_stringn(s + last, len - last));
  pcre2_match_data_free(md);
  return out;
}

static json_t *b_regex_find_n(void *user, json_t *const *a, size_t n,
                              wg_error *err) {
  (void)user;
  (void)n;
  const char *pat = json_string_value(a[0]), *s = json_string_value(a[1]);
  if (!pat || !s || !json_is_number(a[2])) {
    return fail(err, "%s", "operands must be (string, string, number)");
  }
  pcre2_code *re = re_compile(pat, err);
  if (!re) return NULL;
  json_t *r = re_scan(re, s, json_string_length(a[1]),
                      (long long)json_number_value(a[2]), false);
  pcre2_code_free(re);
  return r;
}

static json_t *b_regex_split(void *user, json_t *const *a, size_t n,
                             wg_error *err) {
  (void)user;
  (void)n;
  const char *pat = json_string_value(a[0]), *s = json_string_value(a[1]);
  if (!pat || !s) return fail(err, "%s", "operands must be strings");
  pcre2_code *re = re_compile(pat, err);
  if (!re) return NULL;
  json_t *r = re_scan(re, s, json_string_length(a[1]), -1, true);
  pcre2_code_free(re);
  return r;
}

static json_t *b_regex_replace(void *user, json_t *const *a, size_t n,
                               wg_error *err) {
  (void)user;
  (void)n;
  const char *s = json_string_value(a[0]), *pat = json_string_value(a[1]);
  const char *rep = json_string_value(a[2]);
  if (!s || !pat || !rep) return fail(err, "%s", "operands must be strings");
  pcre2_code *re = re_compile(pat, err);
  if (!re) return NULL;
  size_t cap = json_string_length(a[0]) * 2 + 256;
  json_t *r = NULL;
  for (int tries = 0; tries < 4 && !r; tries++) {
    PCRE2_UCHAR *out = wg_realloc_(NULL, 0, cap);
    if (!out) break;
    PCRE2_SIZE outlen = cap;
    int rc = pcre2_substitute(
        re, (PCRE2_SPTR)s, json_string_length(a[0]), 0,
        PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH |
            PCRE2_SUBSTITUTE_UNSET_EMPTY | PCRE2_SUBSTITUTE_UNKNOWN_UNSET,
        NULL, NULL, (PCRE2_SPTR)rep, PCRE2_ZERO_TERMINATED, out, &outlen);
    if (rc >= 0) {
      r = json_stringn((const char *)out, outlen);
    } else if (rc != PCRE2_ERROR_NOMEMORY) {
      wg_free(out, cap);
      pcre2_code_free(re);
      return fail(err, "%s", "bad replacement");
    }
    wg_free(out, cap);
    cap = outlen + 1;
  }
  pcre2_code_free(re);
  return r ? r : fail(err, "%s", "out of memory");
}

/* ------------------------------------------------------------------ */
/* Time                                                                */

static json_t *b_time_now_ns(void *user, json_t *const *a, size_t n,
                             wg_error *err) {
  (void)user;
  (void)a;
  (void)n;
  (void)err;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return json_integer((json_int_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

static int digits(const char **p, int n) {
  int v = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (**p < '0' || **p > '9') return -1;
    v = v * 10 + (**p - '0');
  }
  return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* RFC 3339: 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm). */
bool wgp_parse_rfc3339(const char *s, int64_t *ns);
bool wgp_parse_rfc3339(const char *s, int64_t *ns) {
  const char *p = s;
  int Y = digits(&p, 4);
  if (Y < 0 || *p++ != '-') return false;
  int M = digits(&p, 2);
  if (M < 1 || M > 12 || *p++ != '-') return false;
  int D = digits(&p, 2);
  if (D < 1 || D > 31 || (*p != 'T' && *p != 't' && *p != ' ')) return false;
  p++;
  int h = digits(&p, 2);
  if (h < 0 || h > 23 || *p++ != ':') return false;
  int mi = digits(&p, 2);
  if (mi < 0 || mi > 59 || *p++ != ':') return false;
  int sec = digits(&p, 2);
  if (sec < 0 || sec > 60) return false;
  int64_t frac = 0;
  if (*p == '.') {
    p++;
    int nd = 0;
    while (*p >= '0' && *p <= '9') {
      if (nd < 9) frac = frac * 10 + (*p - '0');
      nd++;
      p++;
    }
    if (!nd) return false;
    for (; nd < 9; nd++) frac *= 10;
  }
  int64_t off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int oh = digits(&p, 2);
    if (oh < 0 || *p++ != ':') return false;
    int om = digits(&p, 2);
    if (om < 0) return false;
    off = sign * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (*p) return false;
  int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec -
                 off;
  if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1) {
    return false;
  }
  *ns = secs * 1000000000 + frac;
  return true;
}

static json_t *b_time_parse_rfc3339_ns(void *user, json_t *const *a,
                                       size_t n, wg_error *err) {
  (void)user;
  (void)n;
  const char *s = json_string_value(a[0]);
  int64_t ns;
  if (!s) return fail(err, "%s", "operand 1 must be a string");
  if (!wgp_parse_rfc3339(s, &ns)) {
    return fail(err, "parsing time \"%.64s\" as RFC 3339 failed", s);
  }
  return json_integer((json_int_t)ns);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

static json_t *b_json_is_valid(void *user, json_t *const *a, size_t n,
                               wg_error *err) {
  (void)user;
  (void)n;
  (void)err;
  const char *s = json_string_value(a[0]);
  json_t *v = s ? json_loadb(s, json_string_length(a[0]), JSON_DECODE_ANY,
                             NULL)
                : NULL;
  json_t *r = json_boolean(v != NULL);
  json_decref(v);
  return r;
}

typedef struct schema_ctx {
  json_t *errors;
  int depth;
} schema_ctx;

static void schema_err(schema_ctx *c, const char *field, const char *type,
                       const char *fmt, const char *arg) {
  char desc[256];
  snprintf(desc, sizeof desc, fmt, arg);
  char full[400];
  snprintf(full, sizeof full, "%s: %s", field[0] ? field : "(root)", desc);
  json_array_append_new(c->errors,
                        json_pack("{ss,ss,ss,ss}", "error", full, "type", type,
                                  "field", field[0] ? field : "(root)", "desc",
                                  desc));
}

static bool type_is(const json_t *v, const char *t) {
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  if (!strcmp(t, "null")) return json_is_null(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "integer")) {
    return json_is_integer(v) ||
           (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
  }
  return false;
}

static size_t utf8_len(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((uint8_t)s[i] & 0xC0) != 0x80;
  return k;
}

static void check(schema_ctx *c, const json_t *v, const json_t *sc,
                  const char *field);

static void check_number(schema_ctx *c, const json_t *v, const json_t *sc,
                         const char *field) {
  if (!json_is_number(v)) return;
  double d = json_number_value(v);
  json_t *m;
  if ((m = json_object_get(sc, "minimum")) && d < json_number_value(m)) {
    schema_err(c, field, "number_gte", "Must be greater than or equal to %s",
               "minimum");
  }
  if ((m = json_object_get(sc, "maximum")) && d > json_number_value(m)) {
    schema_err(c, field, "number_lte", "Must be less than or equal to %s",
               "maximum");
  }
  if ((m = json_object_get(sc, "exclusiveMinimum")) && json_is_number(m) &&
      d <= json_number_value(m)) {
    schema_err(c, field, "number_gt", "Must be greater than %s",
               "exclusiveMinimum");
  }
  if ((m = json_object_get(sc, "exclusiveMaximum")) && json_is_number(m) &&
      d >= json_number_value(m)) {
    schema_err(c, field, "number_lt", "Must be less than %s",
               "exclusiveMaximum");
  }
}

static void check_string(schema_ctx *c, const json_t *v, const json_t *sc,
                         const char *field) {
  if (!json_is_string(v)) return;
  size_t len = utf8_len(json_string_value(v), json_string_length(v));
  json_t *m;
  if ((m = json_object_get(sc, "minLength")) &&
      (double)len < json_number_value(m)) {
    schema_err(c, field, "string_gte", "String length must be greater than "
               "or equal to %s", "minLength");
  }
  if ((m = json_object_get(sc, "maxLength")) &&
      (double)len > json_number_value(m)) {
    schema_err(c, field, "string_lte", "String length must be less than or "
               "equal to %s", "maxLength");
  }
  const char *pat = json_string_value(json_object_get(sc, "pattern"));
  if (pat) {
    wg_error e;
    wg_error_clear(&e);
    pcre2_code *re = re_compile(pat, &e);
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL)
                              : NULL;
    if (!md || pcre2_match(re, (PCRE2_SPTR)json_string_value(v),
                           json_string_length(v), 0, 0, md, NULL) < 0) {
      schema_err(c, field, "pattern", "Does not match pattern '%s'", pat);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
  }
}

static void child(char *out, size_t n, const char *field, const char *key) {
  snprintf(out, n, "%s%s%s", field, field[0] ? "." : "", key);
}

static void check_object(schema_ctx *c, const json_t *v, const json_t *sc,
                         const char *field) {
  if (!json_is_object(v)) return;
  json_t *req = json_object_get(sc, "required");
  size_t i;
  json_t *r;
  char f[512];
  json_array_foreach(req, i, r) {
    const char *k = json_string_value(r);
    if (k && !json_object_get(v, k)) {
      child(f, sizeof f, field, k);
      schema_err(c, field, "required", "%s is required", k);
    }
  }
  json_t *props = json_object_get(sc, "properties");
  json_t *addl = json_object_get(sc, "additionalProperties");
  const char *k;
  json_t *val;
  json_object_foreach((json_t *)v, k, val) {
    json_t *ps = json_object_get(props, k);
    child(f, sizeof f, field, k);
    if (ps) {
      check(c, val, ps, f);
    } else if (json_is_false(addl)) {
      schema_err(c, field, "additional_property_not_allowed",
                 "Additional property %s is not allowed", k);
    } else if (json_is_object(addl)) {
      check(c, val, addl, f);
    }
  }
}

static void check_array(schema_ctx *c, const json_t *v, const json_t *sc,
                        const char *field) {
  if (!json_is_array(v)) return;
  json_t *m;
  double n = (double)json_array_size(v);
  if ((m = json_object_get(sc, "minItems")) && n < json_number_value(m)) {
    schema_err(c, field, "array_min_items", "Array must have at least %s",
               "minItems items");
  }
  if ((m = json_object_get(sc, "maxItems")) && n > json_number_value(m)) {
    schema_err(c, field, "array_max_items", "Array must have at most %s",
               "maxItems items");
  }
  json_t *items = json_object_get(sc, "items");
  if (!json_is_object(items)) return;
  size_t i;
  json_t *e;
  char f[512];
  json_array_foreach(v, i, e) {
    char idx[24];
    snprintf(idx, sizeof idx, "%zu", i);
    child(f, sizeof f, field, idx);
    check(c, e, items, f);
  }
}

static void check(schema_ctx *c, const json_t *v, const json_t *sc,
                  const char *field) {
  if (!json_is_object(sc) || ++c->depth > 64) {
    c->depth--;
    return;
  }
  json_t *t = json_object_get(sc, "type");
  if (t) {
    bool ok = false;
    if (json_is_string(t)) {
      ok = type_is(v, json_string_value(t));
    } else {
      size_t i;
      json_t *x;
      json_array_foreach(t, i, x) {
        if (json_is_string(x) && type_is(v, json_string_value(x))) ok = true;
      }
    }
    if (!ok) {
      char *want = json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY);
      schema_err(c, field, "invalid_type", "Invalid type. Expected: %s",
                 want ? want : "?");
      free(want);  /* checksrc: allow */ /* jansson's malloc */
      c->depth--;
      return;
    }
  }
  json_t *en = json_object_get(sc, "enum");
  if (json_is_array(en)) {
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(en, i, x) found = found || json_equal(x, v);
    if (!found) schema_err(c, field, "enum", "%s", "Must be one of the enum");
  }
  json_t *cn = json_object_get(sc, "const");
  if (cn && !json_equal(cn, v)) {
    schema_err(c, field, "const", "%s", "Does not match the const value");
  }
  json_t *all = json_object_get(sc, "allOf");
  size_t i;
  json_t *x;
  json_array_foreach(all, i, x) check(c, v, x, field);
  json_t *any = json_object_get(sc, "anyOf");
  if (json_is_array(any) && json_array_size(any)) {
    bool one = false;
    json_array_foreach(any, i, x) {
      schema_ctx sub = {json_array(), c->depth};
      check(&sub, v, x, field);
      one = one || json_array_size(sub.errors) == 0;
      json_decref(sub.errors);
    }
    if (!one) {
      schema_err(c, field, "number_any_of", "%s",
                 "Must validate at least one schema (anyOf)");
    }
  }
  check_number(c, v, sc, field);
  check_string(c, v, sc, field);
  check_object(c, v, sc, field);
  check_array(c, v, sc, field);
  c->depth--;
}

json_t *wg_json_schema_errors(const json_t *doc, const json_t *schema) {
  schema_ctx c = {json_array(), 0};
  if (c.errors) check(&c, doc, schema, "");
  return c.errors;
}

/* A value, or a JSON string holding one. New reference or NULL. */
static json_t *doc_of(json_t *a, bool *was_bad) {
  if (!json_is_string(a)) return json_incref(a);
  json_t *v = json_loadb(json_string_value(a), json_string_length(a),
                         JSON_DECODE_ANY, NULL);
  if (!v) *was_bad = true;
  return v;
}

static json_t *b_json_match_schema(void *user, json_t *const *a, size_t n,
                                   wg_error *err) {
  (void)user;
  (void)n;
  bool bad = false;
  json_t *doc = doc_of(a[0], &bad);
  json_t *sc = doc_of(a[1], &bad);
  if (bad || !doc || !sc) {
    json_decref(doc);
    json_decref(sc);
    return fail(err, "%s", "operands must be JSON values or JSON strings");
  }
  schema_ctx c = {json_array(), 0};
  check(&c, doc, sc, "");
  json_decref(doc);
  json_decref(sc);
  bool ok = json_array_size(c.errors) == 0;
  return json_pack("[bo]", ok, c.errors);
}

/* ------------------------------------------------------------------ */

wg_policy_builtins *wg_policy_builtins_new(void) {
  static const struct {
    const char *name;
    int arity;
    wg_policy_builtin_fn fn;
  } std[] = {
      {"sprintf", 2, b_sprintf},
      {"regex.match", 2, b_regex_match},
      {"re_match", 2, b_regex_match},
      {"regex.find_n", 3, b_regex_find_n},
      {"regex.replace", 3, b_regex_replace},
      {"regex.split", 2, b_regex_split},
      {"time.now_ns", 0, b_time_now_ns},
      {"time.parse_rfc3339_ns", 1, b_time_parse_rfc3339_ns},
      {"json.is_valid", 1, b_json_is_valid},
      {"json.match_schema", 2, b_json_match_schema},
  };
  wg_policy_builtins *b = wg_new(wg_policy_builtins);
  if (!b) return NULL;
  for (size_t i = 0; i < sizeof std / sizeof std[0]; i++) {
    if (wg_policy_builtins_add(b, std[i].name, std[i].arity, std[i].fn,
                               NULL) != WG_OK) {
      wg_policy_builtins_free(b);
      return NULL;
    }
  }
  return b;
}
