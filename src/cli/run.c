/*
** wasmgate run [OPTIONS] FILE.wasm [ARGS...]
**
** Runs one module through the sandbox executor (wg_exec_run, sandbox.h),
** under every limit, in this process; with --isolation process in a
** confined worker process instead (run_isolated.c: the same request,
** result, output and exit status). By default it runs the WASI command
** export "_start" with the guest argv [basename of FILE.wasm, ARGS...];
** --invoke FUNC calls the export FUNC instead, with ARGS parsed by FUNC's
** parameter types, and prints each result on its own line.
**
** Options come first, up to the first argument that is not an option (the
** module) or "--"; everything after the module belongs to the guest. Each
** option is one row of run_options; a row's setter checks and stores its
** value. "--opt VALUE" and "--opt=VALUE" are the same.
**
** Nothing of the host reaches the guest unless asked for: no environment
** variable without --env, no directory without --dir, no stdin without
** --stdin (the default is an empty stdin, EOF at once). stdout and stderr
** are the terminal's (fds 1 and 2) unless --json or --max-output, which
** capture them (at most SIZE bytes each; 1MiB by default with --json).
** Captured output without --json is written to fds 1 and 2 after the run.
** Known gap: a guest blocked in a read of a pipe or terminal (--stdin -) or
** a write to a full pipe is stopped by --timeout only once that call
** returns (src/wasi retries the host call; a cancellable wait belongs there).
**
** --json prints one object on stdout (the same fields as the server's
** execution results):
**   {"exit_code": N,            the guest's code (proc_exit; 0 when _start
**                               or FUNC returned; 1 after a trap)
**    "trap": null | {"kind", "message"},   what ended the run abnormally:
**                               kind is the error code's name
**                               (WG_TRAP_UNREACHABLE -> "unreachable",
**                               WG_ELIMIT -> "elimit"), message its text
**                               with the function and the code offset
**    "limit": null | "fuel" | "memory" | "timeout" | "output" | "open_fds"
**             | "write_bytes" | "call_depth",  the limit the run ran into
**    "fuel_used", "wall_ms", "peak_memory_bytes",
**    "stdout", "stdout_encoding": "utf-8" | "base64",  (base64 when the
**    "stderr", "stderr_encoding",                       bytes are not UTF-8)
**    "stdout_truncated", "stderr_truncated",
**    "results": [...]}          with --invoke, when FUNC returned
**
** Exit status of the process (not to be confused with --json's exit_code,
** which is the guest's own):
**   0-124  the guest's exit code: proc_exit(N), or 0 when _start (or the
**          --invoke function) returned
**   1      the module could not be read, decoded, validated or linked, or
**          has no such export (also what a guest exiting with 1 gives)
**   2      usage error: unknown option, bad value, a --dir or --stdin path
**          that cannot be used, wrong --invoke arguments (also a guest's 2)
**   125    the guest exited with 125 or more (statuses 125-255 are
**          wasmgate's own; the code is on stderr, or exit_code in --json)
**   134    the guest trapped (128 + SIGABRT, as a native abort), including
**          "call stack exhausted" (the engine's call depth, not an option)
**   135    limit exceeded: fuel (--fuel)
**   136    limit exceeded: memory (--max-memory)
**   137    limit exceeded: timeout (--timeout)
**   138    limit exceeded: output (--max-output)
**   139    limit exceeded: open_fds (--max-fds)
**   140    limit exceeded: write_bytes (--max-write)
** A limit "exceeded" ended the run: fuel and timeout stop the guest, the
** others refuse it something (memory.grow gives -1, open gives EMFILE,
** write gives ENOSPC, output is cut) and count as the end when the guest
** then traps (e.g. abort() after malloc failed) or cannot start (initial
** memory above --max-memory). A guest that copes and exits by itself gets
** its own exit code; without --json, "wasmgate: limit reached: NAME" is
** then printed on stderr. Trap and limit messages (without --json):
**   wasmgate: trap: unreachable in function 'f' (#3) at offset 0x2a
**   wasmgate: limit exceeded: fuel (--fuel 1000): out of fuel in ...
**   wasmgate: limit exceeded: memory (--max-memory 1MiB), then trap: ...
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "cli/cli.h"
#include "wasmgate/nn.h"
#include "wasmgate/sandbox.h"
#include "wasmgate/wasi.h"

/* Exit statuses of `run` beyond cli.h's (see the top comment). */
enum {
  RUN_EXIT_RANGE = 125,          /* guest exit code 125 or more */
  RUN_GUEST_MAX = 124,           /* the largest code passed through */
};

