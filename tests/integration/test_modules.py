"""Modules: upload (validated, content-addressed, idempotent), metadata,
list, get, delete; bad modules, media types, size caps, module quotas."""
import hashlib

from wgtest import ServerTest, guest, main


class ModulesTest(ServerTest):
    CONFIG = "limits:\n  max_module_bytes: 200KiB\n"

    def test_upload_get_list_delete(self):
        s = self.srv
        key = s.tenant("mods")
        wasm = guest("hello")
        mid = "sha256:" + hashlib.sha256(wasm).hexdigest()
        r = s.request("POST", "/v1/modules", body=wasm, key=key,
                      ctype="application/wasm")
        self.assertEqual(r.status, 201, r)
        m = r.json()
        self.assertEqual(m["id"], mid)
        self.assertEqual(m["object"], "module")
        self.assertEqual(m["size"], len(wasm))
        self.assertTrue(m["wasi_command"])
        self.assertIn("wasi_snapshot_preview1", m["features"])
        names = [(i["module"], i["name"], i["kind"]) for i in m["imports"]]
        self.assertIn(("wasi_snapshot_preview1", "fd_write", "func"), names)
        self.assertIn({"name": "_start", "kind": "func"}, m["exports"])
        self.assertEqual(len(m["memories"]), 1)
        self.assertFalse(m["memories"][0]["memory64"])
        # idempotent: the same bytes give the same module, 200 this time
        r = s.request("POST", "/v1/modules", body=wasm, key=key,
                      ctype="application/octet-stream")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], mid)
        r = s.get("/v1/modules/" + mid, key=key)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["exports"], m["exports"])
        r = s.get("/v1/modules", key=key)
        self.assertEqual([x["id"] for x in r.json()["data"]], [mid])
        r = s.request("DELETE", "/v1/modules/" + mid, key=key)
        self.assertEqual(r.json(), {"id": mid, "object": "module",
                                    "deleted": True})
        self.assertError(s.get("/v1/modules/" + mid, key=key), 404,
                         "module_not_found", "no module '%s'" % mid,
                         param="id")
        self.assertError(s.request("DELETE", "/v1/modules/" + mid, key=key),
                         404, "module_not_found")
        self.assertEqual(s.get("/v1/modules", key=key).json()["data"], [])

    def test_metadata_of_a_plain_module(self):
        s = self.srv
        key = s.tenant("plain")
        r = s.request("POST", "/v1/modules", body=guest("answer"), key=key,
                      ctype="application/wasm")
        m = r.json()
        self.assertEqual(m["imports"], [])
        self.assertEqual(m["memories"], [])
        self.assertFalse(m["wasi_command"])
        self.assertEqual(m["features"], ["mvp"])
        self.assertEqual([e["name"] for e in m["exports"]], ["answer", "boom"])

    def test_bad_modules(self):
        s = self.srv
        key = s.tenant("bad")
        cases = [
            (b"", "the module is empty"),
            (b"\x00asm", "invalid module: unknown binary version (at byte "
             "offset 4)"),
            (b"hello world!", "invalid module: magic header not detected"),
            (b"\x00asm\x02\x00\x00\x00", "invalid module: unknown binary "
             "version"),
        ]
        for body, prefix in cases:
            with self.subTest(body=body):
                r = s.request("POST", "/v1/modules", body=body, key=key,
                              ctype="application/wasm")
                err = self.assertError(r, 400, "invalid_module")
                self.assertTrue(err["message"].startswith(prefix), err)
        # a type error: (func (result i32)) with an empty body
        bad = bytes.fromhex("0061736d01000000010501600001 7f0302010 00a040102000b"
                            .replace(" ", ""))
        r = s.request("POST", "/v1/modules", body=bad, key=key,
                      ctype="application/wasm")
        err = self.assertError(r, 400, "invalid_module")
        self.assertTrue(err["message"].startswith("invalid module: "), err)
        self.assertIn("at byte offset", err["message"])
        self.assertEqual(s.get("/v1/modules", key=key).json()["data"], [])

    def test_media_type_and_size(self):
        s = self.srv
        key = s.tenant("media")
        r = s.request("POST", "/v1/modules", body=guest("tiny"), key=key,
                      ctype="application/json")
        self.assertError(r, 415, "unsupported_media_type",
                         "the body must be application/wasm, not "
                         "'application/json'")
        r = s.request("POST", "/v1/modules", body=guest("tiny"), key=key)
        self.assertError(r, 415, "unsupported_media_type",
                         "the body must be application/wasm, not '(none)'")
        big = b"\x00asm\x01\x00\x00\x00" + b"\x00" * (200 * 1024)
        r = s.request("POST", "/v1/modules", body=big, key=key,
                      ctype="application/wasm")
        self.assertError(r, 413, "request_too_large",
                         "the request body (%d bytes) is larger than this "
                         "route's limit of 204800 bytes" % len(big))

    def test_module_quotas(self):
        s = self.srv
        key = s.tenant("small", max_modules=1, max_storage_bytes=1000)
        s.upload(key, guest("tiny"))
        r = s.request("POST", "/v1/modules", body=guest("answer"), key=key,
                      ctype="application/wasm")
        self.assertError(r, 429, "insufficient_quota",
                         "You exceeded your quota of 1 modules. Delete a "
                         "module first.", param="max_modules")
        # re-uploading what is there is not a new module
        self.assertEqual(s.request("POST", "/v1/modules", body=guest("tiny"),
                                   key=key, ctype="application/wasm").status,
                         200)
        key2 = s.tenant("tight", max_storage_bytes=100)
        r = s.request("POST", "/v1/modules", body=guest("tiny"), key=key2,
                      ctype="application/wasm")
        err = self.assertError(r, 429, "insufficient_quota",
                               param="max_storage_bytes")
        self.assertIn("module storage quota: 0 + ", err["message"])

    def test_bad_ids(self):
        s = self.srv
        key = s.tenant("ids")
        for mid in ("nope", "sha256:", "sha256:" + "A" * 64,
                    "sha256:" + "0" * 63, "sha256:" + "0" * 64):
            with self.subTest(mid=mid):
                self.assertError(s.get("/v1/modules/" + mid, key=key), 404,
                                 "module_not_found", "no module '%s'" % mid)
                self.assertError(s.run(key, mid), 404, "module_not_found")


if __name__ == "__main__":
    main()
