/*
** Host functions: a guest calls a host import that gets its user pointer,
** the calling store, instance and memory; i32/i64/f32/f64 arguments and
** results round-trip bit for bit (NaN payloads and signalling NaNs too); a
** host trap ends the call with the host's code and message; host code
** reaches guest memory only through wg_memory_translate. host.wat.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "wgt.h"

typedef struct host_ctx {
  int calls;
  uint64_t seen[4];          /* raw argument slots of the last roundtrip */
  wg_store *store;
  wg_instance *inst;         /* set once instantiated */
  bool context_ok;
} host_ctx;

static wg_err roundtrip(wg_host_call *call, uint64_t *stack) {
  host_ctx *h = wg_host_user(call);
  h->calls++;
  memcpy(h->seen, stack, sizeof h->seen);
  h->context_ok = wg_host_store(call) == h->store &&
                  wg_host_instance(call) == h->inst &&
                  wg_host_memory(call) != NULL;
  return WG_OK;              /* results = arguments, slot for slot */
}

static wg_err host_fail(wg_host_call *call, uint64_t *stack) {
  uint32_t how = (uint32_t)stack[0];
  if (how == 1) return wg_host_trap(call, WG_TRAP_HOST, "host says no: %u", how);
  if (how == 2) return WG_TRAP_UNREACHABLE;   /* no message: the engine's */
  return WG_OK;
}

static wg_err sum_mem(wg_host_call *call, uint64_t *stack) {
  uint32_t p = (uint32_t)stack[0], n = (uint32_t)stack[1];
  const uint8_t *b = wg_memory_translate(wg_host_memory(call), p, n);
  if (!b) return wg_host_trap(call, WG_TRAP_MEMORY, NULL);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += b[i];
  stack[0] = sum;
  return WG_OK;
}

static const uint8_t rt_types[4] = {WG_I32, WG_I64, WG_F32, WG_F64};
static const uint8_t i32s[2] = {WG_I32, WG_I32};

static wg_instance *setup_instance(wg_store *s, wg_module *m, host_ctx *h,
                                   wg_func **rt) {
  wg_functype rt_type = {4, 4, rt_types, rt_types};
  wg_functype fail_type = {1, 0, i32s, NULL};
  wg_functype sum_type = {2, 1, i32s, i32s};
  wgt_linker l = {0};
  *rt = wg_func_new_host(s, &rt_type, roundtrip, h);
  wgt_define(&l, "env", "roundtrip", (wg_extern){WG_EXTERN_FUNC, .of.func = *rt});
  wgt_define(&l, "env", "fail", (wg_extern){WG_EXTERN_FUNC,
             .of.func = wg_func_new_host(s, &fail_type, host_fail, NULL)});
  wgt_define(&l, "env", "sum_mem", (wg_extern){WG_EXTERN_FUNC,
             .of.func = wg_func_new_host(s, &sum_type, sum_mem, NULL)});
  h->store = s;
  h->inst = wgt_instantiate(s, m, &l);
  return h->inst;
}

static void check_roundtrip(wg_store *s, wg_func *f, host_ctx *h, bool via_host,
                            uint32_t a, uint64_t b, uint32_t c, uint64_t d) {
  wg_val args[4] = {wgt_i32(a), wgt_i64(b), wgt_f32_bits(c), wgt_f64_bits(d)};
  wg_val res[4];
  memset(res, 0, sizeof res);
  int calls = h->calls;
  assert_int_equal(wg_call(s, f, args, 4, res, 4), WG_OK);
  assert_int_equal(h->calls, calls + 1);
  assert_int_equal((uint32_t)h->seen[0], a);
  assert_int_equal(h->seen[1], b);
  assert_int_equal((uint32_t)h->seen[2], c);
  assert_int_equal(h->seen[3], d);
  if (via_host) assert_true(h->context_ok);
  assert_int_equal(res[0].type, WG_I32);
  assert_int_equal(res[0].of.i32, a);
  assert_int_equal(res[1].type, WG_I64);
  assert_int_equal(res[1].of.i64, b);
  assert_int_equal(res[2].type, WG_F32);
  assert_int_equal(res[2].of.i32, c);
  assert_int_equal(res[3].type, WG_F64);
  assert_int_equal(res[3].of.i64, d);
}

