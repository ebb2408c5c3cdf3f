;; The second data segment is out of bounds of the imported 1-page memory:
;; instantiation traps after the first one has been written.
(module
  (import "p" "mem" (memory 1))
  (data (i32.const 0) "hello")
  (data (i32.const 65534) "xyz"))
