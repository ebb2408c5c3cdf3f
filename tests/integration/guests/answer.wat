;; No imports; exports "answer" () -> i32 returning 42, and "boom" which
;; traps.
(module
  (func (export "answer") (result i32) (i32.const 42))
  (func (export "boom") unreachable))