/* The limits options set: one row each, with the exit status a run
** ended by that limit gives and the default messages show. */
static const struct run_limit {
  wg_limit_kind kind;
  const char *option;
  int status;
  const char *dflt;
} run_limits[] = {
    {WG_LIMIT_FUEL, "--fuel", 135, "unmetered"},
    {WG_LIMIT_MEMORY, "--max-memory", 136, "default 4GiB"},
    {WG_LIMIT_TIMEOUT, "--timeout", 137, "none"},
    {WG_LIMIT_OUTPUT, "--max-output", 138, "default 1MiB"},
    {WG_LIMIT_FDS, "--max-fds", 139, "default 1024"},
    {WG_LIMIT_WRITE_BYTES, "--max-write", 140, "unlimited"},
};

#define NRUN_LIMITS (sizeof run_limits / sizeof run_limits[0])
#define RUN_NKINDS (WG_LIMIT_TABLE + 1)

/* Limits on the option values themselves. */
#define RUN_MAX_TIMEOUT_NS (8760ull * 3600 * 1000000000)   /* 365 days */
#define RUN_MAX_OUTPUT (1ull << 30)
#define RUN_MAX_DIRS 64u               /* as wg_exec_run */

typedef struct run_dir {
  char *copy;                  /* the --dir value, split in place */
  size_t size;                 /* bytes of copy */
} run_dir;

typedef struct run_opts {
  const char *invoke;          /* export to call; NULL: _start */
  bool json;                   /* print one JSON object */
  bool isolated;               /* --isolation process (run_isolated.c) */
  const char *stdin_path;      /* NULL: empty stdin; "-": fd 0 */
  wg_exec_limits limits;       /* 0 fields: the executor's defaults */
  const char *limit_text[RUN_NKINDS];   /* the value given, by kind */
  wg_exec_dir *dirs;           /* argc entries, ndirs used */
  run_dir *dir_copies;
  size_t ndirs;
  const char **env;            /* argc entries, nenv used; "K=V" */
  size_t nenv;
  const char **nn_preload;     /* argc entries, nnn used (checked) */
  size_t nnn;
} run_opts;

/* Checks and stores one option's value; returns false after printing why. */
typedef bool (*run_setter)(run_opts *o, const char *opt, const char *val);

static bool set_dir(run_opts *o, const char *opt, const char *val);
static bool set_env(run_opts *o, const char *opt, const char *val);
static bool set_nn_preload(run_opts *o, const char *opt, const char *val);
static bool set_fuel(run_opts *o, const char *opt, const char *val);
static bool set_max_memory(run_opts *o, const char *opt, const char *val);
static bool set_timeout(run_opts *o, const char *opt, const char *val);
static bool set_stdin(run_opts *o, const char *opt, const char *val);
static bool set_invoke(run_opts *o, const char *opt, const char *val);
static bool set_json(run_opts *o, const char *opt, const char *val);
static bool set_max_fds(run_opts *o, const char *opt, const char *val);
static bool set_max_write(run_opts *o, const char *opt, const char *val);
static bool set_max_output(run_opts *o, const char *opt, const char *val);
static bool set_isolation(run_opts *o, const char *opt, const char *val);

static const struct run_option {
  const char *name;
  const char *metavar;   /* NULL: a flag without a value */
  run_setter set;
  const char *help;
} run_options[] = {
    {"--dir", "HOST::GUEST[:ro]", set_dir,
     "preopen directory HOST as GUEST (fds 3, 4, ... in order); a plain\n"
     "      PATH means PATH::PATH; :ro forbids every write through it"},
    {"--env", "KEY=VALUE", set_env,
     "set a guest environment variable (none from the host otherwise)"},
    {"--nn-preload", "NAME:GGML:AUTO:PATH", set_nn_preload,
     "offer the GGUF model PATH to WASI-NN (wasi_ephemeral_nn) as NAME for\n"
     "      load_by_name; loaded on first use; repeatable"},
    {"--fuel", "N", set_fuel,
     "stop after about N units of work (default: unmetered)"},
    {"--max-memory", "SIZE", set_max_memory,
     "cap each linear memory, at least 64KiB (default: 4GiB)"},
    {"--timeout", "DURATION", set_timeout,
     "stop after this much wall-clock time: 250us, 500ms, 2s, 1.5m, 1h\n"
     "      (a bare number is seconds; default: none)"},
    {"--stdin", "FILE", set_stdin,
     "the guest's stdin reads FILE (- for this process's stdin; default:\n"
     "      empty)"},
    {"--invoke", "FUNC", set_invoke,
     "call the exported function FUNC with ARGS and print its results"},
    {"--json", NULL, set_json,
     "capture stdout and stderr and print one JSON object with the outcome"},
    {"--max-fds", "N", set_max_fds,
     "at most N open fds, stdio and preopens included (default: 1024)"},
    {"--max-write", "SIZE", set_max_write,
     "at most SIZE bytes written to files (default: unlimited)"},
    {"--isolation", "MODE", set_isolation,
     "thread: run the guest in this process (the default); process: in a\n"
     "      confined worker process, as `wasmgate serve` does"},
    {"--max-output", "SIZE", set_max_output,
     "capture at most SIZE bytes of stdout and of stderr (default with\n"
     "      --json: 1MiB)"},
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
  fprintf(out,
          "\nSIZE: bytes, or with K/M/G (KiB/MiB/GiB, powers of 1024) or "
          "KB/MB/GB (powers\nof 1000). Exit status: the guest's code (0-124), "
          "1 load/link error, 2 usage,\n125 guest code >= 125, 134 trap, "
          "135 fuel, 136 memory, 137 timeout, 138 output,\n139 open_fds, "
          "140 write_bytes.\n");
}

