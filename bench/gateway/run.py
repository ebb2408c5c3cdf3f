#!/usr/bin/env python3
"""The gateway benchmark (issue 6, section 8): client -> wasmgate -> fast
upstream against client -> upstream directly, in the same run, at fixed
request rates (open loop, bench/gateway/loadgen.c), then the gateway's RSS
over a long run (a leak check: flat after warm-up).

  python3 bench/gateway/run.py [--build build] [--rates 500,1000,...]
                               [--seconds 5] [--rss-requests 1000000]
                               [--cpu] [--instructions N [--keep DIR]]

The gateway runs with auth (a tenant key), quotas (request and token
limits, the daily budget in the store), guardrails, input and output PII
redaction (the upstream's answer holds an e-mail address), audit (content
redacted) and metrics on. Added latency = gateway percentile - direct
percentile at the same rate; "sustained" = at least 95% of the asked rate
achieved with no errors. Prints a table and one JSON summary line.

--cpu adds, per rate, the CPU time (user + system, from /proc) that the
gateway and the upstream used per request during the gateway runs: a
figure that holds up better than latency on a shared machine.

--instructions N runs the gateway and the upstream under callgrind
instead and prints the instructions a request of each (exact and
repeatable, user space only): the figure to compare two builds by on a
noisy machine.

A second line per rate is a diagnostic, not the result: the p99 outside
the machine's stall windows. A stall window is a 10 ms slot (by scheduled
time) holding a request slower than STALL_US; it and the slots from 10 ms
before to 30 ms after are left out. On a VM whose vCPUs are taken away for
milliseconds (bench/gateway/hiccup shows it) this tells the gateway's own
tail from the machine's; the headline figures above it include everything.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ADMIN = "bench-admin-key-0123456789abcdef"
BODY = {"model": "bench", "max_tokens": 32, "messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say hello to me, please. My e-mail is "
                                "ann@example.com."}]}


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http(port, method, path, body=None, key=ADMIN):
    req = urllib.request.Request(
        "http://127.0.0.1:%d%s" % (port, path), method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer " + key,
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def cpu_s(pid):
    """User + system CPU seconds of process pid (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STALL_US = 2500
SLOT_US = 10000


def stall_stats(path):
    """Stall windows in a loadgen trace and the p99 outside them."""
    rows = []
    with open(path) as f:
        for line in f:
            t, lat = line.split()
            rows.append((int(t) // SLOT_US, int(lat)))
    bad = set()
    for slot, lat in rows:
        if lat > STALL_US:
            bad.update(range(slot - 1, slot + 3))
    rest = sorted(lat for slot, lat in rows if slot not in bad)
    windows = len({slot for slot, lat in rows if lat > STALL_US})
    return {"stall_windows": windows,
            "outside_pct": 100.0 * len(rest) / max(1, len(rows)),
            "p99_outside_us": rest[int((len(rest) - 1) * 0.99)] if rest
            else 0}


def median_run(runs):
    """Per-field medians of several loadgen results (errors: the sum)."""
    out = {}
    for k in runs[0]:
        v = sorted(r[k] for r in runs)
        out[k] = sum(v) if k == "errors" else v[len(v) // 2]
    return out


class Bench:
    def __init__(self, a):
        self.a = a
        gw = os.path.join(a.build, "bench", "gateway")
        self.loadgen = os.path.join(gw, "loadgen")
        self.upstream_bin = os.path.join(gw, "upstream")
        self.wasmgate = os.path.join(a.build, "src", "cli", "wasmgate")
        self.tmp = tempfile.mkdtemp(prefix="wg-gwbench-")
        self.procs = []
        self.wrap = lambda name: []     # a command to run each server under

    def start(self):
        up = subprocess.Popen(self.wrap("upstream") + [self.upstream_bin, "0"],
                              stdout=subprocess.PIPE, text=True)
        self.procs.append(up)
        self.up_port = int(up.stdout.readline().split()[1])
        cfg = os.path.join(self.tmp, "config.yaml")
        threads = ("  threads: %d\n" % self.a.http_threads
                   if self.a.http_threads else "")
        with open(cfg, "w") as f:
            f.write("""server:
%s  max_connections: 10000
  max_connections_per_ip: 10000
models:
  - name: bench
    base_url: http://127.0.0.1:%d/v1
    upstream_model: bench
    max_retries: 0
gateway:
  event_threads: %d
  audit_content: redacted
  guard:
    redact_input: true
    redact_output: true
""" % (threads, self.up_port, self.a.event_threads))
        env = dict(os.environ, WASMGATE_ADMIN_KEY=ADMIN)
        self.gw = subprocess.Popen(
            self.wrap("wasmgate") + [self.wasmgate, "serve", "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.tmp, "data"), "--config", cfg],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=env)
        self.procs.append(self.gw)
        for line in self.gw.stderr:
            if "listening on http://" in line:
                self.gw_port = int(line.split("http://", 1)[1].split()[0]
                                   .rsplit(":", 1)[1])
                break
        threading.Thread(target=lambda: [None for _ in self.gw.stderr],
                         daemon=True).start()
        big = 10 ** 12
        http(self.gw_port, "POST", "/v1/admin/tenants", {
            "id": "bench", "quotas": {
                "requests_per_minute": big,
                "gateway_tokens_per_minute": big,
                "gateway_tokens_per_day": big}})
        self.key = http(self.gw_port, "POST",
                        "/v1/admin/tenants/bench/keys")["key"]
        self.body = os.path.join(self.tmp, "body.json")
        with open(self.body, "w") as f:
            json.dump(BODY, f)

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def load(self, port, rate, count, key=None):
        args = [self.loadgen, str(port), "/v1/chat/completions", self.body,
                str(rate), str(count), str(self.a.conns)]
        if key:
            args.append("Authorization: Bearer " + key)
        g0, u0 = cpu_s(self.gw.pid), cpu_s(self.procs[0].pid)
        trace = os.path.join(self.tmp, "trace.txt")
        out = subprocess.run(args, capture_output=True, text=True,
                             check=True, env=dict(os.environ,
                                                  LOADGEN_TRACE=trace)).stdout
        res = json.loads(out)
        res.update(stall_stats(trace))
        n = max(1, res["done"])
        res["gateway_cpu_us"] = (cpu_s(self.gw.pid) - g0) * 1e6 / n
        res["upstream_cpu_us"] = (cpu_s(self.procs[0].pid) - u0) * 1e6 / n
        return res

    def rates(self):
        rows = []
        for rate in self.a.rates:
            n = max(200, int(rate * self.a.seconds))
            self.load(self.up_port, rate, min(n, 2000))      # warm
            self.load(self.gw_port, rate, min(n, 2000), self.key)
            ds, gs = [], []
            for _ in range(self.a.rounds):      # alternate: same noise
                ds.append(self.load(self.up_port, rate, n))
                gs.append(self.load(self.gw_port, rate, n, self.key))
            d, g = median_run(ds), median_run(gs)
            ok = (g["errors"] == 0 and d["errors"] == 0 and
                  g["rate"] >= 0.95 * rate and d["rate"] >= 0.95 * rate)
            rows.append({"rate": rate, "direct": d, "gateway": g,
                         "sustained": ok,
                         "added_p50_us": g["p50_us"] - d["p50_us"],
                         "added_p99_us": g["p99_us"] - d["p99_us"]})
            print("%6d req/s  direct %7.0f/s p50 %6d p99 %7d us | gateway "
                  "%7.0f/s p50 %6d p99 %7d us | added p50 %6d p99 %7d us"
                  " | p99 ratio %.2f%s" % (
                      rate, d["rate"], d["p50_us"], d["p99_us"], g["rate"],
                      g["p50_us"], g["p99_us"], rows[-1]["added_p50_us"],
                      rows[-1]["added_p99_us"],
                      g["p99_us"] / max(1, d["p99_us"]),
                      "" if ok else "  (not sustained)"), flush=True)
            rows[-1]["added_p99_outside_stalls_us"] = (
                g["p99_outside_us"] - d["p99_outside_us"])
            print("%6s         outside stall windows (diagnostic): direct p99 "
                  "%d us (%d windows, %.1f%% kept), gateway p99 %d us (%d "
                  "windows, %.1f%% kept), added %d us" % (
                      "", d["p99_outside_us"], d["stall_windows"],
                      d["outside_pct"], g["p99_outside_us"],
                      g["stall_windows"], g["outside_pct"],
                      rows[-1]["added_p99_outside_stalls_us"]), flush=True)
            if self.a.cpu:
                print("%6s         CPU per request in the gateway runs: "
                      "gateway %.1f us, upstream %.1f us (direct runs: "
                      "upstream %.1f us)" % (
                          "", g["gateway_cpu_us"], g["upstream_cpu_us"],
                          d["upstream_cpu_us"]), flush=True)
        return rows

    def rss(self, rate, count):
        samples = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append((time.time(), rss_kb(self.gw.pid)))
                done.wait(1.0)
        t = threading.Thread(target=sample, daemon=True)
        t0 = time.time()
        t.start()
        res = self.load(self.gw_port, rate, count, self.key)
        done.set()
        t.join()
        samples.append((time.time(), rss_kb(self.gw.pid)))
        dur = samples[-1][0] - t0
        warm = [s for s in samples if s[0] - t0 >= 0.1 * dur]
        start_kb = warm[0][1] if warm else samples[0][1]
        end_kb = samples[-1][1]
        return {"rate": rate, "requests": count, "result": res,
                "rss_first_kb": samples[0][1], "rss_after_warmup_kb": start_kb,
                "rss_end_kb": end_kb,
                "rss_max_kb": max(s[1] for s in samples),
                "growth_after_warmup_kb": end_kb - start_kb}


def callgrind_total(path):
    """The instruction count in a callgrind dump."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no total in " + path)


def instructions(a, n):
    """Instructions a request, counted by callgrind (exact and repeatable,
    whatever else the machine is doing): the gateway's, and the upstream's
    as the baseline, both run under callgrind at a low rate."""
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit("--instructions needs %s (Debian package valgrind)" %
                     tool)
    b = Bench(a)
    b.wrap = lambda name: [
        "valgrind", "--tool=callgrind", "--log-file=%s/%s.vg" % (b.tmp, name),
        "--callgrind-out-file=%s/%s.cg" % (b.tmp, name)]
    rate = 200                  # what callgrind keeps up with

    def measure(port, key=None):
        for p in b.procs:
            subprocess.run(["callgrind_control", "-z", str(p.pid)],
                           check=True, capture_output=True)
        b.load(port, rate, n, key)
        counts = []
        for p, name in zip(b.procs, ("upstream", "wasmgate")):
            out = os.path.join(b.tmp, name + ".cg")
            for old in [f for f in os.listdir(b.tmp)
                        if f.startswith(name + ".cg")]:
                os.remove(os.path.join(b.tmp, old))
            subprocess.run(["callgrind_control", "-d", str(p.pid)],
                           check=True, capture_output=True)
            dumps = sorted(f for f in os.listdir(b.tmp)
                           if f.startswith(name + ".cg"))
            counts.append(callgrind_total(os.path.join(b.tmp, dumps[-1])))
        if a.keep:
            os.makedirs(a.keep, exist_ok=True)
            for name in ("upstream", "wasmgate"):
                last = sorted(f for f in os.listdir(b.tmp)
                              if f.startswith(name + ".cg"))[-1]
                shutil.copy(os.path.join(b.tmp, last),
                            os.path.join(a.keep, "%s-%d.cg" % (
                                name, port)))
        return [c / n for c in counts]

    try:
        b.start()
        b.load(b.gw_port, rate, 300, b.key)         # warm
        up_gw, gw = measure(b.gw_port, b.key)
        up_direct, _ = measure(b.up_port)
        print("instructions a request (callgrind, %d requests at %d req/s): "
              "gateway %.0fk; upstream %.1fk in the gateway runs, %.1fk "
              "direct; gateway / upstream %.1fx" % (
                  n, rate, gw / 1e3, up_gw / 1e3, up_direct / 1e3,
                  gw / max(1.0, up_direct)), flush=True)
        print(json.dumps({"instructions": {
            "requests": n, "gateway": gw, "upstream_gateway_runs": up_gw,
            "upstream_direct": up_direct}}))
    finally:
        b.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rates", default="500,1000,2000,3000,4000,5000")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating direct/gateway runs per rate "
                         "(medians are reported)")
    ap.add_argument("--http-threads", type=int, default=0,
                    help="server.threads (0: not set: the gateway's "
                         "event_threads loops serve HTTP)")
    ap.add_argument("--event-threads", type=int, default=1)
    ap.add_argument("--rss-requests", type=int, default=1000000)
    ap.add_argument("--cpu", action="store_true",
                    help="print CPU time per request of the gateway and "
                         "the upstream")
    ap.add_argument("--rss-rate", type=int, default=0,
                    help="0: the highest sustained rate")
    ap.add_argument("--instructions", type=int, default=0, metavar="N",
                    help="instead: instructions a request of the gateway "
                         "and the upstream over N requests (callgrind)")
    ap.add_argument("--keep", metavar="DIR",
                    help="with --instructions: copy the callgrind dumps "
                         "to DIR (for callgrind_annotate)")
    a = ap.parse_args()
    a.rates = [int(x) for x in a.rates.split(",")]
    if a.instructions:
        return instructions(a, a.instructions)
    b = Bench(a)
    try:
        b.start()
        print("upstream :%d, wasmgate :%d (pid %d), %d connections, "
              "server.threads %s, gateway.event_threads %d, %d CPUs, "
              "load average %s" % (
                  b.up_port, b.gw_port, b.gw.pid, a.conns,
                  a.http_threads or "default",
                  a.event_threads, os.cpu_count(),
                  " ".join("%.1f" % x for x in os.getloadavg())), flush=True)
        rows = b.rates()
        best = max([r["rate"] for r in rows if r["sustained"]] or
                   [a.rates[0]])
        summary = {"rates": rows, "highest_sustained": best,
                   "loadavg": os.getloadavg()}
        if a.rss_requests:
            rate = a.rss_rate or best
            print("RSS over %d requests at %d req/s ..." % (
                a.rss_requests, rate), flush=True)
            r = b.rss(rate, a.rss_requests)
            summary["rss"] = r
            print("RSS: first %d KiB, after warm-up %d KiB, end %d KiB, max "
                  "%d KiB (growth after warm-up %+d KiB); %d ok, %d errors, "
                  "%.0f req/s" % (
                      r["rss_first_kb"], r["rss_after_warmup_kb"],
                      r["rss_end_kb"], r["rss_max_kb"],
                      r["growth_after_warmup_kb"], r["result"]["ok"],
                      r["result"]["errors"], r["result"]["rate"]),
                  flush=True)
        print(json.dumps(summary))
    finally:
        b.stop()


if __name__ == "__main__":
    sys.exit(main())
