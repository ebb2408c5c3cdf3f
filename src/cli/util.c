/*
** Helpers shared by the subcommands: bounded file reading and the text
** forms of types and names.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "cli/cli.h"

/* Read in pieces of this size from the heap: on the stack, the compiler's
** stack-clash probes would touch every page of it (64 KiB of resident
** stack for each `wasmgate run`); on the heap only what fread writes. */
#define READ_CHUNK 65536

wg_err cli_read_file(const char *path, wg_buf *out, wg_error *err) {
  wg_buf_init(out, CLI_MAX_FILE);
  FILE *f = fopen(path, "rb");
  if (!f) {
    return wg_error_set(err, WG_EIO, "cannot open %s: %s", path,
                        strerror(errno));
  }
  wg_err code = WG_OK;
  unsigned char *chunk = NULL;
  struct stat st;
  if (fstat(fileno(f), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      code = wg_error_set(err, WG_EIO, "cannot read %s: is a directory", path);
      goto done;
    }
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > CLI_MAX_FILE) {
      code = wg_error_set(err, WG_ELIMIT,
                          "%s is too large (%lld bytes, the limit is %llu)",
                          path, (long long)st.st_size, CLI_MAX_FILE);
      goto done;
    }
  }
  chunk = wg_realloc_(NULL, 0, READ_CHUNK);
  if (!chunk) {
    code = wg_error_set(err, WG_ENOMEM, "cannot read %s: %s", path,
                        wg_strerror(WG_ENOMEM));
    goto done;
  }
  for (;;) {
    size_t n = fread(chunk, 1, READ_CHUNK, f);
    if (n > 0) {
      code = wg_buf_append(out, chunk, n);
      if (code == WG_ELIMIT) {
        wg_error_set(err, code, "%s is too large (the limit is %llu bytes)",
                     path, CLI_MAX_FILE);
        goto done;
      }
      if (code != WG_OK) {
        wg_error_set(err, code, "cannot read %s: %s", path,
                     wg_strerror(code));
        goto done;
      }
    }
    if (n < READ_CHUNK) {
      if (ferror(f)) {
        code = wg_error_set(err, WG_EIO, "cannot read %s: %s", path,
                            strerror(errno));
      }
      goto done;
    }
  }
done:
  if (chunk) wg_realloc_(chunk, READ_CHUNK, 0);
  fclose(f);
  return code;
}

wg_module *cli_load_module(const char *path) {
  wg_error err;
  wg_error_clear(&err);
  wg_buf bytes;
  if (cli_read_file(path, &bytes, &err) != WG_OK) {
    fprintf(stderr, "wasmgate: %s\n", err.message);
    wg_buf_free(&bytes);
    return NULL;
  }
  const uint8_t *p = bytes.data ? bytes.data : (const uint8_t *)"";
  wg_module *m = wg_module_load(p, bytes.len, &err);
  wg_buf_free(&bytes);
  if (!m) {
    fprintf(stderr, "%s: error: %s", path,
            err.message[0] ? err.message : wg_strerror(err.code));
    if (err.offset >= 0) {
      fprintf(stderr, " (at byte offset %lld)", (long long)err.offset);
    }
    fputc('\n', stderr);
  }
  return m;
}

const char *cli_externkind_name(wg_externkind k) {
  switch (k) {
    case WG_EXTERN_FUNC: return "func";
    case WG_EXTERN_TABLE: return "table";
    case WG_EXTERN_MEMORY: return "memory";
    case WG_EXTERN_GLOBAL: return "global";
    default: return "?";
  }
}

static void fmt_types(wg_buf *b, const uint8_t *t, uint32_t n) {
  wg_buf_append(b, "(", 1);
  for (uint32_t i = 0; i < n; i++) {
    wg_buf_printf(b, "%s%s", i ? ", " : "", wg_valtype_name(t[i]));
  }
  wg_buf_append(b, ")", 1);
}

void cli_fmt_functype(wg_buf *b, const wg_functype *ft) {
  fmt_types(b, ft->params, ft->nparams);
  wg_buf_append(b, " -> ", 4);
  fmt_types(b, ft->results, ft->nresults);
}

void cli_fmt_limits(wg_buf *b, const wg_limits *l) {
  wg_buf_printf(b, "min %llu", (unsigned long long)l->min);
  if (l->has_max) wg_buf_printf(b, ", max %llu", (unsigned long long)l->max);
}

void cli_fmt_externtype(wg_buf *b, const wg_externtype *t) {
  wg_buf_printf(b, "%s ", cli_externkind_name(t->kind));
  switch (t->kind) {
    case WG_EXTERN_FUNC:
      cli_fmt_functype(b, &t->of.func);
      break;
    case WG_EXTERN_TABLE:
      wg_buf_printf(b, "%s ", wg_valtype_name(t->of.table.elem));
      cli_fmt_limits(b, &t->of.table.limits);
      break;
    case WG_EXTERN_MEMORY:
      if (t->of.memory.is64) wg_buf_append(b, "i64 ", 4);
      cli_fmt_limits(b, &t->of.memory.limits);
      break;
    case WG_EXTERN_GLOBAL:
      wg_buf_printf(b, "%s%s", t->of.global.mut ? "mut " : "",
                    wg_valtype_name(t->of.global.type));
      break;
  }
}

void cli_fmt_name(wg_buf *b, const char *ptr, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)ptr[i];
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      wg_buf_append(b, &c, 1);
    } else {
      wg_buf_printf(b, "\\x%02x", c);
    }
  }
}

const char *cli_buf_str(const wg_buf *b) {
  return b->data ? (const char *)b->data : "";
}

void *cli_buf_zeroed(wg_buf *b, size_t n) {
  static const uint8_t zeros[256];
  wg_buf_reset(b);
  while (b->len < n) {
    size_t k = n - b->len < sizeof zeros ? n - b->len : sizeof zeros;
    if (wg_buf_append(b, zeros, k) != WG_OK) return NULL;
  }
  if (!b->data && wg_buf_append(b, zeros, 0) != WG_OK) return NULL;
  return b->data;
}
