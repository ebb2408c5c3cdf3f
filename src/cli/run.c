/*
** wasmgate run [OPTIONS] FILE.wasm [ARGS...]
**
** Options come first, up to the first argument that is not an option (the
** module) or "--"; everything after the module belongs to the guest. Each
** option is one row of run_options; a row's setter checks and stores its
** value, so a new option (--dir, --env, --timeout, --stdin, --json) is one
** row and one small function.
**
** For now only --invoke is supported: the module may have no imports (WASI
** comes later); the named export is called with ARGS parsed per its
** parameter types, and each result is printed on its own line.
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

typedef struct run_opts {
  const char *invoke;          /* export to call; NULL: run _start */
  int64_t fuel;                /* < 0: unmetered */
  uint64_t max_memory_pages;   /* 0: the engine's maximum */
} run_opts;

/* Checks and stores one option's value; returns false after printing why. */
typedef bool (*run_setter)(run_opts *o, const char *opt, const char *val);

static bool set_invoke(run_opts *o, const char *opt, const char *val);
static bool set_fuel(run_opts *o, const char *opt, const char *val);
static bool set_max_memory(run_opts *o, const char *opt, const char *val);

static const struct run_option {
  const char *name;
  const char *metavar;   /* NULL: a flag without a value */
  run_setter set;
  const char *help;
} run_options[] = {
    {"--invoke", "FUNC", set_invoke,
     "call the exported function FUNC with ARGS and print its results"},
    {"--fuel", "N", set_fuel,
     "stop with a trap after about N units of work (default: unmetered)"},
    {"--max-memory", "SIZE", set_max_memory,
     "cap each linear memory, e.g. 64MiB, 1GiB, 2MB, 65536 (bytes)"},
};

#define NRUN_OPTIONS (sizeof run_options / sizeof run_options[0])

static void run_usage(FILE *out) {
  fprintf(out, "usage: wasmgate run [OPTIONS] FILE.wasm [ARGS...]\n\n"
               "options:\n");
  for (size_t i = 0; i < NRUN_OPTIONS; i++) {
    const struct run_option *r = &run_options[i];
    fprintf(out, "  %s%s%s\n      %s\n", r->name, r->metavar ? " " : "",
            r->metavar ? r->metavar : "", r->help);
  }
  fprintf(out, "\nK/M/G (KiB/MiB/GiB) are powers of 1024, KB/MB/GB powers "
               "of 1000.\nExit codes: 0 ok, 1 load/validate/link error, "
               "2 usage, 134 trap.\n");
}

/* ------------------------------------------------------------------ */
/* Option values                                                       */

static bool set_invoke(run_opts *o, const char *opt, const char *val) {
  (void)opt;
  o->invoke = val;
  return true;
}

/* A decimal unsigned number without sign or spaces; *end is where it
** stopped. */
static bool parse_u64(const char *s, uint64_t *out, char **end) {
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  unsigned long long v = strtoull(s, end, 10);
  if (errno == ERANGE) return false;
  *out = v;
  return true;
}

static bool set_fuel(run_opts *o, const char *opt, const char *val) {
  uint64_t v;
  char *end;
  if (!parse_u64(val, &v, &end) || *end || v > (uint64_t)INT64_MAX) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not a number of fuel units\n",
            opt, val);
    return false;
  }
  o->fuel = (int64_t)v;
  return true;
}

/* Parses "65536", "64MiB", "64M", "2MB", "1GiB"... into bytes. */
static bool parse_size(const char *s, uint64_t *bytes) {
  static const struct { const char *suffix; uint64_t mult; } units[] = {
      {"", 1},
      {"b", 1},
      {"k", 1ull << 10}, {"kib", 1ull << 10}, {"kb", 1000ull},
      {"m", 1ull << 20}, {"mib", 1ull << 20}, {"mb", 1000000ull},
      {"g", 1ull << 30}, {"gib", 1ull << 30}, {"gb", 1000000000ull},
      {"t", 1ull << 40}, {"tib", 1ull << 40}, {"tb", 1000000000000ull},
  };
  uint64_t v;
  char *end;
  if (!parse_u64(s, &v, &end)) return false;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (!strcasecmp(end, units[i].suffix)) {
      if (v > UINT64_MAX / units[i].mult) return false;
      *bytes = v * units[i].mult;
      return true;
    }
  }
  return false;
}

