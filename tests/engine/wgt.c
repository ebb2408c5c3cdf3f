/*
** wgt: support code for the engine tests. See wgt.h.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgt.h"

uint8_t *wgt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  for (;;) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    cap *= 2;
    buf = realloc(buf, cap);
    assert_non_null(buf);
  }
  assert_false(ferror(f));
  fclose(f);
  *len = n;
  return buf;
}

wg_module *wgt_load_wasm(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", WGT_WASM_DIR, name);
  size_t len = 0;
  uint8_t *bytes = wgt_read_file(path, &len);
  wg_error err;
  wg_module *m = wg_module_load(bytes, len, &err);
  free(bytes);
  if (!m) fail_msg("%s: %s: %s", name, wg_err_name(err.code), err.message);
  return m;
}

/* ------------------------------------------------------------------ */
/* Builder                                                             */

size_t wgt_leb(uint8_t *out, uint64_t v) {
  size_t n = 0;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
  } while (v);
  return n;
}

static void put(wgt_mod *m, const uint8_t *p, size_t n) {
  if (m->n + n > sizeof m->b) fail_msg("wgt_mod: module too large");
  memcpy(m->b + m->n, p, n);
  m->n += n;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Parses hex (see wgt.h) into out; returns the byte count. */
static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  const char *p = hex;
  while (*p) {
    if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '|') { p++; continue; }
    if (*p == '"') {
      const char *q = strchr(p + 1, '"');
      if (!q) fail_msg("wgt: unterminated string in \"%s\"", hex);
      size_t len = (size_t)(q - p - 1);
      if (n + len + 5 > cap) fail_msg("wgt: hex too long");
      n += wgt_leb(out + n, len);
      memcpy(out + n, p + 1, len);
      n += len;
      p = q + 1;
      continue;
    }
    int hi = hexval(p[0]), lo = p[1] ? hexval(p[1]) : -1;
    if (hi < 0 || lo < 0) fail_msg("wgt: bad hex at \"%s\"", p);
    if (n == cap) fail_msg("wgt: hex too long");
    out[n++] = (uint8_t)(hi << 4 | lo);
    p += 2;
  }
  return n;
}

void wgt_begin(wgt_mod *m) {
  static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  m->n = 0;
  put(m, header, sizeof header);
}

size_t wgt_mark(const char *hex) {
  const char *bar = strchr(hex, '|');
  if (!bar) fail_msg("wgt_mark: no | in \"%s\"", hex);
  static char prefix[65536];
  size_t n = (size_t)(bar - hex);
  assert_true(n < sizeof prefix);
  memcpy(prefix, hex, n);
  prefix[n] = 0;
  static uint8_t buf[65536];
  return parse_hex(prefix, buf, sizeof buf);
}

size_t wgt_raw(wgt_mod *m, const char *hex) {
  static uint8_t buf[65536];
  size_t n = parse_hex(hex, buf, sizeof buf);
  size_t at = m->n;
  put(m, buf, n);
  return at;
}

size_t wgt_sec(wgt_mod *m, uint8_t id, const char *hex) {
  static uint8_t buf[65536];
  uint8_t hdr[8];
  size_t n = parse_hex(hex, buf, sizeof buf);
  hdr[0] = id;
  size_t h = 1 + wgt_leb(hdr + 1, n);
  put(m, hdr, h);
  size_t at = m->n;
  put(m, buf, n);
  return at;
}

void wgt_code(wgt_mod *m, size_t *offs, int n, const char *const *bodies) {
  static uint8_t content[65536];
  static uint8_t body[65536];
  size_t len = wgt_leb(content, (uint64_t)n);
  size_t rel[64];
  assert_true(n <= 64);
  for (int i = 0; i < n; i++) {
    size_t bn = parse_hex(bodies[i], body, sizeof body);
    if (len + bn + 5 > sizeof content) fail_msg("wgt_code: too large");
    len += wgt_leb(content + len, bn);
    rel[i] = len;
    memcpy(content + len, body, bn);
    len += bn;
  }
  uint8_t hdr[8];
  hdr[0] = 10;
  size_t h = 1 + wgt_leb(hdr + 1, len);
  put(m, hdr, h);
  size_t at = m->n;
  put(m, content, len);
  if (offs)
    for (int i = 0; i < n; i++) offs[i] = at + rel[i];
}

size_t wgt_code1(wgt_mod *m, const char *body) {
  size_t off = 0;
  wgt_code(m, &off, 1, &body);
  return off;
}

