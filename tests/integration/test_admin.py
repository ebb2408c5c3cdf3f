"""The admin API: tenants and keys, who may call it, every bad input."""
from wgtest import ADMIN_KEY, ServerTest, main


class AdminTest(ServerTest):
    def slow_requests(self):
        for line in self.srv.get("/metrics").body.decode().splitlines():
            if line.startswith("wasmgate_slow_requests_total "):
                return int(line.split()[1])
        self.fail("no wasmgate_slow_requests_total in /metrics")

    def test_tenant_lifecycle(self):
        s = self.srv
        r = s.admin("POST", "/v1/admin/tenants",
                    {"id": "life", "quotas": {"max_modules": 3}})
        self.assertEqual(r.status, 201, r)
        t = r.json()
        self.assertEqual(t["id"], "life")
        self.assertEqual(t["object"], "tenant")
        self.assertEqual(t["quotas"]["max_modules"], 3)
        self.assertEqual(t["quota_overrides"], {"max_modules": 3})
        self.assertEqual(t["quotas"]["requests_per_minute"], 600)

        r = s.admin("GET", "/v1/admin/tenants/life")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["keys"], [])
        self.assertEqual(r.json()["usage"],
                         {"modules": 0, "storage_bytes": 0,
                          "active_executions": 0})

        r = s.admin("PATCH", "/v1/admin/tenants/life",
                    {"quotas": {"max_fuel": 1000, "max_modules": None}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["quota_overrides"], {"max_fuel": 1000})
        self.assertEqual(r.json()["quotas"]["max_modules"], 100)

        r = s.admin("GET", "/v1/admin/tenants")
        self.assertIn("life", [x["id"] for x in r.json()["data"]])

        slow = self.slow_requests()
        r = s.admin("DELETE", "/v1/admin/tenants/life")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"id": "life", "object": "tenant",
                                    "deleted": True})
        # On the pool for slow routes, never on the HTTP (event) thread.
        self.assertEqual(self.slow_requests(), slow + 1)
        self.assertError(s.admin("GET", "/v1/admin/tenants/life"), 404,
                         "tenant_not_found", "no tenant 'life'", param="id")
        self.assertError(s.admin("DELETE", "/v1/admin/tenants/life"), 404,
                         "tenant_not_found")

    def test_keys(self):
        s = self.srv
        key = s.tenant("keys")
        self.assertRegex(key, r"^wg-[A-Za-z0-9_-]{43}$")
        r = s.admin("POST", "/v1/admin/tenants/keys/keys")
        self.assertEqual(r.status, 201)
        k2 = r.json()
        self.assertRegex(k2["id"], r"^key_[0-9a-f]{24}$")
        self.assertEqual(k2["tenant"], "keys")
        # both keys work
        self.assertEqual(s.get("/v1/modules", key=key).status, 200)
        self.assertEqual(s.get("/v1/modules", key=k2["key"]).status, 200)
        # the key is shown once: never in the tenant's record
        r = s.admin("GET", "/v1/admin/tenants/keys")
        self.assertEqual(len(r.json()["keys"]), 2)
        self.assertNotIn(k2["key"], r.body.decode())
        # revoke one
        r = s.admin("DELETE", "/v1/admin/keys/" + k2["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"id": k2["id"], "object": "api_key",
                                    "deleted": True})
        self.assertError(s.get("/v1/modules", key=k2["key"]), 401,
                         "invalid_api_key", "Incorrect API key provided.")
        self.assertEqual(s.get("/v1/modules", key=key).status, 200)
        self.assertError(s.admin("DELETE", "/v1/admin/keys/" + k2["id"]),
                         404, "key_not_found",
                         "no key '%s'" % k2["id"], param="key_id")
        self.assertError(s.admin("POST", "/v1/admin/tenants/ghost/keys"),
                         404, "tenant_not_found", "no tenant 'ghost'")
        self.assertError(s.admin("POST", "/v1/admin/tenants/keys/keys",
                                 {"name": "x"}),
                         400, "invalid_parameter", "unknown parameter 'name'",
                         param="name")

    def test_deleting_tenant_revokes_keys(self):
        s = self.srv
        key = s.tenant("doomed")
        self.assertEqual(s.get("/v1/modules", key=key).status, 200)
        self.assertEqual(s.admin("DELETE", "/v1/admin/tenants/doomed").status,
                         200)
        self.assertError(s.get("/v1/modules", key=key), 401,
                         "invalid_api_key")

    def test_create_errors(self):
        s = self.srv
        s.tenant("dup")
        cases = [
            ({"id": "dup"}, 409, "tenant_exists",
             "tenant 'dup' already exists", "id"),
            ({}, 400, "missing_parameter", "'id' is required", "id"),
            ({"id": ""}, 400, "invalid_parameter", None, "id"),
            ({"id": "-x"}, 400, "invalid_parameter", None, "id"),
            ({"id": "a/b"}, 400, "invalid_parameter", None, "id"),
            ({"id": 5}, 400, "invalid_parameter", None, "id"),
            ({"id": "x" * 64}, 400, "invalid_parameter", None, "id"),
            ({"id": "q1", "quotas": {"max_fuul": 1}}, 400,
             "invalid_parameter", "unknown quota 'max_fuul'",
             "quotas.max_fuul"),
            ({"id": "q2", "quotas": {"max_fuel": 0}}, 400,
             "invalid_parameter", "quotas.max_fuel must be a positive integer",
             "quotas.max_fuel"),
            ({"id": "q3", "quotas": {"max_fuel": "9"}}, 400,
             "invalid_parameter", "quotas.max_fuel must be a positive integer",
             "quotas.max_fuel"),
            ({"id": "q4", "quotas": []}, 400, "invalid_parameter",
             "quotas must be an object", "quotas"),
            ({"id": "q5", "extra": 1}, 400, "invalid_parameter",
             "unknown parameter 'extra'", "extra"),
        ]
        for body, status, code, msg, param in cases:
            with self.subTest(body=body):
                self.assertError(s.admin("POST", "/v1/admin/tenants", body),
                                 status, code, msg, param=param)
        r = s.admin("POST", "/v1/admin/tenants", b"{nope",
                    ctype="application/json")
        err = self.assertError(r, 400, "invalid_json", param=None)
        self.assertTrue(err["message"].startswith(
            "We could not parse the JSON body of your request: "), err)
        self.assertError(s.admin("POST", "/v1/admin/tenants", b"[1]",
                                 ctype="application/json"),
                         400, "invalid_request", "the body must be a JSON "
                         "object")
        self.assertError(s.admin("POST", "/v1/admin/tenants",
                                 b'{"id":"a","id":"b"}',
                                 ctype="application/json"),
                         400, "invalid_json")
        self.assertError(s.admin("POST", "/v1/admin/tenants", b"id=x",
                                 ctype="application/x-www-form-urlencoded"),
                         415, "unsupported_media_type",
                         "the body must be application/json, not "
                         "'application/x-www-form-urlencoded'")
        self.assertError(s.admin("PATCH", "/v1/admin/tenants/dup", {}),
                         400, "missing_parameter", "'quotas' is required",
                         param="quotas")
        self.assertError(s.admin("PATCH", "/v1/admin/tenants/ghost",
                                 {"quotas": {}}),
                         404, "tenant_not_found")

    def test_who_may_call(self):
        s = self.srv
        key = s.tenant("caller")
        paths = [("GET", "/v1/admin/tenants"),
                 ("POST", "/v1/admin/tenants"),
                 ("GET", "/v1/admin/tenants/caller"),
                 ("DELETE", "/v1/admin/keys/key_x")]
        for method, path in paths:
            with self.subTest(path=path):
                r = s.request(method, path)
                self.assertError(r, 401, "missing_api_key", param=None)
                self.assertEqual(r.headers["www-authenticate"],
                                 'Bearer realm="wasmgate"')
                self.assertError(s.request(method, path, key="wg-nope"), 401,
                                 "invalid_api_key",
                                 "Incorrect API key provided.")
                self.assertError(s.request(method, path, key=key), 403,
                                 "insufficient_permissions",
                                 "this route needs the admin key")
        # the admin key cannot act as a tenant
        self.assertError(s.get("/v1/modules", key=ADMIN_KEY), 403,
                         "insufficient_permissions")
        # malformed Authorization headers
        for h in ("Basic abc", "Bearer", "Bearer    ", "bearer" + key):
            with self.subTest(h=h):
                r = s.get("/v1/modules", headers={"Authorization": h})
                self.assertError(r, 401, "missing_api_key")
        r = s.get("/v1/modules", headers={"Authorization": "bearer " + key})
        self.assertEqual(r.status, 200)
        self.assertError(s.get("/v1/modules", key="x" * 5000), 401,
                         "invalid_api_key")


if __name__ == "__main__":
    main()
