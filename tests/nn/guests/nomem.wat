;; Calls compute with no memory: the host function traps, as in WasmEdge.
(module
  (import "wasi_ephemeral_nn" "compute" (func $compute (param i32) (result i32)))
  (func (export "compute") (param i32) (result i32) local.get 0 call $compute))
