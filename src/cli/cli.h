/*
** Declarations shared by the files of the command-line tool (src/cli).
**
** Every subcommand is a handler int cmd_X(int argc, char **argv) where
** argv[0] is the subcommand's own name; it returns the process exit code.
*/
#ifndef WG_CLI_H
#define WG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "wasmgate/engine.h"
#include "wasmgate/sandbox.h"

/* Exit codes, the same for every subcommand. */
enum {
  CLI_EXIT_OK = 0,       /* success */
  CLI_EXIT_FAIL = 1,     /* load, validation, link or I/O error; failed tests */
  CLI_EXIT_USAGE = 2,    /* bad command line */
  CLI_EXIT_TRAP = 134,   /* the guest trapped */
};

/* The largest file the tool will read (modules, JSON). */
#define CLI_MAX_FILE (1ull << 30)

/* Subcommands. */
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* wg_exec_run in a confined worker process (run_isolated.c), for
** `wasmgate run --isolation process`: same request, result and return. */
wg_err cli_run_isolated(const wg_exec_request *req, wg_exec_result *res);
int cmd_spectest(int argc, char **argv);

/* Reads the whole file at path into out (initialised here; the caller frees
** it with wg_buf_free, also on failure). Files larger than CLI_MAX_FILE are
** refused with WG_ELIMIT. On failure returns the code and fills err with a
** message that names the path and the reason. */
wg_err cli_read_file(const char *path, wg_buf *out, wg_error *err);

/* Reads and loads the module at path. On failure prints the reason to
** stderr ("PATH: error: MESSAGE (at byte offset N)" for a rejected module)
** and returns NULL. The caller releases the module. */
wg_module *cli_load_module(const char *path);

/* "i32", "funcref", ...; "?" for an unknown code. */
/* "func", "table", "memory", "global". */
const char *cli_externkind_name(wg_externkind k);

/* Appends text forms to b (a failed append only truncates the text):
**   cli_fmt_functype:   "(i32, i64) -> (f32)"
**   cli_fmt_limits:     "min 1, max 2" or "min 1"
**   cli_fmt_externtype: "func (i32) -> ()", "memory min 1, max 2",
**                       "table funcref min 10", "global mut i32"
**   cli_fmt_name:       the bytes of n, printable ASCII as is except '\\'
**                       and '"', every other byte as \xNN. */
void cli_fmt_functype(wg_buf *b, const wg_functype *ft);
void cli_fmt_limits(wg_buf *b, const wg_limits *l);
void cli_fmt_externtype(wg_buf *b, const wg_externtype *t);
void cli_fmt_name(wg_buf *b, const char *ptr, size_t len);

/* The text of b, "" when nothing was ever appended. */
const char *cli_buf_str(const wg_buf *b);

/* Makes b hold exactly n zero bytes and returns b->data (NULL when out of
** memory or over b's cap). Used as resizable scratch arrays. */
void *cli_buf_zeroed(wg_buf *b, size_t n);

#endif
