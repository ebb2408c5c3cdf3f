#!/usr/bin/env python3
"""WASI-NN in `wasmgate serve`, under both isolations (every case of NNServe
runs again in NNServeProcess, where the guest runs in a worker process and
its calls cross to the server): tenants see only their models (others give
errno 8, exactly like a name that does not exist), tokens count against the
tenant's gateway token quota, the same tokens as the gateway's local
provider, a compute stopped by the run's timeout frees its slot; in process
isolation, kill -9 of the worker during a server-side compute. Drives the
real binary over HTTP (tests/integration's wgtest helpers). Environment:
WASMGATE, CHAT (chat.wasm), TINY_MODEL, LONG_MODEL, LLM_PROBE.
"""
import base64
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import wgtest  # noqa: E402

TINY = os.environ.get("TINY_MODEL", "")
CONFIG = """
executor:
  isolation: %s
models:
  - {name: tiny, provider: local, model_path: "%s", ctx_size: 256, threads: 1, slots: 1}
nn:
  models:
    - {name: chat, path: "%s", ctx_size: 256, threads: 1, slots: 2}
    - {name: other, path: "%s", threads: 1}
    - {name: long, path: "%s", ctx_size: 4096, threads: 1, slots: 1}
  tenants:
    acme: [chat]
    acme3: [chat]
    acme4: [chat]
    daily: [chat]
    slow: [long]
    slow2: [long]
    g0: [chat]
    g99: [chat]
    g12345: [chat]
    beta: [other]
    tiny: [chat]
"""
PROMPT = "The quick brown fox"
LONG = os.environ.get("LONG_MODEL", "")
# EOS ignored on the 4096-token model: a compute that runs for seconds
ENDLESS = '{"temp":0,"ignore-eos":true,"n-predict":4000}'


