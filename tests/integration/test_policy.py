"""Policies over HTTP: the OPA-style policy API (PUT/GET/DELETE
/v1/policies/{id}) with .wasm bodies and OPA bundles, the decision API
(POST /v1/data/{path}), hot reload (a broken upload keeps the old version;
replacements under concurrent decisions), key scopes, and enforcement at
the module upload and execution decision points (fail closed, audited with
the policy id and version)."""
import io
import json
import os
import tarfile
import threading

from wgtest import ServerTest, guest, main

OPA = os.environ.get("WG_OPA_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
    "opa-policies")

RBAC_DATA = {
    "user_roles": {"alice": ["admin"], "bob": ["employee", "billing"],
                   "eve": ["customer"]},
    "role_grants": {
        "customer": [{"action": "read", "type": "dog"},
                     {"action": "read", "type": "cat"},
                     {"action": "adopt", "type": "dog"},
                     {"action": "adopt", "type": "cat"}],
        "employee": [{"action": "read", "type": "dog"},
                     {"action": "read", "type": "cat"},
                     {"action": "update", "type": "dog"},
                     {"action": "update", "type": "cat"}],
        "billing": [{"action": "read", "type": "finance"},
                    {"action": "update", "type": "finance"}]}}


def wasm(abi, name):
    with open(os.path.join(OPA, abi, name), "rb") as f:
        return f.read()


