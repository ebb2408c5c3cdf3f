"""The audit log: one line per request touching a tenant, key, module or
execution; no secrets in it; `wasmgate audit verify` passes after a busy
run and names the line after an edit, a removal or a reordering."""
import json
import os
import subprocess

from wgtest import ADMIN_KEY, WASMGATE, ServerTest, guest, main


class AuditTest(ServerTest):
    def test_lines_and_secrets(self):
        s = self.srv
        key = s.tenant("audited")
        mid = s.upload(key, guest("files"))
        x = s.run(key, mid, {"env": {"PASSWORD": "hunter2-env"},
                             "stdin": "stdin-secret",
                             "files": {"f.txt": "file-secret-content"}}
                  ).json()
        s.get("/v1/modules", key="wg-wrong-key")
        s.get("/healthz")                      # not audited
        lines = s.audit_lines(at_least=5)
        routes = [l["route"] for l in lines]
        self.assertNotIn("GET /healthz", routes)
        self.assertEqual(routes[:4], ["POST /v1/admin/tenants",
                                      "POST /v1/admin/tenants/{id}/keys",
                                      "POST /v1/modules",
                                      "POST /v1/modules/{id}/executions"])
        run = lines[3]
        self.assertEqual(run["tenant"], "audited")
        self.assertEqual(run["principal"], "tenant")
        self.assertEqual(run["module"], mid)
        self.assertEqual(run["execution"], x["id"])
        self.assertEqual(run["status"], 200)
        self.assertEqual(run["decision"], "allow")
        self.assertIsNone(run["reason"])
        self.assertRegex(run["input_sha256"], "^[0-9a-f]{64}$")
        self.assertRegex(run["output_sha256"], "^[0-9a-f]{64}$")
        self.assertIsInstance(run["latency_ms"], float)
        self.assertRegex(run["request_id"], "^req_")
        denied = [l for l in lines if l["status"] == 401][0]
        self.assertEqual(denied["decision"], "deny")
        self.assertEqual(denied["reason"], "invalid_api_key")
        self.assertIsNone(denied["tenant"])
        keyline = lines[1]
        self.assertEqual(keyline["principal"], "admin")
        self.assertEqual(keyline["tenant"], "audited")
        self.assertRegex(keyline["subject_key"], "^key_")
        with open(os.path.join(s.data_dir, "audit.log")) as f:
            text = f.read()
        for secret in (key, ADMIN_KEY, "hunter2-env", "stdin-secret",
                       "file-secret-content", "wg-wrong-key"):
            self.assertNotIn(secret, text)
        for i, l in enumerate(lines):
            self.assertEqual(l["seq"], i + 1)

    def test_verify_detects_edits(self):
        s = self.srv
        key = s.tenant("chain")
        mid = s.upload(key, guest("tiny"))
        for _ in range(5):
            s.run(key, mid)
        s.audit_lines(at_least=8)
        rc, out = s.audit_verify()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r": ok: \d+ lines, chain intact")
        path = os.path.join(s.data_dir, "audit.log")
        with open(path) as f:
            original = f.readlines()
        copy = os.path.join(s.tmp, "copy.log")

        def check(lines, want):
            with open(copy, "w") as f:
                f.writelines(lines)
            p = subprocess.run([WASMGATE, "audit", "verify", "--file", copy],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn(want, p.stdout)

        edited = list(original)
        rec = json.loads(edited[2])
        rec["status"] = 500
        edited[2] = json.dumps(rec, separators=(",", ":")) + "\n"
        check(edited, "FAILED: line 3: modified")
        check(original[:3] + original[4:],
              "FAILED: line 4: seq 5 where 4 was expected: line(s) removed")
        check(original[:3] + [original[4], original[3]] + original[5:],
              "FAILED: line 4: seq 5 where 4 was expected: lines reordered")
        p = subprocess.run([WASMGATE, "audit", "verify", "--file",
                            "/nonexistent"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot read /nonexistent", p.stdout)
        p = subprocess.run([WASMGATE, "audit"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: wasmgate audit verify", p.stderr)


if __name__ == "__main__":
    main()
