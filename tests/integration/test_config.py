"""Configuration: the embedded default, bad files, SIGHUP reload, the
generated admin key."""
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from wgtest import WASMGATE, Server, main


class ConfigTest(unittest.TestCase):
    def test_bad_config_refused(self):
        with tempfile.TemporaryDirectory() as d:
            cases = [
                ("server:\n  lisen: 1\n",
                 "config: %s: line 2: unknown key 'server.lisen'"),
                ("server:\n  threads: 0\n",
                 "config: %s: line 2: server.threads: '0' is not a number "
                 "in [1, 256]"),
                ("a: [\n", None),
            ]
            for text, msg in cases:
                path = os.path.join(d, "c.yaml")
                with open(path, "w") as f:
                    f.write(text)
                p = subprocess.run([WASMGATE, "serve", "--config", path,
                                    "--data-dir", os.path.join(d, "x")],
                                   capture_output=True, text=True, timeout=10)
                self.assertEqual(p.returncode, 1, p.stderr)
                if msg:
                    self.assertIn(msg % path, p.stderr)
            p = subprocess.run([WASMGATE, "serve", "--config",
                                os.path.join(d, "missing.yaml")],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 1)
            self.assertIn("No such file or directory", p.stderr)
            p = subprocess.run([WASMGATE, "serve", "--listen", "nope"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2)
            self.assertIn("--listen: 'nope' is not HOST:PORT", p.stderr)
            p = subprocess.run([WASMGATE, "serve", "--bogus"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2)
            self.assertIn("unknown argument '--bogus'", p.stderr)

    def test_default_data_dir(self):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, WASMGATE_ADMIN_KEY="k")
            p = subprocess.Popen([WASMGATE, "serve", "--listen",
                                  "127.0.0.1:0"], cwd=d, env=env,
                                 stderr=subprocess.PIPE, text=True)
            try:
                line = p.stderr.readline()
                self.assertRegex(line, r"listening on http://127\.0\.0\.1:"
                                 r"\d+ \(data in \./wasmgate-data\)")
                for name in ("wasmgate.db", "audit.log", "scratch"):
                    self.assertTrue(os.path.exists(os.path.join(
                        d, "wasmgate-data", name)), name)
            finally:
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(10), 0)
                p.stderr.close()

    def test_generated_admin_key(self):
        s = Server(env={"WASMGATE_ADMIN_KEY": ""})
        try:
            s.start()
            text = "\n".join(s.log)
            m = re.search(r"\n  (wg-admin-[A-Za-z0-9_-]{43})\n", text)
            self.assertTrue(m, text)
            key = m.group(1)
            r = s.request("GET", "/v1/admin/tenants", key=key)
            self.assertEqual(r.status, 200)
            self.assertEqual(s.stop(), 0)
            with open(os.path.join(s.data_dir, "wasmgate.db"), "rb") as f:
                self.assertNotIn(key.encode(), f.read())
            # the second start keeps the key and prints nothing
            s2 = Server(env={"WASMGATE_ADMIN_KEY": ""})
            s2.data_dir = s.data_dir
            s2.start()
            self.assertNotIn("wg-admin-", "\n".join(s2.log))
            r = s2.request("GET", "/v1/admin/tenants", key=key)
            self.assertEqual(r.status, 200)
            s2.cleanup()
        finally:
            s.cleanup()

    def test_sighup_reload(self):
        s = Server("tenant_defaults:\n  max_modules: 1\n")
        try:
            s.start()
            key = s.tenant("reload")
            t = s.admin("GET", "/v1/admin/tenants/reload").json()
            self.assertEqual(t["quotas"]["max_modules"], 1)
            with open(os.path.join(s.tmp, "config.yaml"), "w") as f:
                f.write("tenant_defaults:\n  max_modules: 7\n"
                        "server:\n  threads: 3\n")
            s.proc.send_signal(signal.SIGHUP)
            for _ in range(100):
                if any("configuration reloaded" in l for l in s.log):
                    break
                time.sleep(0.05)
            self.assertIn("wasmgate: configuration reloaded (listen, "
                          "data_dir, audit.path, scratch_dir, threads, queue "
                          "and connection settings need a restart)", s.log)
            t = s.admin("GET", "/v1/admin/tenants/reload").json()
            self.assertEqual(t["quotas"]["max_modules"], 7)
            # a broken file is refused and the old settings stay
            with open(os.path.join(s.tmp, "config.yaml"), "w") as f:
                f.write("nonsense: 1\n")
            s.proc.send_signal(signal.SIGHUP)
            for _ in range(100):
                if any("config not reloaded" in l for l in s.log):
                    break
                time.sleep(0.05)
            self.assertIn("wasmgate: SIGHUP: config not reloaded", s.log)
            self.assertEqual(s.get("/v1/modules", key=key).status, 200)
            self.assertEqual(s.stop(), 0)
        finally:
            s.cleanup()

    def test_data_dir_in_use(self):
        with Server() as s:
            p = subprocess.run([WASMGATE, "serve", "--listen", "127.0.0.1:0",
                                "--data-dir", s.data_dir],
                               capture_output=True, text=True, timeout=20,
                               env=dict(os.environ, WASMGATE_ADMIN_KEY="k"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("is in use by another wasmgate server", p.stderr)


if __name__ == "__main__":
    main()
