;; table.grow against the store's limit and the declared maximum.
(module
  (table $t (export "tab") 1 100 funcref)
  (func (export "grow") (param i32) (result i32)
    (table.grow $t (ref.null func) (local.get 0)))
  (func (export "size") (result i32)
    (table.size $t))
)