/* ------------------------------------------------------------------ */
/* Option values                                                       */

static const struct run_limit *find_limit(wg_limit_kind k) {
  for (size_t i = 0; i < NRUN_LIMITS; i++)
    if (run_limits[i].kind == k) return &run_limits[i];
  return NULL;
}

static bool set_invoke(run_opts *o, const char *opt, const char *val) {
  (void)opt;
  o->invoke = val;
  return true;
}

static bool set_json(run_opts *o, const char *opt, const char *val) {
  (void)opt;
  (void)val;
  o->json = true;
  return true;
}

static bool set_isolation(run_opts *o, const char *opt, const char *val) {
  if (strcmp(val, "process") && strcmp(val, "thread")) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not process or thread\n", opt,
            val);
    return false;
  }
  o->isolated = !strcmp(val, "process");
  return true;
}

static bool set_stdin(run_opts *o, const char *opt, const char *val) {
  (void)opt;
  o->stdin_path = val;
  return true;
}

/* HOST::GUEST[:ro] or PATH[:ro]; HOST must be a directory now. */
static bool set_dir(run_opts *o, const char *opt, const char *val) {
  if (o->ndirs >= RUN_MAX_DIRS) {
    fprintf(stderr, "wasmgate run: %s: at most %u directories\n", opt,
            RUN_MAX_DIRS);
    return false;
  }
  size_t n = strlen(val);
  char *s = wg_realloc_(NULL, 0, n + 1);
  if (!s) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    return false;
  }
  memcpy(s, val, n + 1);
  o->dir_copies[o->ndirs] = (run_dir){s, n + 1};
  wg_exec_dir *d = &o->dirs[o->ndirs++];
  d->readonly = n >= 3 && !strcmp(s + n - 3, ":ro");
  if (d->readonly) s[n - 3] = 0;
  char *sep = strstr(s, "::");
  if (sep) {
    *sep = 0;
    d->guest_path = sep + 2;
  } else {
    d->guest_path = s;
  }
  d->host_path = s;
  if (!d->host_path[0] || !d->guest_path[0]) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not HOST::GUEST[:ro] or "
                    "PATH[:ro]\n", opt, val);
    return false;
  }
  struct stat st;
  if (stat(d->host_path, &st) != 0) {
    fprintf(stderr, "wasmgate run: %s: cannot open '%s': %s\n", opt,
            d->host_path, strerror(errno));
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not a directory\n", opt,
            d->host_path);
    return false;
  }
  return true;
}

/* KEY=VALUE with a non-empty KEY; a later KEY replaces an earlier one. */
static bool set_env(run_opts *o, const char *opt, const char *val) {
  const char *eq = strchr(val, '=');
  if (!eq || eq == val) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not KEY=VALUE\n", opt, val);
    return false;
  }
  size_t klen = (size_t)(eq - val) + 1;   /* with the '=' */
  for (size_t i = 0; i < o->nenv; i++) {
    if (!strncmp(o->env[i], val, klen)) {
      o->env[i] = val;
      return true;
    }
  }
  o->env[o->nenv++] = val;
  return true;
}

/* Checks NAME:ENCODING:TARGET:PATH now (wg_nn_parse_preload's messages);
** the host is built from the kept values in run_module. */
static bool set_nn_preload(run_opts *o, const char *opt, const char *val) {
  size_t n = strlen(val) + 1;
  char *buf = wg_realloc_(NULL, 0, n);
  if (!buf) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    return false;
  }
  wg_nn_model_cfg m;
  wg_error err;
  wg_error_clear(&err);
  bool ok = wg_nn_parse_preload(val, buf, n, &m, &err) == WG_OK;
  if (!ok) fprintf(stderr, "wasmgate run: %s: %s\n", opt, err.message);
  for (size_t i = 0; ok && i < o->nnn; i++) {
    size_t len = strlen(m.name);
    if (!strncmp(o->nn_preload[i], m.name, len) && o->nn_preload[i][len] == ':') {
      fprintf(stderr, "wasmgate run: %s: model '%s' is given twice\n", opt, m.name);
      ok = false;
    }
  }
  wg_free(buf, n);
  if (ok) o->nn_preload[o->nnn++] = val;
  return ok;
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