def bundle(policy, data, revision="r1"):
    """An OPA bundle (.tar.gz) as `opa build -t wasm` lays it out."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        def add(name, blob):
            ti = tarfile.TarInfo(name)
            ti.size = len(blob)
            t.addfile(ti, io.BytesIO(blob))
        add("/.manifest", json.dumps({"revision": revision, "roots": [""],
                                      "wasm": [{"entrypoint": "app/rbac",
                                                "module": "/policy.wasm"}]})
            .encode())
        add("/data.json", json.dumps(data).encode())
        add("/policy.wasm", policy)
    return buf.getvalue()


class PolicyApiTest(ServerTest):
    def put(self, pid, body, key=None, ctype="application/gzip"):
        return self.srv.request("PUT", "/v1/policies/" + pid, body=body,
                                key=key or self.admin_key(), ctype=ctype)

    def admin_key(self):
        from wgtest import ADMIN_KEY
        return ADMIN_KEY

    def decide(self, path, inp, key=None):
        return self.srv.request("POST", "/v1/data/" + path,
                                body={"input": inp},
                                key=key or self.admin_key())

    def test_bundle_decisions_both_abis(self):
        for abi, bob in (("abi-1.3", True), ("abi-1.2", False)):
            pid = "rbac-" + abi.replace(".", "")
            r = self.put(pid, bundle(wasm(abi, "rbac.wasm"), RBAC_DATA))
            self.assertEqual(r.status, 200, r)
            res = r.json()["result"]
            self.assertEqual(res["id"], pid)
            self.assertIn("app/rbac/allow", res["entrypoints"])
            self.assertEqual(res["revision"], "r1")
            self.assertEqual(res["abi_version"], abi[4:])
            r = self.decide("app/rbac/allow", {"user": "alice",
                                               "action": "delete",
                                               "type": "dog"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"result": True})
            r = self.decide("app/rbac/allow", {"user": "bob",
                                               "action": "update",
                                               "type": "finance"})
            self.assertEqual(r.json(), {"result": bob})
            r = self.srv.request("DELETE", "/v1/policies/" + pid,
                                 key=self.admin_key())
            self.assertEqual(r.status, 200, r)
        # No policy has the path: an undefined document, no "result".
        r = self.decide("app/rbac/allow", {"user": "alice"})
        self.assertEqual(r.json(), {})
        r = self.srv.request("POST", "/v1/data/nothing/here", body={},
                             key=self.admin_key())
        self.assertEqual(r.json()["warning"]["code"], "api_usage_warning")

    def test_wasm_body_list_get_delete(self):
        r = self.put("hello", wasm("abi-1.3", "example.wasm"),
                     ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        v1 = r.json()["result"]["version"]
        r = self.srv.get("/v1/policies", key=self.admin_key())
        self.assertIn("hello", [p["id"] for p in r.json()["result"]])
        r = self.srv.get("/v1/policies/hello", key=self.admin_key())
        self.assertEqual(r.json()["result"]["version"], v1)
        self.assertEqual(r.json()["result"]["entrypoints"], ["example/hello"])
        r = self.decide("example/hello", {"message": "world"})
        self.assertEqual(r.json(), {"result": False})   # data is {}
        # A broken upload is refused; the old version keeps serving.
        r = self.put("hello", b"\0asm\1\0\0\0garbage", ctype="application/wasm")
        self.assertError(r, 400, "invalid_policy")
        r = self.put("hello", b"\x1f\x8b\x08broken", ctype="application/gzip")
        self.assertError(r, 400, "invalid_policy")
        r = self.srv.get("/v1/policies/hello", key=self.admin_key())
        self.assertEqual(r.json()["result"]["version"], v1)
        # A policy needing builtins nobody provides: refused, names them.
        r = self.put("hello", wasm("abi-1.3", "builtincall.wasm"),
                     ctype="application/wasm")
        err = self.assertError(r, 400, "invalid_policy")
        for i in range(5):
            self.assertIn("custom.func%d" % i, err["message"])
        # Evaluation errors are 500 policy_error, reported.
        r = self.put("boom", wasm("abi-1.3", "abort.wasm"),
                     ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        r = self.decide("aborttestpkg/q", {})
        err = self.assertError(r, 500, "policy_error")
        self.assertIn("var assignment conflict", err["message"])
        for pid in ("hello", "boom"):
            r = self.srv.request("DELETE", "/v1/policies/" + pid,
                                 key=self.admin_key())
            self.assertEqual(r.status, 200)
        r = self.srv.get("/v1/policies/hello", key=self.admin_key())
        self.assertError(r, 404, "policy_not_found")
        r = self.put(".hidden", b"x")
        self.assertError(r, 400, "invalid_parameter", param="id")

    def test_scopes(self):
        s = self.srv
        plain = s.tenant("pol-plain")
        r = s.admin("POST", "/v1/admin/tenants/pol-plain/keys",
                    {"scopes": ["policy"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["scopes"], ["policy"])
        scoped = r.json()["key"]
        r = s.admin("POST", "/v1/admin/tenants/pol-plain/keys",
                    {"scopes": ["root"]})
        self.assertError(r, 400, "invalid_parameter", param="scopes")
        r = s.get("/v1/policies", key=plain)
        self.assertError(r, 403, "insufficient_permissions")
        r = self.put("admins", wasm("abi-1.3", "example.wasm"),
                     ctype="application/wasm")
        self.assertEqual(r.status, 200)
        # The tenant sees only its own, cannot take the admin's id.
        r = self.put("admins", wasm("abi-1.3", "example.wasm"), key=scoped,
                     ctype="application/wasm")
        self.assertError(r, 403, "insufficient_permissions")
        r = self.put("mine", wasm("abi-1.2", "example.wasm"), key=scoped,
                     ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["result"]["owner"], "pol-plain")
        ids = [p["id"] for p in s.get("/v1/policies", key=scoped)
               .json()["result"]]
        self.assertEqual(ids, ["mine"])
        r = s.get("/v1/policies/admins", key=scoped)
        self.assertError(r, 404, "policy_not_found")
        r = self.decide("example/hello", {"message": "x"}, key=scoped)
        self.assertEqual(r.json(), {"result": False})
        s.request("DELETE", "/v1/policies/admins", key=self.admin_key())

    def test_hot_reload_under_decisions(self):
        blobs = [bundle(wasm("abi-1.3", "rbac.wasm"), RBAC_DATA, "r%d" % i)
                 for i in range(2)]
        r = self.put("hot", blobs[0])
        self.assertEqual(r.status, 200)
        failures = []
        stop = threading.Event()

        def decider():
            while not stop.is_set():
                r = self.decide("app/rbac/allow", {"user": "alice",
                                                   "action": "x",
                                                   "type": "y"})
                if r.status != 200 or r.json() != {"result": True}:
                    failures.append(r)
        ts = [threading.Thread(target=decider) for _ in range(3)]
        for t in ts:
            t.start()
        versions = []
        for i in range(20):
            r = self.put("hot", blobs[i % 2])
            self.assertEqual(r.status, 200, r)
            versions.append(r.json()["result"]["version"])
            if i % 5 == 0:     # broken ones in between change nothing
                r = self.put("hot", b"\x1f\x8b\x08\0junk")
                self.assertEqual(r.status, 400)
        stop.set()
        for t in ts:
            t.join()
        self.assertEqual(failures, [])
        self.assertEqual(versions, sorted(versions))
        lines = self.srv.audit_lines()
        puts = [l for l in lines if l["route"] == "PUT /v1/policies/{id}"
                and l["status"] == 200 and l.get("policy") == "hot"]
        self.assertEqual([l["policy_version"] for l in puts][-20:], versions)
        self.srv.request("DELETE", "/v1/policies/hot", key=self.admin_key())


class EnforcementTest(ServerTest):
    CONFIG = """
