;; mem: memory.grow from the command line. "grow" returns what memory.grow
;; gives (the old size in pages, or -1); "pages" the current size. One page
;; to start with, no maximum declared. No _start.
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  (func (export "pages") (result i32)
    (memory.size))
  (func (export "grow_twice") (param i32) (result i32 i32)
    (memory.grow (local.get 0))
    (memory.grow (local.get 0))))