static void test_roundtrip(void **state) {
  wg_module *m = wgt_load_wasm("host.wasm");
  wg_store *s = wg_store_new(NULL);
  host_ctx h = {0};
  wg_func *rt;
  wg_instance *inst = setup_instance(s, m, &h, &rt);
  wg_func *call_rt = wgt_func(inst, "call_rt");
  /* guest -> host -> guest: ordinary values, then NaNs: signalling with a
  ** payload, negative quiet with a payload, and -0.0 */
  check_roundtrip(s, call_rt, &h, true, 0xDEADBEEF, 0x0123456789ABCDEFull,
                  0x3FC00000, 0x400921FB54442D18ull);
  check_roundtrip(s, call_rt, &h, true, 0xFFFFFFFF, 0x8000000000000000ull,
                  0x7FA00001, 0x7FF0000000000001ull);
  check_roundtrip(s, call_rt, &h, true, 0, 0, 0xFFC12345, 0xFFF8000000000123ull);
  check_roundtrip(s, call_rt, &h, true, 1, 1, 0x80000000, 0x8000000000000000ull);
  /* the host function called directly from the host */
  check_roundtrip(s, rt, &h, false, 7, 8, 0x7F800001, 0x7FF4000000000000ull);
  wg_store_free(s);
  wg_module_release(m);
}

static void test_host_trap(void **state) {
  wg_module *m = wgt_load_wasm("host.wasm");
  wg_store *s = wg_store_new(NULL);
  host_ctx h = {0};
  wg_func *rt;
  wg_instance *inst = setup_instance(s, m, &h, &rt);
  wg_func *call_fail = wgt_func(inst, "call_fail");
  wg_val arg = wgt_i32(1), res;
  assert_int_equal(wg_call(s, call_fail, &arg, 1, &res, 1), WG_TRAP_HOST);
  assert_int_equal(wg_store_trap(s)->code, WG_TRAP_HOST);
  assert_string_equal(wg_store_trap(s)->message, "host says no: 1");
  /* a trap code without a message: the engine names the calling function */
  arg = wgt_i32(2);
  assert_int_equal(wg_call(s, call_fail, &arg, 1, &res, 1), WG_TRAP_UNREACHABLE);
  const char *want = "unreachable in function 'caller' (#4) at offset 0x";
  if (strncmp(wg_store_trap(s)->message, want, strlen(want)) != 0)
    fail_msg("message \"%s\"", wg_store_trap(s)->message);
  assert_int_equal(wg_store_trap(s)->func, 4);
  /* the store is fine, and the trap is forgotten by the next call */
  assert_int_equal(wgt_call_i32(s, call_fail, 1, 0), 1);
  assert_int_equal(wg_store_trap(s)->code, WG_OK);
  wg_store_free(s);
  wg_module_release(m);
}

static void test_host_memory(void **state) {
  wg_module *m = wgt_load_wasm("host.wasm");
  wg_store *s = wg_store_new(NULL);
  host_ctx h = {0};
  wg_func *rt;
  wg_instance *inst = setup_instance(s, m, &h, &rt);
  wg_func *call_sum = wgt_func(inst, "call_sum");
  assert_int_equal(wgt_call_i32(s, call_sum, 2, 100, 4), 10);   /* 1+2+3+4 */
  assert_int_equal(wgt_call_i32(s, call_sum, 2, 65535, 1), 0);
  assert_int_equal(wgt_call_i32(s, call_sum, 2, 65536, 0), 0);
  wg_val args[2] = {wgt_i32(65535), wgt_i32(2)}, res;
  assert_int_equal(wg_call(s, call_sum, args, 2, &res, 1), WG_TRAP_MEMORY);
  assert_string_equal(wg_store_trap(s)->message, "out of bounds memory access");
  wg_store_free(s);
  wg_module_release(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_host_trap),
      cmocka_unit_test(test_host_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
