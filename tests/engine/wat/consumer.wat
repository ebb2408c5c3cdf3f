;; Imports everything provider.wat exports and uses it.
(module
  (import "p" "mem" (memory 1))
  (import "p" "tab" (table 2 funcref))
  (import "p" "g" (global $g (mut i32)))
  (import "p" "k" (global $k i64))
  (import "p" "add" (func $add (param i32 i32) (result i32)))
  (type $bin (func (param i32 i32) (result i32)))

  ;; Writes 42 at address 10 of the shared memory, bumps the shared global,
  ;; and calls add(20, 22) through the shared table: returns 42.
  (func (export "run") (result i32)
    (i32.store8 (i32.const 10) (i32.const 42))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (call_indirect (type $bin) (i32.const 20) (i32.const 22) (i32.const 0)))

  ;; Calls the imported function directly: add(1, k) = 10.
  (func (export "direct") (result i32)
    (call $add (i32.const 1) (i32.wrap_i64 (global.get $k))))
)
