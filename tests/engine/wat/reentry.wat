;; Host re-entry: down(n) calls the host import env.back(n + 1), which calls
;; down again through wg_call (or stops, depending on the test's host).
(module
  (import "env" "back" (func $back (param i32) (result i32)))
  (func $down (export "down") (param i32) (result i32)
    (call $back (i32.add (local.get 0) (i32.const 1)))))
