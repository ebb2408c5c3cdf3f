/*
** The audit log writer and its verifier (the format is in audit.h).
**
** Writing: the body of a line is built outside the lock; under the lock
** only the chain is extended (seq, prev, SHA-256 of the finished line) and
** the line is written with one write(2) on an O_APPEND descriptor, so the
** kernel has it even if the process dies right after.
*/
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "server/audit.h"
#include "server/srv.h"

#define AUDIT_LINE_MAX (64u * 1024)

struct srv_audit {
  pthread_mutex_t lock;
  int fd;
  uint64_t seq;                 /* of the last line written */
  uint8_t last[32];             /* its SHA-256 (zeros before line 1) */
  uint64_t synced_seq;          /* of the last head file written */
  bool warned;                  /* a write failure was reported */
  char path[SRV_PATH_MAX];
};

/* ------------------------------------------------------------------ */
/* Building a line                                                     */

/* Appends s as a JSON string (srv_json_str: always valid JSON). */
static void put_str(wg_buf *b, const char *s) {
  if (!s) {
    wg_buf_append(b, "null", 4);
    return;
  }
  srv_json_str(b, s, strlen(s));
}

static void put_hash(wg_buf *b, const uint8_t *h) {
  if (!h) {
    wg_buf_append(b, "null", 4);
    return;
  }
  char hex[65];
  srv_hex(h, 32, hex);
  put_str(b, hex);
}

static void put_time(wg_buf *b) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  wg_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void build_body(wg_buf *b, const srv_audit_entry *e) {
  wg_buf_append(b, "{\"ts\":", 6);
  put_time(b);
  wg_buf_append(b, ",\"request_id\":", 14);
  put_str(b, e->request_id);
  wg_buf_append(b, ",\"principal\":", 13);
  put_str(b, e->principal);
  wg_buf_append(b, ",\"tenant\":", 10);
  put_str(b, e->tenant);
  wg_buf_append(b, ",\"key_id\":", 10);
  put_str(b, e->key_id);
  wg_buf_append(b, ",\"route\":", 9);
  put_str(b, e->route);
  wg_buf_append(b, ",\"path\":", 8);
  put_str(b, e->path);
  wg_buf_printf(b, ",\"status\":%d,\"module\":", e->status);
  put_str(b, e->module);
  wg_buf_append(b, ",\"execution\":", 13);
  put_str(b, e->execution);
  wg_buf_append(b, ",\"subject_key\":", 15);
  put_str(b, e->subject_key);
  wg_buf_append(b, ",\"input_sha256\":", 16);
  put_hash(b, e->input_sha256);
  wg_buf_append(b, ",\"output_sha256\":", 17);
  put_hash(b, e->output_sha256);
  wg_buf_append(b, ",\"decision\":", 12);
  put_str(b, e->decision);
  wg_buf_append(b, ",\"reason\":", 10);
  put_str(b, e->reason);
  if (e->policy) {
    wg_buf_append(b, ",\"policy\":", 10);
    put_str(b, e->policy);
    wg_buf_printf(b, ",\"policy_version\":%llu",
                  (unsigned long long)e->policy_version);
  }
  wg_buf_printf(b, ",\"latency_ms\":%.3f", e->latency_ms);
  if (e->gateway) {
    wg_buf_append(b, ",\"gateway\":", 11);
    wg_buf_append(b, e->gateway, strlen(e->gateway));
  }
}

static bool write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= (size_t)w;
  }
  return true;
}

