#!/usr/bin/env python3
"""Local inference: the gateway's `local` provider against a plain C
program on llama.h (llama_direct), in the same run, rounds interleaved.

For each model (the tests' tiny model, 2 layers n_embd 64, and a larger
synthetic one made on the fly, 2 layers n_embd 512, both f32 random
weights; --model adds any GGUF), and each round:
  direct   build/bench/llm/llama_direct: prompt, then TOKENS greedy tokens
           with end of generation masked, one llama_decode per token;
  gateway  `wasmgate serve --config` with the model as a local
           deployment: streaming POST /v1/chat/completions with
           temperature 0, ignore_eos (the same work), one of max_tokens 1
           (its whole time is the time to first token, HTTP included) and
           one of max_tokens TOKENS; tokens/s = (TOKENS - 1) / the
           difference.
Both use the same chat template, message and thread count. Reported:
median tokens/s after the first token (wall clock, "t/s", and per CPU
second of the whole process, "t/cs": on a shared, loaded machine the
scheduler favours a server that was asleep over a fresh CPU-bound
process, which skews wall-clock rates; CPU time is what each path
costs), median time to first token, and the gateway's rates as ratios of
direct's (overhead = 1 - ratio).

The WASI-NN column: wasi_nn_column() below is the hook. It runs
build/bench/nn_bench (src/nn's benchmark, when built) if --nn-guest names
its chat guest, and adds its figures; without it the column says "n/a".

Usage: python3 bench/llm/llm_bench.py [--build build] [--tokens 256]
       [--rounds 5] [--threads 1] [--no-big] [--model FILE.gguf]...
       [--nn-guest build/tests/nn/guests/chat.wasm] [--json]
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MESSAGE = "Write a long story about a lighthouse keeper."


def libdir(build):
    """WG_LLAMA_LIB_DIR from the build's CMake cache."""
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("WG_LLAMA_LIB_DIR:"):
                return line.split("=", 1)[1].strip()
    sys.exit("llm_bench: no WG_LLAMA_LIB_DIR in %s/CMakeCache.txt" % build)


def make_model(out, *extra):
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else \
        sys.executable
    src = os.path.join(ROOT, "deps", "llama", "src")
    subprocess.run([py, os.path.join(ROOT, "tests", "llm",
                                      "make_tiny_model.py"),
                    "--gguf-py", os.path.join(src, "gguf-py"),
                    "--vocab", os.path.join(src, "models",
                                            "ggml-vocab-llama-spm.gguf"),
                    "--out", out] + list(extra), check=True)
    return out


def direct(a, lib, model):
    p = subprocess.run([os.path.join(a.build, "bench", "llm",
                                     "llama_direct"), lib, model,
                        str(a.tokens), str(a.threads), MESSAGE],
                       capture_output=True, check=True, timeout=600)
    r = json.loads(p.stdout)
    return r["tok_per_s"], r["ttft_ms"], r["tok_per_cpu_s"]


