"""Helpers of the integration tests: start the real `wasmgate serve` on a
random loopback port with a fresh data directory, talk HTTP to it, check
error bodies exactly. Python 3 standard library only.

Environment (set by tests/integration/CMakeLists.txt):
  WASMGATE      the wasmgate binary
  WG_GUESTS     the folder of the guest modules (*.wasm)
  WG_ISOLATION  process | thread: executor.isolation of every server whose
                config does not set it (unset: the server's default,
                process). The suite is registered once per mode.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WASMGATE = os.environ.get("WASMGATE") or os.path.join(
    ROOT, "build", "src", "cli", "wasmgate")
GUESTS = os.environ.get("WG_GUESTS") or os.path.join(
    ROOT, "build", "tests", "integration", "guests")
ADMIN_KEY = "wg-admin-integration-" + os.urandom(8).hex()

_live = []          # servers to kill if a test dies without stopping them


@atexit.register
def _kill_leftovers():
    for s in list(_live):
        s.kill()


def worker_pids(server_pid):
    """The server's child processes (its workers)."""
    pids = set()
    for tid in os.listdir("/proc/%d/task" % server_pid):
        try:
            with open("/proc/%d/task/%s/children" % (server_pid, tid)) as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def guest(name):
    """The bytes of guests/<name>.wasm."""
    with open(os.path.join(GUESTS, name + ".wasm"), "rb") as f:
        return f.read()


def content_length(head):
    """The Content-Length of a response's head (bytes), 0 when none."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def read_response(c):
    """One whole HTTP/1.1 response (Content-Length framed) from socket c."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = c.recv(4096)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = content_length(head)
    while len(body) < length:
        piece = c.recv(4096)
        if not piece:
            break
        body += piece
    return head + b"\r\n\r\n" + body


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lowercased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


