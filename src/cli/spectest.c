/*
** wasmgate spectest [--quiet] [-v] [--strict] FILE.json
**
** Runs one script of the WebAssembly spec test suite, as converted by
** wast2json, the way wabt's spectest-interp does (see
** wasm-spec-testsuite/README.md): the commands in order, in ONE store per
** file, so that the spectest host module, registered instances and every
** module of the file live together.
**
** Counting follows spectest-interp: every command except `register` is one
** test. Commands whose module is in text format (.wat) are skipped. The last
** line of output is always "N passed, N failed, N skipped"; each failure is
** one line "FILE:LINE: TYPE failed: WHY" before it (--quiet drops those).
** Exit status 0 iff nothing failed.
**
** --strict also checks what spectest-interp does not: that a trap's kind is
** the one the script names ("text"), and that assert_malformed fails in the
** decoder and assert_invalid in the validator. -v prints each command.
**
** Values: i32/i64/f32/f64 arrive as unsigned decimal bit patterns; externref
** N is the host value N+1 (so that 0 stays null), the same for the same N.
*/
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* A name (bytes) bound to an instance: named modules and registrations. */
typedef struct st_binding {
  wg_buf name;
  wg_instance *inst;    /* NULL: the module of that name failed */
} st_binding;

/* The spectest host module, one row per export. */
enum { ST_NFUNCS = 7 };
static const struct {
  const char *name;
  uint32_t nparams;
  uint8_t params[2];
} st_funcs[ST_NFUNCS] = {
    {"print", 0, {0}},
    {"print_i32", 1, {WG_I32}},
    {"print_i64", 1, {WG_I64}},
    {"print_f32", 1, {WG_F32}},
    {"print_f64", 1, {WG_F64}},
    {"print_i32_f32", 2, {WG_I32, WG_F32}},
    {"print_f64_f64", 2, {WG_F64, WG_F64}},
};
enum { ST_NHOST = ST_NFUNCS + 6 };   /* + 4 globals, table, memory */

typedef struct st_ctx {
  const char *label;          /* FILE of "FILE:LINE:" */
  wg_buf dir;                 /* the JSON's directory, with a final '/' */
  wg_store *store;
  wg_buf named;               /* st_binding[]: modules by their $name */
  wg_buf registered;          /* st_binding[]: instances by `register` name */
  wg_instance *current;       /* the last module that instantiated */
  struct { const char *name; wg_extern ext; } host[ST_NHOST];
  wg_buf args, results;       /* scratch wg_val arrays */
  wg_buf why;                 /* the reason of the current failure */
  long long line;             /* of the current command */
  const char *type;           /* of the current command */
  unsigned passed, failed, skipped;
  bool quiet, verbose, strict;
} st_ctx;

/* ------------------------------------------------------------------ */
/* Outcomes                                                            */

static void pass(st_ctx *c) { c->passed++; }

static void fail(st_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(st_ctx *c, const char *fmt, ...) {
  c->failed++;
  if (c->quiet) return;
  printf("%s:%lld: %s failed: ", c->label, c->line, c->type);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
}

/* Starts a new reason text in c->why and returns the buffer. */
static wg_buf *why(st_ctx *c) {
  wg_buf_reset(&c->why);
  return &c->why;
}

/* ------------------------------------------------------------------ */
/* JSON access that never trusts the input                             */

/* The string member key of o as bytes; false when absent or not a string. */
static bool jstr(const json_t *o, const char *key, const char **p,
                 size_t *n) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return false;
  *p = json_string_value(v);
  *n = json_string_length(v);
  return true;
}

/* The string member key of o when it has no NUL, else NULL. */
static const char *jcstr(const json_t *o, const char *key) {
  const char *p;
  size_t n;
  if (!jstr(o, key, &p, &n) || strlen(p) != n) return NULL;
  return p;
}

static bool str_is(const char *p, size_t n, const char *lit) {
  return strlen(lit) == n && !memcmp(p, lit, n);
}

/* An unsigned decimal ("4294967295") or negative decimal ("-1") that fits
** `bits` bits, as its bit pattern. */
static bool parse_bits(const char *s, unsigned bits, uint64_t *out) {
  bool neg = s[0] == '-';
  const char *p = s + neg;
  if (*p < '0' || *p > '9') return false;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (*p) return false;
  uint64_t mask = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
  if (neg) {
    if (v > (1ull << (bits - 1))) return false;
    v = ((uint64_t)0 - v) & mask;
  } else if (v > mask) {
    return false;
  }
  *out = v;
  return true;
}

