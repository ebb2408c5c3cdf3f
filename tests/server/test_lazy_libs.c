/*
** The stubs of the libraries loaded on first use (src/ai/curl_load.c,
** src/server/mhd_load.c, src/base/crypto_load.c, src/store/sqlite_load.c):
** every forwarded function works through them, and the variadic ones pass
** each kind of argument with its type (long, pointer, function pointer,
** curl_off_t, blob; libmicrohttpd's option list).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sink {
  char data[256];
  size_t len;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *user) {
  sink *s = user;
  size_t len = size * n;
  if (s->len + len >= sizeof s->data) return 0;
  memcpy(s->data + s->len, p, len);
  s->len += len;
  s->data[s->len] = 0;
  return len;
}

/* A file:// URL of a new temporary file holding "hello, world". */
static void temp_url(char *path, size_t pathsize, char *url, size_t urlsize) {
  snprintf(path, pathsize, "/tmp/wg-lazy-XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "hello, world", 12), 12);
  close(fd);
  snprintf(url, urlsize, "file://%s", path);
}

static void test_curl_easy(void **state) {
  (void)state;
  char path[64], url[128];
  temp_url(path, sizeof path, url, sizeof url);
  assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);

  /* Each option type: pointer (URL, WRITEDATA, HTTPHEADER), function
  ** pointer (WRITEFUNCTION), curl_off_t (RESUME_FROM_LARGE), long
  ** (NOSIGNAL), blob (SSLCERT_BLOB). */
  CURL *c = curl_easy_init();
  assert_non_null(c);
  sink s = {{0}, 0};
  struct curl_slist *h = curl_slist_append(NULL, "x-test: 1");
  assert_non_null(h);
  h = curl_slist_append(h, "x-test: 2");
  assert_string_equal(h->next->data, "x-test: 2");
  char cert[] = "not a certificate";
  struct curl_blob blob = {cert, sizeof cert - 1, CURL_BLOB_COPY};
  assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data),
                   CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEDATA, &s), CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE,
                                    (curl_off_t)7), CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_HTTPHEADER, h), CURLE_OK);
  assert_int_equal(curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &blob),
                   CURLE_OK);
  /* A long option given a value it rejects reaches libcurl as that long. */
  assert_int_equal(curl_easy_setopt(c, CURLOPT_SSLVERSION, 1000L),
                   CURLE_BAD_FUNCTION_ARGUMENT);
  /* libcurl's own answer for a handle without a transfer yet. */
  assert_int_equal(curl_easy_pause(c, CURLPAUSE_CONT),
                   CURLE_BAD_FUNCTION_ARGUMENT);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  assert_string_equal(s.data, "world"); /* resumed at byte 7 */

  curl_off_t got = -1;
  char *eff = NULL;
  long code = -1;
  assert_int_equal(curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got),
                   CURLE_OK);
  assert_int_equal(got, 5);
  assert_int_equal(curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff),
                   CURLE_OK);
  assert_string_equal(eff, url);
  assert_int_equal(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code),
                   CURLE_OK);
  assert_int_equal(code, 0);
  curl_easy_cleanup(c);
  curl_slist_free_all(h);

  assert_string_equal(curl_easy_strerror(CURLE_FILESIZE_EXCEEDED),
                      "Maximum file size exceeded");
  unlink(path);
}

static int sockets_seen;

static int on_socket(CURL *e, curl_socket_t s, int what, void *user,
                     void *sockp) {
  (void)e, (void)s, (void)what, (void)user, (void)sockp;
  sockets_seen++;
  return 0;
}

