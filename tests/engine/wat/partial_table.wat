;; The second element segment is out of bounds of the imported 3-entry
;; table: instantiation traps after the first one has been written.
(module
  (import "p" "tab" (table 3 funcref))
  (func $f)
  (elem (i32.const 1) $f)
  (elem (i32.const 2) $f $f))
