"""response_format through the gateway: json_object and json_schema
(strict) answers are checked; a failing answer is asked again once
upstream, a second failure is 502 response_format_violation; a streamed
request with a format is held until complete and checked (the client sees
only the good attempt); invalid schemas are 400 naming the parameter and
never reach the upstream."""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import ServerTest, Server, main  # noqa: E402
from fake_upstream import Fake  # noqa: E402

FAKE = Fake()

PERSON = {"type": "object",
          "properties": {"name": {"type": "string", "minLength": 1},
                         "age": {"type": "integer", "minimum": 0},
                         "tags": {"type": "array",
                                  "items": {"enum": ["a", "b"]}}},
          "required": ["name", "age", "tags"],
          "additionalProperties": False}


def config():
    out = ["models:"]
    for name, up in (("m-seq", "seq"), ("m-seqs", "seqstream")):
        out += ["  - name: %s" % name, "    base_url: %s" % FAKE.url,
                "    upstream_model: %s" % up]
    out += ["gateway:", "  audit_content: redacted"]
    return "\n".join(out) + "\n"


def schema_fmt(schema, strict=True, name="person"):
    return {"type": "json_schema",
            "json_schema": {"name": name, "strict": strict,
                            "schema": schema}}


def sse_contents(body):
    events, content = [], ""
    for raw in body.decode().split("\n\n"):
        raw = raw.strip()
        if raw.startswith("data: "):
            events.append(raw[6:])
    for e in events:
        if e == "[DONE]":
            continue
        for ch in json.loads(e).get("choices", []):
            content += ch.get("delta", {}).get("content") or ""
    return events, content


class ResponseFormatTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(config()).start()
        cls.key = cls.srv.tenant("acme")

    def setUp(self):
        FAKE.replies = []
        FAKE.reply = "{}"

    def chat(self, fmt, model="m-seq", **extra):
        body = {"model": model,
                "messages": [{"role": "user", "content": "give JSON"}],
                "response_format": fmt}
        body.update(extra)
        return self.srv.request("POST", "/v1/chat/completions", body=body,
                                key=self.key)

    def upstream_calls(self, n0):
        return FAKE.requests[n0:]

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

    # -- json_object --------------------------------------------------
    def test_json_object_retried_once_then_ok(self):
        FAKE.replies = ["Sure! Here it is: {", '{"a": 1}']
        n0 = len(FAKE.requests)
        r = self.chat({"type": "json_object"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         '{"a": 1}')
        calls = self.upstream_calls(n0)
        self.assertEqual(len(calls), 2)
        # The format goes upstream as the client sent it, both times.
        for _, sent, _ in calls:
            self.assertEqual(sent["response_format"], {"type": "json_object"})
        line = self.audit_for(r.headers["x-request-id"])
        gw = line["gateway"]
        self.assertEqual(gw["response_format_retries"], 1)
        self.assertIn("not valid JSON", gw["response_format_error"])

    def test_json_object_two_failures_is_502(self):
        FAKE.replies = ["nope", "[1, 2]"]
        n0 = len(FAKE.requests)
        r = self.chat({"type": "json_object"})
        self.assertError(r, 502, "response_format_violation",
                         "The model's answer did not satisfy response_format "
                         "after 2 attempts: the content is JSON but not an "
                         "object", param="response_format")
        self.assertEqual(len(self.upstream_calls(n0)), 2)
        line = self.audit_for(r.headers["x-request-id"])
        self.assertEqual(line["status"], 502)
        self.assertEqual(line["reason"], "response_format_violation")

    def test_good_first_answer_is_not_asked_again(self):
        FAKE.replies = ['{"x": [true]}']
        n0 = len(FAKE.requests)
        r = self.chat({"type": "json_object"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.upstream_calls(n0)), 1)
        # "text" checks nothing.
        FAKE.replies = ["plain words"]
        r = self.chat({"type": "text"})
        self.assertEqual(r.status, 200, r)

    # -- json_schema --------------------------------------------------
    def test_schema_type_required_enum_items(self):
        cases = [
            ('{"name": "Ann", "age": "3", "tags": []}',
             'age: Invalid type. Expected: "integer"'),
            ('{"name": "Ann", "tags": []}', "age is required"),
            ('{"name": "Ann", "age": 3, "tags": ["c"]}',
             "tags.0: Must be one of the enum"),
            ('{"name": "Ann", "age": 3, "tags": [], "x": 1}',
             "Additional property x is not allowed"),
            ('{"name": "", "age": 3, "tags": []}', "name: String length"),
            ('{"name": "Ann", "age": -1, "tags": []}',
             "age: Must be greater than or equal to minimum"),
        ]
        good = '{"name": "Ann", "age": 3, "tags": ["a", "b"]}'
        for bad, why in cases:
            with self.subTest(bad=bad):
                FAKE.replies = [bad, good]
                r = self.chat(schema_fmt(PERSON))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(
                    r.json()["choices"][0]["message"]["content"], good)
                line = self.audit_for(r.headers["x-request-id"])
                self.assertIn(why, line["gateway"]["response_format_error"])
                FAKE.replies = [bad, bad]
                r = self.chat(schema_fmt(PERSON))
                err = self.assertError(r, 502, "response_format_violation",
                                       param="response_format")
                self.assertIn("the content does not match the schema: ",
                              err["message"])
                self.assertIn(why, err["message"])

    def test_invalid_schemas_are_400(self):
        def with_prop(p):
            return {"type": "object", "properties": {"p": p},
                    "required": ["p"], "additionalProperties": False}
        root = "response_format.json_schema.schema"
        cases = [
            ("x", "invalid_parameter", "response_format",
             "'response_format' must be an object"),
            ({"type": "yaml"}, "invalid_parameter", "response_format.type",
             "'response_format.type' must be one of 'text', 'json_object', "
             "'json_schema'"),
            ({"type": "json_schema"}, "missing_parameter",
             "response_format.json_schema",
             "'response_format.json_schema' must be an object when type is "
             "'json_schema'"),
            (schema_fmt(PERSON, name="a b"), "invalid_parameter",
             "response_format.json_schema.name",
             "'response_format.json_schema.name' must be 1 to 64 characters"
             " of a-z A-Z 0-9 _ -"),
            ({"type": "json_schema", "json_schema": {
                "name": "n", "strict": "yes", "schema": PERSON}},
             "invalid_parameter", "response_format.json_schema.strict",
             "'response_format.json_schema.strict' must be a boolean"),
            ({"type": "json_schema", "json_schema": {
                "name": "n", "strict": True}}, "missing_parameter", root,
             "'%s' is required when strict is true" % root),
            (schema_fmt(with_prop({"type": "int"})), "invalid_parameter",
             root + ".properties.p.type",
             "Invalid schema for response_format: %s.properties.p.type: "
             "must be one of object, array, string, number, integer, "
             "boolean, null (or a list of them)" % root),
            (schema_fmt(with_prop({"$ref": "#/$defs/x"})),
             "invalid_parameter", root + ".properties.p.$ref", None),
            (schema_fmt(with_prop({"type": "string", "pattern": "("})),
             "invalid_parameter", root + ".properties.p.pattern", None),
            (schema_fmt(with_prop({"type": "string", "minLength": -1})),
             "invalid_parameter", root + ".properties.p.minLength",
             "Invalid schema for response_format: %s.properties.p.minLength"
             ": must be a non-negative integer" % root),
            (schema_fmt(with_prop({"enum": []})), "invalid_parameter",
             root + ".properties.p.enum", None),
            (schema_fmt(with_prop({"type": "array", "items": [{}]})),
             "invalid_parameter", root + ".properties.p.items", None),
            (schema_fmt({"type": "object", "properties": {"a": {}},
                         "required": ["a"]}),
             "invalid_parameter", root + ".additionalProperties",
             "Invalid schema for response_format: %s.additionalProperties: "
             "must be false for every object when strict is true" % root),
            (schema_fmt({"type": "object", "properties": {"a": {}, "b": {}},
                         "required": ["a"], "additionalProperties": False}),
             "invalid_parameter", root + ".required",
             "Invalid schema for response_format: %s.required: must list "
             "every property when strict is true (missing 'b')" % root),
            (schema_fmt({"type": "array"}), "invalid_parameter",
             root + ".type", None),
            (schema_fmt(["not", "an", "object"], strict=False),
             "invalid_parameter", root,
             "Invalid schema for response_format: %s: must be an object"
             % root),
        ]
        n0 = len(FAKE.requests)
        for fmt, code, param, message in cases:
            with self.subTest(param=param, fmt=fmt):
                r = self.chat(fmt)
                err = self.assertError(r, 400, code, message, param=param)
                if param.endswith("$ref"):
                    self.assertIn("the keyword '$ref' is not supported",
                                  err["message"])
        self.assertEqual(len(FAKE.requests), n0)
        # Not strict: the strict-only rules do not apply; annotations pass.
        FAKE.replies = ['{"a": "x"}']
        r = self.chat(schema_fmt({"type": "object", "title": "T",
                                  "description": "d",
                                  "properties": {"a": {"type": "string",
                                                       "format": "email"}}},
                                 strict=False))
        self.assertEqual(r.status, 200, r)

    # -- streams ------------------------------------------------------
    def test_stream_is_held_checked_and_retried(self):
        FAKE.replies = ["this is not JSON at all", '{"ok": true}']
        n0 = len(FAKE.requests)
        r = self.chat({"type": "json_object"}, model="m-seqs", stream=True)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith(
            "text/event-stream"))
        events, content = sse_contents(r.body)
        self.assertEqual(content, '{"ok": true}')
        self.assertEqual(events[-1], "[DONE]")
        self.assertNotIn("not JSON", r.body.decode())
        self.assertEqual(len(self.upstream_calls(n0)), 2)

    def test_stream_two_failures_is_a_502_answer(self):
        FAKE.replies = ['{"name": 1}', '{"name": 2}']
        fmt = schema_fmt({"type": "object",
                          "properties": {"name": {"type": "string"}},
                          "required": ["name"],
                          "additionalProperties": False})
        r = self.chat(fmt, model="m-seqs", stream=True,
                      stream_options={"include_usage": True})
        self.assertError(r, 502, "response_format_violation",
                         "The model's answer did not satisfy response_format "
                         "after 2 attempts: the content does not match the "
                         "schema: name: Invalid type. Expected: \"string\"",
                         param="response_format")


class NoRetryTest(ServerTest):
    """gateway.response_format_retries: 0 - one attempt; bad values stop
    the server at start."""
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(config() + "  response_format_retries: 0\n").start()
        cls.key = cls.srv.tenant("acme")

    def test_one_attempt(self):
        FAKE.replies = ["no", '{"a": 1}']
        n0 = len(FAKE.requests)
        r = self.srv.request("POST", "/v1/chat/completions", body={
            "model": "m-seq", "response_format": {"type": "json_object"},
            "messages": [{"role": "user", "content": "x"}]}, key=self.key)
        err = self.assertError(r, 502, "response_format_violation")
        self.assertIn("after 1 attempt: the content is not valid JSON",
                      err["message"])
        self.assertEqual(len(FAKE.requests), n0 + 1)
        FAKE.replies = []

    def test_bad_value_refused_at_start(self):
        s = Server(config() + "  response_format_retries: 9\n")
        try:
            with self.assertRaises(RuntimeError):
                s.start(timeout=5)
            self.assertIn("gateway.response_format_retries: '9' is not a "
                          "number in [0, 5]", "\n".join(s.log))
        finally:
            s.cleanup()


if __name__ == "__main__":
    main()