/* A whole number in [min, max]; prints why not. */
static bool parse_count(const char *opt, const char *val, const char *what,
                        uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t v;
  char *end;
  if (!parse_u64(val, &v, &end) || *end) {
    fprintf(stderr, "wasmgate run: %s: '%s' is not a number of %s\n", opt,
            val, what);
    return false;
  }
  if (v < min || v > max) {
    fprintf(stderr, "wasmgate run: %s: '%s' is out of range (%" PRIu64
                    " to %" PRIu64 ")\n", opt, val, min, max);
    return false;
  }
  *out = v;
  return true;
}

static bool set_fuel(run_opts *o, const char *opt, const char *val) {
  uint64_t v;
  /* 0 would mean "the default" (unmetered) to the executor */
  if (!parse_count(opt, val, "fuel units", 1, INT64_MAX, &v)) return false;
  o->limits.fuel = (int64_t)v;
  o->limit_text[WG_LIMIT_FUEL] = val;
  return true;
}

static bool set_max_fds(run_opts *o, const char *opt, const char *val) {
  uint64_t v;
  if (!parse_count(opt, val, "fds", 3, WG_WASI_MAX_FDS, &v)) return false;
  o->limits.max_open_fds = (uint32_t)v;
  o->limit_text[WG_LIMIT_FDS] = val;
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

/* A SIZE of at least min bytes (min_text says it for people). */
static bool parse_size_opt(const char *opt, const char *val, uint64_t min,
                           const char *min_text, uint64_t max,
                           const char *max_text, uint64_t *out) {
  uint64_t bytes;
  if (!parse_size(val, &bytes)) {
    fprintf(stderr,
            "wasmgate run: %s: '%s' is not a size (examples: 65536, 64KiB, "
            "64MiB, 1GiB, 2MB)\n",
            opt, val);
    return false;
  }
  if (bytes < min) {
    fprintf(stderr, "wasmgate run: %s: '%s' is below the minimum of %s\n",
            opt, val, min_text);
    return false;
  }
  if (bytes > max) {
    fprintf(stderr, "wasmgate run: %s: '%s' is above the maximum of %s\n",
            opt, val, max_text);
    return false;
  }
  *out = bytes;
  return true;
}

static bool set_max_memory(run_opts *o, const char *opt, const char *val) {
  /* Rounded down to whole pages by the executor. Below one page the
  ** store could not even hold a one-page memory. */
  if (!parse_size_opt(opt, val, WG_PAGE_SIZE, "64KiB (one page)", UINT64_MAX,
                      "", &o->limits.memory_bytes))
    return false;
  o->limit_text[WG_LIMIT_MEMORY] = val;
  return true;
}

static bool set_max_write(run_opts *o, const char *opt, const char *val) {
  /* 0 would mean "no cap" to the executor */
  if (!parse_size_opt(opt, val, 1, "1 byte", UINT64_MAX, "",
                      &o->limits.max_write_bytes))
    return false;
  o->limit_text[WG_LIMIT_WRITE_BYTES] = val;
  return true;
}

static bool set_max_output(run_opts *o, const char *opt, const char *val) {
  /* held in memory, so capped; 0 would mean "the default" */
  if (!parse_size_opt(opt, val, 1, "1 byte", RUN_MAX_OUTPUT, "1GiB",
                      &o->limits.max_output_bytes))
    return false;
  o->limit_text[WG_LIMIT_OUTPUT] = val;
  return true;
}

/* "250us", "500ms", "2s", "1.5m", "1h", "3" (seconds) into nanoseconds;
** false when it is none of these. Beyond RUN_MAX_TIMEOUT_NS it gives
** UINT64_MAX. */
static bool parse_duration(const char *s, uint64_t *ns) {
  static const struct { const char *suffix; uint64_t ns; } units[] = {
      {"", 1000000000ull},  {"s", 1000000000ull}, {"ms", 1000000ull},
      {"us", 1000ull},      {"m", 60000000000ull}, {"h", 3600000000000ull},
  };
  uint64_t whole;
  char *p;
  if (!parse_u64(s, &whole, &p)) return false;
  uint64_t frac = 0, scale = 1;   /* the fraction is frac / scale */
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (scale == 1000000000ull) return false;   /* at most 9 digits */
      frac = frac * 10 + (uint64_t)(*p - '0');
      scale *= 10;
    }
  }
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(p, units[i].suffix)) continue;
    uint64_t u = units[i].ns;
    if (whole > RUN_MAX_TIMEOUT_NS / u) {
      *ns = UINT64_MAX;
      return true;
    }
    /* frac < scale <= 1e9 and u <= 3.6e12: split to stay in 64 bits */
    *ns = whole * u + frac * (u / scale) + frac * (u % scale) / scale;
    return true;
  }
  return false;
}

