;; A hand-written policy with the OPA Wasm ABI's context API (no ABI
;; version globals, so the evaluator uses opa_eval_ctx_*), for the gate
;; tests: its values are JSON texts (NUL-terminated) and its one
;; entrypoint "gate" answers
;;   input containing "tenant":"trapper"   -> traps (unreachable)
;;   input containing "tenant":"blocked"   -> {"allow":false,"reasons":
;;                                             ["tenant blocked by gate"]}
;;   input containing "type":"pii"         -> {"allow":false,"reasons":
;;                                             ["personal data in the prompt"]}
;;   anything else                          -> the data document (set by the
;;                                             bundle's data.json)
;; as OPA's result set, [{"result": ...}].
(module
  (memory (export "memory") 16)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{\"gate\":0}\00")
  (data (i32.const 64) "{}\00")
  (data (i32.const 128) "\"tenant\":\"blocked\"\00")
  (data (i32.const 192) "\"tenant\":\"trapper\"\00")
  (data (i32.const 256) "\"type\":\"pii\"\00")
  (data (i32.const 320)
    "[{\"result\":{\"allow\":false,\"reasons\":[\"tenant blocked by gate\"]}}]\00")
  (data (i32.const 512)
    "[{\"result\":{\"allow\":false,\"reasons\":[\"personal data in the prompt\"]}}]\00")
  (data (i32.const 704) "[{\"result\":\00")
  (data (i32.const 720) "}]\00")

  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 8))
               (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.const 1048576)) (then unreachable))
    (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 0))
    (local.get $p))
  (func (export "opa_json_parse") (param $a i32) (param $n i32) (result i32)
    (local.get $a))
  (func (export "opa_json_dump") (param $v i32) (result i32) (local.get $v))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param $p i32) (global.set $heap (local.get $p)))
  (func (export "builtins") (result i32) (i32.const 64))
  (func (export "entrypoints") (result i32) (i32.const 16))

  ;; ctx: +0 input, +4 data, +8 entrypoint, +12 result
  (func (export "opa_eval_ctx_new") (result i32)
    (local $c i32)
    (local.set $c (call $malloc (i32.const 16)))
    (i64.store (local.get $c) (i64.const 0))
    (i64.store offset=8 (local.get $c) (i64.const 0))
    (local.get $c))
  (func (export "opa_eval_ctx_set_input") (param $c i32) (param $v i32)
    (i32.store (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_data") (param $c i32) (param $v i32)
    (i32.store offset=4 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_entrypoint") (param $c i32) (param $e i32)
    (i32.store offset=8 (local.get $c) (local.get $e)))
  (func (export "opa_eval_ctx_get_result") (param $c i32) (result i32)
    (i32.load offset=12 (local.get $c)))

  ;; Whether the NUL-terminated $hay contains the NUL-terminated $needle.
  (func $contains (param $hay i32) (param $needle i32) (result i32)
    (local $i i32) (local $j i32)
    (block $no
      (loop $outer
        (br_if $no (i32.eqz (i32.load8_u (local.get $hay))))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eqz (i32.load8_u (i32.add (local.get $needle) (local.get $j))))
              (then (return (i32.const 1))))
            (br_if $mismatch
              (i32.ne (i32.load8_u (i32.add (local.get $hay) (local.get $j)))
                      (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $hay (i32.add (local.get $hay) (i32.const 1)))
        (br $outer)))
    (i32.const 0))

  (func $strlen (param $s i32) (result i32)
    (local $n i32)
    (block $end
      (loop $next
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $s) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; [{"result":DATA}] in a new block.
  (func $wrap (param $v i32) (result i32)
    (local $n i32) (local $out i32)
    (local.set $n (call $strlen (local.get $v)))
    (local.set $out (call $malloc (i32.add (local.get $n) (i32.const 13))))
    (memory.copy (local.get $out) (i32.const 704) (i32.const 11))
    (memory.copy (i32.add (local.get $out) (i32.const 11)) (local.get $v)
                 (local.get $n))
    (memory.copy (i32.add (local.get $out) (i32.add (local.get $n) (i32.const 11)))
                 (i32.const 720) (i32.const 3))
    (local.get $out))

  (func (export "eval") (param $c i32) (result i32)
    (local $in i32)
    (local.set $in (i32.load (local.get $c)))
    (i32.store offset=12 (local.get $c)
               (call $wrap (i32.load offset=4 (local.get $c))))
    (if (local.get $in)
      (then
        (if (call $contains (local.get $in) (i32.const 192)) (then unreachable))
        (if (call $contains (local.get $in) (i32.const 128))
          (then (i32.store offset=12 (local.get $c) (i32.const 320))))
        (if (call $contains (local.get $in) (i32.const 256))
          (then (i32.store offset=12 (local.get $c) (i32.const 512))))))
    (i32.const 0)))
