/*
** Decoding rejects each module of the malformed corpus (tests/malformed/)
** with its exact error: code, message, byte offset, and where the .err file
** says so, section and function index.
**
**   unit_engine_malformed CASE.wasm   checks one case (CASE.err beside it)
**   unit_engine_malformed             checks every case in WGT_MALFORMED_DIR
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wgt.h"

typedef struct expect {
  char code[64];
  char message[256];
  int64_t offset, func;
  int section;
  bool has_offset, has_func, has_section;
} expect;

static void parse_err(const char *path, expect *x) {
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  char line[512];
  memset(x, 0, sizeof *x);
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (line[0] == '#' || line[0] == 0) continue;
    char *val = strchr(line, ' ');
    if (!val) fail_msg("%s: bad line \"%s\"", path, line);
    *val++ = 0;
    if (strcmp(line, "code") == 0) {
      snprintf(x->code, sizeof x->code, "%s", val);
    } else if (strcmp(line, "message") == 0) {
      snprintf(x->message, sizeof x->message, "%s", val);
    } else if (strcmp(line, "offset") == 0) {
      x->offset = strtoll(val, NULL, 10);
      x->has_offset = true;
    } else if (strcmp(line, "func") == 0) {
      x->func = strtoll(val, NULL, 10);
      x->has_func = true;
    } else if (strcmp(line, "section") == 0) {
      x->section = (int)strtol(val, NULL, 10);
      x->has_section = true;
    } else {
      fail_msg("%s: unknown key \"%s\"", path, line);
    }
  }
  fclose(f);
  if (!x->code[0] || !x->message[0] || !x->has_offset)
    fail_msg("%s: code, message and offset are required", path);
}

static void check_case(void **state) {
  const char *wasm = *state;
  char errpath[1024];
  size_t n = strlen(wasm);
  assert_true(n > 5 && n < sizeof errpath && strcmp(wasm + n - 5, ".wasm") == 0);
  snprintf(errpath, sizeof errpath, "%.*s.err", (int)(n - 5), wasm);
  expect x;
  parse_err(errpath, &x);

  size_t len = 0;
  uint8_t *bytes = wgt_read_file(wasm, &len);
  wg_error err;
  wg_module *m = wg_module_load(bytes, len, &err);
  free(bytes);
  if (m) {
    wg_module_release(m);
    fail_msg("%s loaded, but it must fail with %s", wasm, x.code);
  }
  bool ok = strcmp(wg_err_name(err.code), x.code) == 0 &&
            strcmp(err.message, x.message) == 0 && err.offset == x.offset &&
            (!x.has_func || err.func == x.func) &&
            (!x.has_section || err.section == x.section);
  if (!ok) {
    char wsec[24] = "(any)", wfunc[24] = "(any)";
    if (x.has_section) snprintf(wsec, sizeof wsec, "%d", x.section);
    if (x.has_func) snprintf(wfunc, sizeof wfunc, "%lld", (long long)x.func);
    fail_msg("%s\n   want %s \"%s\" offset %lld section %s func %s\n"
             "   got  %s \"%s\" offset %lld section %d func %lld",
             wasm, x.code, x.message, (long long)x.offset, wsec, wfunc,
             wg_err_name(err.code), err.message, (long long)err.offset,
             err.section, (long long)err.func);
  }
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  static struct CMUnitTest tests[512];
  static char *paths[512];
  size_t n = 0;
  if (argc > 1) {
    for (int i = 1; i < argc && n < 512; i++) paths[n++] = argv[i];
  } else {
    DIR *d = opendir(WGT_MALFORMED_DIR);
    if (!d) {
      fprintf(stderr, "cannot open %s\n", WGT_MALFORMED_DIR);
      return 1;
    }
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
      size_t len = strlen(de->d_name);
      if (len < 6 || strcmp(de->d_name + len - 5, ".wasm") != 0) continue;
      size_t sz = strlen(WGT_MALFORMED_DIR) + len + 2;
      paths[n] = malloc(sz);
      snprintf(paths[n], sz, "%s/%s", WGT_MALFORMED_DIR, de->d_name);
      n++;
    }
    closedir(d);
    qsort(paths, n, sizeof *paths, by_name);
  }
  for (size_t i = 0; i < n; i++) {
    const char *base = strrchr(paths[i], '/');
    tests[i] = (struct CMUnitTest){.name = base ? base + 1 : paths[i],
                                   .test_func = check_case,
                                   .initial_state = paths[i]};
  }
  return _cmocka_run_group_tests("malformed", tests, n, NULL, NULL);
}
