#!/usr/bin/env python3
"""Load benchmark of `wasmgate serve` with wrk (Debian package wrk).

Starts the server on a random loopback port with a fresh data directory,
creates a tenant (auth, quotas and the audit log are always on), uploads the
trivial module tests/integration/guests/tiny.wat (it writes "ok\\n"), then
runs wrk against

  GET  /healthz                               no auth, no audit
  POST /v1/modules/{id}/executions            tenant key, rate limit,
                                              concurrency slot, executor
                                              pool, scratch dir, record,
                                              audit line

and prints requests/s with p50 and p99 latency for each.

  python3 bench/serve/bench_serve.py [--wasmgate PATH] [--duration 10]
      [--connections 16] [--threads 2] [--scratch DIR] [--config FILE]

Not run by ctest. Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ADMIN = "wg-admin-bench-" + os.urandom(8).hex()


def request(port, method, path, body=None, key=None, ctype=None):
    h = {}
    if key:
        h["Authorization"] = "Bearer " + key
    if ctype:
        h["Content-Type"] = ctype
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def start(wasmgate, tmp, config):
    args = [wasmgate, "serve", "--listen", "127.0.0.1:0", "--data-dir",
            os.path.join(tmp, "data"), "--config", config]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, WASMGATE_ADMIN_KEY=ADMIN))
    line = p.stderr.readline()
    m = re.search(r"http://[^ ]+:(\d+) ", line)
    if not m:
        p.kill()
        sys.exit("bench: server did not start: " + line)
    port = int(m.group(1))
    for _ in range(200):
        try:
            if request(port, "GET", "/readyz")[0] == 200:
                return p, port
        except OSError:
            pass
        time.sleep(0.02)
    p.kill()
    sys.exit("bench: server never ready")


def wrk(url, args, script=None):
    cmd = ["wrk", "-t%d" % args.threads, "-c%d" % args.connections,
           "-d%ds" % args.duration, "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(rps.group(1)) if rps else 0.0,
            "p50": lat.get("50", "?"), "p99": lat.get("99", "?"),
            "non2xx": int(errors.group(1)) if errors else 0, "raw": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wasmgate", default=os.environ.get("WASMGATE") or
                    os.path.join(ROOT, "build", "src", "cli", "wasmgate"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scratch", default="/dev/shm" if os.path.isdir(
        "/dev/shm") else "", help="parent of the scratch directory")
    ap.add_argument("--config", help="a YAML file to use instead")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench: wrk not found (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="wgbench-")
    scratch_root = None
    try:
        wasm = os.path.join(tmp, "tiny.wasm")
        subprocess.run(["wat2wasm", os.path.join(
            ROOT, "tests", "integration", "guests", "tiny.wat"), "-o", wasm],
            check=True)
        config = args.config
        if not config:
            config = os.path.join(tmp, "config.yaml")
            with open(config, "w") as f:
                if args.scratch:
                    scratch_root = tempfile.mkdtemp(prefix="wgbench-",
                                                    dir=args.scratch)
                    f.write("executor:\n  scratch_dir: %s\n" % scratch_root)
        proc, port = start(args.wasmgate, tmp, config)
        try:
            st, body = request(port, "POST", "/v1/admin/tenants", json.dumps(
                {"id": "bench", "quotas": {"requests_per_minute": 10 ** 12,
                                           "concurrent_executions": 10000}}),
                ADMIN, "application/json")
            assert st == 201, body
            st, body = request(port, "POST", "/v1/admin/tenants/bench/keys",
                               None, ADMIN)
            key = json.loads(body)["key"]
            with open(wasm, "rb") as f:
                st, body = request(port, "POST", "/v1/modules", f.read(), key,
                                   "application/wasm")
            mid = json.loads(body)["id"]
            spec = json.dumps({"limits": {"timeout_ms": 1000}})
            st, body = request(port, "POST", "/v1/modules/%s/executions" % mid,
                               spec, key, "application/json")
            assert st == 200 and json.loads(body)["stdout"] == "ok\n", body
            lua = os.path.join(tmp, "exec.lua")
            with open(lua, "w") as f:
                f.write('wrk.method = "POST"\nwrk.body = %s\n'
                        'wrk.headers["Content-Type"] = "application/json"\n'
                        'wrk.headers["Authorization"] = "Bearer %s"\n'
                        % (json.dumps(spec), key))
            base = "http://127.0.0.1:%d" % port
            results = [
                ("GET /healthz", wrk(base + "/healthz", args)),
                ("POST executions (tiny module)",
                 wrk(base + "/v1/modules/%s/executions" % mid, args, lua)),
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        print("wasmgate serve, wrk -t%d -c%d -d%ds, %d CPUs" % (
            args.threads, args.connections, args.duration, os.cpu_count()))
        print("%-32s %12s %10s %10s %8s" % ("route", "requests/s", "p50",
                                             "p99", "non-2xx"))
        for name, r in results:
            print("%-32s %12.0f %10s %10s %8d" % (name, r["rps"], r["p50"],
                                                   r["p99"], r["non2xx"]))
            if args.verbose:
                print(r["raw"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if scratch_root:
            shutil.rmtree(scratch_root, ignore_errors=True)


if __name__ == "__main__":
    main()
