"""A tenant sees only its own modules and executions: another tenant's ids
answer exactly like ids that do not exist. Keys are admin business."""
from wgtest import ServerTest, guest, main


class CrossTenantTest(ServerTest):
    def test_isolation(self):
        s = self.srv
        a = s.tenant("alice")
        b = s.tenant("bob")
        mid = s.upload(a, guest("echo"))
        x = s.run(a, mid, {"stdin": "alice's data"}).json()
        ghost_mid = "sha256:" + "0" * 64

        def same_404(path, method="GET", body=None, code="module_not_found"):
            theirs = s.request(method, path % mid if "%s" in path else path,
                               key=b, body=body)
            missing = s.request(method, path % ghost_mid if "%s" in path
                                else path.replace(x["id"], "exec_" + "0" * 24),
                                key=b, body=body)
            e1 = self.assertError(theirs, 404, code)
            e2 = self.assertError(missing, 404, code)
            self.assertEqual(e1["message"].replace(mid, "ID")
                             .replace(x["id"], "ID"),
                             e2["message"].replace(ghost_mid, "ID")
                             .replace("exec_" + "0" * 24, "ID"))

        same_404("/v1/modules/%s")
        same_404("/sandbox/meta/%s")
        same_404("/v1/modules/%s/executions", "POST", {})
        same_404("/v1/modules/%s", "DELETE")
        same_404("/v1/executions/" + x["id"], code="execution_not_found")
        self.assertEqual(s.get("/v1/modules", key=b).json()["data"], [])
        # Alice still has everything
        self.assertEqual(s.get("/v1/modules/" + mid, key=a).status, 200)
        self.assertEqual(s.get("/v1/executions/" + x["id"], key=a).status,
                         200)
        # Bob uploading the same bytes gets his own row of the same id
        self.assertEqual(s.upload(b, guest("echo")), mid)
        self.assertEqual(s.request("DELETE", "/v1/modules/" + mid,
                                   key=b).status, 200)
        self.assertEqual(s.get("/v1/modules/" + mid, key=a).status, 200)
        r = s.run(a, mid, {"stdin": "still here"})
        self.assertEqual(r.json()["stdout"], "still here")

    def test_keys_of_another_tenant(self):
        s = self.srv
        c = s.tenant("carol")
        s.tenant("dave")
        dave_key_id = s.admin("GET", "/v1/admin/tenants/dave").json()[
            "keys"][0]["id"]
        # a tenant key cannot delete keys, its own tenant's or another's
        self.assertError(s.request("DELETE", "/v1/admin/keys/" + dave_key_id,
                                   key=c), 403, "insufficient_permissions")
        self.assertError(s.request("POST", "/v1/admin/tenants/dave/keys",
                                   key=c), 403, "insufficient_permissions")
        self.assertError(s.request("GET", "/v1/admin/tenants/dave", key=c),
                         403, "insufficient_permissions")
        # the key still works for dave
        self.assertEqual(s.admin("GET", "/v1/admin/tenants/dave").json()[
            "keys"][0]["id"], dave_key_id)


if __name__ == "__main__":
    main()
