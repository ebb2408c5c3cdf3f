// Decisions per second and p99 of rbac.wasm (app/rbac/allow) on the
// official OPA JavaScript SDK, the same inputs as bench/policy_rbac.c.
// Usage: node bench.mjs POLICY.wasm DATA.json N
import { readFileSync } from "node:fs";
import { loadPolicy } from "@open-policy-agent/opa-wasm";

const [wasmPath, dataPath, nArg] = process.argv.slice(2);
const n = Number(nArg || 200000);
const policy = await loadPolicy(readFileSync(wasmPath));
policy.setData(JSON.parse(readFileSync(dataPath, "utf8")));
const inputs = [
  { user: "alice", action: "delete", type: "dog" },
  { user: "bob", action: "update", type: "finance" },
  { user: "eve", action: "update", type: "dog" },
];
for (let i = 0; i < 20000; i++) policy.evaluate(inputs[i % 3], "app/rbac/allow");
const lat = new Float64Array(n);
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const a = process.hrtime.bigint();
  policy.evaluate(inputs[i % 3], "app/rbac/allow");
  lat[i] = Number(process.hrtime.bigint() - a);
}
const total = Number(process.hrtime.bigint() - t0);
lat.sort();
console.log(JSON.stringify({ impl: "opa-wasm-js@1.10.0", n,
  per_sec: Math.round(n / (total / 1e9)), mean_us: total / n / 1e3,
  p50_us: lat[Math.floor(n * 0.5)] / 1e3, p99_us: lat[Math.floor(n * 0.99)] / 1e3 }));
