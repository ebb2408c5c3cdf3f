/*
** response_format of chat requests (see gw_format.h for the rules).
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "server/gw_format.h"
#include "server/srv.h"
#include "wasmgate/policy.h"

#define FMT_DEPTH_MAX 32          /* nesting of a request's schema */
#define FMT_PATH_MAX 400

/* Keywords that only annotate: accepted and ignored. */
static const char *const annotations[] = {
    "description", "title", "default", "examples", "$schema", "$comment",
    "$id", "format", "deprecated", "readOnly", "writeOnly"};

static const char *const type_names[] = {"object", "array",   "string",
                                         "number", "integer", "boolean",
                                         "null"};

typedef struct fctx {
  srv_req *r;
  bool strict;
} fctx;

static bool bad(fctx *c, const char *path, const char *fmt, const char *a) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a);
  srv_fail(c->r, SRV_E_BAD_PARAM, path, "Invalid schema for response_format: "
           "%s: %s", path, msg);
  return false;
}

static bool in_list(const char *s, const char *const *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(s, v[i])) return true;
  }
  return false;
}

static bool type_ok(const json_t *t) {
  return json_is_string(t) &&
         in_list(json_string_value(t), type_names,
                 sizeof type_names / sizeof type_names[0]);
}

static bool has_type(const json_t *sc, const char *name) {
  json_t *t = json_object_get(sc, "type");
  if (json_is_string(t)) return !strcmp(json_string_value(t), name);
  size_t i;
  json_t *x;
  json_array_foreach(t, i, x) {
    if (json_is_string(x) && !strcmp(json_string_value(x), name)) {
      return true;
    }
  }
  return false;
}

static void sub(char *out, const char *path, const char *a, const char *b) {
  snprintf(out, FMT_PATH_MAX, "%s.%s%s%s", path, a, b ? "." : "",
           b ? b : "");
}

static bool schema_ok(fctx *c, const json_t *sc, const char *path, int depth);

static bool schema_list(fctx *c, const json_t *v, const char *path,
                        int depth) {
  if (!json_is_array(v) || json_array_size(v) == 0) {
    return bad(c, path, "%s", "must be a non-empty array of schemas");
  }
  size_t i;
  json_t *x;
  char p[FMT_PATH_MAX];
  json_array_foreach(v, i, x) {
    if (snprintf(p, sizeof p, "%s[%zu]", path, i) >= (int)sizeof p) {
      return bad(c, path, "%s", "the schema is nested too deeply");
    }
    if (!schema_ok(c, x, p, depth + 1)) return false;
  }
  return true;
}

static bool count_ok(fctx *c, const json_t *v, const char *path) {
  if (!json_is_integer(v) || json_integer_value(v) < 0) {
    return bad(c, path, "%s", "must be a non-negative integer");
  }
  return true;
}

static bool pattern_ok(fctx *c, const json_t *v, const char *path) {
  if (!json_is_string(v)) return bad(c, path, "%s", "must be a string");
  int code;
  PCRE2_SIZE off;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)json_string_value(v),
                                 json_string_length(v), PCRE2_UTF, &code,
                                 &off, NULL);
  if (!re) {
    char m[200];
    pcre2_get_error_message(code, (PCRE2_UCHAR *)m, sizeof m);
    return bad(c, path, "not a valid regular expression (%s)", m);
  }
  pcre2_code_free(re);
  return true;
}

