;; memory.grow against the store's limit and the declared maximum.
(module
  (memory (export "mem") 1 3)
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "size") (result i32)
    (memory.size))
  ;; Stores a byte at the last address of the current memory.
  (func (export "poke_last") (param i32)
    (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1))
                (local.get 0)))
)
