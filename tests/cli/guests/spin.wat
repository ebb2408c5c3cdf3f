;; spin: a command whose _start loops forever (no imports).
(module
  (func (export "_start")
    (loop $l (br $l))))
