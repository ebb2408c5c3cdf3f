#!/usr/bin/env python3
"""Issue 7: the cost of process isolation. Starts `wasmgate serve` twice in
one run - executor.isolation: process and thread - uploads a tiny WASI
module (tests/integration/guests/tiny.wasm, or exit7.wasm) and times N
sequential executions over one keep-alive connection per server, then
prints executions/second, p50 and p99 for each and the p50 difference.

  python3 bench/isolation.py [--n 2000] [--build build]

Uses tests/integration/wgtest.py to start servers (standard library only).
Target: process isolation adds under 100 us at p50."""
import argparse
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def bench(mode, n, wasm):
    import wgtest
    s = wgtest.Server("executor:\n  isolation: %s\n  threads: 1\n" % mode)
    s.start()
    try:
        key = s.tenant("bench", requests_per_minute=10 ** 9)
        mid = s.upload(key, wasm)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        body = json.dumps({}).encode()
        hdr = {"Authorization": "Bearer " + key,
               "Content-Type": "application/json"}
        path = "/v1/modules/%s/executions" % mid
        lat = []
        for i in range(n + n // 10):
            t0 = time.perf_counter()
            c.request("POST", path, body=body, headers=hdr)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit("%s: %d" % (mode, r.status))
            if i >= n // 10:                  # the first 10% warm up
                lat.append(time.perf_counter() - t0)
        c.close()
    finally:
        s.cleanup()
    lat.sort()
    return {"eps": len(lat) / sum(lat), "p50": lat[len(lat) // 2] * 1e6,
            "p99": lat[int(len(lat) * 0.99)] * 1e6}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    os.environ.setdefault("WASMGATE", os.path.join(a.build, "src", "cli",
                                                   "wasmgate"))
    guests = os.path.join(a.build, "tests", "integration", "guests")
    os.environ.setdefault("WG_GUESTS", guests)
    os.environ.pop("WG_ISOLATION", None)
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    with open(os.path.join(guests, "tiny.wasm"), "rb") as f:
        wasm = f.read()
    res = {m: bench(m, a.n, wasm) for m in ("thread", "process")}
    print("%-8s %12s %10s %10s" % ("mode", "exec/s", "p50 us", "p99 us"))
    for m, r in res.items():
        print("%-8s %12.0f %10.1f %10.1f" % (m, r["eps"], r["p50"], r["p99"]))
    d = res["process"]["p50"] - res["thread"]["p50"]
    print("process isolation adds %.1f us at p50 (target < 100)" % d)


if __name__ == "__main__":
    main()