static bool valtype_from(const char *p, size_t n, uint8_t *t) {
  static const uint8_t all[] = {WG_I32,  WG_I64,     WG_F32,      WG_F64,
                                WG_V128, WG_FUNCREF, WG_EXTERNREF};
  for (size_t i = 0; i < sizeof all; i++) {
    if (str_is(p, n, wg_valtype_name(all[i]))) {
      *t = all[i];
      return true;
    }
  }
  return false;
}

/* Lane width in bytes of a v128 lane_type; 0 when unknown. */
static unsigned lane_size(const json_t *jv, bool *is_float) {
  const char *p;
  size_t n;
  *is_float = false;
  if (!jstr(jv, "lane_type", &p, &n)) return 0;
  if (str_is(p, n, "i8")) return 1;
  if (str_is(p, n, "i16")) return 2;
  if (str_is(p, n, "i32")) return 4;
  if (str_is(p, n, "i64")) return 8;
  *is_float = true;
  if (str_is(p, n, "f32")) return 4;
  if (str_is(p, n, "f64")) return 8;
  return 0;
}

/* An argument {"type","value"} as a wg_val; false when malformed. */
static bool parse_arg(const json_t *jv, wg_val *out) {
  const char *tp, *vp;
  size_t tn, vn;
  uint8_t t;
  uint64_t bits;
  memset(out, 0, sizeof *out);
  if (!jstr(jv, "type", &tp, &tn) || !valtype_from(tp, tn, &t)) return false;
  out->type = (wg_valtype)t;
  if (t == WG_V128) {
    bool fl;
    unsigned sz = lane_size(jv, &fl);
    json_t *lanes = json_object_get(jv, "value");
    if (!sz || !json_is_array(lanes) || json_array_size(lanes) != 16 / sz) {
      return false;
    }
    uint8_t bytes[16];
    for (unsigned k = 0; k < 16 / sz; k++) {
      const char *s = json_string_value(json_array_get(lanes, k));
      if (!s || !parse_bits(s, sz * 8, &bits)) return false;
      for (unsigned b = 0; b < sz; b++) {
        bytes[k * sz + b] = (uint8_t)(bits >> (8 * b));
      }
    }
    memcpy(out->of.v128, bytes, 16);
    return true;
  }
  if (!jstr(jv, "value", &vp, &vn) || strlen(vp) != vn) return false;
  switch (t) {
    case WG_I32:
    case WG_F32:
      if (!parse_bits(vp, 32, &bits)) return false;
      out->of.i32 = (uint32_t)bits;
      return true;
    case WG_I64:
    case WG_F64:
      if (!parse_bits(vp, 64, &bits)) return false;
      out->of.i64 = bits;
      return true;
    case WG_FUNCREF:
      out->of.ref = 0;
      return !strcmp(vp, "null");   /* the only funcref a script can pass */
    case WG_EXTERNREF:
      if (!strcmp(vp, "null")) {
        out->of.ref = 0;
        return true;
      }
      if (vp[0] == '-' || !parse_bits(vp, 64, &bits) || bits == UINT64_MAX) {
        return false;
      }
      out->of.ref = bits + 1;
      return true;
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Matching and printing values                                        */

/* Compares one scalar (or lane) of `bits` bits against the expected string:
** a bit pattern, or nan:canonical / nan:arithmetic for floats. Returns 1 on
** a match, 0 on a mismatch, -1 when the expected text is malformed. */
static int match_scalar(const char *exp, bool is_float, unsigned bits,
                        uint64_t got) {
  if (is_float && !strcmp(exp, "nan:canonical")) {
    return bits == 32 ? (got & 0x7fffffffu) == 0x7fc00000u
                      : (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
  }
  if (is_float && !strcmp(exp, "nan:arithmetic")) {
    return bits == 32 ? (got & 0x7fc00000u) == 0x7fc00000u
                      : (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
  }
  uint64_t want;
  if (!parse_bits(exp, bits, &want)) return -1;
  return want == got;
}

static int match_value(const json_t *jv, const wg_val *got) {
  const char *tp, *vp;
  size_t tn, vn;
  uint8_t t;
  if (!jstr(jv, "type", &tp, &tn) || !valtype_from(tp, tn, &t)) return -1;
  if (t != got->type) return 0;
  if (t == WG_V128) {
    bool fl;
    unsigned sz = lane_size(jv, &fl);
    json_t *lanes = json_object_get(jv, "value");
    if (!sz || !json_is_array(lanes) || json_array_size(lanes) != 16 / sz) {
      return -1;
    }
    uint8_t bytes[16];
    memcpy(bytes, got->of.v128, 16);
    int all = 1;
    for (unsigned k = 0; k < 16 / sz; k++) {
      const char *s = json_string_value(json_array_get(lanes, k));
      if (!s) return -1;
      uint64_t lane = 0;
      for (unsigned b = 0; b < sz; b++) {
        lane |= (uint64_t)bytes[k * sz + b] << (8 * b);
      }
      int r = match_scalar(s, fl, sz * 8, lane);
      if (r < 0) return -1;
      if (!r) all = 0;
    }
    return all;
  }
  if (!jstr(jv, "value", &vp, &vn) || strlen(vp) != vn) return -1;
  switch (t) {
    case WG_I32: return match_scalar(vp, false, 32, got->of.i32);
    case WG_F32: return match_scalar(vp, true, 32, got->of.i32);
    case WG_I64: return match_scalar(vp, false, 64, got->of.i64);
    case WG_F64: return match_scalar(vp, true, 64, got->of.i64);
    case WG_FUNCREF:
      if (!strcmp(vp, "null")) return got->of.ref == 0;
      return -1;
    case WG_EXTERNREF: {
      if (!strcmp(vp, "null")) return got->of.ref == 0;
      uint64_t n;
      if (vp[0] == '-' || !parse_bits(vp, 64, &n) || n == UINT64_MAX) {
        return -1;
      }
      return got->of.ref == n + 1;
    }
  }
  return -1;
}

static void fmt_value(wg_buf *b, const wg_val *v) {
  switch (v->type) {
    case WG_I32:
      wg_buf_printf(b, "i32:%u", v->of.i32);
      break;
    case WG_I64:
      wg_buf_printf(b, "i64:%llu", (unsigned long long)v->of.i64);
      break;
    case WG_F32: {
      float f;
      memcpy(&f, &v->of.i32, 4);
      wg_buf_printf(b, "f32:%u (%.9g)", v->of.i32, (double)f);
      break;
    }
    case WG_F64: {
      double d;
      memcpy(&d, &v->of.i64, 8);
      wg_buf_printf(b, "f64:%llu (%.17g)", (unsigned long long)v->of.i64, d);
      break;
    }
    case WG_V128: {
      uint32_t l[4];
      memcpy(l, v->of.v128, 16);
      wg_buf_printf(b, "v128:i32x4 0x%08x 0x%08x 0x%08x 0x%08x", l[0], l[1],
                    l[2], l[3]);
      break;
    }
    case WG_FUNCREF:
      wg_buf_printf(b, "funcref:%s", v->of.ref ? "non-null" : "null");
      break;
    case WG_EXTERNREF:
      if (v->of.ref) {
        wg_buf_printf(b, "externref:%llu", (unsigned long long)v->of.ref - 1);
      } else {
        wg_buf_printf(b, "externref:null");
      }
      break;
    default:
      wg_buf_printf(b, "?type 0x%x", (unsigned)v->type);
  }
}

/* An expected value as the script wrote it: "i32:42", "v128:i8 [1 2 ...]". */
static void fmt_expected(wg_buf *b, const json_t *jv) {
  const char *tp = jcstr(jv, "type");
  json_t *val = json_object_get(jv, "value");
  wg_buf_printf(b, "%s:", tp ? tp : "?");
  if (json_is_array(val)) {
    const char *lt = jcstr(jv, "lane_type");
    wg_buf_printf(b, "%s [", lt ? lt : "?");
    for (size_t k = 0; k < json_array_size(val); k++) {
      const char *s = json_string_value(json_array_get(val, k));
      wg_buf_printf(b, "%s%s", k ? " " : "", s ? s : "?");
    }
    wg_buf_append(b, "]", 1);
  } else {
    const char *s = json_string_value(val);
    wg_buf_printf(b, "%s", s ? s : "?");
  }
}

/* ------------------------------------------------------------------ */
/* Bindings (named modules, registrations) and the resolver            */

static st_binding *bindings(wg_buf *tbl, size_t *n) {
  *n = tbl->len / sizeof(st_binding);
  return (st_binding *)tbl->data;
}

/* The latest binding of name in tbl, or NULL. */
static st_binding *find_binding(wg_buf *tbl, const char *p, size_t len) {
  size_t n;
  st_binding *b = bindings(tbl, &n);
  for (size_t i = n; i-- > 0;) {
    if (b[i].name.len == len && (len == 0 || !memcmp(b[i].name.data, p, len))) {
      return &b[i];
    }
  }
  return NULL;
}

/* Binds name to inst (replacing an older binding in named, adding one in
** registered: both are searched newest first). */
static bool bind(wg_buf *tbl, const char *p, size_t len, wg_instance *inst) {
  st_binding *old = find_binding(tbl, p, len);
  if (old) {
    old->inst = inst;
    return true;
  }
  st_binding nb;
  wg_buf_init(&nb.name, 1u << 20);
  nb.inst = inst;
  if (wg_buf_append(&nb.name, p, len) != WG_OK ||
      wg_buf_append(tbl, &nb, sizeof nb) != WG_OK) {
    wg_buf_free(&nb.name);
    return false;
  }
  return true;
}

static void free_bindings(wg_buf *tbl) {
  size_t n;
  st_binding *b = bindings(tbl, &n);
  for (size_t i = 0; i < n; i++) wg_buf_free(&b[i].name);
  wg_buf_free(tbl);
}

/* Finds (module, field) among registered instances, then the spectest
** host module. */
static bool lookup(st_ctx *c, wg_name module, wg_name field, wg_extern *out) {
  st_binding *b = find_binding(&c->registered, module.ptr, module.len);
  if (b) {
    if (!b->inst) return false;
    wg_name f = {field.len ? field.ptr : "", field.len};
    return wg_instance_export(b->inst, f, out) == WG_OK;
  }
  if (!str_is(module.ptr, module.len, "spectest")) return false;
  for (int i = 0; i < ST_NHOST; i++) {
    if (str_is(field.ptr, field.len, c->host[i].name)) {
      *out = c->host[i].ext;
      return true;
    }
  }
  return false;
}

static wg_err st_resolve(void *user, wg_name module, wg_name name,
                         const wg_externtype *type, wg_extern *out) {
  st_ctx *c = user;
  wg_extern ext;
  if (!lookup(c, module, name, &ext)) return WG_EUNKNOWNIMPORT;
  if (!wg_extern_matches(&ext, type)) return WG_EIMPORTTYPE;
  *out = ext;
  return WG_OK;
}

static wg_err st_print(wg_host_call *call, uint64_t *stack) {
  (void)call;
  (void)stack;
  return WG_OK;
}

static bool make_host(st_ctx *c) {
  int k = 0;
  for (int i = 0; i < ST_NFUNCS; i++, k++) {
    wg_functype ft = {st_funcs[i].nparams, 0, st_funcs[i].params, NULL};
    c->host[k].name = st_funcs[i].name;
    c->host[k].ext.kind = WG_EXTERN_FUNC;
    c->host[k].ext.of.func = wg_func_new_host(c->store, &ft, st_print, NULL);
    if (!c->host[k].ext.of.func) return false;
  }
  float f32 = 666.6f;
  double f64 = 666.6;
  wg_val g[4];
  memset(g, 0, sizeof g);
  g[0].type = WG_I32;
  g[0].of.i32 = 666;
  g[1].type = WG_I64;
  g[1].of.i64 = 666;
  g[2].type = WG_F32;
  memcpy(&g[2].of.i32, &f32, 4);
  g[3].type = WG_F64;
  memcpy(&g[3].of.i64, &f64, 8);
  static const char *const gnames[4] = {"global_i32", "global_i64",
                                        "global_f32", "global_f64"};
  for (int i = 0; i < 4; i++, k++) {
    c->host[k].name = gnames[i];
    c->host[k].ext.kind = WG_EXTERN_GLOBAL;
    c->host[k].ext.of.global = wg_global_new(c->store, g[i], false);
    if (!c->host[k].ext.of.global) return false;
  }
  c->host[k].name = "table";
  c->host[k].ext.kind = WG_EXTERN_TABLE;
  c->host[k].ext.of.table =
      wg_table_new(c->store, WG_FUNCREF, (wg_limits){10, 20, true});
  if (!c->host[k++].ext.of.table) return false;
  c->host[k].name = "memory";
  c->host[k].ext.kind = WG_EXTERN_MEMORY;
  c->host[k].ext.of.memory =
      wg_memory_new(c->store, (wg_limits){1, 2, true});
  if (!c->host[k++].ext.of.memory) return false;
  return k == ST_NHOST;
}

/* ------------------------------------------------------------------ */
/* Modules                                                             */

/* True when the command's module is in text format (.wat): skipped. */
static bool is_text_module(const json_t *cmd) {
  const char *mt = jcstr(cmd, "module_type");
  if (mt) return !strcmp(mt, "text");
  const char *fn = jcstr(cmd, "filename");
  size_t n = fn ? strlen(fn) : 0;
  return n >= 4 && !strcmp(fn + n - 4, ".wat");
}

/* Reads and loads the command's "filename" (relative to the JSON's
** directory). NULL on failure: err tells why; *io is true when the file
** itself could not be read (a runner problem, not a verdict on the module). */
static wg_module *load_module(st_ctx *c, const json_t *cmd, wg_error *err,
                              bool *io) {
  wg_error_clear(err);
  *io = true;
  const char *fn = jcstr(cmd, "filename");
  if (!fn || !*fn) {
    wg_error_set(err, WG_EINVAL, "the command has no filename");
    return NULL;
  }
  wg_buf path;
  wg_buf_init(&path, 1u << 16);
  if (fn[0] != '/') wg_buf_printf(&path, "%s", cli_buf_str(&c->dir));
  wg_buf_printf(&path, "%s", fn);
  wg_buf bytes;
  wg_module *m = NULL;
  if (cli_read_file(cli_buf_str(&path), &bytes, err) == WG_OK) {
    *io = false;
    const uint8_t *p = bytes.data ? bytes.data : (const uint8_t *)"";
    m = wg_module_load(p, bytes.len, err);
    if (!m && err->code == WG_OK) {
      wg_error_set(err, WG_EMALFORMED, "rejected without a reason");
    }
  }
  wg_buf_free(&bytes);
  wg_buf_free(&path);
  return m;
}

static const char *err_text(const wg_error *e) {
  return e->message[0] ? e->message : wg_strerror(e->code);
}

/* Instantiates m against the registry; NULL with err filled on failure. */
static wg_instance *instantiate(st_ctx *c, wg_module *m, wg_error *err) {
  wg_error_clear(err);
  wg_instance *inst = wg_instance_new(c->store, m, st_resolve, c, err);
  if (!inst && err->code == WG_OK) {
    wg_error_set(err, WG_EINVAL, "instantiation failed without a reason");
  }
  return inst;
}

/* The trap named by the script (`text`) and code's message agree: one is a
** prefix of the other ("uninitialized element 2" names the index too). */
static bool trap_text_matches(const json_t *cmd, wg_err code) {
  const char *text = jcstr(cmd, "text");
  if (!text) return true;
  const char *msg = wg_strerror(code);
  size_t n = strlen(text) < strlen(msg) ? strlen(text) : strlen(msg);
  return !strncmp(msg, text, n);
}

static void do_module(st_ctx *c, const json_t *cmd) {
  const char *np;
  size_t nn;
  bool has_name = jstr(cmd, "name", &np, &nn);
  if (is_text_module(cmd)) {
    c->skipped++;
    return;
  }
  wg_instance *inst = NULL;
  wg_error err;
  bool io;
  wg_module *m = load_module(c, cmd, &err, &io);
  if (!m) {
    fail(c, "%s%s", io ? "" : "cannot load the module: ", err_text(&err));
  } else {
    inst = instantiate(c, m, &err);
    if (!inst) {
      fail(c, "cannot instantiate the module: %s (%s)", err_text(&err),
           wg_err_name(err.code));
    }
    wg_module_release(m);
  }
  /* a failed module is not current: later commands fail instead of running
  ** against an older module */
  c->current = inst;
  if (has_name && !bind(&c->named, np, nn, inst) && inst) {
    fail(c, "out of memory");
    return;
  }
  if (inst) pass(c);
}

static void do_register(st_ctx *c, const json_t *cmd) {
  const char *ap, *np;
  size_t an, nn;
  wg_instance *inst = c->current;
  if (!jstr(cmd, "as", &ap, &an)) {
    fail(c, "no \"as\" name");
    return;
  }
  if (jstr(cmd, "name", &np, &nn)) {
    st_binding *b = find_binding(&c->named, np, nn);
    inst = b ? b->inst : NULL;
  }
  /* not a test: only a missing module (already counted) makes it fail */
  if (!inst) {
    fail(c, "no module to register (it failed or does not exist)");
    return;
  }
  if (!bind(&c->registered, ap, an, inst)) fail(c, "out of memory");
}

static void do_assert_module(st_ctx *c, const json_t *cmd, bool malformed) {
  if (is_text_module(cmd)) {
    c->skipped++;
    return;
  }
  const char *text = jcstr(cmd, "text");
  wg_error err;
  bool io;
  wg_module *m = load_module(c, cmd, &err, &io);
  if (m) {
    wg_module_release(m);
    fail(c, "the module was accepted; expected \"%s\"", text ? text : "");
    return;
  }
  if (io) {
    fail(c, "%s", err_text(&err));
    return;
  }
  if (c->strict) {
    bool decode_err = err.code >= WG_EMAGIC && err.code < WG_EINVALID;
    if (malformed ? !decode_err : err.code != WG_EINVALID) {
      fail(c, "rejected by the %s, expected the %s: \"%s\" vs %s: %s",
           decode_err ? "decoder" : "validator",
           malformed ? "decoder" : "validator", text ? text : "",
           wg_err_name(err.code), err_text(&err));
      return;
    }
  }
  pass(c);
}

/* assert_unlinkable (link must fail) and assert_uninstantiable (a segment
** or the start function must trap). */
static void do_assert_instantiate(st_ctx *c, const json_t *cmd,
                                  bool unlinkable) {
  if (is_text_module(cmd)) {
    c->skipped++;
    return;
  }
  const char *text = jcstr(cmd, "text");
  wg_error err;
  bool io;
  wg_module *m = load_module(c, cmd, &err, &io);
  if (!m) {
    fail(c, "%s%s", io ? "" : "the module did not load: ", err_text(&err));
    return;
  }
  wg_instance *inst = instantiate(c, m, &err);
  wg_module_release(m);
  if (inst) {
    fail(c, "the module instantiated; expected \"%s\"", text ? text : "");
    return;
  }
  bool ok = unlinkable ? (err.code == WG_EUNKNOWNIMPORT ||
                          err.code == WG_EIMPORTTYPE)
                       : wg_is_trap(err.code);
  if (!ok) {
    fail(c, "expected %s \"%s\", got %s: %s",
         unlinkable ? "a link error" : "a trap", text ? text : "",
         wg_err_name(err.code), err_text(&err));
    return;
  }
  if (c->strict && !unlinkable && !trap_text_matches(cmd, err.code)) {
    fail(c, "expected trap \"%s\", got \"%s\"", text ? text : "",
         err_text(&err));
    return;
  }
  pass(c);
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

typedef enum { ACT_OK, ACT_TRAP, ACT_ERROR } act_result;

/* Performs the command's "action". ACT_OK: *res and *nres hold the results
** (in c->results). ACT_TRAP: *trap is the code, wg_store_trap the details.
** ACT_ERROR: the action could not be performed; c->why says why. */
static act_result run_action(st_ctx *c, const json_t *cmd, wg_val **res,
                             size_t *nres, wg_err *trap) {
  const json_t *act = json_object_get(cmd, "action");
  const char *tp, *fp, *mp;
  size_t tn, fn, mn;
  if (!json_is_object(act) || !jstr(act, "type", &tp, &tn) ||
      !jstr(act, "field", &fp, &fn) || fn > UINT32_MAX) {
    wg_buf_printf(why(c), "malformed action");
    return ACT_ERROR;
  }
  wg_instance *inst = c->current;
  if (jstr(act, "module", &mp, &mn)) {
    st_binding *b = find_binding(&c->named, mp, mn);
    inst = b ? b->inst : NULL;
  }
  if (!inst) {
    wg_buf_printf(why(c), "no module to act on (it failed or does not exist)");
    return ACT_ERROR;
  }
  wg_extern ext;
  wg_name field = {fn ? fp : "", (uint32_t)fn};
  if (wg_instance_export(inst, field, &ext) != WG_OK) {
    wg_buf *b = why(c);
    wg_buf_printf(b, "no export \"");
    cli_fmt_name(b, fp, fn);
    wg_buf_printf(b, "\"");
    return ACT_ERROR;
  }

  if (str_is(tp, tn, "get")) {
    if (ext.kind != WG_EXTERN_GLOBAL) {
      wg_buf_printf(why(c), "get: the export is a %s, not a global",
                    cli_externkind_name(ext.kind));
      return ACT_ERROR;
    }
    wg_val *r = cli_buf_zeroed(&c->results, sizeof(wg_val));
    if (!r) {
      wg_buf_printf(why(c), "out of memory");
      return ACT_ERROR;
    }
    *r = wg_global_get(ext.of.global);
    *res = r;
    *nres = 1;
    return ACT_OK;
  }
  if (!str_is(tp, tn, "invoke")) {
    wg_buf_printf(why(c), "unknown action type");
    return ACT_ERROR;
  }
  if (ext.kind != WG_EXTERN_FUNC) {
    wg_buf_printf(why(c), "invoke: the export is a %s, not a function",
                  cli_externkind_name(ext.kind));
    return ACT_ERROR;
  }
  wg_functype ft = wg_func_type(ext.of.func);
  json_t *jargs = json_object_get(act, "args");
  size_t nargs = json_is_array(jargs) ? json_array_size(jargs) : 0;
  if (nargs != ft.nparams) {
    wg_buf_printf(why(c), "%zu arguments for %u parameters", nargs,
                  ft.nparams);
    return ACT_ERROR;
  }
  wg_val *args = cli_buf_zeroed(&c->args, (nargs + 1) * sizeof(wg_val));
  wg_val *r = cli_buf_zeroed(&c->results, (ft.nresults + 1) * sizeof(wg_val));
  if (!args || !r) {
    wg_buf_printf(why(c), "out of memory");
    return ACT_ERROR;
  }
  for (size_t i = 0; i < nargs; i++) {
    if (!parse_arg(json_array_get(jargs, i), &args[i])) {
      wg_buf_printf(why(c), "malformed argument %zu", i);
      return ACT_ERROR;
    }
    if (args[i].type != ft.params[i]) {
      wg_buf_printf(why(c), "argument %zu is %s, the parameter is %s", i,
                    wg_valtype_name(args[i].type),
                    wg_valtype_name(ft.params[i]));
      return ACT_ERROR;
    }
  }
  wg_err code = wg_call(c->store, ext.of.func, args, nargs, r, ft.nresults);
  if (code != WG_OK) {
    if (!wg_is_trap(code)) {
      const wg_error *e = wg_store_trap(c->store);
      wg_buf_printf(why(c), "the call failed: %s: %s", wg_err_name(code),
                    e->code == code ? err_text(e) : wg_strerror(code));
      return ACT_ERROR;
    }
    *trap = code;
    return ACT_TRAP;
  }
  /* the result types are the function's, whatever the engine wrote */
  for (uint32_t i = 0; i < ft.nresults; i++) r[i].type = ft.results[i];
  *res = r;
  *nres = ft.nresults;
  return ACT_OK;
}

/* The message of the trap just raised with code. */
static const char *trap_message(st_ctx *c, wg_err code) {
  const wg_error *e = wg_store_trap(c->store);
  return e->code == code && e->message[0] ? e->message : wg_strerror(code);
}

static void fmt_results(wg_buf *b, const wg_val *res, size_t n) {
  wg_buf_append(b, "(", 1);
  for (size_t i = 0; i < n; i++) {
    if (i) wg_buf_append(b, ", ", 2);
    fmt_value(b, &res[i]);
  }
  wg_buf_append(b, ")", 1);
}

static void do_action(st_ctx *c, const json_t *cmd) {
  wg_val *res;
  size_t nres;
  wg_err code;
  switch (run_action(c, cmd, &res, &nres, &code)) {
    case ACT_OK: pass(c); break;
    case ACT_TRAP: fail(c, "trap: %s", trap_message(c, code)); break;
    case ACT_ERROR: fail(c, "%s", cli_buf_str(&c->why)); break;
  }
}

static void do_assert_return(st_ctx *c, const json_t *cmd) {
  wg_val *res;
  size_t nres;
  wg_err code;
  switch (run_action(c, cmd, &res, &nres, &code)) {
    case ACT_TRAP:
      fail(c, "unexpected trap: %s", trap_message(c, code));
      return;
    case ACT_ERROR: fail(c, "%s", cli_buf_str(&c->why)); return;
    case ACT_OK: break;
  }
  json_t *exp = json_object_get(cmd, "expected");
  if (!json_is_array(exp)) {
    fail(c, "no \"expected\" list (\"either\" is not supported)");
    return;
  }
  bool bad = false, same = json_array_size(exp) == nres;
  for (size_t i = 0; same && i < nres; i++) {
    int r = match_value(json_array_get(exp, i), &res[i]);
    if (r < 0) bad = true;
    if (r <= 0) same = false;
  }
  if (same) {
    pass(c);
    return;
  }
  wg_buf *b = why(c);
  wg_buf_printf(b, "%sexpected (", bad ? "malformed expected value; " : "");
  for (size_t i = 0; i < json_array_size(exp); i++) {
    if (i) wg_buf_append(b, ", ", 2);
    fmt_expected(b, json_array_get(exp, i));
  }
  wg_buf_printf(b, "), got ");
  fmt_results(b, res, nres);
  fail(c, "%s", cli_buf_str(b));
}

/* assert_trap and assert_exhaustion on an action. */
static void do_assert_trap(st_ctx *c, const json_t *cmd, bool exhaustion) {
  const char *text = jcstr(cmd, "text");
  wg_val *res;
  size_t nres;
  wg_err code = WG_OK;
  switch (run_action(c, cmd, &res, &nres, &code)) {
    case ACT_ERROR:
      fail(c, "%s", cli_buf_str(&c->why));
      return;
    case ACT_OK: {
      wg_buf *b = why(c);
      wg_buf_printf(b, "expected trap \"%s\", got ", text ? text : "");
      fmt_results(b, res, nres);
      fail(c, "%s", cli_buf_str(b));
      return;
    }
    case ACT_TRAP:
      break;
  }
  if (c->strict && (exhaustion ? code != WG_TRAP_STACK
                               : !trap_text_matches(cmd, code))) {
    fail(c, "expected trap \"%s\", got \"%s\"", text ? text : "",
         trap_message(c, code));
    return;
  }
  pass(c);
}

/* ------------------------------------------------------------------ */
/* The script                                                          */

static void run_command(st_ctx *c, const json_t *cmd) {
  const char *tp;
  size_t tn;
  json_t *jline = json_object_get(cmd, "line");
  c->line = json_is_integer(jline) ? (long long)json_integer_value(jline) : 0;
  c->type = "command";
  if (!json_is_object(cmd) || !jstr(cmd, "type", &tp, &tn)) {
    fail(c, "not a command object");
    return;
  }
  c->type = jcstr(cmd, "type");
  if (!c->type) c->type = "?";
  if (c->verbose) printf("%s:%lld: %s\n", c->label, c->line, c->type);

  if (str_is(tp, tn, "module")) {
    do_module(c, cmd);
  } else if (str_is(tp, tn, "register")) {
    do_register(c, cmd);
  } else if (str_is(tp, tn, "action")) {
    do_action(c, cmd);
  } else if (str_is(tp, tn, "assert_return")) {
    do_assert_return(c, cmd);
  } else if (str_is(tp, tn, "assert_trap")) {
    do_assert_trap(c, cmd, false);
  } else if (str_is(tp, tn, "assert_exhaustion")) {
    do_assert_trap(c, cmd, true);
  } else if (str_is(tp, tn, "assert_malformed")) {
    do_assert_module(c, cmd, true);
  } else if (str_is(tp, tn, "assert_invalid")) {
    do_assert_module(c, cmd, false);
  } else if (str_is(tp, tn, "assert_unlinkable")) {
    do_assert_instantiate(c, cmd, true);
  } else if (str_is(tp, tn, "assert_uninstantiable")) {
    do_assert_instantiate(c, cmd, false);
  } else {
    fail(c, "unknown command type");
  }
  fflush(stdout);
}

static void spectest_usage(void) {
  fprintf(stderr, "usage: wasmgate spectest [--quiet] [-v] [--strict] "
                  "FILE.json\n");
}

int cmd_spectest(int argc, char **argv) {
  st_ctx c;
  memset(&c, 0, sizeof c);
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
      c.quiet = true;
    } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
      c.verbose = true;
    } else if (!strcmp(argv[i], "--strict")) {
      c.strict = true;
    } else if (argv[i][0] == '-' || path) {
      spectest_usage();
      return CLI_EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    spectest_usage();
    return CLI_EXIT_USAGE;
  }

  wg_error err;
  wg_error_clear(&err);
  wg_buf text;
  if (cli_read_file(path, &text, &err) != WG_OK) {
    fprintf(stderr, "wasmgate spectest: %s\n", err.message);
    wg_buf_free(&text);
    return CLI_EXIT_FAIL;
  }
  json_error_t jerr;
  json_t *root =
      json_loadb(cli_buf_str(&text), text.len, JSON_ALLOW_NUL, &jerr);
  wg_buf_free(&text);
  json_t *cmds = json_object_get(root, "commands");
  if (!json_is_array(cmds)) {
    if (root) {
      fprintf(stderr, "wasmgate spectest: %s: no \"commands\" list\n", path);
    } else {
      fprintf(stderr, "wasmgate spectest: %s:%d: %s\n", path, jerr.line,
              jerr.text);
    }
    json_decref(root);
    return CLI_EXIT_FAIL;
  }

  c.label = jcstr(root, "source_filename");
  if (!c.label || !*c.label) c.label = path;
  wg_buf_init(&c.dir, 1u << 16);
  const char *slash = strrchr(path, '/');
  if (slash) wg_buf_append(&c.dir, path, (size_t)(slash - path) + 1);
  wg_buf_init(&c.named, 1u << 28);
  wg_buf_init(&c.registered, 1u << 28);
  wg_buf_init(&c.args, 1u << 28);
  wg_buf_init(&c.results, 1u << 28);
  wg_buf_init(&c.why, 1u << 16);

  int rc = CLI_EXIT_FAIL;
  wg_store_config cfg = {.fuel = -1};
  c.store = wg_store_new(&cfg);
  if (!c.store || !make_host(&c)) {
    fprintf(stderr, "wasmgate spectest: cannot create the store and the "
                    "spectest module\n");
    goto done;
  }
  for (size_t i = 0; i < json_array_size(cmds); i++) {
    run_command(&c, json_array_get(cmds, i));
  }
  printf("%u passed, %u failed, %u skipped\n", c.passed, c.failed, c.skipped);
  rc = c.failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;

done:
  if (c.store) wg_store_free(c.store);
  free_bindings(&c.named);
  free_bindings(&c.registered);
  wg_buf_free(&c.dir);
  wg_buf_free(&c.args);
  wg_buf_free(&c.results);
  wg_buf_free(&c.why);
  json_decref(root);
  return rc;
}