static void test_curl_multi(void **state) {
  (void)state;
  char path[64], url[128];
  temp_url(path, sizeof path, url, sizeof url);
  CURLM *m = curl_multi_init();
  assert_non_null(m);
  assert_int_equal(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 3L), CURLM_OK);
  assert_int_equal(curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket),
                   CURLM_OK);
  assert_int_equal(curl_multi_setopt(m, CURLMOPT_SOCKETDATA, NULL),
                   CURLM_OK);
  CURL *c = curl_easy_init();
  sink s = {{0}, 0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  assert_int_equal(curl_multi_add_handle(m, c), CURLM_OK);
  int running = 1, rounds = 0;
  while (running && rounds++ < 1000) {
    assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
    if (running) {
      int n = 0;
      assert_int_equal(curl_multi_poll(m, NULL, 0, 100, &n), CURLM_OK);
    }
  }
  assert_int_equal(running, 0);
  int left = -1;
  CURLMsg *msg = curl_multi_info_read(m, &left);
  assert_non_null(msg);
  assert_int_equal(msg->msg, CURLMSG_DONE);
  assert_int_equal(msg->data.result, CURLE_OK);
  assert_int_equal(left, 0);
  assert_string_equal(s.data, "hello, world");
  assert_int_equal(curl_multi_wakeup(m), CURLM_OK);
  assert_int_equal(curl_multi_remove_handle(m, c), CURLM_OK);
  curl_easy_cleanup(c);
  assert_int_equal(curl_multi_cleanup(m), CURLM_OK);
  unlink(path);
}

static int completed;

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **req_cls, enum MHD_RequestTerminationCode t) {
  (void)conn, (void)req_cls;
  if (cls == &completed && t == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    completed++;
}

static ssize_t stream(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)cls;
  if (pos >= 6) return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = max < 6 - pos ? max : 6 - pos;
  memcpy(buf, "stream" + pos, n);
  return (ssize_t)n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
  (void)cls, (void)method, (void)version, (void)upload, (void)upload_size;
  if (!*req_cls) { /* first call: headers only */
    *req_cls = conn;
    return MHD_YES;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci || ci->connect_fd < 0) return MHD_NO;
  struct MHD_Response *r;
  if (!strcmp(url, "/stream")) {
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, stream, NULL,
                                          NULL);
  } else {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                "x-echo");
    char body[64];
    snprintf(body, sizeof body, "echo:%s", v ? v : "(none)");
    r = MHD_create_response_from_buffer(strlen(body), body,
                                        MHD_RESPMEM_MUST_COPY);
  }
  if (!r) return MHD_NO;
  if (MHD_add_response_header(r, "x-stub", "yes") != MHD_YES) return MHD_NO;
  enum MHD_Result ok = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return ok;
}