static bool set_timeout(run_opts *o, const char *opt, const char *val) {
  uint64_t ns;
  if (!parse_duration(val, &ns)) {
    fprintf(stderr,
            "wasmgate run: %s: '%s' is not a duration (examples: 250us, "
            "500ms, 2s, 1.5m, 1h)\n",
            opt, val);
    return false;
  }
  if (ns == 0 || ns > RUN_MAX_TIMEOUT_NS) {
    fprintf(stderr, "wasmgate run: %s: '%s' is out of range (more than 0, "
                    "at most 365 days)\n", opt, val);
    return false;
  }
  o->limits.timeout_ms = (ns + 999999) / 1000000;   /* whole ms, rounded up */
  o->limit_text[WG_LIMIT_TIMEOUT] = val;
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
      size_t n = strcspn(a, "=");
      for (size_t k = 0; k < NRUN_OPTIONS; k++) {
        if (strlen(run_options[k].name) == n &&
            !strncmp(a, run_options[k].name, n)) {
          fprintf(stderr, "wasmgate run: %s takes no value\n",
                  run_options[k].name);
          return -1;
        }
      }
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

/* Checks what depends on several options. */
static bool check_run_options(const run_opts *o) {
  uint64_t need = 3 + o->ndirs;
  if (o->limits.max_open_fds && o->limits.max_open_fds < need) {
    fprintf(stderr,
            "wasmgate run: --max-fds: %s is too few for stdio and %zu "
            "preopened director%s (at least %" PRIu64 ")\n",
            o->limit_text[WG_LIMIT_FDS], o->ndirs,
            o->ndirs == 1 ? "y" : "ies", need);
    return false;
  }
  return true;
}

static bool run_opts_init(run_opts *o, int argc) {
  memset(o, 0, sizeof *o);
  size_t n = (size_t)argc;
  o->dirs = wg_new_array(wg_exec_dir, n);
  o->dir_copies = wg_new_array(run_dir, n);
  o->env = wg_new_array(const char *, n);
  o->nn_preload = wg_new_array(const char *, n);
  return o->dirs && o->dir_copies && o->env && o->nn_preload;
}

static void run_opts_free(run_opts *o, int argc) {
  size_t n = (size_t)argc;
  for (size_t i = 0; o->dir_copies && i < o->ndirs; i++)
    wg_free(o->dir_copies[i].copy, o->dir_copies[i].size);
  if (o->dirs) wg_free_array(o->dirs, n);
  if (o->dir_copies) wg_free_array(o->dir_copies, n);
  if (o->env) wg_free_array(o->env, n);
  if (o->nn_preload) wg_free_array(o->nn_preload, n);
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

/* A result as JSON, like the server's: integers and floats as numbers
** (null for NaN and infinities, which JSON cannot hold), the rest null. */
static json_t *result_json(const wg_val *v) {
  json_t *j = NULL;
  switch (v->type) {
    case WG_I32: j = json_integer((int32_t)v->of.i32); break;
    case WG_I64: j = json_integer((json_int_t)(int64_t)v->of.i64); break;
    case WG_F32: {
      float f;
      memcpy(&f, &v->of.i32, 4);
      j = json_real((double)f);
      break;
    }
    case WG_F64: {
      double d;
      memcpy(&d, &v->of.i64, 8);
      j = json_real(d);
      break;
    }
    default: break;
  }
  return j ? j : json_null();
}

/* Finds the export FUNC and parses args by its parameter types into vals
** (at least nargs entries). Returns an exit code, CLI_EXIT_OK when the
** call can go ahead. */
static int prepare_invoke(const char *path, wg_module *m, const char *func,
                          int nargs, char **args, wg_val *vals) {
  size_t flen = strlen(func);
  uint32_t n = wg_module_export_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.name.len != flen || memcmp(d.name.ptr, func, flen)) continue;
    if (d.type.kind != WG_EXTERN_FUNC) {
      fprintf(stderr, "%s: error: export '%s' is a %s, not a function\n",
              path, func, cli_externkind_name(d.type.kind));
      return CLI_EXIT_FAIL;
    }
    wg_functype ft = wg_module_func_type(m, d.index);
    if ((uint64_t)nargs != ft.nparams) {
      wg_buf t;
      wg_buf_init(&t, 1u << 16);
      cli_fmt_functype(&t, &ft);
      fprintf(stderr,
              "wasmgate run: function '%s' %s expects %u argument%s, got %d\n",
              func, cli_buf_str(&t), ft.nparams, ft.nparams == 1 ? "" : "s",
              nargs);
      wg_buf_free(&t);
      return CLI_EXIT_USAGE;
    }
    for (uint32_t k = 0; k < ft.nparams; k++) {
      if (!parse_arg(args[k], ft.params[k], &vals[k])) {
        fprintf(stderr, "wasmgate run: invalid argument '%s' for parameter "
                        "%u (%s)\n",
                args[k], k, wg_valtype_name(ft.params[k]));
        return CLI_EXIT_USAGE;
      }
    }
    return CLI_EXIT_OK;
  }
  fprintf(stderr, "%s: error: no export named '%s'\n", path, func);
  return CLI_EXIT_FAIL;
}

