;; Recursion for the call-depth tests.
(module
  ;; rec(n) = n, computed with n nested calls.
  (func $rec (export "rec") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1)
                     (call $rec (i32.sub (local.get $n) (i32.const 1)))))))

  ;; Calls itself forever.
  (func $forever (export "forever")
    (call $forever))

  ;; Recursion with a large frame (many locals and operands per call).
  (func $wide (export "wide") (param $n i32) (result i64)
    (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else (i64.add (i64.const 1)
                     (call $wide (i32.sub (local.get $n) (i32.const 1)))))))

  (func (export "seven") (result i32) (i32.const 7))
)
