/*
** JSON schema -> GBNF (llama.cpp's grammar format), for response_format
** json_object / json_schema: the grammar constrains sampling so that the
** output is JSON of that shape.
**
** The supported subset (anything else fails with WG_EINVAL naming the
** keyword and where it is):
**   type           "object" "array" "string" "number" "integer" "boolean"
**                  "null", or an array of those (any of them)
**   properties     objects: the properties, in the order declared
**   required       which of them must appear (the others may be left out)
**   additionalProperties  false or absent: no other property is produced
**   items          arrays: the schema of every item
**   minItems, maxItems    arrays: bounds on the item count
**   minLength, maxLength  strings: bounds on the character count
**   enum, const    any JSON values (produced exactly, compact)
**   anyOf          one of the subschemas
**   title, description, default, examples, $schema, $id, $comment
**                  annotations, ignored
** A schema with no type and none of the above (`{}` or `true`) accepts
** any JSON value. Not supported: $ref/$defs, oneOf/allOf/not, pattern,
** format, minimum/maximum and the other numeric bounds, prefixItems,
** patternProperties, dependent* and if/then/else.
**
** Whitespace between tokens is bounded (at most one newline and 20
** indentation characters), so a model cannot loop on blanks forever.
** Rule names follow the schema path (root, root-name, root-tags-item);
** a name already taken gets a number.
*/
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ai/llm.h"

#define GBNF_MAX (1u << 20)
#define DEPTH_MAX 32
#define ITEMS_MAX 1000

/* The rules every grammar ends with (the generic JSON value). */
static const char base_rules[] =
    "value ::= object | array | string | number | boolean | null\n"
    "object ::= \"{\" ws ( string \":\" ws value ( \",\" ws string \":\" ws "
    "value )* )? \"}\" ws\n"
    "array ::= \"[\" ws ( value ( \",\" ws value )* )? \"]\" ws\n"
    "string ::= \"\\\"\" char* \"\\\"\" ws\n"
    "char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | "
    "\"u\" [0-9a-fA-F]{4} )\n"
    "number ::= \"-\"? int ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )? "
    "ws\n"
    "integer ::= \"-\"? int ws\n"
    "int ::= [0-9] | [1-9] [0-9]{1,15}\n"
    "boolean ::= ( \"true\" | \"false\" ) ws\n"
    "null ::= \"null\" ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

typedef struct conv {
  wg_buf rules;      /* the rules made so far, root first */
  wg_error *err;
} conv;

static wg_err oom(conv *c) {
  return wg_error_set(c->err, WG_ENOMEM, "schema: out of memory");
}

static wg_err put(wg_buf *b, const char *s) {
  return wg_buf_append(b, s, strlen(s));
}

/* Appends s as a GBNF string literal ("..." with escapes). */
static wg_err put_lit(wg_buf *b, const char *s, size_t n) {
  wg_err rc = wg_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      char e[2] = {'\\', (char)ch};
      rc = wg_buf_append(b, e, 2);
    } else if (ch == '\n') rc = put(b, "\\n");
    else if (ch == '\r') rc = put(b, "\\r");
    else if (ch == '\t') rc = put(b, "\\t");
    else if (ch < 0x20 || ch == 0x7f) rc = wg_buf_printf(b, "\\x%02X", ch);
    else rc = wg_buf_append(b, &s[i], 1);
  }
  return rc ? rc : wg_buf_append(b, "\"", 1);
}

/* The compact JSON text of v as a GBNF literal followed by ws. */
static wg_err put_json_lit(conv *c, wg_buf *b, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!s) return oom(c);
  wg_err rc = put_lit(b, s, strlen(s));
  json_free_t fr;
  json_get_alloc_funcs(NULL, &fr);
  fr(s);
  if (!rc) rc = put(b, " ws");
  return rc ? oom(c) : WG_OK;
}

static bool name_taken(const wg_buf *b, const char *name) {
  size_t nl = strlen(name);
  const char *p = (const char *)b->data;
  if (!p) return false;
  for (const char *q = p; (q = strstr(q, name)); q++)
    if ((q == p || q[-1] == '\n') && !strncmp(q + nl, " ::=", 4))
      return true;
  return false;
}

