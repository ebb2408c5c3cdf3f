/*
** wasmgate inspect FILE.wasm [--json]
**
** Shows what a module needs and offers: imports, exports, memories, tables,
** globals, the function count and the custom sections. The text form is
** for people (names escaped, one item a line); --json prints one object:
**
**   {"size": N,
**    "imports": [{"module", "name", "kind", "type"}],
**    "exports": [{"name", "kind", "index", "type"}],
**    "memories": [{"min", "max", "imported"}],
**    "tables": [{"elem", "min", "max", "imported"}],
**    "globals": [{"type", "mutable", "imported"}],
**    "functions": N, "imported_functions": N,
**    "custom_sections": [{"name", "size"}]}
**
** "type" is a string like "(i32, i64) -> (f32)" for functions, and an object
** for the other kinds ({"elem","min","max"}, {"min","max"},
** {"type","mutable"}). An absent maximum is null.
*/
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Counts of imported memories, tables, globals, functions, by kind. */
typedef struct import_counts {
  uint32_t of[4];   /* indexed by wg_externkind */
} import_counts;

static import_counts count_imports(const wg_module *m) {
  import_counts c = {{0}};
  uint32_t n = wg_module_import_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_import_desc d = wg_module_import(m, i);
    if ((unsigned)d.type.kind < 4) c.of[d.type.kind]++;
  }
  return c;
}

/* ------------------------------------------------------------------ */
/* Text                                                                */

/* Prints a name, escaped; an empty one as "". */
static void print_name(wg_buf *b, wg_name n) {
  if (n.len == 0) {
    wg_buf_append(b, "\"\"", 2);
  } else {
    cli_fmt_name(b, n.ptr, n.len);
  }
}

static void print_text(const char *path, const wg_module *m) {
  import_counts ic = count_imports(m);
  wg_buf b;
  wg_buf_init(&b, CLI_MAX_FILE);

  wg_buf_printf(&b, "module: %s (%zu bytes)\n", path, wg_module_size(m));

  uint32_t n = wg_module_import_count(m);
  wg_buf_printf(&b, "imports (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    wg_import_desc d = wg_module_import(m, i);
    wg_buf_append(&b, "  ", 2);
    print_name(&b, d.module);
    wg_buf_append(&b, ".", 1);
    print_name(&b, d.name);
    wg_buf_append(&b, "  ", 2);
    cli_fmt_externtype(&b, &d.type);
    wg_buf_append(&b, "\n", 1);
  }

  n = wg_module_export_count(m);
  wg_buf_printf(&b, "exports (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    wg_export_desc d = wg_module_export(m, i);
    wg_buf_append(&b, "  ", 2);
    print_name(&b, d.name);
    wg_buf_printf(&b, "  %s[%u] ", cli_externkind_name(d.type.kind), d.index);
    /* the kind is already printed: skip it in the type */
    wg_buf tb;
    wg_buf_init(&tb, 1u << 20);
    cli_fmt_externtype(&tb, &d.type);
    const char *t = cli_buf_str(&tb);
    const char *sp = strchr(t, ' ');
    wg_buf_printf(&b, "%s\n", sp ? sp + 1 : t);
    wg_buf_free(&tb);
  }

  n = wg_module_memory_count(m);
  wg_buf_printf(&b, "memories (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_memory(m, i);
    wg_buf_printf(&b, "  %u: %s", i, t.of.memory.is64 ? "i64 " : "");
    cli_fmt_limits(&b, &t.of.memory.limits);
    wg_buf_printf(&b, " pages%s\n",
                  i < ic.of[WG_EXTERN_MEMORY] ? " (imported)" : "");
  }

  n = wg_module_table_count(m);
  wg_buf_printf(&b, "tables (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_table(m, i);
    wg_buf_printf(&b, "  %u: %s ", i, wg_valtype_name(t.of.table.elem));
    cli_fmt_limits(&b, &t.of.table.limits);
    wg_buf_printf(&b, "%s\n", i < ic.of[WG_EXTERN_TABLE] ? " (imported)" : "");
  }

  n = wg_module_global_count(m);
  wg_buf_printf(&b, "globals (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_global(m, i);
    wg_buf_printf(&b, "  %u: %s%s%s\n", i, t.of.global.mut ? "mut " : "",
                  wg_valtype_name(t.of.global.type),
                  i < ic.of[WG_EXTERN_GLOBAL] ? " (imported)" : "");
  }

  wg_buf_printf(&b, "functions: %u (%u imported)\n", wg_module_func_count(m),
                ic.of[WG_EXTERN_FUNC]);

  n = wg_module_custom_count(m);
  wg_buf_printf(&b, "custom sections (%u):\n", n);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *data = NULL;
    size_t len = 0;
    wg_name name = wg_module_custom(m, i, &data, &len);
    wg_buf_append(&b, "  ", 2);
    print_name(&b, name);
    wg_buf_printf(&b, "  %zu bytes\n", len);
  }

  fwrite(cli_buf_str(&b), 1, b.len, stdout);
  wg_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/* A name as a JSON string. The decoder checked that names are UTF-8; if
** one is not, fall back to its escaped text rather than lose it. */
static json_t *jname(wg_name n) {
  json_t *s = json_stringn(n.len ? n.ptr : "", n.len);
  if (s) return s;
  wg_buf b;
  wg_buf_init(&b, 1u << 20);
  cli_fmt_name(&b, n.ptr, n.len);
  s = json_string(cli_buf_str(&b));
  wg_buf_free(&b);
  return s;
}

