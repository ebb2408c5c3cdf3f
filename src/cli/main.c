/*
** wasmgate: the command-line tool. main() looks the subcommand up in one
** table and hands it the rest of the command line.
**
** Exit codes (the same for every subcommand, see cli.h):
**   0    success
**   1    the module failed to load, validate or link; an I/O error;
**        spectest: at least one test failed
**   2    usage error (unknown command or option, bad argument)
**   134  the guest trapped (128 + SIGABRT, as a native abort would)
** `run` also exits with the guest's own code (0..124) and with 135..140 when
** a limit ended the run: the full table is at the top of run.c.
*/
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "sandbox/workers.h"
#include "server/wasinn.h"

static int cmd_version(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_help(int argc, char **argv);

typedef struct command {
  const char *name;
  int (*handler)(int argc, char **argv);
  const char *usage;   /* arguments, shown after the name */
  const char *help;    /* one line */
} command;

static const command commands[] = {
    {"version", cmd_version, "", "print the version"},
    {"validate", cmd_validate, "FILE.wasm", "decode and validate a module"},
    {"inspect", cmd_inspect, "FILE.wasm [--json]",
     "show imports, exports, memories, tables, globals, custom sections"},
    {"run", cmd_run,
     "[--dir HOST::GUEST[:ro]] [--env K=V] [--fuel N] [--max-memory SIZE] "
     "[--timeout DURATION] [--stdin FILE] [--invoke FUNC] [--json] "
     "FILE.wasm [ARGS...]",
     "run a WASI command or one exported function under limits"},
    {"spectest", cmd_spectest, "[--quiet] [-v] [--strict] FILE.json",
     "run one wast2json script of the WebAssembly spec test suite"},
    {"serve", cmd_serve,
     "[--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--model FILE]",
     "run the multi-tenant sandbox HTTP API"},
    {"audit", cmd_audit, "verify [--data-dir DIR] [--config FILE] [--file LOG]",
     "check the audit log's hash chain"},
    {"help", cmd_help, "", "show this help"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  fprintf(out, "usage: wasmgate <command> [args]\n\ncommands:\n");
  for (size_t i = 0; i < NCOMMANDS; i++) {
    fprintf(out, "  %s%s%s\n      %s\n", commands[i].name,
            commands[i].usage[0] ? " " : "", commands[i].usage,
            commands[i].help);
  }
}

static int cmd_help(int argc, char **argv) {
  (void)argc;
  (void)argv;
  usage(stdout);
  return CLI_EXIT_OK;
}

static int cmd_version(int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "usage: wasmgate %s\n", argv[0]);
    return CLI_EXIT_USAGE;
  }
  printf("wasmgate %s\n", wg_version());
  return CLI_EXIT_OK;
}

static int cmd_validate(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: wasmgate validate FILE.wasm\n");
    return CLI_EXIT_USAGE;
  }
  wg_module *m = cli_load_module(argv[1]);
  if (!m) return CLI_EXIT_FAIL;
  wg_module_release(m);
  printf("ok\n");
  return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *name = argv[1];
  /* internal: a worker process of `serve` (src/sandbox/workers.h) */
  if (!strcmp(name, WG_WORKER_ARGV1)) {
    wg_worker_set_remote(&srv_nn_worker_remote);   /* WASI-NN's calls */
    return wg_worker_main(argc - 1, argv + 1);
  }
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
  if (!strcmp(name, "--version")) name = "version";
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (!strcmp(commands[i].name, name)) {
      return commands[i].handler(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "wasmgate: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return CLI_EXIT_USAGE;
}