class Gateway:
    """wasmgate serve with one local deployment, "m"."""

    def __init__(self, a, model, tmp):
        self.dir = tempfile.mkdtemp(dir=tmp)
        cfg = os.path.join(self.dir, "c.yaml")
        with open(cfg, "w") as f:
            f.write("models:\n  - name: m\n    provider: local\n"
                    "    model_path: %s\n    threads: %d\n"
                    "    ctx_size: %d\n" % (model, a.threads,
                                            a.tokens + 512))
        self.admin = "wg-admin-bench-" + os.urandom(6).hex()
        env = dict(os.environ, WASMGATE_ADMIN_KEY=self.admin)
        self.proc = subprocess.Popen(
            [os.path.join(a.build, "src", "cli", "wasmgate"), "serve",
             "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(self.dir, "data"), "--config", cfg],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env)
        for raw in self.proc.stderr:
            line = raw.decode()
            if "listening on http://" in line:
                self.port = int(line.split("http://")[1].split()[0]
                                .rsplit(":", 1)[1])
                break
        else:
            sys.exit("llm_bench: wasmgate did not start")
        self.key = None
        self.key = self.call("POST", "/v1/admin/tenants", {"id": "b"},
                             self.admin) and \
            self.call("POST", "/v1/admin/tenants/b/keys", None,
                      self.admin)["key"]

    def call(self, method, path, body, key):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, json.dumps(body) if body else None,
                  {"Authorization": "Bearer " + key,
                   "Content-Type": "application/json"})
        return json.loads(c.getresponse().read())

    def cpu_ns(self):
        """CPU time of every thread of the server so far (schedstat)."""
        total = 0
        tdir = "/proc/%d/task" % self.proc.pid
        for tid in os.listdir(tdir):
            try:
                with open(os.path.join(tdir, tid, "schedstat")) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass                  # a thread that just ended
        return total

    def request(self, a, tokens):
        """(seconds from sending the request to the end of the stream,
        server CPU seconds meanwhile)."""
        body = json.dumps({"model": "m", "stream": True, "temperature": 0,
                           "max_tokens": tokens, "ignore_eos": True,
                           "stream_options": {"include_usage": True},
                           "messages": [{"role": "user",
                                         "content": MESSAGE}]})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c0 = self.cpu_ns()
        t0 = time.perf_counter()
        c.request("POST", "/v1/chat/completions", body,
                  {"Authorization": "Bearer " + self.key,
                   "Content-Type": "application/json"})
        data = c.getresponse().read()
        t = time.perf_counter() - t0
        cpu = (self.cpu_ns() - c0) / 1e9
        c.close()
        usage = [json.loads(l[6:])["usage"] for l in data.split(b"\n")
                 if l.startswith(b"data: {") and b'"usage"' in l]
        n = usage[0]["completion_tokens"] if usage else -1
        if n != tokens:
            sys.exit("llm_bench: the gateway generated %d tokens, not %d"
                     % (n, tokens))
        return t, cpu

    def run(self, a):
        """(tokens/s after the first, time to first token in ms): a whole
        answer of 1 token is the time to first token, and the difference
        with one of TOKENS is the time of the others (what the server
        buffers or batches cannot skew either)."""
        t1, c1 = self.request(a, 1)
        tn, cn = self.request(a, a.tokens)
        return (a.tokens - 1) / (tn - t1), t1 * 1e3, \
            (a.tokens - 1) / (cn - c1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def wasi_nn_column(a, model):
    """The hook for the WASI-NN path (src/nn): None when not measured,
    else {"tok_per_s": X, "ttft_ms": X, "raw": {...}}. Runs
    build/bench/nn_bench MODEL GUEST TOKENS ROUNDS and reads its JSON."""
    exe = os.path.join(a.build, "bench", "nn_bench")
    if not a.nn_guest or not os.path.exists(exe):
        return None
    p = subprocess.run([exe, model, a.nn_guest, str(a.tokens),
                        str(a.rounds)], capture_output=True, timeout=1200)
    if p.returncode != 0:
        return {"error": p.stderr.decode()[-300:]}
    raw = json.loads(p.stdout.decode().strip().splitlines()[-1])
    return {"tok_per_s": raw.get("wasi_nn_tok_per_s"),
            "ttft_ms": raw.get("wasi_nn_ttft_ms"), "raw": raw}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-big", action="store_true")
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--nn-guest")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    lib = libdir(a.build)
    tmp = tempfile.mkdtemp(prefix="llm-bench-")
    models = []
    tiny = os.path.join(a.build, "tests", "llm", "tiny.gguf")
    models.append(("tiny (2L, 64)", tiny if os.path.exists(tiny) else
                   make_model(os.path.join(tmp, "tiny.gguf"))))
    if not a.no_big:
        models.append(("synthetic (2L, 512)", make_model(
            os.path.join(tmp, "big.gguf"), "--n-embd", "512", "--n-head",
            "8", "--n-head-kv", "8", "--n-ff", "1376", "--n-ctx", "2048")))
    for m in a.model:
        models.append((os.path.basename(m), m))
    results = []
    for name, path in models:
        gw = Gateway(a, path, tmp)
        try:
            gw.run(a)                      # warm-up: the context is created
            d_tps, d_ttft, g_tps, g_ttft, d_cpu, g_cpu = [], [], [], [], \
                [], []
            for _ in range(a.rounds):
                t, f, c = direct(a, lib, path)
                d_tps.append(t)
                d_ttft.append(f)
                d_cpu.append(c)
                t, f, c = gw.run(a)
                g_tps.append(t)
                g_ttft.append(f)
                g_cpu.append(c)
        finally:
            gw.stop()
        row = {"model": name, "tokens": a.tokens, "threads": a.threads,
               "rounds": a.rounds,
               "direct_tok_per_s": statistics.median(d_tps),
               "direct_ttft_ms": statistics.median(d_ttft),
               "gateway_tok_per_s": statistics.median(g_tps),
               "gateway_ttft_ms": statistics.median(g_ttft),
               "direct_tok_per_cpu_s": statistics.median(d_cpu),
               "gateway_tok_per_cpu_s": statistics.median(g_cpu),
               "wasi_nn": wasi_nn_column(a, path)}
        row["gateway_ratio"] = row["gateway_tok_per_s"] / \
            row["direct_tok_per_s"]
        row["gateway_cpu_ratio"] = row["gateway_tok_per_cpu_s"] / \
            row["direct_tok_per_cpu_s"]
        results.append(row)
    if a.json:
        print(json.dumps(results, indent=1))
        return
    print("%-20s %10s %10s %7s %11s %11s %7s %10s %10s %10s" % (
        "model", "direct t/s", "gw t/s", "gw/dir", "direct t/cs",
        "gw t/cs", "gw/dir", "direct ttft", "gw ttft", "wasi-nn"))
    for r in results:
        nn = r["wasi_nn"]
        print("%-20s %10.0f %10.0f %7.3f %11.0f %11.0f %7.3f %9.1fms "
              "%8.1fms %10s" % (
            r["model"], r["direct_tok_per_s"], r["gateway_tok_per_s"],
            r["gateway_ratio"], r["direct_tok_per_cpu_s"],
            r["gateway_tok_per_cpu_s"], r["gateway_cpu_ratio"],
            r["direct_ttft_ms"], r["gateway_ttft_ms"],
            "n/a" if not nn or "tok_per_s" not in nn
            else "%.0f t/s" % (nn["tok_per_s"] or 0)))


if __name__ == "__main__":
    main()
