/*
** The worker protocol's framing (src/sandbox/frame.c) and the RUN/RESULT
** codecs (proto.c): round trips, fds across a socketpair, frames split
** across many writes, truncated and oversized frames, deadlines and stop
** fds.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/frame.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/worker_int.h"

static void pair(int sv[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static void round_trip_scalars(void **state) {
  (void)state;
  int sv[2];
  pair(sv);
  wg_buf b, in;
  wg_buf_init(&b, 1 << 20);
  wg_buf_init(&in, 1 << 20);
  wgf_begin(&b, 42);
  assert_int_equal(wgf_put_u8(&b, 7), WG_OK);
  assert_int_equal(wgf_put_u32(&b, 0xdeadbeef), WG_OK);
  assert_int_equal(wgf_put_u64(&b, 0x0123456789abcdefull), WG_OK);
  assert_int_equal(wgf_put_str(&b, "hello"), WG_OK);
  assert_int_equal(wgf_put_str(&b, NULL), WG_OK);
  assert_int_equal(wgf_put_str(&b, ""), WG_OK);
  assert_int_equal(wgf_put_bytes(&b, "\0\1\2", 3), WG_OK);
  assert_int_equal(wgf_send(sv[0], &b, NULL, 0), WG_OK);
  uint32_t type;
  size_t nfds;
  int fds[2];
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 2, &nfds, 0), WG_OK);
  assert_int_equal(type, 42);
  assert_int_equal(nfds, 0);
  wgf_reader r;
  wgf_reader_init(&r, in.data, in.len);
  assert_int_equal(wgf_get_u8(&r), 7);
  assert_int_equal(wgf_get_u32(&r), 0xdeadbeef);
  assert_true(wgf_get_u64(&r) == 0x0123456789abcdefull);
  assert_string_equal(wgf_get_str(&r), "hello");
  assert_null(wgf_get_str(&r));
  assert_string_equal(wgf_get_str(&r), "");
  size_t n;
  const uint8_t *p = wgf_get_bytes(&r, &n);
  assert_int_equal(n, 3);
  assert_memory_equal(p, "\0\1\2", 3);
  assert_true(wgf_done(&r));
  /* reading past the end: zeros, and the reader is bad from then on */
  assert_int_equal(wgf_get_u32(&r), 0);
  assert_false(wgf_done(&r));
  wg_buf_free(&b);
  wg_buf_free(&in);
  close(sv[0]);
  close(sv[1]);
}

static void passes_fds(void **state) {
  (void)state;
  int sv[2];
  pair(sv);
  int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(fd >= 0);
  int two[2] = {fd, fd};
  wg_buf b, in;
  wg_buf_init(&b, 1 << 20);
  wg_buf_init(&in, 1 << 20);
  wgf_begin(&b, 1);
  wgf_put_u32(&b, 5);
  assert_int_equal(wgf_send(sv[0], &b, two, 2), WG_OK);
  uint32_t type;
  size_t nfds;
  int got[4];
  assert_int_equal(wgf_recv(sv[1], &in, &type, got, 4, &nfds, 0), WG_OK);
  assert_int_equal(nfds, 2);
  struct stat a, c;
  assert_int_equal(fstat(got[0], &a), 0);
  assert_int_equal(fstat(fd, &c), 0);
  assert_true(a.st_ino == c.st_ino && a.st_dev == c.st_dev);
  assert_true(got[0] != fd && got[1] != got[0]);
  assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
  close(got[0]);
  close(got[1]);
  /* more fds than the receiver takes: refused, none left open */
  assert_int_equal(wgf_send(sv[0], &b, two, 2), WG_OK);
  assert_int_equal(wgf_recv(sv[1], &in, &type, got, 1, &nfds, 0), WG_ELIMIT);
  assert_int_equal(nfds, 0);
  close(fd);
  wg_buf_free(&b);
  wg_buf_free(&in);
  close(sv[0]);
  close(sv[1]);
}

