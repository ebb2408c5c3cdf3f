#!/usr/bin/env python3
"""Policy decisions: wasmgate's evaluator (the interpreter, and the AOT
tier: wasm2c + cc -O2) against the official OPA JavaScript SDK
(@open-policy-agent/opa-wasm 1.10.0, Node 20), rbac.wasm (abi-1.3,
app/rbac/allow) with the README's data, same inputs, same run. The AOT
object is cached in BUILD_DIR/bench-aot-cache (its build is not timed).
Usage: bench/policy_bench.py [BUILD_DIR] [N]"""
import json, os, shutil, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build")
n = sys.argv[2] if len(sys.argv) > 2 else "200000"
shared = os.environ.get("WG_SHARED_DIR", os.path.join(HERE, "..", "..", "shared"))
wasm = os.path.join(shared, "opa-policies", "abi-1.3", "rbac.wasm")
data = {"user_roles": {"alice": ["admin"], "bob": ["employee", "billing"], "eve": ["customer"]},
        "role_grants": {"customer": [{"action": "read", "type": "dog"}, {"action": "read", "type": "cat"},
                                     {"action": "adopt", "type": "dog"}, {"action": "adopt", "type": "cat"}],
                        "employee": [{"action": "read", "type": "dog"}, {"action": "read", "type": "cat"},
                                     {"action": "update", "type": "dog"}, {"action": "update", "type": "cat"}],
                        "billing": [{"action": "read", "type": "finance"}, {"action": "update", "type": "finance"}]}}
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    json.dump(data, f)
rows = []
rbac = os.path.join(build, "bench", "policy_rbac")
rows.append(json.loads(subprocess.check_output([rbac, wasm, f.name, n])))
if shutil.which("wasm2c"):
    cache = os.path.join(build, "bench-aot-cache")
    rows.append(json.loads(subprocess.check_output([rbac, wasm, f.name, n, cache])))
else:
    print("wasm2c not found (package wabt): no AOT column", file=sys.stderr)
js = os.path.join(HERE, "opa-js")
if os.path.isdir(os.path.join(js, "node_modules")):
    rows.append(json.loads(subprocess.check_output(
        ["node", os.path.join(js, "bench.mjs"), wasm, f.name, n], cwd=js)))
else:
    print("opa-js not installed (run tools/setup.sh)", file=sys.stderr)
os.unlink(f.name)
print("%-22s %12s %10s %10s %10s" % ("impl", "decisions/s", "mean us", "p50 us", "p99 us"))
for r in rows:
    print("%-22s %12d %10.2f %10.2f %10.2f" % (r["impl"], r["per_sec"], r["mean_us"], r["p50_us"], r["p99_us"]))
by = {r["impl"].split("@")[0]: r for r in rows}
js = by.get("opa-wasm-js")
if js:
    for k in ("wasmgate", "wasmgate-aot"):
        if k in by:
            print("%s speed / JS SDK's: %.2fx (mean), %.2fx (p50)" % (
                k, js["mean_us"] / by[k]["mean_us"], js["p50_us"] / by[k]["p50_us"]))
