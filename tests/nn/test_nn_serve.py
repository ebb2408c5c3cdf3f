#!/usr/bin/env python3
"""WASI-NN in `wasmgate serve`: tenants see only their models (others give
errno 8, exactly like a name that does not exist), tokens count against the
tenant's gateway token quota, and process isolation refuses nn modules with
an exact error. Drives the real binary over HTTP (tests/integration's
wgtest helpers). Environment: WASMGATE, CHAT (chat.wasm), TINY_MODEL,
LLM_PROBE.
"""
import base64
import os
import subprocess
import sys

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
  tenants:
    acme: [chat]
    g0: [chat]
    g99: [chat]
    g12345: [chat]
    beta: [other]
    tiny: [chat]
"""
PROMPT = "The quick brown fox"
PROCESS_MSG = ("cannot run the module: it imports wasi_ephemeral_nn (WASI-NN), "
               "which is not available with executor.isolation: process (a "
               "worker process cannot open model files); use isolation: thread")


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
    CONFIG = CONFIG % ("thread", TINY, TINY, TINY)

    def chat(self, key, model, meta='{"n-predict":16,"temp":0}', prompt=PROMPT):
        mid = self.srv.upload(key, chat_wasm())
        r = self.srv.run(key, mid, {"args": [model, meta, prompt]})
        self.assertEqual(r.status, 200, r)
        return r.json()

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


class NNServeProcess(wgtest.ServerTest):
    CONFIG = CONFIG % ("process", TINY, TINY, TINY)

    def test_process_isolation_refuses_nn(self):
        key = self.srv.tenant("acme")
        mid = self.srv.upload(key, chat_wasm())
        r = self.srv.run(key, mid, {"args": ["chat", "", PROMPT]})
        self.assertError(r, 422, "cannot_instantiate", PROCESS_MSG)


if __name__ == "__main__":
    if not TINY or not os.path.exists(TINY):
        print("skipped: no tiny model")
        sys.exit(77)
    wgtest.main()