typedef struct dribble {
  int sock;
  const uint8_t *p;
  size_t n;
} dribble;

/* Writes a frame a few bytes at a time. */
static void *dribbler(void *arg) {
  dribble *d = arg;
  for (size_t off = 0; off < d->n; off += 3) {
    size_t k = d->n - off < 3 ? d->n - off : 3;
    if (write(d->sock, d->p + off, k) != (ssize_t)k) break;
    if (off % 300 == 0) usleep(100);
  }
  return NULL;
}

static void split_frames_and_large_payloads(void **state) {
  (void)state;
  int sv[2];
  pair(sv);
  wg_buf b, in;
  wg_buf_init(&b, 8 << 20);
  wg_buf_init(&in, 8 << 20);
  wgf_begin(&b, 9);
  static uint8_t big[3 << 20];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 31);
  wgf_put_bytes(&b, big, 5000);
  uint32_t len = (uint32_t)(b.len - WGF_HEADER);
  memcpy(b.data, &len, 4);
  dribble d = {sv[0], b.data, b.len};
  pthread_t t;
  pthread_create(&t, NULL, dribbler, &d);
  uint32_t type;
  size_t nfds, n;
  int fds[1];
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds, 0), WG_OK);
  pthread_join(t, NULL);
  wgf_reader r;
  wgf_reader_init(&r, in.data, in.len);
  const uint8_t *p = wgf_get_bytes(&r, &n);
  assert_int_equal(n, 5000);
  assert_memory_equal(p, big, 5000);
  /* a large payload, sent and received by two threads */
  wgf_begin(&b, 10);
  wgf_put_bytes(&b, big, sizeof big);
  len = (uint32_t)(b.len - WGF_HEADER);
  memcpy(b.data, &len, 4);
  d = (dribble){sv[0], b.data, b.len};
  pthread_create(&t, NULL, dribbler, &d);
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds, 0), WG_OK);
  pthread_join(t, NULL);
  assert_int_equal(in.len, sizeof big + 4);
  assert_memory_equal(in.data + 4, big, sizeof big);
  wg_buf_free(&b);
  wg_buf_free(&in);
  close(sv[0]);
  close(sv[1]);
}

static void truncated_oversized_and_deadline(void **state) {
  (void)state;
  int sv[2];
  pair(sv);
  wg_buf in;
  wg_buf_init(&in, 1024);
  uint32_t type;
  size_t nfds;
  int fds[1];
  /* nothing comes: the deadline passes */
  uint64_t t0 = wgs_now_ns();
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds,
                            t0 + 50 * 1000000ull),
                   WG_TRAP_INTERRUPT);
  assert_true(wgs_now_ns() - t0 >= 45 * 1000000ull);
  /* a length above the receiver's cap */
  uint8_t h[8] = {0};
  uint32_t len = 4096;
  memcpy(h, &len, 4);
  assert_int_equal(write(sv[0], h, 8), 8);
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds, 0), WG_ELIMIT);
  close(sv[0]);
  close(sv[1]);
  /* a header, part of the payload, then the peer closes */
  pair(sv);
  len = 100;
  memcpy(h, &len, 4);
  assert_int_equal(write(sv[0], h, 8), 8);
  assert_int_equal(write(sv[0], "abc", 3), 3);
  close(sv[0]);
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds, 0), WG_EEOF);
  /* and a bare EOF */
  assert_int_equal(wgf_recv(sv[1], &in, &type, fds, 1, &nfds, 0), WG_EEOF);
  close(sv[1]);
  wg_buf_free(&in);
}

static void *poke_later(void *arg) {
  struct timespec ts = {0, 50 * 1000000L};
  nanosleep(&ts, NULL);
  uint64_t one = 1;
  assert_int_equal(write(*(int *)arg, &one, sizeof one), sizeof one);
  return NULL;
}

