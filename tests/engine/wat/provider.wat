;; Exports a memory, a table, a global and functions for linking tests.
(module
  (memory (export "mem") 1 4)
  (table $tab (export "tab") 3 funcref)
  (global (export "g") (mut i32) (i32.const 5))
  (global (export "k") i64 (i64.const 9))
  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (elem (i32.const 0) $add)
  (func (export "peek") (param i32) (result i32)
    (i32.load8_u (local.get 0)))
  (func (export "is_null") (param i32) (result i32)
    (ref.is_null (table.get $tab (local.get 0))))
)
