;; Loops for the fuel, interrupt and call-signature tests.
(module
  ;; Never returns: only fuel or an interrupt stops it.
  (func (export "spin")
    (loop $l (br $l)))

  ;; Counts from 0 up to n, one loop iteration per step; returns n.
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i))

  ;; A function that calls itself forever.
  (func $forever (export "forever")
    (call $forever))

  ;; Mixed parameter types, for call-signature checks: a + b + c + d, as i64.
  (func (export "mix") (param i32 i64 f32 f64) (result i64)
    (i64.add
      (i64.add (i64.extend_i32_u (local.get 0)) (local.get 1))
      (i64.add (i64.trunc_f32_s (local.get 2)) (i64.trunc_f64_s (local.get 3)))))
)
