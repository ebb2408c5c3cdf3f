"""POST /sandbox/exec (multipart: wasm + input) and GET /sandbox/meta/{id},
the routes of the original design; malformed multipart bodies."""
import hashlib
import json

from wgtest import ServerTest, guest, main

B = "XyZboundary"


def multipart(parts, boundary=B):
    out = b""
    for name, data, extra in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        out += ('Content-Disposition: form-data; name="%s"%s\r\n'
                % (name, extra)).encode()
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n"


class SandboxRoutesTest(ServerTest):
    CONFIG = "limits:\n  max_multipart_bytes: 300KiB\n"

    def post(self, key, body, ctype="multipart/form-data; boundary=" + B):
        return self.srv.request("POST", "/sandbox/exec", body=body, key=key,
                                ctype=ctype)

    def test_exec_and_meta(self):
        key = self.srv.tenant("sbx")
        wasm = guest("echo")
        inp = json.dumps({"question": 42}).encode()
        r = self.post(key, multipart([
            ("wasm", wasm, '; filename="echo.wasm"'), ("input", inp, "")]))
        self.assertEqual(r.status, 200, r)
        x = r.json()
        mid = "sha256:" + hashlib.sha256(wasm).hexdigest()
        self.assertEqual(x["module_id"], mid)
        self.assertEqual(x["stdout"], inp.decode())
        self.assertEqual(x["exit_code"], 0)
        m = self.srv.get("/sandbox/meta/" + mid, key=key)
        self.assertEqual(m.status, 200)
        self.assertEqual(m.json()["id"], mid)
        self.assertTrue(m.json()["wasi_command"])
        # without input: empty stdin
        r = self.post(key, multipart([("wasm", wasm, "")]))
        self.assertEqual(r.json()["stdout"], "")
        # the record is there
        rec = self.srv.get("/v1/executions/" + x["id"], key=key)
        self.assertEqual(rec.status, 200)

    def test_malformed(self):
        key = self.srv.tenant("sbx_bad")
        wasm = guest("tiny")
        prefix = "malformed multipart body: "
        cases = [
            (b"", "no boundary delimiter in the body"),
            (b"--" + B.encode() + b"--", "no parts"),
            (multipart([("wasm", wasm, "")])[:-10],
             "unterminated part (no closing boundary)"),
            (b"--" + B.encode() + b"\r\nX: y\r\n\r\nz\r\n--" + B.encode() +
             b"--", "a part has no Content-Disposition"),
        ]
        for body, why in cases:
            with self.subTest(why=why):
                self.assertError(self.post(key, body), 400,
                                 "invalid_multipart", prefix + why)
        self.assertError(self.post(key, b"x", "multipart/form-data"), 400,
                         "invalid_multipart",
                         prefix + "the boundary parameter is missing")
        self.assertError(self.post(key, b"x", "application/json"), 415,
                         "unsupported_media_type",
                         "the body must be multipart/form-data, not "
                         "'application/json'")
        self.assertError(self.post(key, multipart([("input", b"{}", "")])),
                         400, "invalid_multipart",
                         "the 'wasm' part is missing", param="wasm")
        self.assertError(self.post(key, multipart([("wasm", wasm, ""),
                                                   ("extra", b"1", "")])),
                         400, "invalid_multipart", "unknown part 'extra' "
                         "(expected 'wasm' and 'input')", param="extra")
        err = self.assertError(self.post(key, multipart(
            [("wasm", wasm, ""), ("input", b"{not json", "")])),
            400, "invalid_json", param="input")
        self.assertTrue(err["message"].startswith("the 'input' part is not "
                                                  "JSON: "), err)
        self.assertError(self.post(key, multipart([("wasm", b"nope", "")])),
                         400, "invalid_module",
                         "invalid module: magic header not detected (at "
                         "byte offset 0)")
        big = multipart([("wasm", b"\0" * (300 * 1024), "")])
        self.assertError(self.post(key, big), 413, "request_too_large")
        self.assertError(self.srv.get("/sandbox/meta/sha256:" + "1" * 64,
                                      key=key), 404, "module_not_found")


if __name__ == "__main__":
    main()
