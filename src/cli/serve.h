/*
** The server's subcommands (serve.c): `wasmgate serve` and
** `wasmgate audit verify`. Handlers as described in cli.h.
*/
#ifndef WG_CLI_SERVE_H
#define WG_CLI_SERVE_H

int cmd_serve(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
