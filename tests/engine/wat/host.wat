;; Calls host functions: value round trips, traps, memory access.
(module
  (import "env" "roundtrip"
    (func $rt (param i32 i64 f32 f64) (result i32 i64 f32 f64)))
  (import "env" "fail" (func $fail (param i32)))
  (import "env" "sum_mem" (func $sum_mem (param i32 i32) (result i32)))
  (memory (export "mem") 1)
  (data (i32.const 100) "\01\02\03\04")

  ;; Passes its arguments to the host and returns what the host returns.
  (func (export "call_rt") (param i32 i64 f32 f64) (result i32 i64 f32 f64)
    (call $rt (local.get 0) (local.get 1) (local.get 2) (local.get 3)))

  ;; Calls the failing host function; returns 1 if it comes back.
  (func $caller (export "call_fail") (param i32) (result i32)
    (call $fail (local.get 0))
    (i32.const 1))

  ;; Asks the host to sum guest memory bytes [p, p + n).
  (func (export "call_sum") (param i32 i32) (result i32)
    (call $sum_mem (local.get 0) (local.get 1)))
)
