;; State per instance (a global and memory), for the threads test.
(module
  (global $n (mut i32) (i32.const 0))
  (memory 1)
  ;; n += x; mem[0] += 1; returns n + 1000 * mem[0].
  (func (export "bump") (param $x i32) (result i32)
    (global.set $n (i32.add (global.get $n) (local.get $x)))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (i32.add (global.get $n) (i32.mul (i32.load (i32.const 0)) (i32.const 1000))))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
)
