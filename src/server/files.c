/*
** Scratch directories of executions: a fresh directory per run under the
** scratch root, holding the request's "files", preopened as the guest's
** "/" and removed afterwards.
**
** A path must be relative, made of non-empty components other than "."
** and "..", without control characters, at most limits.max_file_path
** bytes; files are created with O_EXCL|O_NOFOLLOW below a directory
** descriptor, so nothing can land outside the scratch directory.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/files.h"

#define MAX_DEPTH 16

/* Why path is refused, or NULL when it is fine. */
static const char *path_problem(const char *path, size_t len, size_t max) {
  if (len == 0) return "the path is empty";
  if (len > max) return "the path is too long";
  if (path[0] == '/') return "absolute paths are not allowed";
  int depth = 0;
  for (const char *p = path; *p;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0) return "empty path components ('//' or a trailing '/') are "
                       "not allowed";
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
      return "'.' and '..' are not allowed";
    }
    if (++depth > MAX_DEPTH) return "the path is nested too deeply";
    p += n + (slash ? 1 : 0);
    if (slash && !*p) return "empty path components ('//' or a trailing "
                             "'/') are not allowed";
  }
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)path[i] < 0x20 || path[i] == 0x7F) {
      return "control characters are not allowed";
    }
  }
  return NULL;
}

bool srv_files_check(json_t *files, const srv_files_limits *lim, char *why,
                     size_t whysize) {
  if (!files) return true;
  if (!json_is_object(files)) {
    snprintf(why, whysize, "'files' must be an object of path: content");
    return false;
  }
  if (json_object_size(files) > lim->max_files) {
    snprintf(why, whysize, "too many files (%zu; at most %u)",
             json_object_size(files), (unsigned)lim->max_files);
    return false;
  }
  uint64_t total = 0;
  const char *path;
  json_t *v;
  json_object_foreach(files, path, v) {
    const char *p = path_problem(path, strlen(path), lim->max_file_path);
    if (p) {
      snprintf(why, whysize, "file '%.200s': %s", path, p);
      return false;
    }
    if (!json_is_string(v)) {
      snprintf(why, whysize, "file '%.200s': the content must be a string",
               path);
      return false;
    }
    total += json_string_length(v);
    if (total > lim->max_files_bytes) {
      snprintf(why, whysize, "the files are too big (more than %llu bytes "
               "in all)", (unsigned long long)lim->max_files_bytes);
      return false;
    }
  }
  return true;
}

static bool write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Creates path (checked) below dirfd with content, directories and file
** owned by uid/gid ((uid_t)-1: unchanged). */
static bool put_file(int dirfd, const char *path, const char *content,
                     size_t len, uid_t uid, gid_t gid, char *why,
                     size_t whysize) {
  char comp[4096];
  int dir = dup(dirfd);
  const char *p = path;
  bool ok = dir >= 0;
  for (const char *slash; ok && (slash = strchr(p, '/')) != NULL;
       p = slash + 1) {
    size_t n = (size_t)(slash - p);
    memcpy(comp, p, n);
    comp[n] = 0;
    if (mkdirat(dir, comp, 0700) != 0 && errno != EEXIST) ok = false;
    int sub = ok ? openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                         O_CLOEXEC)
                 : -1;
    close(dir);
    dir = sub;
    ok = dir >= 0 && fchown(dir, uid, gid) == 0;
  }
  int fd = ok ? openat(dir, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                   O_CLOEXEC, 0600)
              : -1;
  ok = fd >= 0 && fchown(fd, uid, gid) == 0 && write_all(fd, content, len);
  if (!ok) {
    snprintf(why, whysize, "file '%.200s': %s", path,
             errno == EEXIST || errno == ENOTDIR
                 ? "conflicts with another file's path"
                 : strerror(errno));
  }
  if (fd >= 0) close(fd);
  if (dir >= 0) close(dir);
  return ok;
}

int srv_scratch_create(const char *root, json_t *files, uid_t uid,
                       gid_t gid, char *dir, size_t dirsize, char *why,
                       size_t whysize) {
  if (snprintf(dir, dirsize, "%s/x-XXXXXX", root) >= (int)dirsize) {
    snprintf(why, whysize, "scratch path too long");
    return -1;
  }
  if (!mkdtemp(dir)) {
    snprintf(why, whysize, "cannot create a scratch directory: %s",
             strerror(errno));
    dir[0] = 0;
    return -1;
  }
  if (chown(dir, uid, gid) != 0) {
    snprintf(why, whysize, "cannot give the scratch directory to its "
             "worker: %s", strerror(errno));
    return -1;
  }
  if (!files || json_object_size(files) == 0) return 0;
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    snprintf(why, whysize, "scratch directory: %s", strerror(errno));
    return -1;
  }
  const char *path;
  json_t *v;
  int rc = 0;
  json_object_foreach(files, path, v) {
    if (!put_file(dfd, path, json_string_value(v), json_string_length(v),
                  uid, gid, why, whysize)) {
      rc = 1;
      break;
    }
  }
  close(dfd);
  return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP || flag == FTW_D) {
    rmdir(path);
  } else {
    unlink(path);
  }
  return 0;   /* best effort: go on */
}

void srv_scratch_remove(const char *dir) {
  if (!dir || !dir[0]) return;
  if (rmdir(dir) == 0) return;       /* the common case: still empty */
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

wg_err srv_scratch_init(const char *root, wg_error *err) {
  if (mkdir(root, 0700) != 0 && errno != EEXIST) {
    return wg_error_set(err, WG_EIO, "scratch directory %s: %s", root,
                        strerror(errno));
  }
  /* Left over by a crash: remove our own "x-*" directories and the "w-*"
  ** homes of workers (workers.h), nothing else (the root may be a shared
  ** folder). */
  DIR *d = opendir(root);
  if (!d) {
    return wg_error_set(err, WG_EIO, "scratch directory %s: %s", root,
                        strerror(errno));
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    char path[4096];
    if (strncmp(de->d_name, "x-", 2) != 0 &&
        strncmp(de->d_name, "w-", 2) != 0) {
      continue;
    }
    if (snprintf(path, sizeof path, "%s/%s", root, de->d_name) <
        (int)sizeof path) {
      srv_scratch_remove(path);
    }
  }
  closedir(d);
  return WG_OK;
}