/* A fresh rule name from parent and a schema key. */
static void rule_name(const conv *c, const char *parent, const char *key,
                      char *out, size_t size) {
  char base[120];
  size_t n = (size_t)snprintf(base, sizeof base, "%s-", parent);
  if (n >= sizeof base) n = sizeof base - 1;
  for (const char *k = key; *k && n + 1 < sizeof base; k++) {
    char ch = *k;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9');
    if (ok || (n && base[n - 1] != '-')) base[n++] = ok ? ch : '-';
  }
  while (n && base[n - 1] == '-') n--;
  base[n] = 0;
  snprintf(out, size, "%s", base);
  for (unsigned i = 2; name_taken(&c->rules, out) ||
                       !strcmp(out, "value") || !strcmp(out, "object");
       i++)
    snprintf(out, size, "%s%u", base, i);
}

static wg_err schema(conv *c, json_t *s, const char *name, const char *path,
                     int depth, wg_buf *expr);

static const char *const annotations[] = {
    "title", "description", "default", "examples", "$schema", "$id",
    "$comment", NULL};

static bool in(const char *k, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(k, *list)) return true;
  return false;
}

/* Rejects keys of s that are neither annotations nor in allowed. */
static wg_err check_keys(conv *c, json_t *s, const char *path,
                         const char *const *allowed) {
  const char *k;
  json_t *v;
  json_object_foreach(s, k, v) {
    (void)v;
    if (in(k, annotations) || in(k, allowed)) continue;
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: unsupported keyword \"%s\" at %s", k,
                        *path ? path : "/");
  }
  return WG_OK;
}

/* Makes the rule `name ::= expr` from a sub-schema and gives its name. */
static wg_err sub_rule(conv *c, json_t *s, const char *name, const char *path,
                       int depth) {
  wg_buf e;
  wg_buf_init(&e, GBNF_MAX);
  wg_err rc = schema(c, s, name, path, depth + 1, &e);
  if (!rc && (wg_buf_printf(&c->rules, "%s ::= %s\n", name,
                            e.data ? (const char *)e.data : "") ))
    rc = wg_error_set(c->err, WG_ELIMIT, "schema: grammar too large");
  wg_buf_free(&e);
  return rc;
}

static wg_err uint_kw(conv *c, json_t *s, const char *kw, const char *path,
                      json_int_t *out) {
  json_t *v = json_object_get(s, kw);
  *out = -1;
  if (!v) return WG_OK;
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > ITEMS_MAX)
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: \"%s\" at %s must be an integer 0..%d", kw,
                        *path ? path : "/", ITEMS_MAX);
  *out = json_integer_value(v);
  return WG_OK;
}

/* {m,n} for the bounds (m or n -1 when absent) */
static wg_err put_repeat(wg_buf *b, json_int_t lo, json_int_t hi) {
  if (lo < 0) lo = 0;
  if (hi < 0) return lo ? wg_buf_printf(b, "{%lld,}", (long long)lo)
                        : put(b, "*");
  return wg_buf_printf(b, "{%lld,%lld}", (long long)lo, (long long)hi);
}

static wg_err bounds(conv *c, json_t *s, const char *path, const char *lo_kw,
                     const char *hi_kw, json_int_t *lo, json_int_t *hi) {
  wg_err rc = uint_kw(c, s, lo_kw, path, lo);
  if (!rc) rc = uint_kw(c, s, hi_kw, path, hi);
  if (!rc && *hi >= 0 && *lo > *hi)
    rc = wg_error_set(c->err, WG_EINVAL, "schema: %s > %s at %s", lo_kw,
                      hi_kw, *path ? path : "/");
  return rc;
}

