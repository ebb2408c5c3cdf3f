"""The chat completion decision point (policy.chat, which also gates
embeddings) and the limits of the
execution decision point, over real HTTP, with a hand-written OPA Wasm
policy (policies/gate.wat: the context API; it answers its data document,
or denies/traps for marked inputs): deny is 403 policy_denied with the
reasons, limits only lower (max_tokens, max_request_tokens; fuel,
memory, timeout), a trapping or missing policy fails closed, and each
decision is audited with the policy id and version."""
import io
import json
import os
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import ADMIN_KEY, Server, ServerTest, guest, main  # noqa: E402
from fake_upstream import Fake  # noqa: E402

FAKE = Fake()
POLICY = os.environ.get("WG_GW_POLICY", "")

CONFIG = """models:
  - name: m-ok
    base_url: %s
    upstream_model: ok
gateway:
  guard:
    redact_input: true
policy:
  chat: "chatpol:gate"
  execution: "execpol:gate"
""" % FAKE.url


def bundle(data):
    with open(POLICY, "rb") as f:
        wasm = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, blob in (
                ("/.manifest", json.dumps({
                    "revision": "r1", "roots": [""],
                    "wasm": [{"entrypoint": "gate",
                              "module": "/policy.wasm"}]}).encode()),
                ("/data.json", json.dumps(data).encode()),
                ("/policy.wasm", wasm)):
            ti = tarfile.TarInfo(name)
            ti.size = len(blob)
            t.addfile(ti, io.BytesIO(blob))
    return buf.getvalue()


class ChatPolicyTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(POLICY):
            print("skipped: the test policy (WG_GW_POLICY) is not built")
            sys.exit(77)
        cls.srv = Server(CONFIG).start()
        cls.key = cls.srv.tenant("acme")
        cls.blocked = cls.srv.tenant("blocked")

    def put(self, pid, data):
        r = self.srv.request("PUT", "/v1/policies/" + pid, body=bundle(data),
                             key=ADMIN_KEY, ctype="application/gzip")
        self.assertEqual(r.status, 200, r)
        return r.json()["result"]["version"]

    def chat(self, key=None, text="hi", **extra):
        body = {"model": "m-ok",
                "messages": [{"role": "user", "content": text}]}
        body.update(extra)
        return self.srv.request("POST", "/v1/chat/completions", body=body,
                                key=key or self.key)

    def audit_for(self, rid):
        deadline = time.time() + 5
        while True:
            got = [l for l in self.srv.audit_lines()
                   if l.get("request_id") == rid]
            if got or time.time() > deadline:
                break
            time.sleep(0.02)
        self.assertTrue(got, rid)
        return got[0]

    def test_1_not_loaded_fails_closed(self):
        n0 = len(FAKE.requests)
        r = self.chat()
        self.assertError(r, 403, "policy_denied",
                         "policy chatpol (for chat) is not loaded")
        self.assertEqual(len(FAKE.requests), n0)
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["policy"], "chatpol")
        self.assertEqual(line["decision"], "deny")
        self.assertEqual(line["reason"], "policy_denied")

    def test_2_limits_lower_max_tokens(self):
        v = self.put("chatpol", {"allow": True, "limits": {"max_tokens": 5}})
        cases = [({"max_tokens": 100}, {"max_tokens": 5}),
                 ({}, {"max_tokens": 5}),
                 ({"max_tokens": 3}, {"max_tokens": 3}),
                 ({"max_completion_tokens": 50},
                  {"max_completion_tokens": 5}),
                 ({"max_completion_tokens": 2, "max_tokens": 9},
                  {"max_completion_tokens": 2, "max_tokens": 5})]
        for extra, want in cases:
            with self.subTest(extra=extra):
                n0 = len(FAKE.requests)
                r = self.chat(**extra)
                self.assertEqual(r.status, 200, r)
                sent = FAKE.requests[n0][1]
                for k in ("max_tokens", "max_completion_tokens"):
                    self.assertEqual(sent.get(k), want.get(k), sent)
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["policy"], "chatpol")
        self.assertEqual(line["policy_version"], v)
        self.assertEqual(line["decision"], "allow")

    def test_3_deny_with_reasons_per_input(self):
        self.put("chatpol", {"allow": True})
        n0 = len(FAKE.requests)
        r = self.chat(key=self.blocked)
        self.assertError(r, 403, "policy_denied", "tenant blocked by gate",
                         param=None)
        # Guardrail findings are in the input: a redacted e-mail address.
        r = self.chat(text="mail me at ann@example.com")
        self.assertError(r, 403, "policy_denied",
                         "personal data in the prompt")
        self.assertEqual(len(FAKE.requests), n0)
        self.assertEqual(self.chat().status, 200)
        # A policy's own denial with several reasons.
        v = self.put("chatpol", {"allow": False,
                                 "reasons": ["closed", "come back later"]})
        r = self.chat()
        self.assertError(r, 403, "policy_denied", "closed; come back later")
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["policy_version"], v)
        # Denied without reasons.
        self.put("chatpol", {"allow": False})
        r = self.chat()
        self.assertError(r, 403, "policy_denied",
                         "denied by policy chatpol")

    def test_4_trap_and_bad_shape_fail_closed(self):
        self.put("chatpol", {"allow": True})
        trapper = self.srv.tenant("trapper")
        r = self.chat(key=trapper)
        err = self.assertError(r, 403, "policy_denied")
        self.assertTrue(err["message"].startswith(
            "policy evaluation failed: policy trapped"), err)
        self.put("chatpol", {"permit": "yes"})
        r = self.chat()
        self.assertError(r, 403, "policy_denied",
                         "policy chatpol gave another shape, not a boolean "
                         "or {\"allow\": bool}")

    def test_5_max_request_tokens(self):
        self.put("chatpol", {"allow": True,
                             "limits": {"max_request_tokens": 10}})
        # 40 characters: 10 tokens estimated, + max_tokens.
        r = self.chat(text="x" * 40)
        self.assertEqual(r.status, 200, r)
        r = self.chat(text="x" * 40, max_tokens=1)
        self.assertError(r, 403, "policy_denied",
                         "the request needs about 11 tokens; policy chatpol "
                         "allows 10 per request")

    def test_7_embeddings_are_gated_too(self):
        self.put("chatpol", {"allow": True,
                             "limits": {"max_request_tokens": 10}})

        def embed(key=None, text="hi"):
            return self.srv.request("POST", "/v1/embeddings", body={
                "model": "m-ok", "input": [text]}, key=key or self.key)
        n0 = len(FAKE.requests)
        self.assertError(embed(key=self.blocked), 403, "policy_denied",
                         "tenant blocked by gate")
        self.assertError(embed(text="mail ann@example.com"), 403,
                         "policy_denied", "personal data in the prompt")
        # 44 characters: 11 tokens estimated
        self.assertError(embed(text="x" * 44), 403, "policy_denied",
                         "the request needs about 11 tokens; policy chatpol "
                         "allows 10 per request")
        self.assertEqual(len(FAKE.requests), n0)
        r = embed(text="x" * 40)
        self.assertEqual(r.status, 200, r)
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["policy"], "chatpol")
        self.assertEqual(line["decision"], "allow")

    def test_6_execution_limits_only_lower(self):
        key = self.srv.tenant("runner", max_fuel=10 ** 9,
                              max_memory_bytes=16 << 20, max_timeout_ms=5000)
        self.put("execpol", {"allow": True})
        ids = {g: self.srv.upload(key, guest(g)) for g in ("loop", "alloc")}
        self.put("execpol", {"allow": True, "limits": {"fuel": 100000}})
        r = self.srv.run(key, ids["loop"])
        self.assertEqual(r.status, 200, r)
        x = r.json()
        self.assertEqual(x["limit"], "fuel")
        self.assertEqual(x["trap"]["kind"], "fuel")
        self.put("execpol", {"allow": True,
                             "limits": {"memory_bytes": 4 << 20}})
        x = self.srv.run(key, ids["alloc"]).json()
        self.assertEqual(x["limit"], "memory")
        self.assertLessEqual(x["peak_memory_bytes"], 4 << 20)
        self.put("execpol", {"allow": True,
                             "limits": {"timeout_ms": 100,
                                        "fuel": 10 ** 12}})
        x = self.srv.run(key, ids["loop"],
                         {"limits": {"fuel": 10 ** 9}}).json()
        self.assertEqual(x["limit"], "timeout")
        # Above the request's own limits: nothing is raised.
        self.put("execpol", {"allow": True,
                             "limits": {"fuel": 10 ** 12,
                                        "memory_bytes": 1 << 30}})
        x = self.srv.run(key, ids["loop"], {"limits": {"fuel": 50000}}).json()
        self.assertEqual(x["limit"], "fuel")
        self.assertLess(x["fuel_used"], 10 ** 6)
        x = self.srv.run(key, ids["alloc"],
                         {"limits": {"memory_bytes": 2 << 20}}).json()
        self.assertEqual(x["limit"], "memory")
        self.assertLessEqual(x["peak_memory_bytes"], 2 << 20)
        # The execution gate denies per input too, audited.
        bid = self.srv.upload(self.blocked, guest("loop"))
        r = self.srv.run(self.blocked, bid)
        self.assertError(r, 403, "policy_denied", "tenant blocked by gate")
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["policy"], "execpol")

if __name__ == "__main__":
    main()