static bool has_export(wg_module *m, const char *name) {
  size_t len = strlen(name);
  uint32_t n = wg_module_export_count(m);
  for (uint32_t i = 0; i < n; i++) {
    wg_export_desc d = wg_module_export(m, i);
    if (d.name.len == len && !memcmp(d.name.ptr, name, len) &&
        d.type.kind == WG_EXTERN_FUNC)
      return true;
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Reporting                                                           */

/* The error code's name as the server spells a trap kind:
** WG_TRAP_MEMORY -> "memory", WG_ELIMIT -> "elimit". */
static void trap_kind(wg_err e, char *buf, size_t n) {
  const char *name = wg_err_name(e);
  name += strncmp(name, "WG_TRAP_", 8) == 0 ? 8 : 3;
  size_t i = 0;
  for (; name[i] && i + 1 < n; i++)
    buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
  buf[i] = 0;
}

static const char *trap_message(const wg_exec_result *r) {
  return r->trap_message[0] ? r->trap_message : wg_strerror(r->trap);
}

static void base64(wg_buf *b, const uint8_t *p, size_t n) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char q[4] = {tab[v >> 18], tab[(v >> 12) & 63],
                 i + 1 < n ? tab[(v >> 6) & 63] : '=',
                 i + 2 < n ? tab[v & 63] : '='};
    if (wg_buf_append(b, q, 4) != WG_OK) return;
  }
}

/* stdout or stderr: text when UTF-8 (json_stringn checks), else base64. */
static void put_output(json_t *o, const char *name, const char *enc_key,
                       const uint8_t *p, size_t n) {
  json_t *s = json_stringn(n ? (const char *)p : "", n);
  if (s) {
    json_object_set_new(o, name, s);
    json_object_set_new(o, enc_key, json_string("utf-8"));
    return;
  }
  wg_buf b;
  wg_buf_init(&b, (n / 3 + 2) * 4 + 1);
  base64(&b, p, n);
  json_object_set_new(o, name, json_stringn(b.data ? (const char *)b.data
                                                   : "", b.len));
  json_object_set_new(o, enc_key, json_string("base64"));
  wg_buf_free(&b);
}

static int print_json(const wg_exec_result *r) {
  json_t *trap = json_null();
  if (r->trap != WG_OK && r->trap != WG_TRAP_EXIT) {
    char kind[40];
    trap_kind(r->trap, kind, sizeof kind);
    trap = json_pack("{ss,ss}", "kind", kind, "message", trap_message(r));
  }
  json_t *o = json_object();
  if (!o) return -1;
  json_object_set_new(o, "exit_code", json_integer(r->exit_code));
  json_object_set_new(o, "trap", trap);
  json_object_set_new(o, "limit", r->limit != WG_LIMIT_NONE
                                      ? json_string(wg_limit_name(r->limit))
                                      : json_null());
  json_object_set_new(o, "fuel_used", json_integer((json_int_t)r->fuel_used));
  json_object_set_new(o, "wall_ms", json_real((double)r->wall_ns / 1e6));
  json_object_set_new(o, "peak_memory_bytes",
                      json_integer((json_int_t)r->peak_memory_bytes));
  put_output(o, "stdout", "stdout_encoding", r->out, r->out_len);
  put_output(o, "stderr", "stderr_encoding", r->err, r->err_len);
  json_object_set_new(o, "stdout_truncated", json_boolean(r->out_truncated));
  json_object_set_new(o, "stderr_truncated", json_boolean(r->err_truncated));
  if (r->trap == WG_OK && r->nresults) {
    json_t *a = json_array();
    for (size_t i = 0; i < r->nresults; i++)
      json_array_append_new(a, result_json(&r->results[i]));
    json_object_set_new(o, "results", a);
  }
  int rc = json_dumpf(o, stdout, JSON_COMPACT);
  json_decref(o);
  fputc('\n', stdout);
  return rc;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    p += k;
    n -= (size_t)k;
  }
}