/* One keyword of a schema object. */
static bool keyword_ok(fctx *c, const json_t *sc, const char *k,
                       const json_t *v, const char *path, int depth) {
  char p[FMT_PATH_MAX];
  sub(p, path, k, NULL);
  if (!strcmp(k, "type")) {
    if (json_is_array(v) && json_array_size(v) > 0) {
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) {
        if (!type_ok(x)) break;
      }
      if (i == json_array_size(v)) return true;
    } else if (type_ok(v)) {
      return true;
    }
    return bad(c, p, "%s", "must be one of object, array, string, number, "
               "integer, boolean, null (or a list of them)");
  }
  if (!strcmp(k, "enum")) {
    if (json_is_array(v) && json_array_size(v) > 0) return true;
    return bad(c, p, "%s", "must be a non-empty array");
  }
  if (!strcmp(k, "const")) return true;
  if (!strcmp(k, "properties")) {
    if (!json_is_object(v)) return bad(c, p, "%s", "must be an object");
    const char *name;
    json_t *x;
    char q[FMT_PATH_MAX];
    json_object_foreach((json_t *)v, name, x) {
      sub(q, path, k, name);
      if (!schema_ok(c, x, q, depth + 1)) return false;
    }
    return true;
  }
  if (!strcmp(k, "required")) {
    size_t i;
    json_t *x;
    if (!json_is_array(v)) return bad(c, p, "%s", "must be an array");
    json_array_foreach(v, i, x) {
      if (!json_is_string(x)) {
        return bad(c, p, "%s", "must be an array of strings");
      }
    }
    return true;
  }
  if (!strcmp(k, "additionalProperties")) {
    if (json_is_boolean(v)) return true;
    return schema_ok(c, v, p, depth + 1);
  }
  if (!strcmp(k, "items")) {
    if (!json_is_object(v)) {
      return bad(c, p, "%s", "must be one schema (tuples are not "
                 "supported)");
    }
    return schema_ok(c, v, p, depth + 1);
  }
  if (!strcmp(k, "minItems") || !strcmp(k, "maxItems") ||
      !strcmp(k, "minLength") || !strcmp(k, "maxLength")) {
    return count_ok(c, v, p);
  }
  if (!strcmp(k, "minimum") || !strcmp(k, "maximum") ||
      !strcmp(k, "exclusiveMinimum") || !strcmp(k, "exclusiveMaximum")) {
    return json_is_number(v) ? true : bad(c, p, "%s", "must be a number");
  }
  if (!strcmp(k, "pattern")) return pattern_ok(c, v, p);
  if (!strcmp(k, "allOf") || !strcmp(k, "anyOf")) {
    return schema_list(c, v, p, depth);
  }
  if (in_list(k, annotations, sizeof annotations / sizeof annotations[0])) {
    return true;
  }
  (void)sc;
  return bad(c, p, "the keyword '%s' is not supported by this gateway "
             "(supported: type, enum, const, properties, required, "
             "additionalProperties, items, minItems, maxItems, minLength, "
             "maxLength, pattern, minimum, maximum, exclusiveMinimum, "
             "exclusiveMaximum, allOf, anyOf)", k);
}

/* OpenAI's strict mode: objects close their properties and require all. */
static bool strict_ok(fctx *c, const json_t *sc, const char *path) {
  if (!has_type(sc, "object") && !json_object_get(sc, "properties")) {
    return true;
  }
  char p[FMT_PATH_MAX];
  if (!json_is_false(json_object_get(sc, "additionalProperties"))) {
    sub(p, path, "additionalProperties", NULL);
    return bad(c, p, "%s", "must be false for every object when strict is "
               "true");
  }
  json_t *req = json_object_get(sc, "required");
  const char *name;
  json_t *x;
  json_object_foreach(json_object_get(sc, "properties"), name, x) {
    bool found = false;
    size_t i;
    json_t *q;
    json_array_foreach(req, i, q) {
      found = found || !strcmp(json_string_value(q), name);
    }
    if (!found) {
      sub(p, path, "required", NULL);
      return bad(c, p, "must list every property when strict is true "
                 "(missing '%s')", name);
    }
  }
  return true;
}

static bool schema_ok(fctx *c, const json_t *sc, const char *path,
                      int depth) {
  if (depth > FMT_DEPTH_MAX) {
    return bad(c, path, "%s", "the schema is nested too deeply");
  }
  if (!json_is_object(sc)) return bad(c, path, "%s", "must be an object");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)sc, k, v) {
    if (!keyword_ok(c, sc, k, v, path, depth)) return false;
  }
  return !c->strict || strict_ok(c, sc, path);
}

