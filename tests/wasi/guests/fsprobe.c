/*
** fsprobe: runs file-system operations given as arguments with the raw
** preview1 calls and prints the errno each one returns, so that tests can
** check exactly what the guest sees. Operations act relative to directory
** fd 3 (the first preopen) unless "fd:N" changes it. One line per op:
**
**   open:P openf:P      path_open read-only (openf follows a final symlink)
**   opendir:P           path_open O_DIRECTORY
**   read:P              open (follow) and read: "read P = 0 'data'"
**   create:P trunc:P    path_open CREAT|TRUNC / TRUNC for writing
**   excl:P              path_open CREAT|EXCL
**   write:P:DATA        open P (no create) for writing, fd_write DATA
**   pwrite:P:DATA       same with fd_pwrite at offset 0
**   append:P:DATA       open with FDFLAGS_APPEND, fd_write
**   setsize:P:N allocate:P:N     fd_filestat_set_size / fd_allocate
**   fdtimes:P           fd_filestat_set_times (mtime := 1000000000 s)
**   mkdir:P rmdir:P unlink:P readlink:P stat:P statf:P utimes:P utimesf:P
**   rename:A:B symlink:TARGET:P link:A:B linkf:A:B
**   ls:P                the sorted names in directory P
**   openfds:P           open P until it fails: "openfds P = ERRNO after N"
**   fill:P:N            create P, write N-byte chunks until a write fails or
**                       writes less: "fill P = ERRNO total T"
**   fd:N                use directory fd N from now on
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t dirfd = 3;

#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | \
                __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET)
#define R_WRITE (R_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ALLOCATE | \
                 __WASI_RIGHTS_FD_FILESTAT_SET_SIZE |                         \
                 __WASI_RIGHTS_FD_FILESTAT_SET_TIMES)
#define R_DIR (__WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_FILESTAT_GET | \
               __WASI_RIGHTS_PATH_OPEN)

static __wasi_errno_t opn(const char *p, __wasi_lookupflags_t lf,
                          __wasi_oflags_t of, __wasi_rights_t r,
                          __wasi_fdflags_t ff, __wasi_fd_t *fd) {
  return __wasi_path_open(dirfd, lf, p, of, r, r, ff, fd);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ls(const char *p) {
  __wasi_fd_t fd;
  __wasi_errno_t e = opn(p, 0, __WASI_OFLAGS_DIRECTORY, R_DIR, 0, &fd);
  if (e) { printf("ls %s = %d\n", p, e); return; }
  static char buf[65536];
  __wasi_size_t used;
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
  printf("ls %s = %d", p, e);
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
  (void)__wasi_fd_close(fd);
}

static __wasi_errno_t write_str(__wasi_fd_t fd, const char *s, int positioned) {
  __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
  __wasi_size_t n;
  return positioned ? __wasi_fd_pwrite(fd, &iov, 1, 0, &n)
                    : __wasi_fd_write(fd, &iov, 1, &n);
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
    __wasi_fd_t fd;
    __wasi_errno_t e;
    __wasi_filestat_t st;
    if (!strcmp(op, "fd")) {
      dirfd = (__wasi_fd_t)atoi(a);
      continue;
    } else if (!strcmp(op, "open") || !strcmp(op, "openf")) {
      e = opn(a, op[4] == 'f', 0, R_READ, 0, &fd);
      if (!e) (void)__wasi_fd_close(fd);
    } else if (!strcmp(op, "opendir")) {
      e = opn(a, 0, __WASI_OFLAGS_DIRECTORY, R_DIR, 0, &fd);
      if (!e) (void)__wasi_fd_close(fd);
    } else if (!strcmp(op, "read")) {
      char buf[257] = "";
      e = opn(a, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, 0, R_READ, 0, &fd);
      if (!e) {
        __wasi_iovec_t iov = {(uint8_t *)buf, 256};
        __wasi_size_t n = 0;
        e = __wasi_fd_read(fd, &iov, 1, &n);
        buf[n] = 0;
        (void)__wasi_fd_close(fd);
      }
      printf("read %s = %d '%s'\n", a, e, buf);
      continue;
    } else if (!strcmp(op, "create") || !strcmp(op, "trunc") || !strcmp(op, "excl")) {
      __wasi_oflags_t of = op[0] == 'c' ? __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC
                         : op[0] == 't' ? __WASI_OFLAGS_TRUNC
                         : __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL;
      e = opn(a, 0, of, R_WRITE, 0, &fd);
      if (!e) (void)__wasi_fd_close(fd);
    } else if (!strcmp(op, "write") || !strcmp(op, "pwrite") || !strcmp(op, "append")) {
      e = opn(a, 0, 0, R_WRITE, op[0] == 'a' ? __WASI_FDFLAGS_APPEND : 0, &fd);
      if (!e) {
        e = write_str(fd, b ? b : "", op[0] == 'p');
        (void)__wasi_fd_close(fd);
      }
    } else if (!strcmp(op, "setsize") || !strcmp(op, "allocate")) {
      e = opn(a, 0, 0, R_WRITE, 0, &fd);
      if (!e) {
        unsigned long long n = strtoull(b ? b : "0", NULL, 10);
        e = op[0] == 's' ? __wasi_fd_filestat_set_size(fd, n)
                         : __wasi_fd_allocate(fd, 0, n);
        (void)__wasi_fd_close(fd);
      }
    } else if (!strcmp(op, "fdtimes")) {
      e = opn(a, 0, 0, R_WRITE, 0, &fd);
      if (!e) {
        e = __wasi_fd_filestat_set_times(fd, 0, 1000000000ull * 1000000000ull,
                                         __WASI_FSTFLAGS_MTIM);
        (void)__wasi_fd_close(fd);
      }
    } else if (!strcmp(op, "mkdir")) {
      e = __wasi_path_create_directory(dirfd, a);
    } else if (!strcmp(op, "rmdir")) {
      e = __wasi_path_remove_directory(dirfd, a);
    } else if (!strcmp(op, "unlink")) {
      e = __wasi_path_unlink_file(dirfd, a);
    } else if (!strcmp(op, "readlink")) {
      char buf[257] = "";
      __wasi_size_t n = 0;
      e = __wasi_path_readlink(dirfd, a, (uint8_t *)buf, 256, &n);
      buf[n] = 0;
      printf("readlink %s = %d '%s'\n", a, e, buf);
      continue;
    } else if (!strcmp(op, "stat") || !strcmp(op, "statf")) {
      e = __wasi_path_filestat_get(dirfd, op[4] == 'f', a, &st);
      if (!e) {
        printf("%s %s = 0 type %d size %llu\n", op, a, st.filetype,
               (unsigned long long)st.size);
        continue;
      }
    } else if (!strcmp(op, "utimes") || !strcmp(op, "utimesf")) {
      e = __wasi_path_filestat_set_times(dirfd, op[6] == 'f', a, 0,
                                         1000000000ull * 1000000000ull,
                                         __WASI_FSTFLAGS_MTIM);
    } else if (!strcmp(op, "rename")) {
      e = __wasi_path_rename(dirfd, a, dirfd, b ? b : "");
    } else if (!strcmp(op, "symlink")) {
      e = __wasi_path_symlink(a, dirfd, b ? b : "");
    } else if (!strcmp(op, "link") || !strcmp(op, "linkf")) {
      e = __wasi_path_link(dirfd, op[4] == 'f', a, dirfd, b ? b : "");
    } else if (!strcmp(op, "ls")) {
      ls(a);
      continue;
    } else if (!strcmp(op, "openfds")) {
      int n = 0;
      while (!(e = opn(a, 0, 0, R_READ, 0, &fd)) && n < 100000) n++;
      printf("openfds %s = %d after %d\n", a, e, n);
      continue;
    } else if (!strcmp(op, "fill")) {
      unsigned long long total = 0;
      size_t chunk = (size_t)strtoull(b ? b : "1", NULL, 10);
      static uint8_t data[65536];
      memset(data, 'x', sizeof data);
      e = opn(a, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R_WRITE, 0, &fd);
      while (!e) {
        __wasi_ciovec_t iov = {data, chunk};
        __wasi_size_t n = 0;
        e = __wasi_fd_write(fd, &iov, 1, &n);
        total += n;
        if (!e && n < chunk) {      /* a short write: the next one fails */
          n = 0;
          e = __wasi_fd_write(fd, &iov, 1, &n);
          total += n;
          break;
        }
      }
      printf("fill %s = %d total %llu\n", a, e, total);
      continue;
    } else {
      printf("unknown op %s\n", op);
      return 2;
    }
    printf("%s %s%s%s = %d\n", op, a, b ? " " : "", b ? b : "", e);
  }
  return 0;
}