/* wgf_recv_until: a stop fd ends a wait that has no deadline; a frame
** that is already there wins over a stop fd that is readable too; a
** payload still coming is waited for, and stopped, the same way. */
static void stop_fd(void **state) {
  (void)state;
  int sv[2], stop = eventfd(0, EFD_CLOEXEC);
  assert_true(stop >= 0);
  pair(sv);
  wg_buf b, in;
  wg_buf_init(&b, 1024);
  wg_buf_init(&in, 1024);
  uint32_t type;
  size_t nfds;
  int fds[1];
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, poke_later, &stop), 0);
  assert_int_equal(wgf_recv_until(sv[1], &in, &type, fds, 1, &nfds, 0, stop),
                   WG_TRAP_INTERRUPT);
  pthread_join(th, NULL);
  wgf_begin(&b, 9);
  assert_int_equal(wgf_put_str(&b, "first"), WG_OK);
  assert_int_equal(wgf_send(sv[0], &b, NULL, 0), WG_OK);
  assert_int_equal(wgf_recv_until(sv[1], &in, &type, fds, 1, &nfds, 0, stop),
                   WG_OK);
  assert_int_equal(type, 9);
  /* a header promising 100 bytes, 3 of them sent */
  uint8_t h[8] = {0};
  uint32_t len = 100;
  memcpy(h, &len, 4);
  assert_int_equal(write(sv[0], h, 8), 8);
  assert_int_equal(write(sv[0], "abc", 3), 3);
  assert_int_equal(wgf_recv_until(sv[1], &in, &type, fds, 1, &nfds, 0, stop),
                   WG_TRAP_INTERRUPT);
  close(sv[0]);
  close(sv[1]);
  close(stop);
  wg_buf_free(&b);
  wg_buf_free(&in);
}

static void malformed_strings(void **state) {
  (void)state;
  wg_buf b;
  wg_buf_init(&b, 1024);
  wgf_begin(&b, 1);
  wgf_put_u32(&b, 3);
  wg_buf_append(&b, "a\0bX", 4);   /* inner NUL, no terminator */
  wgf_reader r;
  wgf_reader_init(&r, b.data + WGF_HEADER, b.len - WGF_HEADER);
  assert_null(wgf_get_str(&r));
  assert_false(wgf_done(&r));
  wgf_begin(&b, 1);
  wgf_put_u32(&b, 1000);          /* longer than what follows */
  wgf_reader_init(&r, b.data + WGF_HEADER, b.len - WGF_HEADER);
  size_t n;
  wgf_get_bytes(&r, &n);
  assert_int_equal(n, 0);
  assert_false(wgf_done(&r));
  wg_buf_free(&b);
}