class Server:
    """One `wasmgate serve` process. Use as a context manager or call
    start() and stop(); the temporary directory goes with it."""

    def __init__(self, config=None, env=None, user=None):
        """user: (uid, gid) to run the server as (a test running as root
        that needs a non-root server): its directory is given to them."""
        self.config = config
        self.env = env or {}
        self.user = user
        self.proc = None
        self.port = None
        self.log = []
        self.tmp = tempfile.mkdtemp(prefix="wgtest-")
        self.data_dir = os.path.join(self.tmp, "data")
        self._port_seen = threading.Event()

    # -- life ---------------------------------------------------------
    def _config_text(self):
        """The config, with WG_ISOLATION applied when it sets none."""
        mode = os.environ.get("WG_ISOLATION")
        text = self.config
        if not mode or (text and "isolation:" in text):
            return text
        text = text or ""
        line = "  isolation: %s\n" % mode
        if "executor:\n" in text:
            return text.replace("executor:\n", "executor:\n" + line, 1)
        return text + ("" if text.endswith("\n") or not text else "\n") + \
            "executor:\n" + line

    def start(self, timeout=15):
        args = [WASMGATE, "serve", "--listen", "127.0.0.1:0",
                "--data-dir", self.data_dir]
        if self.user and os.geteuid() == 0:
            uid, gid = self.user
            os.chown(self.tmp, uid, gid)
            args = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                    "--clear-groups", "--"] + args
        config = self._config_text()
        if config is not None:
            path = os.path.join(self.tmp, "config.yaml")
            with open(path, "w") as f:
                f.write(config)
            args += ["--config", path]
        env = dict(os.environ)
        env["WASMGATE_ADMIN_KEY"] = ADMIN_KEY
        # The policies' AOT tier compiles with cc: only where a test asks
        # (test_policy_aot.py), not in every server of the suite.
        env.setdefault("WASMGATE_POLICY_AOT", "off")
        env.update(self.env)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        _live.append(self)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        try:
            if not self._port_seen.wait(timeout):
                raise RuntimeError("server did not start: %s" % self.log)
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    if self.get("/readyz").status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.02)
            raise RuntimeError("server never ready: %s" % self.log)
        except BaseException:
            self.kill()
            raise

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.append(line)
            if "listening on http://" in line and not self.port:
                self.port = int(line.split("http://", 1)[1].split()[0]
                                .rsplit(":", 1)[1])
                self._port_seen.set()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the server and waits; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self in _live:
            _live.remove(self)
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _live:
            _live.remove(self)

    def cleanup(self):
        self.kill()
        if self.proc:
            self._reader.join(5)
            self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # -- HTTP ---------------------------------------------------------
    def request(self, method, path, body=None, key=None, headers=None,
                ctype=None, timeout=60):
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            ctype = ctype or "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if ctype:
            h["Content-Type"] = ctype
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return Resp(r.status, hdrs, data)
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def admin(self, method, path, body=None, **kw):
        return self.request(method, path, body=body, key=ADMIN_KEY, **kw)

    # -- conveniences ---------------------------------------------------
    def tenant(self, tid, **quotas):
        """Creates a tenant and one key; returns the key."""
        r = self.admin("POST", "/v1/admin/tenants",
                       {"id": tid, "quotas": quotas})
        assert r.status == 201, r
        return self.new_key(tid)

    def new_key(self, tid):
        r = self.admin("POST", "/v1/admin/tenants/%s/keys" % tid)
        assert r.status == 201, r
        return r.json()["key"]

    def upload(self, key, wasm):
        """Uploads a module; returns its id."""
        r = self.request("POST", "/v1/modules", body=wasm, key=key,
                         ctype="application/wasm")
        assert r.status in (200, 201), r
        return r.json()["id"]

    def run(self, key, module_id, spec=None, **kw):
        return self.request("POST", "/v1/modules/%s/executions" % module_id,
                            body=spec if spec is not None else {}, key=key,
                            **kw)

    def audit_verify(self):
        p = subprocess.run([WASMGATE, "audit", "verify", "--data-dir",
                            self.data_dir], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def audit_lines(self, at_least=0, timeout=5):
        """The audit log's records. A request's line is written when its
        connection completes, just after the client has the answer: wait
        for at_least lines."""
        deadline = time.time() + timeout
        while True:
            with open(os.path.join(self.data_dir, "audit.log")) as f:
                lines = [json.loads(line) for line in f]
            if len(lines) >= at_least or time.time() > deadline:
                return lines
            time.sleep(0.02)


class ServerTest(unittest.TestCase):
    """A test case with one server for the whole class (CONFIG: its YAML)."""
    CONFIG = None
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(cls.CONFIG).start()

    @classmethod
    def tearDownClass(cls):
        """Stops the server (it must exit 0) and verifies the audit log
        of everything the class did."""
        if not cls.srv:
            return
        try:
            died = cls.srv.proc.poll() is not None
            rc = cls.srv.stop()
            verify_rc, out = cls.srv.audit_verify()
            if died or rc != 0 or verify_rc != 0:
                raise AssertionError("exit %s, audit verify %s: %s\n"
                                     "server log:\n%s" % (
                                         rc, verify_rc, out,
                                         "\n".join(cls.srv.log)))
        finally:
            cls.srv.cleanup()

    def assertError(self, r, status, code, message=None, param=(),
                    contains=None):
        """r is an error answer with exactly this status and code (and
        message / param / a message substring when given)."""
        self.assertEqual(r.status, status, r)
        self.assertIn("x-request-id", r.headers)
        self.assertTrue(r.headers.get("content-type", "").startswith(
            "application/json"), r.headers)
        body = r.json()
        self.assertEqual(list(body.keys()), ["error"], body)
        err = body["error"]
        self.assertEqual(sorted(err.keys()),
                         ["code", "message", "param", "type"], err)
        self.assertEqual(err["code"], code, err)
        self.assertIsInstance(err["type"], str)
        self.assertTrue(err["type"])
        if message is not None:
            self.assertEqual(err["message"], message, err)
        if contains is not None:
            self.assertIn(contains, err["message"], err)
        if param != ():
            self.assertEqual(err["param"], param, err)
        return err


def main():
    unittest.main(verbosity=2)