/* "(--fuel 1000)" or "(default 1024)": where the limit came from. */
static void limit_setting(const run_opts *o, const struct run_limit *l,
                          char *buf, size_t n) {
  const char *given = o->limit_text[l->kind];
  if (given)
    snprintf(buf, n, "%s %s", l->option, given);
  else
    snprintf(buf, n, "%s", l->dflt);
}

/* The exit status of a run that started (or ran into a limit before its
** first instruction), and its messages on stderr unless --json. */
static int report_run(const run_opts *o, const wg_exec_result *r) {
  const struct run_limit *lim = find_limit(r->limit);
  char setting[160] = "";
  if (lim) limit_setting(o, lim, setting, sizeof setting);
  int status;
  if (r->trap == WG_OK) {
    unsigned code = (unsigned)r->exit_code;
    status = code <= RUN_GUEST_MAX ? (int)code : RUN_EXIT_RANGE;
    if (o->json) return status;
    if (r->limit != WG_LIMIT_NONE)
      fprintf(stderr, "wasmgate: limit reached: %s%s%s%s\n",
              wg_limit_name(r->limit), lim ? " (" : "", setting,
              lim ? ")" : "");
    if (status == RUN_EXIT_RANGE)
      fprintf(stderr, "wasmgate: the guest's exit code %u is above %d; "
                      "exiting with %d\n", code, RUN_GUEST_MAX,
              RUN_EXIT_RANGE);
    return status;
  }
  if (lim) {
    status = lim->status;
    if (!o->json) {
      /* fuel and timeout stop the guest themselves; the other limits
      ** refused something and the guest then trapped (or never started) */
      bool direct = r->trap == WG_TRAP_FUEL || r->trap == WG_TRAP_INTERRUPT ||
                    !wg_is_trap(r->trap);
      fprintf(stderr, "wasmgate: limit exceeded: %s (%s)%s%s\n",
              wg_limit_name(r->limit), setting,
              direct ? ": " : ", then trap: ", trap_message(r));
    }
    return status;
  }
  if (!o->json) fprintf(stderr, "wasmgate: trap: %s\n", trap_message(r));
  return CLI_EXIT_TRAP;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s && s[1] ? s + 1 : path;
}

/* Opens --stdin's file; -1 after printing why. */
static int open_stdin(const char *path) {
  if (!strcmp(path, "-")) {
    int fd = dup(0);
    if (fd < 0)
      fprintf(stderr, "wasmgate run: --stdin: cannot use this process's "
                      "stdin: %s\n", strerror(errno));
    return fd;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "wasmgate run: --stdin: cannot open '%s': %s\n", path,
            strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr, "wasmgate run: --stdin: '%s' is a directory\n", path);
    close(fd);
    return -1;
  }
  return fd;
}

static void run_nn_bind(void *user, wg_store *s, uint64_t deadline_ms) {
  wg_nn_bind_store(user, s, deadline_ms);
}

/* WASI-NN for this run: a host offering the --nn-preload models, all of
** them to the guest. CLI_EXIT_OK, or the exit status after printing why. */
static int run_nn_setup(const run_opts *o, wg_nn_host **host, wg_nn **nn) {
  if (!(*host = wg_nn_host_new(wg_nn_backend_llama(), NULL))) goto oom;
  for (size_t i = 0; i < o->nnn; i++) {
    size_t n = strlen(o->nn_preload[i]) + 1;
    char *buf = wg_realloc_(NULL, 0, n);
    if (!buf) goto oom;
    wg_nn_model_cfg mc;
    wg_error err;
    wg_error_clear(&err);
    wg_err e = wg_nn_parse_preload(o->nn_preload[i], buf, n, &mc, &err);
    if (!e) e = wg_nn_host_add(*host, &mc, &err);
    wg_free(buf, n);
    if (e) {
      fprintf(stderr, "wasmgate run: --nn-preload: %s\n", err.message);
      return CLI_EXIT_USAGE;
    }
  }
  wg_nn_config cfg = {.host = *host, .all_models = true};
  if (!(*nn = wg_nn_new(&cfg))) goto oom;
  return CLI_EXIT_OK;
oom:
  fprintf(stderr, "wasmgate run: out of memory\n");
  return CLI_EXIT_FAIL;
}