static bool set_max_memory(run_opts *o, const char *opt, const char *val) {
  uint64_t bytes;
  if (!parse_size(val, &bytes)) {
    fprintf(stderr,
            "wasmgate run: %s: '%s' is not a size (examples: 65536, 64KiB, "
            "64MiB, 1GiB, 2MB)\n",
            opt, val);
    return false;
  }
  /* Rounded down to whole pages. The store config cannot say "no memory
  ** at all" (0 means the engine's maximum), so below one page is refused
  ** rather than silently unlimited. */
  uint64_t pages = bytes / WG_PAGE_SIZE;
  if (pages == 0) {
    fprintf(stderr,
            "wasmgate run: %s: '%s' is less than one 64KiB page\n", opt, val);
    return false;
  }
  o->max_memory_pages = pages;
  return true;
}

/* Parses the options in argv[1..argc); returns the index of the first
** non-option (the module), -1 after printing an error, or -2 when help was
** asked for (and printed). */
static int parse_run_options(int argc, char **argv, run_opts *o) {
  int i = 1;
  while (i < argc) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) return i + 1;
    if (a[0] != '-' || a[1] == 0) return i;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      run_usage(stdout);
      return -2;
    }
    const struct run_option *r = NULL;
    const char *val = NULL;
    for (size_t k = 0; k < NRUN_OPTIONS && !r; k++) {
      size_t n = strlen(run_options[k].name);
      if (!strncmp(a, run_options[k].name, n) &&
          (a[n] == 0 || (a[n] == '=' && run_options[k].metavar))) {
        r = &run_options[k];
        if (a[n] == '=') val = a + n + 1;
      }
    }
    if (!r) {
      fprintf(stderr, "wasmgate run: unknown option '%s'\n", a);
      run_usage(stderr);
      return -1;
    }
    i++;
    if (r->metavar && !val) {
      if (i >= argc) {
        fprintf(stderr, "wasmgate run: %s needs a value (%s)\n", r->name,
                r->metavar);
        return -1;
      }
      val = argv[i++];
    }
    if (!r->set(o, r->name, val)) return -1;
  }
  return i;
}

/* ------------------------------------------------------------------ */
/* Guest arguments and results                                         */