void srv_audit_write(srv_audit *a, const srv_audit_entry *e) {
  wg_buf b;
  wg_buf_init(&b, AUDIT_LINE_MAX);
  wg_buf_reserve(&b, 768 + (e->gateway ? strlen(e->gateway) : 0));
  build_body(&b, e);
  char tail[128], prev[65];
  pthread_mutex_lock(&a->lock);
  srv_hex(a->last, 32, prev);
  int n = snprintf(tail, sizeof tail, ",\"seq\":%llu,\"prev\":\"%s\"}",
                   (unsigned long long)(a->seq + 1), prev);
  bool ok = b.len > 0 && wg_buf_append(&b, tail, (size_t)n) == WG_OK;
  if (ok) {
    uint8_t h[32];
    srv_sha256(b.data, b.len, h);
    wg_buf_append(&b, "\n", 1);
    /* A full buffer (cannot happen below the cap) would drop the newline:
    ** never write a line without one. */
    ok = b.data[b.len - 1] == '\n' && write_all(a->fd, b.data, b.len);
    if (ok) {
      a->seq++;
      memcpy(a->last, h, 32);
    }
  }
  if (!ok && !a->warned) {
    a->warned = true;
    fprintf(stderr, "wasmgate: audit log %s: write failed: %s\n", a->path,
            strerror(errno));
  }
  pthread_mutex_unlock(&a->lock);
  wg_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* Opening, syncing                                                    */

/* Reads the last line of the open log (without its newline) into b. */
static bool read_last_line(int fd, wg_buf *b) {
  off_t end = lseek(fd, 0, SEEK_END);
  if (end <= 0) return end == 0;
  off_t start = end > (off_t)AUDIT_LINE_MAX ? end - (off_t)AUDIT_LINE_MAX : 0;
  size_t n = (size_t)(end - start);
  char *tmp = wg_realloc_(NULL, 0, n);
  if (!tmp) return false;
  bool ok = pread(fd, tmp, n, start) == (ssize_t)n;
  if (ok) {
    size_t e = n;
    if (e > 0 && tmp[e - 1] == '\n') e--;
    size_t s = e;
    while (s > 0 && tmp[s - 1] != '\n') s--;
    ok = wg_buf_append(b, tmp + s, e - s) == WG_OK;
  }
  wg_free(tmp, n);
  return ok;
}

/* Resumes the chain from the last line: its seq and SHA-256. */
static wg_err audit_resume(srv_audit *a, wg_error *err) {
  wg_buf b;
  wg_buf_init(&b, AUDIT_LINE_MAX);
  wg_err e = WG_OK;
  if (!read_last_line(a->fd, &b)) {
    e = wg_error_set(err, WG_EIO, "%s: cannot read its last line", a->path);
  } else if (b.len > 0) {
    json_t *o = json_loadb((const char *)b.data, b.len, 0, NULL);
    json_t *seq = json_object_get(o, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
      e = wg_error_set(err, WG_EINVAL,
                       "%s: the last line is not an audit record; run "
                       "`wasmgate audit verify`",
                       a->path);
    } else {
      a->seq = (uint64_t)json_integer_value(seq);
      srv_sha256(b.data, b.len, a->last);
    }
    json_decref(o);
  }
  wg_buf_free(&b);
  return e;
}

wg_err srv_audit_open(const char *path, srv_audit **out, wg_error *err) {
  srv_audit *a = wg_new(srv_audit);
  if (!a) return wg_error_set(err, WG_ENOMEM, "out of memory");
  if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path) {
    wg_free_obj(a);
    return wg_error_set(err, WG_EINVAL, "audit path too long");
  }
  pthread_mutex_init(&a->lock, NULL);
  a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (a->fd < 0) {
    wg_error_set(err, WG_EIO, "%s: %s", path, strerror(errno));
    pthread_mutex_destroy(&a->lock);
    wg_free_obj(a);
    return WG_EIO;
  }
  wg_err e = audit_resume(a, err);
  if (e) {
    close(a->fd);
    pthread_mutex_destroy(&a->lock);
    wg_free_obj(a);
    return e;
  }
  a->synced_seq = a->seq;
  *out = a;
  return WG_OK;
}