static int run_module(const run_opts *o, const char *path, int nargs,
                      char **args) {
  int rc = CLI_EXIT_FAIL;
  int stdin_fd = -1;
  size_t nargv = (size_t)nargs + 1, nvals = (size_t)nargs + 1;
  const char **gargv = NULL;
  wg_val *vals = NULL;
  wg_module *m = NULL;
  wg_nn_host *nn_host = NULL;
  wg_nn *nn = NULL;
  wg_exec_host nn_link;

  if (o->stdin_path && (stdin_fd = open_stdin(o->stdin_path)) < 0)
    return CLI_EXIT_USAGE;
  gargv = wg_new_array(const char *, nargv);
  vals = wg_new_array(wg_val, nvals);
  if (!gargv || !vals) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    goto done;
  }
  if (!(m = cli_load_module(path))) goto done;
  if (o->invoke) {
    rc = prepare_invoke(path, m, o->invoke, nargs, args, vals);
    if (rc != CLI_EXIT_OK) goto done;
  } else if (!has_export(m, "_start")) {
    fprintf(stderr, "%s: error: the module has no _start function (use "
                    "--invoke FUNC to call another export)\n", path);
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  /* WASI-NN: with --nn-preload, or for a module that imports it (then
  ** load_by_name finds nothing: errno 8). With --isolation process the
  ** models stay here and the worker's calls come back (run_isolated.c). */
  if (o->nnn || wg_nn_module_uses(m)) {
    if ((rc = run_nn_setup(o, &nn_host, &nn)) != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_FAIL;
    nn_link = (wg_exec_host){wg_nn_resolve, run_nn_bind, nn};
  }
  gargv[0] = base_name(path);
  for (int i = 0; i < nargs; i++) gargv[i + 1] = args[i];

  wg_exec_request req;
  wg_exec_request_init(&req);
  req.module = m;
  req.function = o->invoke;
  req.argv = gargv;
  req.argc = nargv;
  req.env = o->env;
  req.envc = o->nenv;
  req.dirs = o->dirs;
  req.ndirs = o->ndirs;
  req.stdin_fd = stdin_fd;
  bool capture = o->json || o->limit_text[WG_LIMIT_OUTPUT];
  req.stdout_fd = capture ? -1 : 1;
  req.stderr_fd = capture ? -1 : 2;
  req.invoke_args = vals;
  req.ninvoke_args = o->invoke ? (size_t)nargs : 0;
  req.limits = o->limits;
  req.host = nn ? &nn_link : NULL;

  fflush(stdout);
  fflush(stderr);
  wg_exec_result res;
  wg_err e = o->isolated ? cli_run_isolated(&req, &res)
                         : wg_exec_run(&req, &res);
  if (e != WG_OK && res.limit == WG_LIMIT_NONE) {
    /* it never ran: a link error, an unusable preopen, out of memory */
    fprintf(stderr, "%s: error: %s\n", path,
            res.trap_message[0] ? res.trap_message : wg_strerror(e));
    rc = CLI_EXIT_FAIL;
  } else if (o->json) {
    rc = report_run(o, &res);
    if (print_json(&res) != 0) {
      fprintf(stderr, "wasmgate run: cannot write the JSON result\n");
      rc = CLI_EXIT_FAIL;
    }
  } else {
    write_all(1, res.out, res.out_len);
    write_all(2, res.err, res.err_len);
    if (res.trap == WG_OK)
      for (size_t i = 0; i < res.nresults; i++) print_result(&res.results[i]);
    fflush(stdout);
    rc = report_run(o, &res);
  }
  wg_exec_result_free(&res);

done:
  wg_nn_free(nn);
  wg_nn_host_free(nn_host);
  if (m) wg_module_release(m);
  if (gargv) wg_free_array(gargv, nargv);
  if (vals) wg_free_array(vals, nvals);
  if (stdin_fd >= 0) close(stdin_fd);
  fflush(stdout);
  return rc;
}

int cmd_run(int argc, char **argv) {
  run_opts o;
  int rc = CLI_EXIT_USAGE;
  if (!run_opts_init(&o, argc)) {
    fprintf(stderr, "wasmgate run: out of memory\n");
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  int i = parse_run_options(argc, argv, &o);
  if (i == -2) {
    rc = CLI_EXIT_OK;
    goto done;
  }
  if (i < 0 || !check_run_options(&o)) goto done;
  if (i >= argc) {
    fprintf(stderr, "wasmgate run: no module given\n");
    run_usage(stderr);
    goto done;
  }
  rc = run_module(&o, argv[i], argc - i - 1, argv + i + 1);
done:
  run_opts_free(&o, argc);
  return rc;
}