bool srv_gw_format_parse(srv_req *r, json_t *body, srv_gw_format *f) {
  memset(f, 0, sizeof *f);
  json_t *rf = json_object_get(body, "response_format");
  if (!rf || json_is_null(rf)) return true;
  if (!json_is_object(rf)) {
    srv_fail(r, SRV_E_BAD_PARAM, "response_format", "'response_format' must "
             "be an object");
    return false;
  }
  const char *type = json_string_value(json_object_get(rf, "type"));
  if (!type || (strcmp(type, "text") && strcmp(type, "json_object") &&
                strcmp(type, "json_schema"))) {
    srv_fail(r, SRV_E_BAD_PARAM, "response_format.type", "'response_format."
             "type' must be one of 'text', 'json_object', 'json_schema'");
    return false;
  }
  if (!strcmp(type, "text")) return true;
  if (!strcmp(type, "json_object")) {
    f->kind = GW_FORMAT_JSON_OBJECT;
    return true;
  }
  json_t *js = json_object_get(rf, "json_schema");
  if (!json_is_object(js)) {
    srv_fail(r, SRV_E_MISSING_PARAM, "response_format.json_schema",
             "'response_format.json_schema' must be an object when type is "
             "'json_schema'");
    return false;
  }
  const char *name = json_string_value(json_object_get(js, "name"));
  size_t nlen = name ? strlen(name) : 0;
  bool name_ok = nlen >= 1 && nlen <= 64;
  for (size_t i = 0; name_ok && i < nlen; i++) {
    char ch = name[i];
    name_ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  }
  if (!name_ok) {
    srv_fail(r, SRV_E_BAD_PARAM, "response_format.json_schema.name",
             "'response_format.json_schema.name' must be 1 to 64 characters "
             "of a-z A-Z 0-9 _ -");
    return false;
  }
  json_t *strict = json_object_get(js, "strict");
  if (strict && !json_is_boolean(strict) && !json_is_null(strict)) {
    srv_fail(r, SRV_E_BAD_PARAM, "response_format.json_schema.strict",
             "'response_format.json_schema.strict' must be a boolean");
    return false;
  }
  fctx c = {r, json_is_true(strict)};
  json_t *sc = json_object_get(js, "schema");
  const char *path = "response_format.json_schema.schema";
  if (!sc || json_is_null(sc)) {
    if (c.strict) {
      srv_fail(r, SRV_E_MISSING_PARAM, path, "'%s' is required when strict "
               "is true", path);
      return false;
    }
  } else if (!schema_ok(&c, sc, path, 0)) {
    return false;
  } else if (c.strict && !has_type(sc, "object")) {
    char p[FMT_PATH_MAX];
    sub(p, path, "type", NULL);
    bad(&c, p, "%s", "the root schema must be of type 'object' when strict "
        "is true");
    return false;
  }
  f->kind = GW_FORMAT_JSON_SCHEMA;
  f->strict = c.strict;
  f->schema = json_incref(sc);
  return true;
}

bool srv_gw_format_check(const srv_gw_format *f, const char *s, size_t n,
                         char *why, size_t whysize) {
  if (f->kind == GW_FORMAT_NONE) return true;
  json_error_t je;
  json_t *doc = json_loadb(s ? s : "", n, JSON_DECODE_ANY, &je);
  if (!doc) {
    snprintf(why, whysize, "the content is not valid JSON: %s (line %d, "
             "column %d)", je.text, je.line, je.column);
    return false;
  }
  bool ok = true;
  if (f->kind == GW_FORMAT_JSON_OBJECT && !json_is_object(doc)) {
    snprintf(why, whysize, "the content is JSON but not an object");
    ok = false;
  } else if (f->schema) {
    json_t *errs = wg_json_schema_errors(doc, f->schema);
    if (!errs) {
      snprintf(why, whysize, "out of memory");
      ok = false;
    } else if (json_array_size(errs)) {
      json_t *e0 = json_array_get(errs, 0);
      snprintf(why, whysize, "the content does not match the schema: %s%s",
               json_string_value(json_object_get(e0, "error")),
               json_array_size(errs) > 1 ? " (and more)" : "");
      ok = false;
    }
    json_decref(errs);
  }
  json_decref(doc);
  return ok;
}

void srv_gw_format_free(srv_gw_format *f) {
  json_decref(f->schema);
  f->schema = NULL;
}