static void write_head(srv_audit *a, uint64_t seq, const uint8_t h[32]) {
  char head[SRV_PATH_MAX + 8], tmp[SRV_PATH_MAX + 16], hex[65], line[128];
  snprintf(head, sizeof head, "%s.head", a->path);
  snprintf(tmp, sizeof tmp, "%s.head.tmp", a->path);
  srv_hex(h, 32, hex);
  int n = snprintf(line, sizeof line, "{\"seq\":%llu,\"sha256\":\"%s\"}\n",
                   (unsigned long long)seq, hex);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool ok = write_all(fd, line, (size_t)n) && fsync(fd) == 0;
  close(fd);
  if (ok) rename(tmp, head);
}

void srv_audit_sync(srv_audit *a) {
  pthread_mutex_lock(&a->lock);
  uint64_t seq = a->seq;
  uint8_t h[32];
  memcpy(h, a->last, 32);
  bool changed = seq != a->synced_seq;
  pthread_mutex_unlock(&a->lock);
  if (!changed) return;
  fdatasync(a->fd);
  write_head(a, seq, h);
  pthread_mutex_lock(&a->lock);
  if (a->synced_seq < seq) a->synced_seq = seq;
  pthread_mutex_unlock(&a->lock);
}

void srv_audit_close(srv_audit *a) {
  if (!a) return;
  srv_audit_sync(a);
  close(a->fd);
  pthread_mutex_destroy(&a->lock);
  wg_free_obj(a);
}

/* ------------------------------------------------------------------ */
/* Verifying                                                           */

typedef struct verify_line {
  wg_buf raw;                   /* the bytes, without the newline */
  bool valid;                   /* JSON with an integer seq and a prev */
  uint64_t seq;
  char prev[65];
  uint8_t hash[32];
} verify_line;

/* Reads the next line of f into l; false at the end of the file. */
static bool next_line(FILE *f, verify_line *l) {
  wg_buf_reset(&l->raw);
  int c;
  bool any = false;
  while ((c = getc(f)) != EOF) {
    any = true;
    if (c == '\n') break;
    char ch = (char)c;
    wg_buf_append(&l->raw, &ch, 1);   /* over the cap: truncated, invalid */
  }
  if (!any) return false;
  srv_sha256(l->raw.data, l->raw.len, l->hash);
  l->valid = false;
  json_t *o = json_loadb(l->raw.data ? (const char *)l->raw.data : "",
                         l->raw.len, 0, NULL);
  json_t *seq = json_object_get(o, "seq");
  json_t *prev = json_object_get(o, "prev");
  if (json_is_integer(seq) && json_integer_value(seq) >= 1 &&
      json_is_string(prev) && json_string_length(prev) == 64) {
    l->valid = true;
    l->seq = (uint64_t)json_integer_value(seq);
    memcpy(l->prev, json_string_value(prev), 65);
  }
  json_decref(o);
  return true;
}

/* The head file next to the log: false when absent or unreadable. */
static bool read_head(const char *path, uint64_t *seq, char hex[65]) {
  char head[SRV_PATH_MAX + 8];
  snprintf(head, sizeof head, "%s.head", path);
  json_t *o = json_load_file(head, 0, NULL);
  json_t *s = json_object_get(o, "seq");
  json_t *h = json_object_get(o, "sha256");
  bool ok = json_is_integer(s) && json_is_string(h) &&
            json_string_length(h) == 64;
  if (ok) {
    *seq = (uint64_t)json_integer_value(s);
    memcpy(hex, json_string_value(h), 65);
  }
  json_decref(o);
  return ok;
}

typedef struct verifier {
  FILE *f;
  verify_line cur, next;
  bool have_next;
  uint64_t lineno;
  char *report;
  size_t reportsize;
} verifier;