policy:
  module_upload: "gate:example/hello"
  execution: "exec-gate:app/rbac"
  timeout_ms: 500
"""

    def test_gates_fail_closed_and_audit(self):
        from wgtest import ADMIN_KEY
        s = self.srv
        key = s.tenant("gated")
        tiny = guest("tiny")
        # The gate is configured but not loaded: uploads are denied.
        r = s.request("POST", "/v1/modules", body=tiny, key=key,
                      ctype="application/wasm")
        err = self.assertError(r, 403, "policy_denied")
        self.assertIn("not loaded", err["message"])
        # Loaded: example/hello is false for this input - denied.
        r = s.request("PUT", "/v1/policies/gate",
                      body=wasm("abi-1.3", "example.wasm"), key=ADMIN_KEY,
                      ctype="application/wasm")
        self.assertEqual(r.status, 200, r)
        gate_v = r.json()["result"]["version"]
        r = s.request("POST", "/v1/modules", body=tiny, key=key,
                      ctype="application/wasm")
        err = self.assertError(r, 403, "policy_denied")
        self.assertIn("denied by policy gate", err["message"])
        # A trapping gate denies too (fails closed).
        r = s.request("PUT", "/v1/policies/gate",
                      body=wasm("abi-1.2", "abort.wasm"), key=ADMIN_KEY,
                      ctype="application/wasm")
        self.assertEqual(r.status, 200)
        r = s.request("POST", "/v1/modules", body=tiny, key=key,
                      ctype="application/wasm")
        err = self.assertError(r, 403, "policy_denied")
        self.assertIn("policy evaluation failed", err["message"])
        # A tenant's own policy named like the gate cannot open it.
        r = s.request("DELETE", "/v1/policies/gate", key=ADMIN_KEY)
        self.assertEqual(r.status, 200)
        r = s.admin("POST", "/v1/admin/tenants/gated/keys",
                    {"scopes": ["policy"]})
        pkey = r.json()["key"]
        r = s.request("PUT", "/v1/policies/gate",
                      body=wasm("abi-1.3", "example.wasm"), key=pkey,
                      ctype="application/wasm")
        self.assertEqual(r.status, 200)
        r = s.request("POST", "/v1/modules", body=tiny, key=key,
                      ctype="application/wasm")
        err = self.assertError(r, 403, "policy_denied")
        self.assertIn("not an administrator policy", err["message"])
        lines = s.audit_lines()
        ups = [l for l in lines if l["route"] == "POST /v1/modules"]
        self.assertEqual(len(ups), 4)
        self.assertTrue(all(l["policy"] == "gate" for l in ups), ups)
        self.assertEqual(ups[1]["policy_version"], gate_v)
        self.assertTrue(all(l["decision"] == "deny" for l in ups))


if __name__ == "__main__":
    main()