wg_module *wgt_try_load(const wgt_mod *m, wg_error *err) {
  return wg_module_load(m->b, m->n, err);
}

wg_module *wgt_load(const wgt_mod *m) {
  wg_error err;
  wg_module *mod = wg_module_load(m->b, m->n, &err);
  if (!mod) fail_msg("module: %s: %s", wg_err_name(err.code), err.message);
  return mod;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */

void wgt_check_error(const wg_error *e, wg_err code, const char *message,
                     int64_t offset, int section, int64_t func) {
  if (offset < 0) offset = -1;
  if (func < 0) func = -1;
  bool ok = e->code == code &&
            strnlen(e->message, sizeof e->message) == strlen(message) &&
            memcmp(e->message, message, strlen(message)) == 0 &&
            e->offset == offset && e->func == func &&
            (section == WGT_ANY || e->section == section);
  char wsec[16] = "(any)";
  if (section != WGT_ANY) snprintf(wsec, sizeof wsec, "%d", section);
  if (!ok)
    fail_msg("error mismatch\n"
             "   want %s \"%s\" offset %lld section %s func %lld\n"
             "   got  %s \"%.*s\" offset %lld section %d func %lld",
             wg_err_name(code), message, (long long)offset, wsec,
             (long long)func, wg_err_name(e->code), WGT_MSG(e),
             (long long)e->offset, e->section, (long long)e->func);
}

/* ------------------------------------------------------------------ */
/* Linking                                                             */

void wgt_define(wgt_linker *l, const char *module, const char *name,
                wg_extern ext) {
  assert_true(l->n < 32);
  snprintf(l->items[l->n].module, sizeof l->items[0].module, "%s", module);
  snprintf(l->items[l->n].name, sizeof l->items[0].name, "%s", name);
  l->items[l->n].ext = ext;
  l->n++;
}

void wgt_define_instance(wgt_linker *l, const char *module, wg_instance *inst) {
  const wg_module *m = wg_instance_module(inst);
  for (uint32_t i = 0; i < wg_module_export_count(m); i++) {
    wg_export_desc d = wg_module_export(m, i);
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)d.name.len, d.name.ptr);
    wg_extern ext;
    assert_int_equal(wg_instance_export(inst, d.name, &ext), WG_OK);
    wgt_define(l, module, name, ext);
  }
}

static bool name_is(wg_name n, const char *s) {
  return n.len == strlen(s) && memcmp(n.ptr, s, n.len) == 0;
}

wg_err wgt_resolve(void *user, wg_name module, wg_name name,
                   const wg_externtype *type, wg_extern *out) {
  wgt_linker *l = user;
  (void)type;
  for (int i = 0; l && i < l->n; i++)
    if (name_is(module, l->items[i].module) && name_is(name, l->items[i].name)) {
      *out = l->items[i].ext;
      return WG_OK;
    }
  return WG_ENOTFOUND;
}

wg_instance *wgt_instantiate(wg_store *s, wg_module *m, wgt_linker *l) {
  wg_error err;
  wg_instance *inst = wg_instance_new(s, m, wgt_resolve, l, &err);
  if (!inst) fail_msg("instantiate: %s: %s", wg_err_name(err.code), err.message);
  return inst;
}

wg_extern wgt_export(const wg_instance *inst, const char *name,
                     wg_externkind kind) {
  wg_extern ext;
  wg_name n = {name, (uint32_t)strlen(name)};
  if (wg_instance_export(inst, n, &ext) != WG_OK) fail_msg("no export %s", name);
  assert_int_equal(ext.kind, kind);
  return ext;
}

wg_func *wgt_func(const wg_instance *inst, const char *name) {
  return wgt_export(inst, name, WG_EXTERN_FUNC).of.func;
}

uint32_t wgt_call_i32(wg_store *s, wg_func *f, int nargs, ...) {
  wg_val args[4], res[1];
  va_list ap;
  assert_true(nargs <= 4);
  va_start(ap, nargs);
  for (int i = 0; i < nargs; i++) args[i] = wgt_i32(va_arg(ap, uint32_t));
  va_end(ap);
  wg_err e = wg_call(s, f, args, (size_t)nargs, res, 1);
  if (e) fail_msg("call: %s: %s", wg_err_name(e), wg_store_trap(s)->message);
  assert_int_equal(res[0].type, WG_I32);
  return res[0].of.i32;
}