/* GET http://127.0.0.1:PORT/PATH with header x-echo: hi, through the curl
** stubs, accepting at most MAX body bytes (0: any); returns the status (0
** when the transfer failed, its code in *rc) with the headers and the body
** in *s. */
static long get(uint16_t port, const char *path, long max, sink *s,
                CURLcode *rc) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "x-echo: hi");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE, max);
  s->len = 0;
  long status = 0;
  *rc = curl_easy_perform(c);
  if (*rc == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

static void test_mhd(void **state) {
  (void)state;
  /* Options of each kind after the fixed arguments: unsigned int, a
  ** function pointer with its pointer, and the terminator. */
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC,
      0, NULL, NULL, on_request, NULL,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, &completed,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
  assert_non_null(d);
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  assert_non_null(info);
  assert_true(info->port > 0);
  sink s = {{0}, 0};
  CURLcode rc;
  assert_int_equal(get(info->port, "/", 0, &s, &rc), 200);
  assert_non_null(strstr(s.data, "x-stub: yes\r\n"));
  assert_non_null(strstr(s.data, "echo:hi"));
  assert_int_equal(get(info->port, "/stream", 0, &s, &rc), 200);
  assert_non_null(strstr(s.data, "\r\n\r\nstream"));
  /* A long curl option that changes the outcome: 7 bytes over a cap of 4. */
  assert_int_equal(get(info->port, "/", 4, &s, &rc), 0);
  assert_int_equal(rc, CURLE_FILESIZE_EXCEEDED);
  MHD_socket ls = MHD_quiesce_daemon(d);
  assert_true(ls != MHD_INVALID_SOCKET);
  MHD_stop_daemon(d); /* joins the thread that ran on_completed */
  close(ls);
  /* The NOTIFY_COMPLETED option arrived: the two full answers, and the
  ** capped one if MHD had sent it all before the client hung up. */
  assert_true(completed == 2 || completed == 3);
}

static void test_crypto(void **state) {
  (void)state;
  static const uint8_t abc[32] = {
      0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
      0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
      0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  uint8_t md[32] = {0};
  assert_ptr_equal(SHA256((const uint8_t *)"abc", 3, md), md);
  assert_memory_equal(md, abc, 32);
  EVP_MD *sha = EVP_MD_fetch(NULL, "SHA256", NULL);
  assert_non_null(sha);
  unsigned int n = 0;
  memset(md, 0, sizeof md);
  assert_int_equal(EVP_Digest("abc", 3, md, &n, sha, NULL), 1);
  assert_int_equal(n, 32);
  assert_memory_equal(md, abc, 32);
  assert_null(EVP_MD_fetch(NULL, "NO-SUCH-DIGEST", NULL));
  EVP_MD_free(sha);

  uint8_t a[32] = {0}, b[32] = {0};
  assert_int_equal(RAND_bytes(a, sizeof a), 1);
  assert_int_equal(RAND_bytes(b, sizeof b), 1);
  assert_memory_not_equal(a, b, sizeof a);
  assert_int_equal(CRYPTO_memcmp(a, a, sizeof a), 0);
  assert_int_not_equal(CRYPTO_memcmp(a, b, sizeof a), 0);
  OPENSSL_cleanse(a, sizeof a);
  static const uint8_t zero[32];
  assert_memory_equal(a, zero, sizeof a);
}

static void test_sqlite(void **state) {
  (void)state;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(":memory:", &db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                   NULL), SQLITE_OK);
  assert_int_equal(sqlite3_busy_timeout(db, 100), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(a TEXT, b BLOB, c INT)",
                                NULL, NULL, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v3(db, "INSERT INTO t VALUES(?,?,?)", -1,
                                      0, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_bind_text(st, 1, "text", -1, SQLITE_TRANSIENT),
                   SQLITE_OK);
  assert_int_equal(sqlite3_bind_blob(st, 2, "\0\1\2", 3, SQLITE_STATIC),
                   SQLITE_OK);
  assert_int_equal(sqlite3_bind_int64(st, 3, 1LL << 40), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  assert_int_equal(sqlite3_changes(db), 1);
  assert_int_equal(sqlite3_reset(st), SQLITE_OK);
  assert_int_equal(sqlite3_clear_bindings(st), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_DONE); /* NULLs */
  assert_int_equal(sqlite3_finalize(st), SQLITE_OK);

  assert_int_equal(sqlite3_prepare_v3(db, "SELECT a, b, c, 7 FROM t "
                                      "ORDER BY rowid", -1, 0, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "text");
  assert_int_equal(sqlite3_column_bytes(st, 1), 3);
  assert_memory_equal(sqlite3_column_blob(st, 1), "\0\1\2", 3);
  assert_int_equal(sqlite3_column_int64(st, 2), 1LL << 40);
  assert_int_equal(sqlite3_column_int(st, 3), 7);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_null(sqlite3_column_text(st, 0));
  assert_int_equal(sqlite3_step(st), SQLITE_DONE);
  assert_int_equal(sqlite3_finalize(st), SQLITE_OK);

  assert_int_equal(sqlite3_exec(db, "BOGUS", NULL, NULL, NULL), SQLITE_ERROR);
  assert_int_equal(sqlite3_errcode(db), SQLITE_ERROR);
  assert_string_equal(sqlite3_errmsg(db), "near \"BOGUS\": syntax error");
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curl_easy),
      cmocka_unit_test(test_curl_multi),
      cmocka_unit_test(test_mhd),
      cmocka_unit_test(test_crypto),
      cmocka_unit_test(test_sqlite),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