static wg_err object_expr(conv *c, json_t *s, const char *name,
                          const char *path, int depth, wg_buf *x) {
  json_t *props = json_object_get(s, "properties");
  json_t *req = json_object_get(s, "required");
  json_t *ap = json_object_get(s, "additionalProperties");
  if (ap && !json_is_false(ap))
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: unsupported keyword \"additionalProperties\" "
                        "(only false) at %s", *path ? path : "/");
  if (props && !json_is_object(props))
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: \"properties\" at %s must be an object",
                        *path ? path : "/");
  if (req && !json_is_array(req))
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: \"required\" at %s must be an array",
                        *path ? path : "/");
  size_t n = props ? json_object_size(props) : 0;
  if (!n && (!req || !json_array_size(req)))
    return put(x, "\"{\" ws \"}\" ws") ? oom(c) : WG_OK;
  if (n > 64)
    return wg_error_set(c->err, WG_ELIMIT,
                        "schema: more than 64 properties at %s",
                        *path ? path : "/");
  /* Each property: its key/value expression and whether it is required. */
  char kv[64][256];
  bool need[64];
  size_t i = 0, first_req = n;
  size_t idx;
  json_t *r;
  json_array_foreach(req, idx, r) {
    if (!json_is_string(r) || !json_object_get(props, json_string_value(r)))
      return wg_error_set(c->err, WG_EINVAL,
                          "schema: \"required\" at %s names %s, which is not "
                          "in \"properties\"", *path ? path : "/",
                          json_is_string(r) ? json_string_value(r)
                                            : "a non-string");
  }
  const char *k;
  json_t *v;
  json_object_foreach(props, k, v) {
    char rn[160], p2[512];
    rule_name(c, name, k, rn, sizeof rn);
    snprintf(p2, sizeof p2, "%s/properties/%s", path, k);
    wg_buf lit;
    wg_buf_init(&lit, 200);
    json_t *ks = json_string(k);
    wg_err rc = ks ? put_lit(&lit, "", 0) : WG_ENOMEM;
    if (!rc) {
      wg_buf_reset(&lit);
      char *d = json_dumps(ks, JSON_ENCODE_ANY);
      rc = d ? put_lit(&lit, d, strlen(d)) : WG_ENOMEM;
      if (d) {
        json_free_t fr;
        json_get_alloc_funcs(NULL, &fr);
        fr(d);
      }
    }
    json_decref(ks);
    if (rc) {
      wg_buf_free(&lit);
      return wg_error_set(c->err, WG_ELIMIT,
                          "schema: property name too long at %s", p2);
    }
    snprintf(kv[i], sizeof kv[i], "%s ws \":\" ws %s", (const char *)lit.data,
             rn);
    wg_buf_free(&lit);
    need[i] = false;
    json_array_foreach(req, idx, r) if (!strcmp(json_string_value(r), k))
        need[i] = true;
    if (need[i] && first_req == n) first_req = i;
    rc = sub_rule(c, v, rn, p2, depth);
    if (rc) return rc;
    i++;
  }
  /* rest(j): the properties from j on, each with its leading comma. */
  wg_err rc = put(x, "\"{\" ws ");
  bool alt = first_req == n;   /* no required property: may be empty */
  if (!rc) rc = put(x, alt ? "( " : (first_req ? "( " : ""));
  size_t last = first_req == n ? n - 1 : first_req;
  for (size_t f = 0; f <= last && !rc; f++) {
    if (f) rc = put(x, " | ");
    if (!rc) rc = put(x, kv[f]);
    for (size_t j = f + 1; j < n && !rc; j++)
      rc = wg_buf_printf(x, need[j] ? " \",\" ws %s" : " ( \",\" ws %s )?",
                         kv[j]);
  }
  if (!rc && (alt || first_req)) rc = put(x, alt ? " )?" : " )");
  if (!rc) rc = put(x, " \"}\" ws");
  return rc ? wg_error_set(c->err, WG_ELIMIT, "schema: grammar too large")
            : WG_OK;
}

