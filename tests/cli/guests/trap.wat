;; trap: functions that trap, and one with typed results for --invoke.
(module
  (func $div (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "_start")
    (drop (call $div (i32.const 1) (i32.const 0))))
  (func (export "mix") (param i64 f32 f64) (result i64 f32 f64)
    (local.get 0) (local.get 1) (local.get 2))
  (global (export "g") i32 (i32.const 7)))