static int vfail(verifier *v, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int vfail(verifier *v, uint64_t line, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(v->report, v->reportsize, "FAILED: line %llu: %s",
           (unsigned long long)line, why);
  return 1;
}

/* Checks v->cur (line v->lineno) against the previous line's hash. */
static int check_line(verifier *v, uint64_t expect, const uint8_t prev[32],
                      uint64_t *bad) {
  verify_line *l = &v->cur;
  char want[65];
  *bad = v->lineno;
  if (!l->valid) {
    return vfail(v, v->lineno, "modified (not an audit record)");
  }
  if (l->seq > expect) {
    bool swapped = v->have_next && v->next.valid && v->next.seq == expect;
    return vfail(v, v->lineno, "seq %llu where %llu was expected: %s",
                 (unsigned long long)l->seq, (unsigned long long)expect,
                 swapped ? "lines reordered" : "line(s) removed before it");
  }
  if (l->seq < expect) {
    return vfail(v, v->lineno, "seq %llu after %llu: lines reordered or "
                 "duplicated", (unsigned long long)l->seq,
                 (unsigned long long)(expect - 1));
  }
  srv_hex(prev, 32, want);
  if (strcmp(l->prev, want) != 0) {
    /* Either the line before was edited (then this line is intact and the
    ** next line's prev still matches it), or this line's prev was. */
    char mine[65];
    srv_hex(l->hash, 32, mine);
    bool this_intact = v->have_next && v->next.valid &&
                       !strcmp(v->next.prev, mine);
    if (this_intact && v->lineno > 1) {
      *bad = v->lineno - 1;
      return vfail(v, v->lineno - 1, "modified (its SHA-256 does not match "
                   "the prev of line %llu)", (unsigned long long)v->lineno);
    }
    return vfail(v, v->lineno, "modified (prev does not match the SHA-256 "
                 "of line %llu)", (unsigned long long)(v->lineno - 1));
  }
  return 0;
}

static int verify_stream(verifier *v, const char *path, uint64_t *bad) {
  uint8_t prev[32] = {0};
  uint64_t expect = 1, head_seq = 0;
  char head_hex[65];
  bool head = read_head(path, &head_seq, head_hex);
  v->have_next = next_line(v->f, &v->next);
  while (v->have_next) {
    verify_line t = v->cur;
    v->cur = v->next;
    v->next = t;
    v->lineno++;
    v->have_next = next_line(v->f, &v->next);
    int rc = check_line(v, expect, prev, bad);
    if (rc) return rc;
    if (head && v->cur.seq == head_seq) {
      char mine[65];
      srv_hex(v->cur.hash, 32, mine);
      if (strcmp(mine, head_hex) != 0) {
        *bad = v->lineno;
        return vfail(v, v->lineno, "modified (does not match %s.head)", path);
      }
    }
    memcpy(prev, v->cur.hash, 32);
    expect++;
  }
  if (head && head_seq > expect - 1) {
    *bad = v->lineno + 1;
    return vfail(v, v->lineno + 1, "missing: the log ends at seq %llu but "
                 "%s.head records seq %llu (lines removed at the end)",
                 (unsigned long long)(expect - 1), path,
                 (unsigned long long)head_seq);
  }
  snprintf(v->report, v->reportsize, "ok: %llu lines, chain intact%s",
           (unsigned long long)v->lineno,
           head ? "" : " (no head file: truncation at the end undetectable)");
  return 0;
}

int srv_audit_verify(const char *path, char *report, size_t reportsize,
                     uint64_t *bad_line) {
  verifier v;
  memset(&v, 0, sizeof v);
  uint64_t bad = 0;
  v.report = report;
  v.reportsize = reportsize;
  v.f = fopen(path, "rb");
  if (!v.f) {
    snprintf(report, reportsize, "cannot read %s: %s", path, strerror(errno));
    return 2;
  }
  wg_buf_init(&v.cur.raw, AUDIT_LINE_MAX);
  wg_buf_init(&v.next.raw, AUDIT_LINE_MAX);
  int rc = verify_stream(&v, path, &bad);
  if (ferror(v.f)) {
    snprintf(report, reportsize, "read error on %s", path);
    rc = 2;
  }
  fclose(v.f);
  wg_buf_free(&v.cur.raw);
  wg_buf_free(&v.next.raw);
  if (bad_line) *bad_line = rc == 1 ? bad : 0;
  return rc;
}
