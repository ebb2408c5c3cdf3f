/*
** Scratch directories for executions and the "files" put in them.
*/
#ifndef WG_SERVER_FILES_H
#define WG_SERVER_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wasmgate/error.h"

typedef struct srv_files_limits {
  uint32_t max_files;           /* entries */
  uint32_t max_file_path;       /* bytes of one path */
  uint64_t max_files_bytes;     /* contents, all files together */
} srv_files_limits;

/* Checks a request's "files" object (NULL is fine) against the rules in
** files.c and lim. False with why (naming the file) when refused. */
bool srv_files_check(json_t *files, const srv_files_limits *lim, char *why,
                     size_t whysize);
/* Creates a fresh directory below root (its path into dir) and writes the
** checked files into it, everything owned by uid/gid (the worker process
** that will use it; (uid_t)-1 and (gid_t)-1: the server's own). Returns 0,
** 1 when a file could not be created (a client error, why says which:
** e.g. "a" and "a/b"), or -1 on a server error. dir is set (to be
** removed) whenever it was created. */
int srv_scratch_create(const char *root, json_t *files, uid_t uid,
                       gid_t gid, char *dir, size_t dirsize, char *why,
                       size_t whysize);
/* Removes dir and everything in it, never following symbolic links. */
void srv_scratch_remove(const char *dir);
/* Creates the scratch root, emptying what an earlier run left there. */
wg_err srv_scratch_init(const char *root, wg_error *err);

#endif