def cpu_seconds(pid):
    """User + system CPU time of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chat_wasm():
    with open(os.environ["CHAT"], "rb") as f:
        return f.read()


def text(x, key):
    v = x[key]
    return base64.b64decode(v) if x[key + "_encoding"] == "base64" else v.encode()


def probe(prompt, n):
    p = subprocess.run([os.environ["LLM_PROBE"], "generate", TINY, prompt, str(n)],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


class NNServe(wgtest.ServerTest):
    CONFIG = CONFIG % ("thread", TINY, TINY, TINY, LONG)

    def chat(self, key, model, meta='{"n-predict":16,"temp":0}', prompt=PROMPT,
             args=(), **spec):
        mid = self.srv.upload(key, chat_wasm())
        spec["args"] = list(args) + [model, meta, prompt]
        r = self.srv.run(key, mid, spec)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_day_budget_is_the_gateways(self):
        # one day budget for the guest's tokens and the gateway's: 12 a
        # day, the prompt (6) and 6 tokens fit, then compute ends with
        # errno 4; the gateway then refuses the same tenant
        key = self.srv.tenant("daily", gateway_tokens_per_day=12)
        x = self.chat(key, "chat", meta='{"n-predict":100,"temp":0,"ignore-eos":true}')
        self.assertEqual(x["exit_code"], 4, x)
        self.assertEqual(x["stderr"], "compute: errno 4\n")
        r = self.srv.request("POST", "/v1/chat/completions", key=key, body={
            "model": "tiny", "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1})
        self.assertError(r, 429, "insufficient_quota",
                         "Tenant daily has used its daily token budget.")

    def test_stream_gives_the_same_tokens(self):
        key = self.srv.tenant("acme3")
        x = self.chat(key, "chat", args=["--stream", "--max", "16"])
        self.assertEqual(x["exit_code"], 0, x)
        self.assertEqual(text(x, "stdout"), probe(PROMPT, 16))

    def test_timeout_stops_compute_and_frees_the_slot(self):
        # the model has one slot: the second run computes only if the
        # first gave it back when its timeout stopped it
        key = self.srv.tenant("slow", max_timeout_ms=60000)
        x = self.chat(key, "long", meta=ENDLESS, limits={"timeout_ms": 1500})
        self.assertEqual(x["limit"], "timeout", x)
        self.assertEqual(x["trap"]["message"], "wall-clock timeout", x)
        x = self.chat(key, "long", meta='{"n-predict":8,"temp":0}',
                      limits={"timeout_ms": 60000})
        self.assertEqual(x["exit_code"], 0, x)
        self.assertIn('"output_tokens":8,', text(x, "stderr").decode())

    def test_tenant_runs_its_model(self):
        key = self.srv.tenant("acme")
        x = self.chat(key, "chat")
        self.assertEqual(x["exit_code"], 0, x)
        self.assertEqual(text(x, "stdout"), probe(PROMPT, 16))
        self.assertIn('"output_tokens":16,', text(x, "stderr").decode())

    def test_same_tokens_as_the_gateway(self):
        # the gateway's local provider and the guest, same prompt and seed
        key = self.srv.tenant("acme2")
        for temp, seed in ((0, 0), (0.7, 99), (1.1, 12345)):
            r = self.srv.request("POST", "/v1/chat/completions", key=key, body={
                "model": "tiny", "messages": [{"role": "user", "content": "Hello"}],
                "max_tokens": 16, "temperature": temp, "seed": seed})
            self.assertEqual(r.status, 200, r)
            want = r.json()["choices"][0]["message"]["content"]
            usage = r.json()["usage"]
            p = subprocess.run([os.environ["LLM_PROBE"], "template", TINY, "Hello"],
                               capture_output=True, timeout=60)
            prompt = p.stdout.decode()
            meta = '{"n-predict":16,"temp":%s,"seed":%d,"top-p":1,"top-k":0}' % (temp, seed)
            x = self.chat(self.srv.tenant("g%d" % seed), "chat", meta=meta, prompt=prompt)
            self.assertEqual(x["exit_code"], 0, x)
            self.assertEqual(text(x, "stdout").decode(), want)
            self.assertIn('"input_tokens":%d,"output_tokens":%d,' % (
                usage["prompt_tokens"], usage["completion_tokens"]),
                text(x, "stderr").decode())

    def test_other_tenants_model_is_not_found(self):
        key = self.srv.tenant("beta")
        for model in ("chat", "no-such-model"):
            x = self.chat(key, model)
            self.assertEqual(x["exit_code"], 8, x)
            self.assertEqual(x["stderr"], "load_by_name: errno 8\n")
        x = self.chat(key, "other")
        self.assertEqual(x["exit_code"], 0, x)

    def test_unlisted_tenant_has_no_models(self):
        key = self.srv.tenant("gamma")
        for model in ("chat", "other"):
            x = self.chat(key, model)
            self.assertEqual(x["exit_code"], 8, x)
            self.assertEqual(x["stderr"], "load_by_name: errno 8\n")

    def test_token_quota_stops_generation(self):
        # 20 tokens a minute: the prompt (6) and a few tokens fit, then the
        # bucket is empty and compute ends with errno 4 (busy)
        key = self.srv.tenant("tiny", gateway_tokens_per_minute=20)
        x = self.chat(key, "chat", meta='{"n-predict":100,"temp":0,"ignore-eos":true}')
        self.assertEqual(x["exit_code"], 4, x)
        self.assertEqual(x["stderr"], "compute: errno 4\n")
        # the next run finds the bucket empty: refused at the prompt
        x = self.chat(key, "chat")
        self.assertEqual(x["exit_code"], 4, x)


class NNServeProcess(NNServe):
    """The same cases with the guest in a worker process."""
    CONFIG = CONFIG % ("process", TINY, TINY, TINY, LONG)

    @classmethod
    def setUpClass(cls):
        cls.srv = wgtest.Server(cls.CONFIG, env={
            "WASMGATE_TEST_WORKER_HOOK": "1"}).start()

    def test_a_worker_sending_garbage_is_killed(self):
        # the worker test hook sends a malformed NN_CALL, as a compromised
        # worker could: the server kills it and answers 500
        if "test_hook" not in self.srv.get("/readyz").json()["isolation"]["features"]:
            self.skipTest("worker test hook not compiled (WG_TEST_HOOKS=OFF)")
        key = self.srv.tenant("acme4")
        mid = self.srv.upload(key, chat_wasm())
        r = self.srv.run(key, mid, {"args": ["chat", "", PROMPT],
                                    "env": {"WASMGATE_TEST_FORBIDDEN": "nn_garbage"}})
        err = self.assertError(r, 500, "internal_error")
        self.assertIn("killed by signal 9", err["message"])
        self.assertTrue(any("the worker was stopped: wasi_ephemeral_nn: a call of "
                            "7 bytes is too short" in line for line in self.srv.log),
                        self.srv.log)
        x = self.chat(key, "chat")
        self.assertEqual(x["exit_code"], 0, x)

    def test_kill_9_during_a_server_side_compute(self):
        key = self.srv.tenant("slow2", max_timeout_ms=60000)
        mid = self.srv.upload(key, chat_wasm())
        out = []
        t = threading.Thread(target=lambda: out.append(self.srv.run(
            key, mid, {"args": ["long", ENDLESS, PROMPT],
                       "limits": {"timeout_ms": 60000}})))
        pid = self.srv.proc.pid
        cpu0 = cpu_seconds(pid)
        t.start()
        # the compute runs in the server: wait until it has burnt CPU there
        while cpu_seconds(pid) - cpu0 < 0.5 and t.is_alive():
            time.sleep(0.05)
        for w in wgtest.worker_pids(pid):
            os.kill(w, 9)
        t.join(60)
        self.assertFalse(t.is_alive())
        err = self.assertError(out[0], 500, "internal_error")
        self.assertIn("killed by signal 9", err["message"])
        # the slot was given back: the next run computes
        x = self.chat(key, "long", meta='{"n-predict":8,"temp":0}',
                      limits={"timeout_ms": 60000})
        self.assertEqual(x["exit_code"], 0, x)
        self.assertIn('"output_tokens":8,', text(x, "stderr").decode())


if __name__ == "__main__":
    if not TINY or not os.path.exists(TINY):
        print("skipped: no tiny model")
        sys.exit(77)
    wgtest.main()
