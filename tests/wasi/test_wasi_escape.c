/* Escapes from a preopen: `..`, absolute paths, symlinks that exist
** before the run or that the guest creates, hard links, renames. Each
** operation's errno is checked exactly, and nothing outside the preopen
** may change. Run once per path-resolution mode (see CMakeLists.txt). */
#include <limits.h>
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

typedef struct fixture {
  char *t, *root, *before;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->t = wt_sandbox();
  f->root = strdup(wt_path(f->t, "root"));
  wt_write(wt_path(f->root, "file"), "hello\n");
  mkdir(wt_path(f->root, "sub"), 0755);
  if (symlink("../outside/sentinel", wt_path(f->root, "esc")) ||
      symlink(wt_path(f->t, "outside/sentinel"), wt_path(f->root, "abs")) ||
      symlink("../outside", wt_path(f->root, "escdir")) ||
      symlink("../../outside", wt_path(f->root, "sub/up")) ||
      symlink("loop", wt_path(f->root, "loop")) ||
      symlink("sub/../file", wt_path(f->root, "inside")))
    return -1;
  f->before = wt_snapshot(f->t);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char *after = wt_snapshot(f->t);
  int same = strcmp(f->before, after) == 0;
  if (!same) fprintf(stderr, "outside changed:\nbefore:\n%s\nafter:\n%s\n", f->before, after);
  free(after);
  wt_rmrf(f->t);
  free(f->t);
  free(f->root);
  free(f->before);
  free(f);
  return same ? 0 : -1;
}

/* Runs ops and compares fsprobe's output with want. */
static void probe(fixture *f, const char *const *ops, const char *want) {
  char *out = wt_fsprobe(f->root, false, ops);
  assert_string_equal(out, want);
  free(out);
  /* still nothing outside changed */
  char *after = wt_snapshot(f->t);
  assert_string_equal(f->before, after);
  free(after);
}

static void dotdot_and_absolute(void **state) {
  fixture *f = *state;
  char absolute[PATH_MAX + 8];
  snprintf(absolute, sizeof absolute, "open:%s/outside/sentinel", f->t);
  const char *ops[] = {
    "open:../outside/sentinel", "open:sub/../../outside/sentinel",
    "open:/etc/passwd", absolute, "read:sub/../file", "read:./sub/.././file",
    "ls:..", "stat:..", "utimes:..", "utimes:sub/../..", "mkdir:../x",
    "mkdir:sub/../../x", "create:../created", "rmdir:..", "unlink:../outside/sentinel",
    "opendir:..", "opendir:.", NULL};
  char want[4096];
  snprintf(want, sizeof want,
    "open ../outside/sentinel = 76\n"
    "open sub/../../outside/sentinel = 76\n"
    "open /etc/passwd = 76\n"
    "open %s/outside/sentinel = 76\n"
    "read sub/../file = 0 'hello\n'\n"
    "read ./sub/.././file = 0 'hello\n'\n"
    "ls .. = 76\n"
    "stat .. = 76\n"
    "utimes .. = 76\n"
    "utimes sub/../.. = 76\n"
    "mkdir ../x = 76\n"
    "mkdir sub/../../x = 76\n"
    "create ../created = 76\n"
    "rmdir .. = 76\n"
    "unlink ../outside/sentinel = 76\n"
    "opendir .. = 76\n"
    "opendir . = 0\n", f->t);
  probe(f, ops, want);
}

static void existing_symlinks(void **state) {
  fixture *f = *state;
  const char *ops[] = {
    "read:esc", "read:abs", "read:escdir/sentinel", "read:sub/up/sentinel",
    "read:inside", "open:esc", "openf:esc", "stat:esc", "statf:esc", "statf:abs",
    "utimesf:esc", "utimes:esc", "readlink:esc", "write:escdir/sentinel:pwn",
    "write:esc:pwn", "create:escdir/new", "mkdir:escdir/newdir",
    "unlink:escdir/sentinel", "rmdir:escdir/", "ls:escdir", "ls:sub/up",
    "symlink:x:escdir/planted", "link:esc:hard", "read:hard", "unlink:hard",
    "linkf:esc:hard2", "linkf:escdir/sentinel:hard3", "open:loop", "read:loop",
    "stat:escdir/", "unlink:escdir/", "rename:escdir/:moved",
    NULL};
  probe(f, ops,
    "read esc = 76 ''\n"
    "read abs = 76 ''\n"
    "read escdir/sentinel = 76 ''\n"
    "read sub/up/sentinel = 76 ''\n"
    "read inside = 0 'hello\n'\n"
    "open esc = 32\n"
    "openf esc = 76\n"
    "stat esc = 0 type 7 size 19\n"
    "statf esc = 76\n"
    "statf abs = 76\n"
    "utimesf esc = 76\n"
    "utimes esc = 0\n"
    "readlink esc = 0 '../outside/sentinel'\n"
    "write escdir/sentinel pwn = 76\n"
    "write esc pwn = 32\n"
    "create escdir/new = 76\n"
    "mkdir escdir/newdir = 76\n"
    "unlink escdir/sentinel = 76\n"
    "rmdir escdir/ = 54\n"
    "ls escdir = 54\n"
    "ls sub/up = 54\n"
    "symlink x escdir/planted = 76\n"
    "link esc hard = 0\n"
    "read hard = 76 ''\n"
    "unlink hard = 0\n"
    "linkf esc hard2 = 76\n"
    "linkf escdir/sentinel hard3 = 76\n"
    "open loop = 32\n"
    "read loop = 32 ''\n"
    "stat escdir/ = 76\n"
    "unlink escdir/ = 54\n"
    "rename escdir/ moved = 54\n");
}

