/*
** wasmgate serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]
** wasmgate audit verify [--config FILE] [--data-dir DIR] [--file LOG]
**
** Thin wrappers over src/server (server.h): option parsing only.
*/
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "server/server.h"

/* Reads "--name VALUE" or "--name=VALUE" at argv[*i]; true when it is
** option name (the value in *val, NULL when missing). */
static bool opt_value(int argc, char **argv, int *i, const char *name,
                      const char **val) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0) return false;
  if (a[n] == '=') {
    *val = a + n + 1;
    return true;
  }
  if (a[n] != 0) return false;
  *val = *i + 1 < argc ? argv[++*i] : NULL;
  return true;
}

static void serve_usage(FILE *out) {
  fprintf(out,
          "usage: wasmgate serve [--config FILE] [--listen HOST:PORT] "
          "[--data-dir DIR]\n"
          "                      [--model FILE.gguf]\n\n"
          "Runs the multi-tenant sandbox API. Without a config file it "
          "listens on\n127.0.0.1:8080 and keeps its state in "
          "./wasmgate-data. The admin key comes\nfrom WASMGATE_ADMIN_KEY "
          "(else one is generated at the first start and printed\nonce). "
          "SIGHUP reloads the config, SIGTERM stops gracefully.\n"
          "--model serves a GGUF model in this process (llama.cpp) as the "
          "model named\nafter the file (tiny.gguf: \"tiny\") at "
          "POST /v1/chat/completions.\n"
          "See config/wasmgate.example.yaml for every setting.\n");
}

int cmd_serve(int argc, char **argv) {
  wg_serve_opts o = {NULL, NULL, NULL, NULL};
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    const char **dst = NULL;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      serve_usage(stdout);
      return CLI_EXIT_OK;
    }
    if (opt_value(argc, argv, &i, "--config", &v)) dst = &o.config_path;
    else if (opt_value(argc, argv, &i, "--listen", &v)) dst = &o.listen;
    else if (opt_value(argc, argv, &i, "--data-dir", &v)) dst = &o.data_dir;
    else if (opt_value(argc, argv, &i, "--model", &v)) dst = &o.model;
    if (!dst || !v || !*v) {
      fprintf(stderr, dst ? "wasmgate serve: %s needs a value\n"
                          : "wasmgate serve: unknown argument '%s'\n",
              argv[i]);
      serve_usage(stderr);
      return CLI_EXIT_USAGE;
    }
    *dst = v;
  }
  switch (wg_serve(&o)) {
    case 0: return CLI_EXIT_OK;
    case 2: return CLI_EXIT_USAGE;
    default: return CLI_EXIT_FAIL;
  }
}

int cmd_audit(int argc, char **argv) {
  const char *config = NULL, *data_dir = NULL, *file = NULL;
  if (argc < 2 || strcmp(argv[1], "verify") != 0) {
    fprintf(stderr, "usage: wasmgate audit verify [--config FILE] "
                    "[--data-dir DIR] [--file LOG]\n");
    return CLI_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    const char *v = NULL;
    const char **dst = NULL;
    if (opt_value(argc, argv, &i, "--config", &v)) dst = &config;
    else if (opt_value(argc, argv, &i, "--data-dir", &v)) dst = &data_dir;
    else if (opt_value(argc, argv, &i, "--file", &v)) dst = &file;
    if (!dst || !v || !*v) {
      fprintf(stderr, "usage: wasmgate audit verify [--config FILE] "
                      "[--data-dir DIR] [--file LOG]\n");
      return CLI_EXIT_USAGE;
    }
    *dst = v;
  }
  char path[1024];
  if (!file) {
    if (!wg_audit_path(config, data_dir, path, sizeof path)) {
      return CLI_EXIT_USAGE;
    }
    file = path;
  }
  /* 0 intact, 1 broken (or unreadable). */
  return wg_audit_verify_file(file, stdout) == 0 ? CLI_EXIT_OK
                                                 : CLI_EXIT_FAIL;
}