static wg_err array_expr(conv *c, json_t *s, const char *name,
                         const char *path, int depth, wg_buf *x) {
  json_int_t lo, hi;
  wg_err rc = bounds(c, s, path, "minItems", "maxItems", &lo, &hi);
  if (rc) return rc;
  json_t *items = json_object_get(s, "items");
  char item[160];
  if (items) {
    char rn[160], p2[512];
    rule_name(c, name, "item", rn, sizeof rn);
    snprintf(p2, sizeof p2, "%s/items", path);
    rc = sub_rule(c, items, rn, p2, depth);
    if (rc) return rc;
    snprintf(item, sizeof item, "%s", rn);
  } else {
    snprintf(item, sizeof item, "value");
  }
  if (hi == 0) return put(x, "\"[\" ws \"]\" ws") ? oom(c) : WG_OK;
  if (lo < 1) {   /* ( item ( "," ws item ){0,hi-1} )? */
    rc = wg_buf_printf(x, "\"[\" ws ( %s ( \",\" ws %s )", item, item);
    if (!rc) rc = put_repeat(x, 0, hi < 0 ? -1 : hi - 1);
    if (!rc) rc = put(x, " )? \"]\" ws");
  } else {
    rc = wg_buf_printf(x, "\"[\" ws %s ( \",\" ws %s )", item, item);
    if (!rc) rc = put_repeat(x, lo - 1, hi < 0 ? -1 : hi - 1);
    if (!rc) rc = put(x, " \"]\" ws");
  }
  return rc ? oom(c) : WG_OK;
}

static wg_err string_expr(conv *c, json_t *s, const char *path, wg_buf *x) {
  json_int_t lo, hi;
  wg_err rc = bounds(c, s, path, "minLength", "maxLength", &lo, &hi);
  if (rc) return rc;
  if (lo < 0 && hi < 0) return put(x, "string") ? oom(c) : WG_OK;
  rc = put(x, "\"\\\"\" char");
  if (!rc) rc = put_repeat(x, lo, hi);
  if (!rc) rc = put(x, " \"\\\"\" ws");
  return rc ? oom(c) : WG_OK;
}

static const char *const kw_object[] = {"type", "properties", "required",
                                        "additionalProperties", NULL};
static const char *const kw_array[] = {"type", "items", "minItems",
                                       "maxItems", NULL};
static const char *const kw_string[] = {"type", "minLength", "maxLength",
                                        NULL};
static const char *const kw_type[] = {"type", NULL};

/* The expression for one type name. */
static wg_err type_expr(conv *c, json_t *s, const char *t, const char *name,
                        const char *path, int depth, wg_buf *x) {
  wg_err rc;
  if (!strcmp(t, "object")) {
    if ((rc = check_keys(c, s, path, kw_object))) return rc;
    return object_expr(c, s, name, path, depth, x);
  }
  if (!strcmp(t, "array")) {
    if ((rc = check_keys(c, s, path, kw_array))) return rc;
    return array_expr(c, s, name, path, depth, x);
  }
  if (!strcmp(t, "string")) {
    if ((rc = check_keys(c, s, path, kw_string))) return rc;
    return string_expr(c, s, path, x);
  }
  if (strcmp(t, "number") && strcmp(t, "integer") && strcmp(t, "boolean") &&
      strcmp(t, "null"))
    return wg_error_set(c->err, WG_EINVAL, "schema: unknown type \"%s\" at %s",
                        t, *path ? path : "/");
  if ((rc = check_keys(c, s, path, kw_type))) return rc;
  return put(x, t) ? oom(c) : WG_OK;
}

