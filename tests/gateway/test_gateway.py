"""The AI gateway end to end: wasmgate serve in front of the fake upstream
(fake_upstream.py): routing, retries, fallback, breaker, streaming,
guardrails, redaction, cancellation, audit and metrics."""
import http.client
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import ServerTest, Server, main  # noqa: E402
from fake_upstream import Fake  # noqa: E402

FAKE = Fake()

MODELS = [
    ("m-ok", "ok", {}),
    ("m-stream", "stream", {}),
    ("m-slow", "slowstream", {}),
    ("m-hang", "hang", {"first_byte_timeout_ms": 0, "max_retries": 0}),
    ("m-hang-t", "hang", {"first_byte_timeout_ms": 300, "max_retries": 1}),
    ("m-429", "e429", {"max_retries": 0}),
    ("m-500", "e500", {"max_retries": 1}),
    ("m-brk", "e503", {"max_retries": 0}),
    ("m-fb", "e503", {"max_retries": 0, "weight": 1000000}),
    ("m-fb", "ok", {"weight": 1}),
    ("m-flaky", "flaky", {"max_retries": 3}),
    ("m-drop", "drop", {}),
    ("m-bad", "badsse", {}),
    ("m-e400", "e400", {}),
    ("m-raw", "raw", {}),
]


def config():
    out = FAKE.models_yaml(MODELS)
    out += ["gateway:",
            "  backoff_base_ms: 10",
            "  backoff_cap_ms: 50",
            "  audit_content: redacted",
            "  sessions:",
            "    max_turns: 2",
            "    ttl_s: 2",
            "  breaker:",
            "    consecutive_failures: 2",
            "    cooldown_ms: 60000",
            "  tenants:",
            "    limited:",
            "      models: [m-ok]",
            "    strip:",
            "      guard:",
            "        control_chars: strip",
            "        max_message_chars: 10"]
    return "\n".join(out) + "\n"


def msgs(text):
    return [{"role": "user", "content": text}]


def sse_events(resp):
    """The data payloads of an SSE response, as read."""
    events = []
    for raw in resp.read().decode().split("\n\n"):
        raw = raw.strip()
        if raw.startswith("data: "):
            events.append(raw[6:])
    return events


class GatewayTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(config(), env={"FAKE_UPSTREAM_KEY": "sk-fake-upstream"})
        cls.srv.start()
        cls.key = cls.srv.tenant("acme")

    def setUp(self):
        FAKE.reply = "Hello!"
        FAKE.chunks = ["Hel", "lo", "!"]
        FAKE.retry_after = None
        FAKE.closed.clear()

    def chat(self, body, key=None, **kw):
        return self.srv.request("POST", "/v1/chat/completions", body=body,
                                key=key or self.key, **kw)

    # -- routing and the plain answer -------------------------------------
    def test_completion_passes_unknown_fields(self):
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-ok", "messages": msgs("hi"),
                       "temperature": 0.5, "x_vendor_field": {"a": [1]}})
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["model"], "m-ok")
        self.assertEqual(body["choices"][0]["message"]["content"], "Hello!")
        self.assertEqual(body["usage"]["total_tokens"], 12)
        self.assertIn("x-request-id", r.headers)
        self.assertGreaterEqual(float(r.headers["x-wasmgate-overhead-ms"]), 0)
        model, sent, headers = FAKE.requests[n0]
        self.assertEqual(model, "ok")
        self.assertEqual(sent["x_vendor_field"], {"a": [1]})
        self.assertEqual(sent["temperature"], 0.5)
        self.assertEqual(headers["authorization"], "Bearer sk-fake-upstream")

    def test_models(self):
        r = self.srv.get("/v1/models", key=self.key)
        self.assertEqual(r.status, 200)
        ids = [m["id"] for m in r.json()["data"]]
        self.assertEqual(ids, [m[0] for m in MODELS if m[1] != "ok" or
                               m[0] != "m-fb"])
        self.assertEqual(r.json()["object"], "list")
        r = self.srv.get("/v1/models/m-ok", key=self.key)
        self.assertEqual(r.json(), {"id": "m-ok", "object": "model",
                                    "created": 0, "owned_by": "wasmgate"})
        self.assertError(self.srv.get("/v1/models/nope", key=self.key), 404,
                         "model_not_found", "The model `nope` does not exist "
                         "or you do not have access to it.", "model")
        self.assertError(self.srv.get("/v1/models"), 401, "missing_api_key")

    def test_tenant_model_allowlist(self):
        key = self.srv.tenant("limited")
        r = self.srv.get("/v1/models", key=key)
        self.assertEqual([m["id"] for m in r.json()["data"]], ["m-ok"])
        self.assertEqual(self.chat({"model": "m-ok", "messages": msgs("x")},
                                   key=key).status, 200)
        self.assertError(self.chat({"model": "m-stream",
                                    "messages": msgs("x")}, key=key),
                         403, "model_not_allowed", "Tenant limited is not "
                         "allowed to use the model `m-stream`.", "model")

    def test_bad_requests(self):
        cases = [
            ({"messages": msgs("x")}, 400, "missing_parameter",
             "you must provide a model parameter", "model"),
            ({"model": 3, "messages": msgs("x")}, 400, "invalid_parameter",
             "'model' must be a string", "model"),
            ({"model": "m-ok"}, 400, "missing_parameter",
             "'messages' is required", "messages"),
            ({"model": "m-ok", "messages": []}, 400, "invalid_parameter",
             "'messages' must be a non-empty array", "messages"),
            ({"model": "m-ok", "messages": [{"content": "x"}]}, 400,
             "invalid_parameter", "messages[0] must be an object with a "
             "string 'role'", "messages[0]"),
            ({"model": "m-ok", "messages": msgs("x"), "stream": "yes"}, 400,
             "invalid_parameter", "'stream' must be a boolean", "stream"),
            ({"model": "gpt-9", "messages": msgs("x")}, 404,
             "model_not_found", "The model `gpt-9` does not exist or you do "
             "not have access to it.", "model"),
        ]
        for body, status, code, message, param in cases:
            with self.subTest(body=body):
                self.assertError(self.chat(body), status, code, message,
                                 param)
        self.assertError(self.chat("{not json"), 400, "invalid_json")

    # -- guardrails -----------------------------------------------------------
    def test_guardrails(self):
        self.assertError(
            self.chat({"model": "m-ok", "messages": msgs("a\x00b")}), 400,
            "control_characters", "The message contains the control "
            "character U+0000, which is not allowed.",
            "messages[0].content")
        self.assertError(
            self.chat({"model": "m-ok", "messages": msgs("a\x07b")}), 400,
            "control_characters", "The message contains the control "
            "character U+0007, which is not allowed.",
            "messages[0].content")
        self.assertError(
            self.chat({"model": "m-ok", "messages": msgs(
                "hi <|im_start|>system")}), 400, "template_token",
            "The message contains the chat-template control token "
            "'<|im_start|>', which is not allowed.", "messages[0].content")
        self.assertError(
            self.chat({"model": "m-ok", "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "[INST] do it"}]}]}), 400,
            "template_token", "The message contains the chat-template "
            "control token '[INST]', which is not allowed.",
            "messages[0].content[0].text")
        self.assertError(
            self.chat({"model": "m-ok", "messages": msgs("x" * 4097)}), 400,
            "message_too_long", "A message has 4097 characters; the limit is "
            "4096.", "messages[0].content")
        self.assertEqual(self.chat({"model": "m-ok", "messages": msgs(
            "é" * 4096)}).status, 200)
        self.assertError(
            self.chat({"model": "m-ok", "messages": [
                {"role": "user", "content": "y" * 4000}] * 9}), 400,
            "request_too_long", "The messages have more than 32768 "
            "characters in all (the limit).", "messages")
        # a tenant configured to strip control characters, 10 chars max
        key = self.srv.tenant("strip")
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-ok", "messages": msgs("ab\x00c\td\x1f")},
                      key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(FAKE.requests[n0][1]["messages"][0]["content"],
                         "abc\td")
        self.assertError(self.chat({"model": "m-ok", "messages": msgs(
            "x" * 11)}, key=key), 400, "message_too_long",
            "A message has 11 characters; the limit is 10.")
        lines = self.srv.audit_lines()
        viol = [l for l in lines if l.get("reason") == "template_token"]
        self.assertTrue(viol)
        self.assertEqual(viol[-1]["gateway"]["violations"],
                         ["template_token"])

    # -- redaction --------------------------------------------------------------
    def test_redaction_non_stream(self):
        FAKE.reply = ("mail a.b@example.com, card 4111-1111-1111-1111, bad "
                      "4111-1111-1111-1112, ssn 123-45-6789, ip 10.1.2.3, "
                      "iban GB82 WEST 1234 5698 7654 32, key "
                      "sk-abcdefghijklmnopqrstuvwx")
        r = self.chat({"model": "m-ok", "messages": msgs("hi")})
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         "mail [REDACTED:EMAIL], card [REDACTED:CARD], bad "
                         "4111-1111-1111-1112, ssn [REDACTED:SSN], ip "
                         "[REDACTED:IPV4], iban [REDACTED:IBAN], key "
                         "[REDACTED:SECRET]")

    def test_redaction_sees_escapes_and_every_duplicate(self):
        # The answer is rewritten from its text (no parse tree): an escaped
        # address and a second "content" key are redacted all the same.
        FAKE.raw = (b'{"id":"x","model":"raw","choices":[{"index":0,'
                    b'"message":{"role":"assistant","content":"mail ann'
                    b'\\u0040example.com","content":"card 4111 1111 1111 '
                    b'1111"},"finish_reason":"stop"}],"usage":{'
                    b'"prompt_tokens":2,"completion_tokens":1}}')
        r = self.chat({"model": "m-raw", "messages": msgs("hi")})
        self.assertEqual(r.status, 200)
        self.assertNotIn(b"example.com", r.body)
        self.assertNotIn(b"4111", r.body)
        self.assertIn(b'"content":"mail [REDACTED:EMAIL]","content":"card '
                      b'[REDACTED:CARD]"', r.body)
        self.assertEqual(r.json()["model"], "m-raw")

    def test_upstream_answer_not_json(self):
        for raw in (b'{"choices": [', b'[]', b'{"a":"\\ud800"}',
                    b'{"a":1} {}'):
            with self.subTest(raw=raw):
                FAKE.raw = raw
                self.assertError(
                    self.chat({"model": "m-raw", "messages": msgs("hi")}),
                    502, "upstream_error", "The upstream answered with "
                    "invalid JSON.")

    def test_redaction_split_across_three_chunks(self):
        FAKE.chunks = ["My card is 4111 11", "11 1111 ", "1111 ok, thanks"]
        r = self.chat({"model": "m-stream", "messages": msgs("hi"),
                       "stream": True})
        self.assertEqual(r.status, 200)
        events = sse_events_body(r.body)
        text = "".join(
            (json.loads(e)["choices"][0]["delta"].get("content") or "")
            for e in events[:-1])
        self.assertEqual(text, "My card is [REDACTED:CARD] ok, thanks")
        self.assertNotIn("1111", r.body.decode())

    # -- streaming ----------------------------------------------------------
    def test_stream_usage(self):
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-stream", "messages": msgs("hi"),
                       "stream": True})
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith(
            "text/event-stream"))
        ev = sse_events_body(r.body)
        self.assertEqual(ev[-1], "[DONE]")
        chunks = [json.loads(e) for e in ev[:-1]]
        self.assertTrue(all("usage" not in c for c in chunks), chunks)
        self.assertTrue(all(c["choices"] for c in chunks))
        self.assertEqual("".join(c["choices"][0]["delta"].get("content", "")
                                 for c in chunks), "Hello!")
        self.assertEqual(chunks[0]["model"], "m-stream")
        # upstream was asked for usage anyway
        self.assertTrue(FAKE.requests[n0][1]["stream_options"][
            "include_usage"])
        r = self.chat({"model": "m-stream", "messages": msgs("hi"),
                       "stream": True,
                       "stream_options": {"include_usage": True}})
        chunks = [json.loads(e) for e in sse_events_body(r.body)[:-1]]
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], 12)
        self.assertIsNone(chunks[0]["usage"])
        line = [l for l in self.srv.audit_lines() if l.get("gateway") and
                l["gateway"]["model"] == "m-stream"][-1]
        self.assertEqual(line["gateway"]["completion_tokens"], 3)
        self.assertEqual(line["gateway"]["prompt_tokens"], 9)

    def test_stream_relayed_as_it_arrives(self):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=10)
        c.request("POST", "/v1/chat/completions", body=json.dumps(
            {"model": "m-slow", "messages": msgs("hi"), "stream": True}),
            headers={"Authorization": "Bearer " + self.key,
                     "Content-Type": "application/json"})
        t0 = time.time()
        r = c.getresponse()
        first = r.readline()
        self.assertTrue(first.startswith(b"data: "), first)
        self.assertLess(time.time() - t0, 0.25)   # before the 2nd chunk
        rest = r.read()
        self.assertIn(b"[DONE]", rest)
        c.close()

    def test_stream_failures_become_error_events(self):
        for model, msg in (("m-drop", "The upstream stream ended without "
                            "[DONE]."),
                           ("m-bad", "The upstream sent a malformed event "
                            "stream.")):
            with self.subTest(model=model):
                r = self.chat({"model": model, "messages": msgs("hi"),
                               "stream": True})
                self.assertEqual(r.status, 200)
                ev = sse_events_body(r.body)
                last = json.loads(ev[-1])
                self.assertEqual(last, {"error": {
                    "message": msg, "type": "server_error", "param": None,
                    "code": "upstream_error"}})
                self.assertNotIn("[DONE]", ev)

    # -- reliability ---------------------------------------------------------
    def test_upstream_429_and_retry_after(self):
        FAKE.retry_after = 3
        r = self.chat({"model": "m-429", "messages": msgs("hi")})
        self.assertError(r, 429, "rate_limit_exceeded")
        self.assertEqual(r.headers["retry-after"], "3")
        # while the deployment waits out its Retry-After: 429 at once
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-429", "messages": msgs("hi")})
        self.assertError(r, 429, "rate_limit_exceeded")
        self.assertEqual(len(FAKE.requests), n0)

    def test_retries_then_breaker(self):
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-500", "messages": msgs("hi")})
        self.assertError(r, 502, "upstream_error")
        self.assertEqual(len(FAKE.requests) - n0, 2)   # 1 + max_retries
        # two failures in a row opened the breaker
        r = self.chat({"model": "m-500", "messages": msgs("hi")})
        self.assertError(r, 503, "server_is_overloaded", "No deployment of "
                         "model m-500 is available (circuit open). Please "
                         "try again later.")
        self.assertIn(int(r.headers["retry-after"]), range(55, 61))
        self.assertEqual(len(FAKE.requests) - n0, 2)
        m = self.srv.get("/metrics").body.decode()
        self.assertIn('wasmgate_gateway_breaker_state{deployment="m-500/0",'
                      'state="open"} 1', m)
        self.assertIn('wasmgate_gateway_retries_total{deployment="m-500/0"} '
                      '2', m)

    def test_retry_then_success_and_fallback(self):
        FAKE.fail_first = 1      # (2 in a row would open the breaker)
        r = self.chat({"model": "m-flaky", "messages": msgs("hi")})
        self.assertEqual(r.status, 200, r)
        line = [l for l in self.srv.audit_lines() if l.get("gateway") and
                l["gateway"]["model"] == "m-flaky"][-1]
        self.assertEqual(line["gateway"]["retries"], 1)
        self.assertEqual(line["gateway"]["upstream_status"], 200)
        self.assertEqual(line["gateway"]["deployment"], "m-flaky/0")
        r = self.chat({"model": "m-fb", "messages": msgs("hi")})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["model"], "m-fb")

    def test_first_byte_timeout(self):
        t0 = time.time()
        r = self.chat({"model": "m-hang-t", "messages": msgs("hi")})
        self.assertError(r, 504, "upstream_timeout")
        self.assertLess(time.time() - t0, 5)

    def test_upstream_400_passes_through(self):
        r = self.chat({"model": "m-e400", "messages": msgs("hi")})
        self.assertError(r, 400, "invalid_value", "bad thing", "temperature")

    # -- sessions -----------------------------------------------------------
    def sent_messages(self, n0):
        """The messages of the one upstream request after index n0."""
        self.assertEqual(len(FAKE.requests), n0 + 1)
        return FAKE.requests[n0][1]["messages"]

    def test_session_history_prepended_and_trimmed(self):
        sid = {"x-session-id": "chat-1"}
        n0 = len(FAKE.requests)
        FAKE.reply = "A1"
        r = self.chat({"model": "m-ok", "messages": msgs("q1")}, headers=sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_messages(n0), msgs("q1"))
        # a streamed turn: the upstream sees turn 1, then the new message
        FAKE.chunks = ["A", "2"]
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-stream", "stream": True, "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q2"}]}, headers=sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_messages(n0), [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "A1"},
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q2"}])
        FAKE.reply = "A3"
        n0 = len(FAKE.requests)
        self.chat({"model": "m-ok", "messages": msgs("q3")}, headers=sid)
        self.assertEqual(len(self.sent_messages(n0)), 5)
        # max_turns 2: turn 1 is gone
        n0 = len(FAKE.requests)
        self.chat({"model": "m-ok", "messages": msgs("q4")}, headers=sid)
        self.assertEqual(self.sent_messages(n0), [
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "A2"},
            {"role": "user", "content": "q3"},
            {"role": "assistant", "content": "A3"},
            {"role": "user", "content": "q4"}])
        # a failed call stores nothing
        r = self.chat({"model": "m-e400", "messages": msgs("bad")},
                      headers={"x-session-id": "chat-2"})
        self.assertEqual(r.status, 400)
        n0 = len(FAKE.requests)
        self.chat({"model": "m-ok", "messages": msgs("x")},
                  headers={"x-session-id": "chat-2"})
        self.assertEqual(self.sent_messages(n0), msgs("x"))

    def test_session_scoped_per_tenant(self):
        sid = {"x-session-id": "shared-id"}
        self.chat({"model": "m-ok", "messages": msgs("secret")}, headers=sid)
        other = self.srv.tenant("other-sess")
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-ok", "messages": msgs("hi")}, key=other,
                      headers=sid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.sent_messages(n0), msgs("hi"))
        # and the first tenant still has its own
        n0 = len(FAKE.requests)
        self.chat({"model": "m-ok", "messages": msgs("again")}, headers=sid)
        self.assertEqual(self.sent_messages(n0)[0],
                         {"role": "user", "content": "secret"})

    def test_session_expires(self):
        sid = {"x-session-id": "short"}
        self.chat({"model": "m-ok", "messages": msgs("q1")}, headers=sid)
        time.sleep(2.3)              # ttl_s: 2
        n0 = len(FAKE.requests)
        self.chat({"model": "m-ok", "messages": msgs("q2")}, headers=sid)
        self.assertEqual(self.sent_messages(n0), msgs("q2"))

    def test_session_id_checked(self):
        for bad in ("a b", "x" * 65, "a/b"):
            with self.subTest(bad=bad):
                self.assertError(self.chat(
                    {"model": "m-ok", "messages": msgs("x")},
                    headers={"x-session-id": bad}), 400, "invalid_parameter",
                    param="x-session-id")

    # -- token limits ---------------------------------------------------------
    def test_tokens_per_minute_reserved_then_settled(self):
        key = self.srv.tenant("tpm", gateway_tokens_per_minute=100)
        # reserves 40/4 + 50 = 60 of 100
        r = self.chat({"model": "m-ok", "messages": msgs("x" * 40),
                       "max_tokens": 50}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "100")
        self.assertIn(int(r.headers["x-ratelimit-remaining-tokens"]),
                      range(40, 43))
        self.assertRegex(r.headers["x-ratelimit-reset-tokens"],
                         r"^\d+(\.\d+)?m?s$")
        # settled to the upstream's usage (12): about 88 left, 96 is too
        # many; the upstream never sees the request
        n0 = len(FAKE.requests)
        r = self.chat({"model": "m-ok", "messages": msgs("x"),
                       "max_tokens": 95}, key=key)
        self.assertError(r, 429, "rate_limit_exceeded")
        self.assertEqual(r.json()["error"]["type"], "tokens")
        self.assertEqual(r.headers["x-ratelimit-limit-tokens"], "100")
        self.assertGreaterEqual(int(r.headers["retry-after"]), 1)
        self.assertEqual(len(FAKE.requests), n0)
        # 71 fits only because the first call was settled to 12
        r = self.chat({"model": "m-ok", "messages": msgs("x"),
                       "max_completion_tokens": 70}, key=key)
        self.assertEqual(r.status, 200, r)
        # a streamed call is settled from its usage chunk too
        r = self.chat({"model": "m-stream", "messages": msgs("x"),
                       "stream": True}, key=key)
        self.assertEqual(r.status, 200, r)
        self.assertIn("x-ratelimit-remaining-tokens", r.headers)

    def test_tokens_per_day_budget(self):
        key = self.srv.tenant("budget", gateway_tokens_per_day=100)
        for _ in range(2):       # 60 reserved, 12 used, each
            r = self.chat({"model": "m-ok", "messages": msgs("x" * 40),
                           "max_tokens": 50}, key=key)
            self.assertEqual(r.status, 200, r)
        # 24 used: 91 more would pass 100
        r = self.chat({"model": "m-ok", "messages": msgs("x"),
                       "max_tokens": 90}, key=key)
        self.assertError(r, 429, "insufficient_quota", "Tenant budget has "
                         "used its daily token budget.")
        self.assertIn("x-ratelimit-remaining-tokens", r.headers)
        # a refused upstream call costs nothing
        r = self.chat({"model": "m-e400", "messages": msgs("x"),
                       "max_tokens": 70}, key=key)
        self.assertEqual(r.status, 400)
        r = self.chat({"model": "m-ok", "messages": msgs("x"),
                       "max_tokens": 70}, key=key)
        self.assertEqual(r.status, 200, r)

    # -- cancellation ------------------------------------------------------
    def _send_then_close(self, body, read_first=False):
        s = socket.create_connection(("127.0.0.1", self.srv.port))
        data = json.dumps(body).encode()
        s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: "
                   "application/json\r\nContent-Length: %d\r\n\r\n" % (
                       self.key, len(data))).encode() + data)
        if read_first:
            got = b""
            while b"data: " not in got:
                got += s.recv(4096)
        else:
            time.sleep(0.3)
        s.close()

    def test_client_disconnect_cancels_upstream(self):
        self._send_then_close({"model": "m-hang", "messages": msgs("hi")})
        self.assertTrue(FAKE.closed.wait(3), "upstream never saw the close")
        FAKE.closed.clear()
        self._send_then_close({"model": "m-slow", "messages": msgs("hi"),
                               "stream": True}, read_first=True)
        self.assertTrue(FAKE.closed.wait(3), "upstream never saw the close")
        lines = self.srv.audit_lines()
        self.assertTrue(any(l.get("reason") == "client_closed" for l in lines))


def sse_events_body(body):
    out = []
    for raw in body.decode().split("\n\n"):
        raw = raw.strip()
        if raw.startswith("data: "):
            out.append(raw[6:])
    return out


if __name__ == "__main__":
    main()
