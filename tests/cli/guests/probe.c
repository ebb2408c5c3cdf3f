/* probe: file-system operations given as arguments, done with the raw
** preview1 calls so that the test sees exactly what the host answers.
** Paths are relative to directory fd 3 (the first preopen); "fd:N" changes
** that, "to:N" the fd of the second path of rename2/link2. One line per op,
** "OP ARGS = ERRNO" (OK for success), e.g. "read ../x = NOTCAPABLE".
**
**   read:P           open following symlinks and read: "= OK 'data'"
**   open:P           open without following a final symlink
**   create:P         create (or truncate) P and write "pwned"
**   write:P          open existing P for writing (no create) and write
**   trunc:P          open P with O_TRUNC
**   setsize:P        fd_filestat_set_size(P, 0)
**   mkdir:P rmdir:P unlink:P utimes:P readlink:P stat:P
**   symlink:TARGET:P link:A:B rename:A:B
**   rename2:A:B link2:A:B   the same with B relative to the "to" fd
**   ls:P             sorted names in directory P
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t dirfd = 3, tofd = 4;

#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | \
                __WASI_RIGHTS_FD_FILESTAT_GET)
#define R_WRITE (R_READ | __WASI_RIGHTS_FD_WRITE | \
                 __WASI_RIGHTS_FD_FILESTAT_SET_SIZE)
#define R_DIR (__WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN)

static const char *name(__wasi_errno_t e) {
  static char buf[32];
  switch (e) {
    case __WASI_ERRNO_SUCCESS: return "OK";
    case __WASI_ERRNO_ACCES: return "ACCES";
    case __WASI_ERRNO_BADF: return "BADF";
    case __WASI_ERRNO_EXIST: return "EXIST";
    case __WASI_ERRNO_FAULT: return "FAULT";
    case __WASI_ERRNO_INVAL: return "INVAL";
    case __WASI_ERRNO_ISDIR: return "ISDIR";
    case __WASI_ERRNO_LOOP: return "LOOP";
    case __WASI_ERRNO_NOENT: return "NOENT";
    case __WASI_ERRNO_NOSPC: return "NOSPC";
    case __WASI_ERRNO_NOTDIR: return "NOTDIR";
    case __WASI_ERRNO_NOTEMPTY: return "NOTEMPTY";
    case __WASI_ERRNO_NOTCAPABLE: return "NOTCAPABLE";
    case __WASI_ERRNO_PERM: return "PERM";
    case __WASI_ERRNO_ROFS: return "ROFS";
    case __WASI_ERRNO_XDEV: return "XDEV";
    default: snprintf(buf, sizeof buf, "errno %d", e); return buf;
  }
}

static __wasi_errno_t opn(const char *p, __wasi_lookupflags_t lf,
                          __wasi_oflags_t of, __wasi_rights_t r,
                          __wasi_fd_t *fd) {
  return __wasi_path_open(dirfd, lf, p, of, r, r, 0, fd);
}

static __wasi_errno_t write_str(__wasi_fd_t fd, const char *s) {
  __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
  __wasi_size_t n;
  return __wasi_fd_write(fd, &iov, 1, &n);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ls(const char *p) {
  __wasi_fd_t fd;
  __wasi_errno_t e = opn(p, 0, __WASI_OFLAGS_DIRECTORY, R_DIR, &fd);
  if (e) { printf("ls %s = %s\n", p, name(e)); return; }
  static char buf[65536];
  __wasi_size_t used = 0;
  e = __wasi_fd_readdir(fd, (uint8_t *)buf, sizeof buf, 0, &used);
  char *names[512];
  int n = 0;
  for (size_t off = 0; !e && off + sizeof(__wasi_dirent_t) <= used && n < 512;) {
    __wasi_dirent_t d;
    memcpy(&d, buf + off, sizeof d);
    off += sizeof d;
    names[n] = strndup(buf + off, d.d_namlen);
    off += d.d_namlen;
    if (strcmp(names[n], ".") && strcmp(names[n], "..")) n++;
  }
  qsort(names, (size_t)n, sizeof *names, cmp);
  printf("ls %s = %s", p, name(e));
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  (void)__wasi_fd_close(fd);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *op = strdup(argv[i]);
    char *a = strchr(op, ':');
    char *b = NULL;
    if (a) {
      *a++ = 0;
      b = strchr(a, ':');
      if (b) *b++ = 0;
    }
    if (!a) a = "";
    if (!b) b = "";
    __wasi_fd_t fd;
    __wasi_errno_t e;
    __wasi_filestat_t st;
    if (!strcmp(op, "fd") || !strcmp(op, "to")) {
      *(op[0] == 'f' ? &dirfd : &tofd) = (__wasi_fd_t)strtoul(a, NULL, 10);
      continue;
    } else if (!strcmp(op, "read")) {
      char buf[257] = "";
      e = opn(a, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, R_READ, &fd);
      if (!e) {
        __wasi_iovec_t iov = {(uint8_t *)buf, 256};
        __wasi_size_t n = 0;
        e = __wasi_fd_read(fd, &iov, 1, &n);
        buf[n] = 0;
        (void)__wasi_fd_close(fd);
      }
      if (!e) {
        printf("read %s = OK '%s'\n", a, buf);
        continue;
      }
    } else if (!strcmp(op, "open")) {
      e = opn(a, 0, 0, R_READ, &fd);
      if (!e) (void)__wasi_fd_close(fd);
    } else if (!strcmp(op, "create") || !strcmp(op, "write") ||
               !strcmp(op, "trunc")) {
      __wasi_oflags_t of = op[0] == 'c' ? __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC
                         : op[0] == 't' ? __WASI_OFLAGS_TRUNC : 0;
      e = opn(a, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, of, R_WRITE, &fd);
      if (!e) {
        if (op[0] != 't') e = write_str(fd, "pwned");
        (void)__wasi_fd_close(fd);
      }
    } else if (!strcmp(op, "setsize")) {
      e = opn(a, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, R_WRITE, &fd);
      if (e == __WASI_ERRNO_NOTCAPABLE)   /* read-only: ask for less */
        e = opn(a, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, R_READ, &fd);
      if (!e) {
        e = __wasi_fd_filestat_set_size(fd, 0);
        (void)__wasi_fd_close(fd);
      }
    } else if (!strcmp(op, "mkdir")) {
      e = __wasi_path_create_directory(dirfd, a);
    } else if (!strcmp(op, "rmdir")) {
      e = __wasi_path_remove_directory(dirfd, a);
    } else if (!strcmp(op, "unlink")) {
      e = __wasi_path_unlink_file(dirfd, a);
    } else if (!strcmp(op, "utimes")) {
      e = __wasi_path_filestat_set_times(dirfd, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                         a, 0, 1000000000ull * 1000000000ull,
                                         __WASI_FSTFLAGS_MTIM);
    } else if (!strcmp(op, "readlink")) {
      char buf[257] = "";
      __wasi_size_t n = 0;
      e = __wasi_path_readlink(dirfd, a, (uint8_t *)buf, 256, &n);
      buf[n] = 0;
      if (!e) {
        printf("readlink %s = OK '%s'\n", a, buf);
        continue;
      }
    } else if (!strcmp(op, "stat")) {
      e = __wasi_path_filestat_get(dirfd, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a, &st);
    } else if (!strcmp(op, "symlink")) {
      e = __wasi_path_symlink(a, dirfd, b);
    } else if (!strcmp(op, "link") || !strcmp(op, "link2")) {
      e = __wasi_path_link(dirfd, 0, a, op[4] ? tofd : dirfd, b);
    } else if (!strcmp(op, "rename") || !strcmp(op, "rename2")) {
      e = __wasi_path_rename(dirfd, a, op[6] ? tofd : dirfd, b);
    } else if (!strcmp(op, "ls")) {
      ls(a);
      continue;
    } else {
      printf("unknown op %s\n", op);
      return 2;
    }
    printf("%s %s%s%s = %s\n", op, a, b[0] ? " " : "", b, name(e));
  }
  return 0;
}
