"""Policies on the AOT tier over HTTP: a policy answers at once (the
interpreter) and moves to the compiled tier in the background with the same
answers; a missing wasm2c leaves the server on the interpreter with the
reason logged (policy.aot: auto) or stops it from starting (policy.aot: on).
The objects are cached with the unit tests' (-O1) in the build directory,
so each policy is compiled once per build directory."""
import os
import shutil
import subprocess
import tempfile
import time

from wgtest import ADMIN_KEY, ServerTest, main, WASMGATE

OPA = os.environ.get("WG_OPA_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
    "opa-policies")
# WASMGATE is <build>/src/cli/wasmgate
CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(WASMGATE)))), "aot-cache")


def wasm(abi, name):
    with open(os.path.join(OPA, abi, name), "rb") as f:
        return f.read()


def have_tools():
    return shutil.which("wasm2c") and (shutil.which("cc") or
                                       shutil.which("gcc"))


class PolicyAotTest(ServerTest):
    CONFIG = ("policy:\n  aot: on\n  aot_opt: \"-O1\"\n"
              "  aot_cache_dir: \"%s\"\n" % CACHE)

    @classmethod
    def setUpClass(cls):
        if not have_tools():
            raise __import__("unittest").SkipTest("wasm2c or cc missing")
        super().setUpClass()

    def decide(self, inp):
        r = self.srv.request("POST", "/v1/data/example/hello",
                             body={"input": inp}, key=ADMIN_KEY)
        self.assertEqual(r.status, 200, r)
        return r.json().get("result")

    def wait_log(self, text, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.srv.log):
                return
            time.sleep(0.05)
        self.fail("no %r in the log: %s" % (text, "\n".join(self.srv.log)))

    def test_served_at_once_then_compiled(self):
        body = wasm("abi-1.3", "example.wasm")
        r = self.srv.request("PUT", "/v1/policies/hello", body=body,
                             key=ADMIN_KEY, ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        # Decisions right away (the interpreter, or the cache already).
        self.assertEqual(self.decide({"message": "world"}), False)
        self.wait_log("runs on the AOT tier")
        for _ in range(20):
            self.assertEqual(self.decide({"message": "world"}), False)
            self.assertEqual(self.decide({"message": "mars"}), False)


class PolicyAotMissingToolsTest(ServerTest):
    CONFIG = ("policy:\n  aot: auto\n"
              "  aot_wasm2c: /nonexistent/wasm2c\n")

    def test_auto_logs_the_reason_and_serves(self):
        self.assertTrue(any(
            "policy.aot auto: policies stay on the interpreter: AOT tier "
            "unavailable: wasm2c not found ('/nonexistent/wasm2c'; Debian "
            "package wabt)" in line for line in self.srv.log), self.srv.log)
        r = self.srv.request("PUT", "/v1/policies/hello",
                             body=wasm("abi-1.3", "example.wasm"),
                             key=ADMIN_KEY, ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        r = self.srv.request("POST", "/v1/data/example/hello",
                             body={"input": {"message": "world"}},
                             key=ADMIN_KEY)
        self.assertEqual(r.status, 200, r)

    def refused(self, config):
        """Starts a server with config; it must exit non-zero: its log."""
        tmp = tempfile.mkdtemp(prefix="wgtest-")
        try:
            path = os.path.join(tmp, "config.yaml")
            with open(path, "w") as f:
                f.write(config)
            env = dict(os.environ, WASMGATE_ADMIN_KEY=ADMIN_KEY)
            p = subprocess.run(
                [WASMGATE, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                 os.path.join(tmp, "data"), "--config", path],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=env, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            return p.stderr.decode("utf-8", "replace")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_on_refuses_to_start(self):
        log = self.refused("policy:\n  aot: on\n"
                           "  aot_wasm2c: /nonexistent/wasm2c\n")
        self.assertIn("policy.aot: AOT tier unavailable: wasm2c not found", log)

    def test_bad_mode_refuses_to_start(self):
        log = self.refused("policy:\n  aot: maybe\n")
        self.assertIn("policy.aot: 'maybe' is not auto, on or off", log)


if __name__ == "__main__":
    main()
