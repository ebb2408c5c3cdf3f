;; Imports a function nobody provides: valid, but cannot be instantiated.
(module
  (import "env" "missing" (func))
  (func (export "_start") (call 0)))