static json_t *juint(uint64_t v) {
  /* json_int_t is signed: saturate the (never seen) values above it */
  return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jmax(const wg_limits *l) {
  return l->has_max ? juint(l->max) : json_null();
}

static json_t *jfunctype(const wg_functype *ft) {
  wg_buf b;
  wg_buf_init(&b, 1u << 20);
  cli_fmt_functype(&b, ft);
  json_t *s = json_string(cli_buf_str(&b));
  wg_buf_free(&b);
  return s;
}

static json_t *jexterntype(const wg_externtype *t) {
  switch (t->kind) {
    case WG_EXTERN_FUNC:
      return jfunctype(&t->of.func);
    case WG_EXTERN_TABLE:
      return json_pack("{s:s, s:o, s:o}", "elem",
                       wg_valtype_name(t->of.table.elem), "min",
                       juint(t->of.table.limits.min), "max",
                       jmax(&t->of.table.limits));
    case WG_EXTERN_MEMORY:
      return json_pack("{s:o, s:o, s:b}", "min",
                       juint(t->of.memory.limits.min), "max",
                       jmax(&t->of.memory.limits), "memory64",
                       (int)t->of.memory.is64);
    case WG_EXTERN_GLOBAL:
      return json_pack("{s:s, s:b}", "type",
                       wg_valtype_name(t->of.global.type), "mutable",
                       (int)t->of.global.mut);
  }
  return json_null();
}

/* Builds the whole object; NULL when out of memory. */
static json_t *build_json(const wg_module *m) {
  import_counts ic = count_imports(m);
  json_t *root = json_object();
  json_t *imports = json_array(), *exports = json_array();
  json_t *memories = json_array(), *tables = json_array();
  json_t *globals = json_array(), *customs = json_array();
  if (!root || !imports || !exports || !memories || !tables || !globals ||
      !customs) {
    goto fail;
  }
  bool ok = true;

  uint32_t n = wg_module_import_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_import_desc d = wg_module_import(m, i);
    ok &= json_array_append_new(
              imports, json_pack("{s:o, s:o, s:s, s:o}", "module",
                                 jname(d.module), "name", jname(d.name),
                                 "kind", cli_externkind_name(d.type.kind),
                                 "type", jexterntype(&d.type))) == 0;
  }
  n = wg_module_export_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_export_desc d = wg_module_export(m, i);
    ok &= json_array_append_new(
              exports, json_pack("{s:o, s:s, s:I, s:o}", "name", jname(d.name),
                                 "kind", cli_externkind_name(d.type.kind),
                                 "index", (json_int_t)d.index, "type",
                                 jexterntype(&d.type))) == 0;
  }
  n = wg_module_memory_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_memory(m, i);
    json_t *o = jexterntype(&t);
    if (o) json_object_set_new(o, "imported",
                               json_boolean(i < ic.of[WG_EXTERN_MEMORY]));
    ok &= json_array_append_new(memories, o) == 0;
  }
  n = wg_module_table_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_table(m, i);
    json_t *o = jexterntype(&t);
    if (o) json_object_set_new(o, "imported",
                               json_boolean(i < ic.of[WG_EXTERN_TABLE]));
    ok &= json_array_append_new(tables, o) == 0;
  }
  n = wg_module_global_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_externtype t = wg_module_global(m, i);
    json_t *o = jexterntype(&t);
    if (o) json_object_set_new(o, "imported",
                               json_boolean(i < ic.of[WG_EXTERN_GLOBAL]));
    ok &= json_array_append_new(globals, o) == 0;
  }
  n = wg_module_custom_count(m);
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *data = NULL;
    size_t len = 0;
    wg_name name = wg_module_custom(m, i, &data, &len);
    ok &= json_array_append_new(customs,
                                json_pack("{s:o, s:o}", "name", jname(name),
                                          "size", juint(len))) == 0;
  }
  ok &= json_object_set_new(root, "size", juint(wg_module_size(m))) == 0;
  ok &= json_object_set_new(root, "imports", imports) == 0;
  ok &= json_object_set_new(root, "exports", exports) == 0;
  ok &= json_object_set_new(root, "memories", memories) == 0;
  ok &= json_object_set_new(root, "tables", tables) == 0;
  ok &= json_object_set_new(root, "globals", globals) == 0;
  ok &= json_object_set_new(root, "functions",
                            juint(wg_module_func_count(m))) == 0;
  ok &= json_object_set_new(root, "imported_functions",
                            juint(ic.of[WG_EXTERN_FUNC])) == 0;
  ok &= json_object_set_new(root, "custom_sections", customs) == 0;
  if (!ok) {
    json_decref(root);
    return NULL;
  }
  return root;

fail:
  json_decref(root);
  json_decref(imports);
  json_decref(exports);
  json_decref(memories);
  json_decref(tables);
  json_decref(globals);
  json_decref(customs);
  return NULL;
}

/* ------------------------------------------------------------------ */

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  bool as_json = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) {
      as_json = true;
    } else if (argv[i][0] == '-' && argv[i][1] != 0) {
      fprintf(stderr, "wasmgate inspect: unknown option '%s'\n", argv[i]);
      return CLI_EXIT_USAGE;
    } else if (path) {
      fprintf(stderr, "wasmgate inspect: more than one file given\n");
      return CLI_EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    fprintf(stderr, "usage: wasmgate inspect FILE.wasm [--json]\n");
    return CLI_EXIT_USAGE;
  }
  wg_module *m = cli_load_module(path);
  if (!m) return CLI_EXIT_FAIL;
  int rc = CLI_EXIT_OK;
  if (as_json) {
    json_t *root = build_json(m);
    if (!root || json_dumpf(root, stdout, JSON_INDENT(2)) != 0) {
      fprintf(stderr, "wasmgate inspect: out of memory\n");
      rc = CLI_EXIT_FAIL;
    } else {
      fputc('\n', stdout);
    }
    json_decref(root);
  } else {
    print_text(path, m);
  }
  wg_module_release(m);
  return rc;
}