static void run_and_result_codecs(void **state) {
  (void)state;
  const char *argv[] = {"prog", "a b", ""};
  const char *env[] = {"K=V", "EMPTY="};
  wg_exec_dir dirs[2] = {{NULL, "/", false, 5}, {NULL, "/ro", true, 6}};
  wg_val args[2] = {{.type = WG_I32, .of.i32 = 7},
                    {.type = WG_F64, .of.i64 = 0x4000000000000000ull}};
  wg_exec_request q;
  wg_exec_request_init(&q);
  q.function = "f";
  q.argv = argv;
  q.argc = 3;
  q.env = env;
  q.envc = 2;
  q.dirs = dirs;
  q.ndirs = 2;
  q.stdin_bytes = (const uint8_t *)"in\0put";
  q.stdin_len = 6;
  q.invoke_args = args;
  q.ninvoke_args = 2;
  q.limits.fuel = -1;
  q.limits.timeout_ms = 1234;
  q.limits.memory_bytes = 1 << 20;
  wg_buf b, payload;
  wg_buf_init(&b, 1 << 20);
  wg_buf_init(&payload, 1 << 20);
  assert_int_equal(wgw_encode_run(&b, "sha256:ab", &q), WG_OK);
  wg_buf_append(&payload, b.data + WGF_HEADER, b.len - WGF_HEADER);
  int fds[2] = {15, 16};
  wgw_run run;
  assert_int_equal(wgw_decode_run(&payload, fds, 1, &run), WG_EINVAL);
  assert_int_equal(wgw_decode_run(&payload, fds, 2, &run), WG_OK);
  assert_string_equal(run.key, "sha256:ab");
  assert_string_equal(run.req.function, "f");
  assert_int_equal(run.req.argc, 3);
  assert_string_equal(run.req.argv[1], "a b");
  assert_string_equal(run.req.argv[2], "");
  assert_int_equal(run.req.envc, 2);
  assert_string_equal(run.req.env[1], "EMPTY=");
  assert_int_equal(run.req.ndirs, 2);
  assert_int_equal(run.req.dirs[1].host_fd, 16);
  assert_null(run.req.dirs[1].host_path);
  assert_true(run.req.dirs[1].readonly);
  assert_string_equal(run.req.dirs[1].guest_path, "/ro");
  assert_int_equal(run.req.stdin_len, 6);
  assert_memory_equal(run.req.stdin_bytes, "in\0put", 6);
  assert_true(run.req.limits.fuel == -1);
  assert_int_equal(run.req.limits.timeout_ms, 1234);
  assert_int_equal(run.req.ninvoke_args, 2);
  assert_true(run.req.invoke_args[1].of.i64 == 0x4000000000000000ull);
  wgw_run_free(&run);
  /* every truncation of the payload is refused, never read past */
  for (size_t cut = 0; cut < payload.len; cut++) {
    wg_buf part = payload;
    part.len = cut;
    assert_int_not_equal(wgw_decode_run(&part, fds, 2, &run), WG_OK);
  }
  /* a host path cannot go to a worker, nor a non-null reference */
  dirs[0].host_path = "/tmp";
  assert_int_equal(wgw_encode_run(&b, "k", &q), WG_EINVAL);
  dirs[0].host_path = NULL;
  args[0] = (wg_val){.type = WG_FUNCREF, .of.ref = 0x1234};
  assert_int_equal(wgw_encode_run(&b, "k", &q), WG_EINVAL);
  args[0].of.ref = 0;
  /* host stdio fds travel after the directories' (stdin only without
  ** stdin_bytes) */
  q.stdin_fd = 0;
  q.stdout_fd = 1;
  q.stderr_fd = -1;
  int sent[WGW_MAX_RUN_FDS];
  assert_int_equal(wgw_run_fds(&q, sent), 3);
  assert_int_equal(sent[2], 1);
  assert_int_equal(wgw_encode_run(&b, "k", &q), WG_OK);
  wg_buf_reset(&payload);
  wg_buf_append(&payload, b.data + WGF_HEADER, b.len - WGF_HEADER);
  int got3[3] = {15, 16, 17};
  assert_int_equal(wgw_decode_run(&payload, got3, 2, &run), WG_EINVAL);
  assert_int_equal(wgw_decode_run(&payload, got3, 3, &run), WG_OK);
  assert_int_equal(run.req.stdin_fd, -1);
  assert_int_equal(run.req.stdout_fd, 17);
  assert_int_equal(run.req.stderr_fd, -1);
  assert_int_equal(run.req.invoke_args[0].type, WG_FUNCREF);
  assert_true(run.req.invoke_args[0].of.ref == 0);
  wgw_run_free(&run);
  q.stdin_bytes = NULL;
  q.stderr_fd = 2;
  assert_int_equal(wgw_run_fds(&q, sent), 5);
  assert_int_equal(sent[2], 0);
  assert_int_equal(sent[4], 2);
  assert_int_equal(wgw_encode_run(&b, "k", &q), WG_OK);
  wg_buf_reset(&payload);
  wg_buf_append(&payload, b.data + WGF_HEADER, b.len - WGF_HEADER);
  int got5[5] = {15, 16, 17, 18, 19};
  assert_int_equal(wgw_decode_run(&payload, got5, 5, &run), WG_OK);
  assert_int_equal(run.req.stdin_fd, 17);
  assert_null(run.req.stdin_bytes);
  assert_int_equal(run.req.stdout_fd, 18);
  assert_int_equal(run.req.stderr_fd, 19);
  wgw_run_free(&run);
  assert_false(run.nn);
  /* nn: the worker links WASI-NN to NN_CALL frames; only 0 and 1 pass */
  assert_int_equal(wgw_encode_run_nn(&b, "k", &q, true), WG_OK);
  wg_buf_reset(&payload);
  wg_buf_append(&payload, b.data + WGF_HEADER, b.len - WGF_HEADER);
  assert_int_equal(wgw_decode_run(&payload, got5, 5, &run), WG_OK);
  assert_true(run.nn);
  wgw_run_free(&run);
  payload.data[payload.len - 1] = 2;
  assert_int_equal(wgw_decode_run(&payload, got5, 5, &run), WG_EINVAL);

  wg_exec_result res;
  memset(&res, 0, sizeof res);
  res.exit_code = 3;
  res.trap = WG_TRAP_FUEL;
  res.limit = WG_LIMIT_FUEL;
  snprintf(res.trap_message, sizeof res.trap_message, "out of fuel");
  res.out = (uint8_t *)"stdout\0bytes";
  res.out_len = 12;
  res.err = (uint8_t *)"";
  res.err_truncated = true;
  res.nresults = 3;
  res.results[0] = (wg_val){.type = WG_I64, .of.i64 = 99};
  res.results[1] = (wg_val){.type = WG_V128,
                            .of.v128 = {0x0102030405060708ull,
                                        0x1112131415161718ull}};
  res.results[2] = (wg_val){.type = WG_EXTERNREF, .of.ref = 0xdead};
  res.fuel_used = 1000;
  res.peak_memory_bytes = 65536;
  assert_int_equal(wgw_encode_result(&b, WG_OK, &res, 4096, 77), WG_OK);
  wg_buf_reset(&payload);
  wg_buf_append(&payload, b.data + WGF_HEADER, b.len - WGF_HEADER);
  wg_exec_result got;
  wg_err ret;
  uint64_t rss, cpu;
  assert_int_equal(wgw_decode_result(&payload, &ret, &got, &rss, &cpu), WG_OK);
  assert_int_equal(ret, WG_OK);
  assert_int_equal(got.exit_code, 3);
  assert_int_equal(got.trap, WG_TRAP_FUEL);
  assert_int_equal(got.limit, WG_LIMIT_FUEL);
  assert_string_equal(got.trap_message, "out of fuel");
  assert_int_equal(got.out_len, 12);
  assert_memory_equal(got.out, "stdout\0bytes", 12);
  assert_int_equal(got.err_len, 0);
  assert_true(got.err_truncated);
  assert_int_equal(got.nresults, 3);
  assert_true(got.results[0].of.i64 == 99);
  /* v128 whole; a reference only as null or not */
  assert_true(got.results[1].of.v128[0] == 0x0102030405060708ull);
  assert_true(got.results[1].of.v128[1] == 0x1112131415161718ull);
  assert_int_equal(got.results[2].type, WG_EXTERNREF);
  assert_true(got.results[2].of.ref == 1);
  assert_int_equal(rss, 4096);
  assert_int_equal(cpu, 77);
  wg_exec_result_free(&got);
  for (size_t cut = 0; cut < payload.len; cut++) {
    wg_buf part = payload;
    part.len = cut;
    assert_int_not_equal(wgw_decode_result(&part, &ret, &got, &rss, &cpu),
                         WG_OK);
  }
  wg_buf_free(&b);
  wg_buf_free(&payload);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_scalars),
      cmocka_unit_test(passes_fds),
      cmocka_unit_test(split_frames_and_large_payloads),
      cmocka_unit_test(truncated_oversized_and_deadline),
      cmocka_unit_test(stop_fd),
      cmocka_unit_test(malformed_strings),
      cmocka_unit_test(run_and_result_codecs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