static void guest_created_symlinks(void **state) {
  fixture *f = *state;
  char absolute[PATH_MAX + 16];
  snprintf(absolute, sizeof absolute, "symlink:%s/outside:abs2", f->t);
  const char *ops[] = {
    "symlink:/etc/passwd:mine", "symlink:/:root", absolute,
    "symlink:../outside/sentinel:mine2", "read:mine2", "write:mine2:x",
    "linkf:mine2:h", "utimesf:mine2", "statf:mine2",
    "symlink:../outside:d2", "create:d2/x", "ls:d2", "mkdir:d2/y", "read:d2/sentinel",
    "symlink:sub/../../outside:d3", "read:d3/sentinel",
    "symlink:file:good", "read:good", "openf:good",
    "ls:.", NULL};
  char want[4096];
  snprintf(want, sizeof want,
    "symlink /etc/passwd mine = 63\n"
    "symlink / root = 63\n"
    "symlink %s/outside abs2 = 63\n"
    "symlink ../outside/sentinel mine2 = 0\n"
    "read mine2 = 76 ''\n"
    "write mine2 x = 32\n"
    "linkf mine2 h = 76\n"
    "utimesf mine2 = 76\n"
    "statf mine2 = 76\n"
    "symlink ../outside d2 = 0\n"
    "create d2/x = 76\n"
    "ls d2 = 54\n"
    "mkdir d2/y = 76\n"
    "read d2/sentinel = 76 ''\n"
    "symlink sub/../../outside d3 = 0\n"
    "read d3/sentinel = 76 ''\n"
    "symlink file good = 0\n"
    "read good = 0 'hello\n'\n"
    "openf good = 0\n"
    "ls . = 0 abs d2 d3 esc escdir file good inside loop mine2 sub\n", f->t);
  probe(f, ops, want);
}

static void hard_links_and_renames(void **state) {
  fixture *f = *state;
  const char *ops[] = {
    "link:../outside/sentinel:hl", "link:file:../outside/hl",
    "link:file:sub/hl", "read:sub/hl",
    "rename:file:../outside/moved", "rename:../outside/sentinel:stolen",
    "rename:file:escdir/moved", "rename:sub:../outside/sub",
    "rename:sub/hl:moved", "read:moved", "rename:esc:sub/esc2", "read:sub/esc2",
    "ls:.", "ls:sub", NULL};
  probe(f, ops,
    "link ../outside/sentinel hl = 76\n"
    "link file ../outside/hl = 76\n"
    "link file sub/hl = 0\n"
    "read sub/hl = 0 'hello\n'\n"
    "rename file ../outside/moved = 76\n"
    "rename ../outside/sentinel stolen = 76\n"
    "rename file escdir/moved = 76\n"
    "rename sub ../outside/sub = 76\n"
    "rename sub/hl moved = 0\n"
    "read moved = 0 'hello\n'\n"
    "rename esc sub/esc2 = 0\n"
    "read sub/esc2 = 44 ''\n"   /* ../outside/sentinel from sub/: inside, absent */
    "ls . = 0 abs escdir file inside loop moved sub\n"
    "ls sub = 0 esc2 up\n");
}

/* A pre-existing hard link to an outside file is the host's choice (it is
** the same file); what the guest cannot do is make one. A directory fd
** opened below the preopen is a capability of its own: `..` above it
** fails too. */
static void subdirectory_fd_is_a_boundary(void **state) {
  fixture *f = *state;
  mkdir(wt_path(f->root, "sub/inner"), 0755);
  wt_write(wt_path(f->root, "sub/inner/x"), "x");
  free(f->before);
  f->before = wt_snapshot(f->t);
  /* fsprobe opens dirs with O_DIRECTORY but not as its base; use fd:3 and
  ** paths through a subdir symlink chain instead */
  const char *ops[] = {"read:sub/inner/../../file", "read:sub/inner/../../../outside/sentinel",
                       "symlink:../../..:sub/inner/up3", "read:sub/inner/up3/outside/sentinel",
                       "symlink:..:sub/inner/up1", "read:sub/inner/up1/up/sentinel",
                       NULL};
  probe(f, ops,
    "read sub/inner/../../file = 0 'hello\n'\n"
    "read sub/inner/../../../outside/sentinel = 76 ''\n"
    "symlink ../../.. sub/inner/up3 = 0\n"
    "read sub/inner/up3/outside/sentinel = 76 ''\n"
    "symlink .. sub/inner/up1 = 0\n"
    "read sub/inner/up1/up/sentinel = 76 ''\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(dotdot_and_absolute, setup, teardown),
    cmocka_unit_test_setup_teardown(existing_symlinks, setup, teardown),
    cmocka_unit_test_setup_teardown(guest_created_symlinks, setup, teardown),
    cmocka_unit_test_setup_teardown(hard_links_and_renames, setup, teardown),
    cmocka_unit_test_setup_teardown(subdirectory_fd_is_a_boundary, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
