"""POST /v1/embeddings through the gateway, in front of the fake upstream
(fake_upstream.py): the answer passed through with the public model name,
unknown fields passed on, every input shape, the guardrails and input
redaction on its texts, token quotas settled from the upstream's usage,
retries and fallback, upstream errors, audit and metrics, and every bad
input with its exact error."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import ServerTest, Server, main  # noqa: E402
from fake_upstream import Fake  # noqa: E402

FAKE = Fake()

MODELS = [
    ("e-ok", "ok", {}),
    ("e-500", "e500", {"max_retries": 1}),
    ("e-fb", "e503", {"max_retries": 0, "weight": 1000000}),
    ("e-fb", "ok", {"weight": 1}),
]


def config():
    out = FAKE.models_yaml(MODELS)
    out += ["gateway:",
            "  backoff_base_ms: 10",
            "  backoff_cap_ms: 50",
            "  audit_content: redacted",
            "  guard:",
            "    redact_input: true",
            "  tenants:",
            "    limited:",
            "      models: [e-ok]",
            "      guard:",
            "        max_message_chars: 2",
            "        max_request_chars: 3",
            "        max_input_chars: 10",
            "        max_input_total_chars: 15"]
    return "\n".join(out) + "\n"


class EmbeddingsTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(config(),
                         env={"FAKE_UPSTREAM_KEY": "sk-fake-upstream"})
        cls.srv.start()
        cls.key = cls.srv.tenant("acme")
        cls.limited = cls.srv.tenant("limited")

    def embed(self, body, key=None):
        return self.srv.request("POST", "/v1/embeddings", body=body,
                                key=key or self.key)

    def last_sent(self):
        with FAKE.lock:
            return FAKE.paths[-1], FAKE.requests[-1]

    def test_answer_passes_through(self):
        r = self.embed({"model": "e-ok", "input": "two words",
                        "encoding_format": "float", "dimensions": 3,
                        "user": "u-1", "x_vendor": [1]})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["model"], "e-ok")
        self.assertEqual(body["object"], "list")
        self.assertEqual(body["data"], [{"object": "embedding", "index": 0,
                                         "embedding": [9.0, 2.0, 0.0]}])
        self.assertEqual(body["usage"], {"prompt_tokens": 2,
                                         "total_tokens": 2})
        self.assertIn("x-request-id", r.headers)
        self.assertIn("x-wasmgate-overhead-ms", r.headers)
        path, (model, sent, headers) = self.last_sent()
        self.assertEqual(path, "/v1/embeddings")
        self.assertEqual(model, "ok")
        self.assertEqual(sent, {"model": "ok", "input": "two words",
                                "encoding_format": "float", "dimensions": 3,
                                "user": "u-1", "x_vendor": [1]})
        self.assertEqual(headers["authorization"], "Bearer sk-fake-upstream")

    def test_input_shapes(self):
        cases = [
            (["a b", "c"], [[3.0, 2.0, 0.0], [1.0, 1.0, 1.0]]),
            ([1, 2, 3], [[3.0, 0.0, 0.0]]),
            ([[1, 2], [3]], [[2.0, 0.0, 0.0], [1.0, 0.0, 1.0]]),
        ]
        for inp, vecs in cases:
            with self.subTest(input=inp):
                r = self.embed({"model": "e-ok", "input": inp})
                self.assertEqual(r.status, 200, r)
                self.assertEqual([d["embedding"] for d in r.json()["data"]],
                                 vecs)
                self.assertEqual(self.last_sent()[1][1]["input"], inp)

    def test_input_is_redacted_before_it_leaves(self):
        r = self.embed({"model": "e-ok",
                        "input": ["mail ann@example.com", "ok"]})
        self.assertEqual(r.status, 200, r)
        sent = self.last_sent()[1][1]["input"]
        self.assertNotIn("ann@example.com", sent[0])
        self.assertEqual(sent[1], "ok")
        line = [x for x in self.srv.audit_lines()
                if x.get("path") == "/v1/embeddings"][-1]
        self.assertNotIn("ann@example.com", json.dumps(line))

    def test_bad_inputs(self):
        too_many = ["x"] * 2049
        kinds = ("'input' must be a string, an array of strings, an array "
                 "of token ids or an array of token id arrays")
        cases = [
            ({"input": "x"}, "model", "missing_parameter",
             "you must provide a model parameter"),
            ({"model": 7, "input": "x"}, "model", "invalid_parameter",
             "'model' must be a string"),
            ({"model": "e-ok"}, "input", "missing_parameter",
             "'input' is required"),
            ({"model": "e-ok", "input": ""}, "input", "invalid_parameter",
             "'input' must not be empty"),
            ({"model": "e-ok", "input": []}, "input", "invalid_parameter",
             kinds),
            ({"model": "e-ok", "input": {"a": 1}}, "input",
             "invalid_parameter", kinds),
            ({"model": "e-ok", "input": ["a", 1]}, "input[1]",
             "invalid_parameter", kinds),
            ({"model": "e-ok", "input": [1, "a"]}, "input",
             "invalid_parameter", kinds),
            ({"model": "e-ok", "input": [[1], []]}, "input[1]",
             "invalid_parameter", kinds),
            ({"model": "e-ok", "input": [-1]}, "input", "invalid_parameter",
             kinds),
            ({"model": "e-ok", "input": [2 ** 31]}, "input",
             "invalid_parameter", kinds),
            ({"model": "e-ok", "input": ["a", ""]}, "input[1]",
             "invalid_parameter", "input[1] must not be empty"),
            ({"model": "e-ok", "input": too_many}, "input",
             "invalid_parameter",
             "'input' has 2049 entries; at most 2048 are allowed"),
        ]
        n0 = len(FAKE.requests)
        for body, param, code, message in cases:
            with self.subTest(body=str(body)[:60]):
                r = self.embed(body)
                self.assertError(r, 400, code, message, param=param)
        self.assertEqual(len(FAKE.requests), n0)   # none went upstream
        r = self.srv.request("POST", "/v1/embeddings", body="[1]",
                             key=self.key, ctype="application/json")
        self.assertError(r, 400, "invalid_request",
                         "the body must be a JSON object")
        r = self.srv.request("POST", "/v1/embeddings", body="{",
                             key=self.key, ctype="application/json")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "invalid_json")

    def test_models_and_tenants(self):
        r = self.embed({"model": "nope", "input": "x"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "model_not_found")
        r = self.embed({"model": "e-fb", "input": "x"}, key=self.limited)
        self.assertError(r, 403, "model_not_allowed", "Tenant limited is not "
                         "allowed to use the model `e-fb`.", param="model")
        r = self.srv.request("POST", "/v1/embeddings",
                             body={"model": "e-ok", "input": "x"})
        self.assertEqual(r.status, 401)

    def test_guardrails(self):
        limited = self.limited
        # inputs have their own limits (documents, many a request), not
        # the chat messages' (2 and 3 for this tenant)
        r = self.embed({"model": "e-ok", "input": ["1234567890"]},
                       key=limited)
        self.assertEqual(r.status, 200, r)
        r = self.embed({"model": "e-ok", "input": ["12345678901"]},
                       key=limited)
        self.assertError(r, 400, "input_too_long", "An input has 11 "
                         "characters; the limit is 10.", param="input[0]")
        r = self.embed({"model": "e-ok", "input": ["1234567890", "123456"]},
                       key=limited)
        self.assertError(r, 400, "request_too_long", "The inputs have more "
                         "than 15 characters in all (the limit).",
                         param="input")
        r = self.embed({"model": "e-ok", "input": "a\u0001b"})
        self.assertError(r, 400, "control_characters", "The input contains "
                         "the control character U+0001, which is not "
                         "allowed.", param="input")
        # the defaults: 32,768 characters an input (about 8,192 tokens)
        r = self.embed({"model": "e-ok", "input": ["x" * 32768]})
        self.assertEqual(r.status, 200, r)
        r = self.embed({"model": "e-ok", "input": ["x", "y" * 32769]})
        self.assertError(r, 400, "input_too_long", "An input has 32769 "
                         "characters; the limit is 32768.", param="input[1]")
        # a chat-template token means nothing to an embedding model
        r = self.embed({"model": "e-ok", "input": "about [INST] tags"})
        self.assertEqual(r.status, 200, r)
        m = self.srv.get("/metrics").body.decode()
        self.assertRegex(m, r'guard_violations_total\{code="input_too_long"'
                            r'\} [1-9]')

    def test_token_quota_is_settled_from_usage(self):
        tight = self.srv.tenant("tight", gateway_tokens_per_minute=5)
        r = self.embed({"model": "e-ok", "input": "one two three"}, key=tight)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "5")
        # 3 tokens used of 5: an input estimated at 4 more is refused
        r = self.embed({"model": "e-ok", "input": "x" * 16}, key=tight)
        err = self.assertError(r, 429, "rate_limit_exceeded")
        self.assertTrue(err["message"].startswith(
            "Rate limit reached for tokens per minute of tenant tight: "
            "limit 5. Please try again in "), err)
        self.assertIn("retry-after", r.headers)

    def test_upstream_failures(self):
        n0 = len(FAKE.requests)
        r = self.embed({"model": "e-500", "input": "x"})
        self.assertEqual(r.status, 502, r)
        self.assertEqual(r.json()["error"]["code"], "upstream_error")
        self.assertEqual(FAKE.models_seen()[n0:], ["e500", "e500"])
        r = self.embed({"model": "e-fb", "input": "x"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["model"], "e-fb")
        self.assertEqual(FAKE.models_seen()[-2:], ["e503", "ok"])

    def test_audit_and_metrics(self):
        r = self.embed({"model": "e-ok", "input": ["a", "b c"]})
        self.assertEqual(r.status, 200, r)
        line = [x for x in self.srv.audit_lines()
                if x.get("path") == "/v1/embeddings"][-1]
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["gateway"]["model"], "e-ok")
        self.assertEqual(line["gateway"]["prompt_tokens"], 3)
        m = self.srv.get("/metrics").body.decode()
        self.assertIn('route="POST /v1/embeddings"', m)


if __name__ == "__main__":
    main()