/* The GBNF expression matching schema s (rules it needs are added). */
static wg_err schema(conv *c, json_t *s, const char *name, const char *path,
                     int depth, wg_buf *x) {
  if (depth > DEPTH_MAX)
    return wg_error_set(c->err, WG_ELIMIT,
                        "schema: nested deeper than %d at %s", DEPTH_MAX,
                        *path ? path : "/");
  if (json_is_true(s)) return put(x, "value") ? oom(c) : WG_OK;
  if (!json_is_object(s))
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: expected an object at %s",
                        *path ? path : "/");
  json_t *v;
  wg_err rc;
  static const char *const kw_enum[] = {"enum", "type", NULL};
  static const char *const kw_const[] = {"const", "type", NULL};
  static const char *const kw_any[] = {"anyOf", NULL};
  if ((v = json_object_get(s, "const"))) {
    if ((rc = check_keys(c, s, path, kw_const))) return rc;
    return put_json_lit(c, x, v);
  }
  if ((v = json_object_get(s, "enum"))) {
    if ((rc = check_keys(c, s, path, kw_enum))) return rc;
    if (!json_is_array(v) || !json_array_size(v))
      return wg_error_set(c->err, WG_EINVAL,
                          "schema: \"enum\" at %s must be a non-empty array",
                          *path ? path : "/");
    size_t i;
    json_t *e;
    rc = put(x, "( ");
    json_array_foreach(v, i, e) {
      if (!rc && i) rc = put(x, " | ");
      if (!rc) rc = put_json_lit(c, x, e);
    }
    return rc ? rc : (put(x, " )") ? oom(c) : WG_OK);
  }
  if ((v = json_object_get(s, "anyOf"))) {
    if ((rc = check_keys(c, s, path, kw_any))) return rc;
    if (!json_is_array(v) || !json_array_size(v))
      return wg_error_set(c->err, WG_EINVAL,
                          "schema: \"anyOf\" at %s must be a non-empty array",
                          *path ? path : "/");
    size_t i;
    json_t *e;
    rc = put(x, "( ");
    json_array_foreach(v, i, e) {
      char rn[160], key[24], p2[512];
      snprintf(key, sizeof key, "%zu", i);
      rule_name(c, name, key, rn, sizeof rn);
      snprintf(p2, sizeof p2, "%s/anyOf/%zu", path, i);
      if (!rc && i) rc = put(x, " | ");
      if (!rc) rc = sub_rule(c, e, rn, p2, depth);
      if (!rc) rc = put(x, rn);
    }
    return rc ? rc : (put(x, " )") ? oom(c) : WG_OK);
  }
  json_t *t = json_object_get(s, "type");
  if (!t) {
    static const char *const none[] = {NULL};
    if ((rc = check_keys(c, s, path, none))) return rc;
    return put(x, "value") ? oom(c) : WG_OK;
  }
  if (json_is_string(t))
    return type_expr(c, s, json_string_value(t), name, path, depth, x);
  if (!json_is_array(t) || !json_array_size(t))
    return wg_error_set(c->err, WG_EINVAL,
                        "schema: \"type\" at %s must be a string or a "
                        "non-empty array", *path ? path : "/");
  size_t i;
  json_t *e;
  rc = put(x, "( ");
  json_array_foreach(t, i, e) {
    if (!json_is_string(e))
      return wg_error_set(c->err, WG_EINVAL,
                          "schema: \"type\" at %s must list strings",
                          *path ? path : "/");
    if (!rc && i) rc = put(x, " | ");
    if (!rc) rc = type_expr(c, s, json_string_value(e), name, path, depth, x);
  }
  return rc ? rc : (put(x, " )") ? oom(c) : WG_OK);
}

/*
** Converts a JSON schema (the subset in the file comment) into GBNF with
** root rule "root"; NULL gives any JSON object.
*/
wg_err ai_llm_schema_to_gbnf(const char *text, size_t len, wg_buf *out,
                             wg_error *err) {
  wg_buf_reset(out);
  conv c = {.err = err};
  wg_buf_init(&c.rules, GBNF_MAX);
  wg_buf root;
  wg_buf_init(&root, GBNF_MAX);
  json_t *s = NULL;
  wg_err rc = WG_OK;
  if (!text) {
    rc = put(&root, "object") ? oom(&c) : WG_OK;
  } else {
    json_error_t je;
    s = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!s)
      rc = wg_error_set(err, WG_EINVAL, "schema: not JSON: %s", je.text);
    else
      rc = schema(&c, s, "root", "", 0, &root);
  }
  if (!rc &&
      (wg_buf_printf(out, "root ::= %s\n", (const char *)root.data) ||
       (c.rules.len && wg_buf_append(out, c.rules.data, c.rules.len)) ||
       put(out, base_rules)))
    rc = wg_error_set(err, WG_ELIMIT, "schema: grammar too large");
  if (rc) wg_buf_reset(out);
  json_decref(s);
  wg_buf_free(&c.rules);
  wg_buf_free(&root);
  return rc;
}