/* i32/i64: signed or unsigned decimal, or hex with 0x (optionally
** negative); the value must fit the type as signed or as unsigned. */
static bool parse_int_arg(const char *s, bool is64, uint64_t *out) {
  bool neg = s[0] == '-';
  const char *p = s + neg;
  if (*p < '0' || *p > '9') return false;   /* no spaces, no second sign */
  bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
  if (hex && !((p[2] >= '0' && p[2] <= '9') || (p[2] >= 'a' && p[2] <= 'f') ||
               (p[2] >= 'A' && p[2] <= 'F'))) {
    return false;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(p, &end, hex ? 16 : 10);
  if (errno == ERANGE || *end) return false;
  uint64_t umax = is64 ? UINT64_MAX : UINT32_MAX;
  uint64_t nmax = is64 ? (1ull << 63) : (1ull << 31);
  if (neg ? v > nmax : v > umax) return false;
  uint64_t bits = neg ? (uint64_t)0 - v : v;
  *out = is64 ? bits : (uint32_t)bits;
  return true;
}

/* f32/f64: anything strtod accepts in full (nan, inf, -0, 0x1p3, 1e-40),
** except values too large for the type. */
static bool parse_float_arg(const char *s, bool is64, uint64_t *out) {
  if (!*s || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r')) return false;
  char *end;
  errno = 0;
  if (is64) {
    double d = strtod(s, &end);
    if (*end || (errno == ERANGE && isinf(d))) return false;
    memcpy(out, &d, 8);
  } else {
    float f = strtof(s, &end);
    if (*end || (errno == ERANGE && isinf(f))) return false;
    uint32_t b;
    memcpy(&b, &f, 4);
    *out = b;
  }
  return true;
}

static bool parse_arg(const char *s, uint8_t type, wg_val *v) {
  uint64_t bits = 0;
  memset(v, 0, sizeof *v);
  v->type = (wg_valtype)type;
  switch (type) {
    case WG_I32:
      if (!parse_int_arg(s, false, &bits)) return false;
      v->of.i32 = (uint32_t)bits;
      return true;
    case WG_I64:
      if (!parse_int_arg(s, true, &bits)) return false;
      v->of.i64 = bits;
      return true;
    case WG_F32:
      if (!parse_float_arg(s, false, &bits)) return false;
      v->of.i32 = (uint32_t)bits;
      return true;
    case WG_F64:
      if (!parse_float_arg(s, true, &bits)) return false;
      v->of.i64 = bits;
      return true;
    case WG_FUNCREF:
    case WG_EXTERNREF:
      v->of.ref = 0;
      return !strcmp(s, "null");   /* the only reference a CLI can name */
    default:
      return false;                /* v128: not from the command line yet */
  }
}

static void print_result(const wg_val *v) {
  switch (v->type) {
    case WG_I32:
      printf("%" PRId32 "\n", (int32_t)v->of.i32);
      break;
    case WG_I64:
      printf("%" PRId64 "\n", (int64_t)v->of.i64);
      break;
    case WG_F32: {
      float f;
      memcpy(&f, &v->of.i32, 4);
      printf("%.9g\n", (double)f);
      break;
    }
    case WG_F64: {
      double d;
      memcpy(&d, &v->of.i64, 8);
      printf("%.17g\n", d);
      break;
    }
    case WG_V128: {
      uint32_t lane[4];
      memcpy(lane, v->of.v128, 16);
      printf("i32x4 0x%08" PRIx32 " 0x%08" PRIx32 " 0x%08" PRIx32
             " 0x%08" PRIx32 "\n",
             lane[0], lane[1], lane[2], lane[3]);
      break;
    }
    case WG_FUNCREF:
    case WG_EXTERNREF:
      printf("%s\n", v->of.ref ? "ref" : "null");
      break;
  }
}

/* ------------------------------------------------------------------ */
/* Linking: no host modules yet                                        */

typedef struct run_link {
  bool missing;
  wg_name module, name;    /* the first import asked for */
} run_link;

static wg_err run_resolve(void *user, wg_name module, wg_name name,
                          const wg_externtype *type, wg_extern *out) {
  (void)type;
  (void)out;
  run_link *l = user;
  if (!l->missing) {
    l->missing = true;
    l->module = module;
    l->name = name;
  }
  return WG_EUNKNOWNIMPORT;
}

/* Reports a failed instantiation or call; returns the exit code. */
static int report_failure(const char *path, wg_store *s, const wg_error *err) {
  if (err->code == WG_TRAP_EXIT) return wg_store_exit_code(s);
  if (wg_is_trap(err->code)) {
    fprintf(stderr, "trap: %s\n",
            err->message[0] ? err->message : wg_strerror(err->code));
    return CLI_EXIT_TRAP;
  }
  fprintf(stderr, "%s: error: %s\n", path,
          err->message[0] ? err->message : wg_strerror(err->code));
  return CLI_EXIT_FAIL;
}

static int invoke(const run_opts *o, const char *path, wg_store *s,
                  wg_instance *inst, int nargs, char **args) {
  wg_name name = {o->invoke, (uint32_t)strlen(o->invoke)};
  wg_extern ext;
  if (wg_instance_export(inst, name, &ext) != WG_OK) {
    fprintf(stderr, "%s: error: no export named '%s'\n", path, o->invoke);
    return CLI_EXIT_FAIL;
  }
  if (ext.kind != WG_EXTERN_FUNC) {
    fprintf(stderr, "%s: error: export '%s' is a %s, not a function\n", path,
            o->invoke, cli_externkind_name(ext.kind));
    return CLI_EXIT_FAIL;
  }
  wg_functype ft = wg_func_type(ext.of.func);
  if ((uint64_t)nargs != ft.nparams) {
    wg_buf t;
    wg_buf_init(&t, 1u << 16);
    cli_fmt_functype(&t, &ft);
    fprintf(stderr,
            "wasmgate run: function '%s' %s expects %u argument%s, got %d\n",
            o->invoke, cli_buf_str(&t), ft.nparams, ft.nparams == 1 ? "" : "s",
            nargs);
    wg_buf_free(&t);
    return CLI_EXIT_USAGE;
  }
  int rc = CLI_EXIT_OK;
  wg_buf argbuf, resbuf;
  wg_buf_init(&argbuf, 1u << 20);
  wg_buf_init(&resbuf, 1u << 20);
  wg_val *vals = cli_buf_zeroed(&argbuf, ft.nparams * sizeof(wg_val));
  wg_val *res = cli_buf_zeroed(&resbuf, ft.nresults * sizeof(wg_val));
  if (!vals || !res) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  for (uint32_t i = 0; i < ft.nparams; i++) {
    if (!parse_arg(args[i], ft.params[i], &vals[i])) {
      fprintf(stderr, "wasmgate run: invalid argument '%s' for parameter %u "
                      "(%s)\n",
              args[i], i, cli_valtype_name(ft.params[i]));
      rc = CLI_EXIT_USAGE;
      goto done;
    }
  }
  wg_err code = wg_call(s, ext.of.func, vals, ft.nparams, res, ft.nresults);
  if (code != WG_OK) {
    wg_error e = *wg_store_trap(s);
    if (e.code == WG_OK) e.code = code;   /* no details recorded */
    rc = report_failure(path, s, &e);
    goto done;
  }
  for (uint32_t i = 0; i < ft.nresults; i++) print_result(&res[i]);
done:
  wg_buf_free(&argbuf);
  wg_buf_free(&resbuf);
  return rc;
}

int cmd_run(int argc, char **argv) {
  run_opts o = {.invoke = NULL, .fuel = -1, .max_memory_pages = 0};
  int i = parse_run_options(argc, argv, &o);
  if (i == -2) return CLI_EXIT_OK;
  if (i < 0) return CLI_EXIT_USAGE;
  if (i >= argc) {
    run_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *path = argv[i];
  if (!o.invoke) {
    fprintf(stderr,
            "wasmgate run: running a WASI module's _start is not supported "
            "yet; use --invoke FUNC\n");
    return CLI_EXIT_USAGE;
  }
  wg_module *m = cli_load_module(path);
  if (!m) return CLI_EXIT_FAIL;

  int rc;
  wg_store_config cfg = {.max_memory_pages = o.max_memory_pages,
                         .fuel = o.fuel};
  wg_store *s = wg_store_new(&cfg);
  if (!s) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    wg_module_release(m);
    return CLI_EXIT_FAIL;
  }
  run_link link = {.missing = false};
  wg_error err;
  wg_error_clear(&err);
  wg_instance *inst = wg_instance_new(s, m, run_resolve, &link, &err);
  if (!inst) {
    if (link.missing) {
      wg_buf b;
      wg_buf_init(&b, 1u << 16);
      cli_fmt_name(&b, link.module.ptr, link.module.len);
      wg_buf_append(&b, ".", 1);
      cli_fmt_name(&b, link.name.ptr, link.name.len);
      fprintf(stderr, "%s: error: unknown import: %s (WASI is not supported "
                      "yet)\n",
              path, cli_buf_str(&b));
      wg_buf_free(&b);
      rc = CLI_EXIT_FAIL;
    } else {
      rc = report_failure(path, s, &err);
    }
  } else {
    rc = invoke(&o, path, s, inst, argc - i - 1, argv + i + 1);
  }
  fflush(stdout);
  wg_store_free(s);
  wg_module_release(m);
  return rc;
}
