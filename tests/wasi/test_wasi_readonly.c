/* A read-only preopen refuses every write: creating, truncating, writing
** (also through fds opened from it, by rights), renaming, unlinking,
** directories, links, times, sizes. Reads still work. Nothing changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_test.h"

static void every_write_is_refused(void **state) {
  (void)state;
  char *t = wt_sandbox();
  /* the read-only tree is outside/ (snapshotted), root/ stays unused */
  const char *ro = wt_path(t, "outside");
  wt_write(wt_path(ro, "file"), "hello\n");
  mkdir(wt_path(ro, "dir"), 0755);
  mkdir(wt_path(ro, "empty"), 0755);
  if (symlink("file", wt_path(ro, "link"))) fail();
  char *before = wt_snapshot(t);
  const char *ops[] = {
    "create:new", "create:file", "trunc:file", "excl:new2", "write:file:x",
    "pwrite:file:x", "append:file:x", "setsize:file:0", "allocate:file:10",
    "fdtimes:file", "mkdir:d2", "mkdir:dir/d3", "rmdir:empty", "unlink:file",
    "unlink:link", "rename:file:f2", "rename:dir:dir2", "symlink:file:l2",
    "link:file:h2", "utimes:file", "utimesf:link", "utimes:.",
    "read:file", "read:link", "ls:.", "stat:file", "readlink:link",
    "opendir:dir", NULL};
  char *out = wt_fsprobe(ro, true, ops);
  assert_string_equal(out,
    "create new = 76\n"
    "create file = 76\n"
    "trunc file = 76\n"
    "excl new2 = 76\n"
    "write file x = 76\n"
    "pwrite file x = 76\n"
    "append file x = 76\n"
    "setsize file 0 = 76\n"
    "allocate file 10 = 76\n"
    "fdtimes file = 76\n"
    "mkdir d2 = 76\n"
    "mkdir dir/d3 = 76\n"
    "rmdir empty = 76\n"
    "unlink file = 76\n"
    "unlink link = 76\n"
    "rename file f2 = 76\n"
    "rename dir dir2 = 76\n"
    "symlink file l2 = 76\n"
    "link file h2 = 76\n"
    "utimes file = 76\n"
    "utimesf link = 76\n"
    "utimes . = 76\n"
    "read file = 0 'hello\n'\n"
    "read link = 0 'hello\n'\n"
    "ls . = 0 dir empty file link sentinel\n"
    "stat file = 0 type 4 size 6\n"
    "readlink link = 0 'file'\n"
    "opendir dir = 0\n");
  free(out);
  char *after = wt_snapshot(t);
  assert_string_equal(before, after);
  free(before);
  free(after);
  /* the same operations do work on a writable preopen (the refusals above
  ** come from read-only, not from the probe) */
  const char *rw_ops[] = {"create:new", "write:new:x", "mkdir:d2", "rename:new:n2",
                          "unlink:n2", "rmdir:d2", NULL};
  out = wt_fsprobe(ro, false, rw_ops);
  assert_string_equal(out, "create new = 0\nwrite new x = 0\nmkdir d2 = 0\n"
                           "rename new n2 = 0\nunlink n2 = 0\nrmdir d2 = 0\n");
  free(out);
  wt_rmrf(t);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_write_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
