;; A module with every section (custom "name" too, from --debug-names), for
;; the fault-injection and allocation-accounting tests. Imports: env.host
;; (func [i32] -> [i32]), env.g (global i32), env.tab (table 2 funcref).
(module
  (type $bin (func (param i32 i32) (result i32)))
  (import "env" "host" (func $host (param i32) (result i32)))
  (import "env" "g" (global $gi i32))
  (import "env" "tab" (table 2 funcref))
  (table $t 4 funcref)
  (memory (export "mem") 1 2)
  (global $g (mut i32) (global.get $gi))
  (global $h i64 (i64.const 7))
  (export "run" (func $run))
  (export "g" (global $g))
  (export "t" (table $t))
  (start $init)
  (elem (table $t) (i32.const 0) func $add $mul)
  (elem $pe funcref (ref.func $add) (ref.null func))
  (elem declare func $mul)
  (data (i32.const 16) "abc")
  (data $pd "passive data")

  ;; g := gi + 1
  (func $init
    (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $mul (type $bin) (i32.mul (local.get 0) (local.get 1)))

  ;; run(x) = x * host(g) + mem[16] + mem[100] + h, after copying passive
  ;; data to 100 and passive elements to table slots 2..3.
  (func $run (param $x i32) (result i32)
    (local i64 f32 f64)
    (memory.init $pd (i32.const 100) (i32.const 0) (i32.const 4))
    (table.init $t $pe (i32.const 2) (i32.const 0) (i32.const 2))
    (drop (ref.func $mul))
    (i32.add
      (i32.add
        (call_indirect $t (type $bin)
          (local.get $x) (call $host (global.get $g)) (i32.const 1))
        (i32.add (i32.load8_u (i32.const 16)) (i32.load8_u (i32.const 100))))
      (i32.wrap_i64 (global.get $h))))
)
