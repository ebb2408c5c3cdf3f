"""A fake OpenAI-compatible upstream for the gateway tests (Python 3
standard library, loopback only). It runs in the test's process, on a
thread, so tests read what it saw directly.

The upstream model name chooses the behaviour:
  ok          a chat.completion whose content is Fake.reply
  stream      SSE: Fake.chunks one per event (Fake.delay s apart), a
              finish chunk, the usage chunk when include_usage, [DONE]
  e429 / e500 / e503   that status (Retry-After: Fake.retry_after if set)
  flaky       Fake.fail_first requests answer 500, then like ok
  hang        never answers; records when the client closes (Fake.closed)
  drop        streams two chunks then closes the connection
  badsse      a malformed event
  slowstream  like stream with 0.3 s between chunks; records a close
  say:TEXT    like ok, with TEXT as the content
  seq         like ok, the content taken from Fake.replies in turn (then
              Fake.reply)
  seqstream   like stream, the content taken from Fake.replies in turn
              and sent in three pieces

POST .../embeddings answers an embedding list: one vector per input,
[code points, words, index] of each text (or [ids, 0, index] of a token
array; base64 of float32s with encoding_format base64), usage
prompt_tokens = the words (or ids) in all; the models
e429 / e500 / e503 / hang behave as above. Fake.paths records each
request's path.
"""
import base64
import json
import socket
import struct
import select
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Fake:
    def __init__(self):
        self.reply = "Hello!"
        self.chunks = ["Hel", "lo", "!"]
        self.delay = 0.0
        self.retry_after = None
        self.fail_first = 0
        self.replies = []           # seq / seqstream: contents in turn
        self.raw = b"{}"            # raw: the 200 answer's body as it is
        self.requests = []          # (model, body dict, headers dict)
        self.paths = []             # the path of each request
        self.closed = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                with fake.lock:
                    fake.requests.append((body.get("model"), body,
                                          {k.lower(): v for k, v in
                                           self.headers.items()}))
                    fake.paths.append(self.path)
                    count = len([r for r in fake.requests
                                 if r[0] == body.get("model")])
                if self.path.endswith("/embeddings"):
                    fake.embeddings(self, body)
                else:
                    fake.handle(self, body, count)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/v1" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def models_yaml(self, models):
        """The config's models: section for (name, upstream model, extra
        settings) triples, all served by this fake."""
        out = ["models:"]
        for name, up, extra in models:
            out += ["  - name: %s" % name, "    base_url: %s" % self.url,
                    "    api_key_env: FAKE_UPSTREAM_KEY",
                    "    upstream_model: %s" % up]
            out += ["    %s: %s" % kv for kv in extra.items()]
        return out

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def models_seen(self):
        with self.lock:
            return [r[0] for r in self.requests]

    # -- answers ------------------------------------------------------
    def send_json(self, h, status, obj, extra=None):
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def completion(self, model, content):
        return {"id": "chatcmpl-fake", "object": "chat.completion",
                "created": 1700000000, "model": model,
                "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": content,
                    "refusal": None}, "logprobs": None,
                    "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 3,
                          "total_tokens": 12}}

    def chunk(self, model, delta, finish=None, usage=False):
        c = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
             "created": 1700000000, "model": model,
             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                          "finish_reason": finish}]}
        if usage:
            c["usage"] = None
        return c

    def wait_close(self, h, limit=30):
        """Blocks until the client closes its connection; records it."""
        sock = h.connection
        end = time.time() + limit
        while time.time() < end:
            r, _, _ = select.select([sock], [], [], 0.05)
            if r:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        self.closed.set()
                        return
                except OSError:
                    self.closed.set()
                    return

    def error(self, h, status, code):
        extra = {}
        if self.retry_after is not None:
            extra["Retry-After"] = str(self.retry_after)
        self.send_json(h, status, {"error": {
            "message": "fake %d" % status, "type": "server_error",
            "param": None, "code": code}}, extra)

    def embeddings(self, h, body):
        model = body.get("model")
        if model in ("e429", "e500", "e503"):
            return self.error(h, int(model[1:]), "fake")
        if model == "hang":
            return self.wait_close(h)
        inputs = body.get("input")
        if isinstance(inputs, str) or (
                isinstance(inputs, list) and inputs and
                isinstance(inputs[0], int)):
            inputs = [inputs]
        data, tokens = [], 0
        for i, x in enumerate(inputs):
            if isinstance(x, str):
                vec = [float(len(x)), float(len(x.split())), float(i)]
                tokens += len(x.split())
            else:
                vec = [float(len(x)), 0.0, float(i)]
                tokens += len(x)
            if body.get("encoding_format") == "base64":   # float32 LE
                vec = base64.b64encode(struct.pack("<%df" % len(vec),
                                                   *vec)).decode()
            data.append({"object": "embedding", "index": i,
                         "embedding": vec})
        self.send_json(h, 200, {"object": "list", "data": data,
                                "model": model, "usage": {
                                    "prompt_tokens": tokens,
                                    "total_tokens": tokens}})

    def handle(self, h, body, count):
        model = body.get("model")
        if model == "ok":
            self.send_json(h, 200, self.completion(model, self.reply))
        elif model == "seq":
            with self.lock:
                text = self.replies.pop(0) if self.replies else self.reply
            self.send_json(h, 200, self.completion(model, text))
        elif model.startswith("say:"):
            self.send_json(h, 200, self.completion(model, model[4:]))
        elif model == "raw":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(self.raw)))
            h.end_headers()
            h.wfile.write(self.raw)
        elif model in ("e429", "e500", "e503"):
            self.error(h, int(model[1:]), "fake")
        elif model == "e400":
            self.send_json(h, 400, {"error": {
                "message": "bad thing", "type": "invalid_request_error",
                "param": "temperature", "code": "invalid_value"}})
        elif model == "flaky":
            if count <= self.fail_first:
                self.error(h, 500, "fake")
            else:
                self.send_json(h, 200, self.completion(model, self.reply))
        elif model == "hang":
            self.wait_close(h)
        else:
            self.stream(h, body, model)

    def stream(self, h, body, model):
        usage = (body.get("stream_options") or {}).get("include_usage")
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True

        def ev(obj):
            data = obj if isinstance(obj, str) else json.dumps(obj)
            h.wfile.write(("data: %s\n\n" % data).encode())
            h.wfile.flush()

        try:
            if model == "badsse":
                ev(self.chunk(model, {"role": "assistant", "content": ""}))
                h.wfile.write(b"data: {not json\n\n")
                h.wfile.flush()
                return
            ev(self.chunk(model, {"role": "assistant", "content": ""},
                          usage=usage))
            delay = 0.3 if model == "slowstream" else self.delay
            chunks = self.chunks
            if model == "seqstream":
                with self.lock:
                    text = self.replies.pop(0) if self.replies else self.reply
                k = max(1, len(text) // 3)
                chunks = [text[:k], text[k:2 * k], text[2 * k:]]
            for i, piece in enumerate(chunks):
                if delay:
                    time.sleep(delay)
                ev(self.chunk(model, {"content": piece}, usage=usage))
                if model == "drop" and i == 1:
                    h.connection.shutdown(socket.SHUT_RDWR)
                    return
            ev(self.chunk(model, {}, "stop", usage=usage))
            if usage:
                ev({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "created": 1700000000, "model": model, "choices": [],
                    "usage": {"prompt_tokens": 9, "completion_tokens": 3,
                              "total_tokens": 12}})
            ev("[DONE]")
        except (BrokenPipeError, ConnectionResetError):
            self.closed.set()
