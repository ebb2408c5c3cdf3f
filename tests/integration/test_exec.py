"""Executions: output, stdin, args, env, files, exit codes, traps, limits,
invoked functions, stored records; every bad input with its exact error."""
import base64
import hashlib
import json

from wgtest import ServerTest, guest, main


class ExecTest(ServerTest):
    CONFIG = ("limits:\n  max_files: 4\n  max_file_path: 40\n"
              "  max_files_bytes: 1000\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.srv
        cls.key = s.tenant("runner", max_timeout_ms=5000,
                           max_memory_bytes=16 << 20, max_fuel=10 ** 9,
                           max_output_bytes=65536)
        cls.ids = {g: s.upload(cls.key, guest(g))
                   for g in ("hello", "echo", "loop", "trap", "alloc",
                             "files", "exit7", "binary", "spam", "answer",
                             "unknown_import", "tiny")}

    def run_ok(self, name, spec=None):
        r = self.srv.run(self.key, self.ids[name], spec)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_hello_args_env(self):
        x = self.run_ok("hello", {"args": ["a b", "ü"],
                                  "env": {"GREETING": "hi=there"}})
        self.assertEqual(x["exit_code"], 0)
        self.assertEqual(x["stdout"], "hello, world\nargv[0]=module.wasm\n"
                         "argv[1]=a b\nargv[2]=ü\nGREETING=hi=there\n")
        self.assertEqual(x["stderr"], "to stderr\n")
        self.assertEqual(x["stdout_encoding"], "utf-8")
        self.assertIsNone(x["trap"])
        self.assertIsNone(x["limit"])
        self.assertFalse(x["stdout_truncated"])
        self.assertGreater(x["fuel_used"], 0)
        self.assertGreater(x["peak_memory_bytes"], 0)
        self.assertIsInstance(x["wall_ms"], float)
        self.assertRegex(x["id"], r"^exec_[0-9a-f]{24}$")
        self.assertEqual(x["module_id"], self.ids["hello"])
        # no host environment leaks in
        x = self.run_ok("hello")
        self.assertIn("GREETING=(unset)", x["stdout"])

    def test_stdin(self):
        x = self.run_ok("echo", {"stdin": "line 1\nline 2\n"})
        self.assertEqual(x["stdout"], "line 1\nline 2\n")
        raw = bytes(range(256))
        x = self.run_ok("echo", {"stdin_base64":
                                 base64.b64encode(raw).decode()})
        self.assertEqual(x["stdout_encoding"], "base64")
        self.assertEqual(base64.b64decode(x["stdout"]), raw)
        x = self.run_ok("echo")
        self.assertEqual(x["stdout"], "")

    def test_binary_output(self):
        x = self.run_ok("binary")
        self.assertEqual(x["stdout_encoding"], "base64")
        self.assertEqual(base64.b64decode(x["stdout"]), b"\xff\x00\xfe\n")

    def test_exit_code_and_trap(self):
        x = self.run_ok("exit7")
        self.assertEqual(x["exit_code"], 7)
        self.assertIsNone(x["trap"])
        x = self.run_ok("trap")
        self.assertEqual(x["stdout"], "before the trap\n")
        self.assertEqual(x["trap"]["kind"], "unreachable")
        self.assertIsNone(x["limit"])

    def test_files(self):
        x = self.run_ok("files", {"files": {"input.txt": "from the client",
                                            "dir/nested.txt": "deep"}})
        self.assertEqual(x["stdout"],
                         "/input.txt: from the client\n"
                         "/dir/nested.txt: deep\n"
                         "/output.txt: written by the guest\n"
                         "escape: refused\n")
        # each run gets a fresh directory
        x = self.run_ok("files")
        self.assertIn("/input.txt: cannot open", x["stdout"])
        self.assertIn("/output.txt: written by the guest", x["stdout"])

    def test_limits(self):
        x = self.run_ok("loop", {"limits": {"fuel": 100000}})
        self.assertEqual(x["limit"], "fuel")
        self.assertEqual(x["trap"]["kind"], "fuel")
        x = self.run_ok("loop", {"limits": {"timeout_ms": 100,
                                            "fuel": 10 ** 9}})
        self.assertEqual(x["limit"], "timeout")
        self.assertGreaterEqual(x["wall_ms"], 100)
        self.assertLess(x["wall_ms"], 2000)
        x = self.run_ok("alloc", {"limits": {"memory_bytes": 4 << 20}})
        self.assertEqual(x["limit"], "memory")
        self.assertEqual(x["exit_code"], 3)
        self.assertRegex(x["stdout"], r"^allocated [0-3] MiB\n$")
        self.assertLessEqual(x["peak_memory_bytes"], 4 << 20)
        x = self.run_ok("spam", {"limits": {"max_output_bytes": 1000}})
        self.assertEqual(x["limit"], "output")
        self.assertTrue(x["stdout_truncated"])
        self.assertEqual(x["stdout"], "x" * 1000)

    def test_limits_above_quota(self):
        cases = [("fuel", 10 ** 9 + 1, 10 ** 9),
                 ("memory_bytes", (16 << 20) + 1, 16 << 20),
                 ("timeout_ms", 5001, 5000),
                 ("max_output_bytes", 65537, 65536)]
        for name, value, max_ in cases:
            with self.subTest(limit=name):
                r = self.srv.run(self.key, self.ids["tiny"],
                                 {"limits": {name: value}})
                self.assertError(r, 400, "limit_exceeds_quota",
                                 "limits.%s (%d) exceeds your maximum of %d"
                                 % (name, value, max_),
                                 param="limits." + name)

    def test_invoke_function(self):
        x = self.run_ok("answer", {"function": "answer"})
        self.assertEqual(x["results"], [42])
        x = self.run_ok("answer", {"function": "boom"})
        self.assertEqual(x["trap"]["kind"], "unreachable")
        r = self.srv.run(self.key, self.ids["answer"], {"function": "nope"})
        self.assertError(r, 422, "cannot_instantiate",
                         "cannot run the module: no exported function "
                         "'nope'")
        r = self.srv.run(self.key, self.ids["answer"])
        self.assertError(r, 422, "cannot_instantiate")
        r = self.srv.run(self.key, self.ids["unknown_import"])
        err = self.assertError(r, 422, "cannot_instantiate")
        self.assertIn("env", err["message"])

    def test_record(self):
        spec = {"stdin": "secret-stdin", "env": {"TOKEN": "secret-env"}}
        x = self.run_ok("echo", spec)
        r = self.srv.get("/v1/executions/" + x["id"], key=self.key)
        self.assertEqual(r.status, 200, r)
        rec = r.json()
        for k in ("id", "module_id", "exit_code", "trap", "limit",
                  "fuel_used", "wall_ms", "peak_memory_bytes"):
            self.assertEqual(rec[k], x[k], k)
        self.assertEqual(rec["stdout_sha256"],
                         hashlib.sha256(b"secret-stdin").hexdigest())
        self.assertEqual(rec["stdin_sha256"], rec["stdout_sha256"])
        self.assertEqual(rec["input_sha256"], hashlib.sha256(
            json.dumps(spec).encode()).hexdigest())
        self.assertEqual(rec["stdout_bytes"], 12)
        self.assertNotIn("stdout", rec)       # not stored by default
        self.assertNotIn("secret", r.body.decode())
        self.assertError(self.srv.get("/v1/executions/exec_nope",
                                      key=self.key),
                         404, "execution_not_found",
                         "no execution 'exec_nope'", param="id")

    def test_bad_requests(self):
        s, key, mid = self.srv, self.key, self.ids["tiny"]
        cases = [
            ({"argz": []}, "invalid_parameter", "unknown parameter 'argz'",
             "argz"),
            ({"args": "a"}, "invalid_parameter",
             "'args' must be an array of strings", "args"),
            ({"args": ["a", 1]}, "invalid_parameter",
             "args[1] must be a string without NUL bytes", "args"),
            ({"args": ["a\u0000b"]}, "invalid_parameter",
             "args[0] must be a string without NUL bytes", "args"),
            ({"env": ["A=1"]}, "invalid_parameter",
             "'env' must be an object of strings", "env"),
            ({"env": {"A=B": "1"}}, "invalid_parameter",
             "env 'A=B': names must be non-empty without '=', values "
             "strings without NUL bytes", "env"),
            ({"env": {"A": 1}}, "invalid_parameter", None, "env"),
            ({"stdin": 5}, "invalid_parameter", "'stdin' must be a string",
             "stdin"),
            ({"stdin": "a", "stdin_base64": "YQ=="}, "invalid_parameter",
             "give 'stdin' or 'stdin_base64', not both", "stdin_base64"),
            ({"stdin_base64": "not base64!"}, "invalid_parameter",
             "'stdin_base64' must be standard base64 (RFC 4648, with "
             "padding)", "stdin_base64"),
            ({"function": ""}, "invalid_parameter",
             "'function' must be the name of an exported function",
             "function"),
            ({"limits": []}, "invalid_parameter",
             "'limits' must be an object", "limits"),
            ({"limits": {"fuel": 0}}, "invalid_parameter",
             "'limits.fuel' must be a positive integer", "limits.fuel"),
            ({"limits": {"timeout_ms": -5}}, "invalid_parameter",
             "'limits.timeout_ms' must be a positive integer",
             "limits.timeout_ms"),
            ({"limits": {"memory_bytes": "1"}}, "invalid_parameter",
             "'limits.memory_bytes' must be a positive integer",
             "limits.memory_bytes"),
            ({"limits": {"stack": 1}}, "invalid_parameter",
             "unknown parameter 'limits.stack'", "limits.stack"),
        ]
        for body, code, msg, param in cases:
            with self.subTest(body=body):
                self.assertError(s.run(key, mid, body), 400, code, msg,
                                 param=param)
        r = s.run(key, mid, b"{", ctype="application/json")
        self.assertError(r, 400, "invalid_json")
        r = s.run(key, mid, b"[]", ctype="application/json")
        self.assertError(r, 400, "invalid_request",
                         "the body must be a JSON object")
        # an empty body is {}
        r = s.request("POST", "/v1/modules/%s/executions" % mid, key=key)
        self.assertEqual(r.status, 200, r)

    def test_hostile_files(self):
        s, key, mid = self.srv, self.key, self.ids["files"]
        cases = [
            ({"/etc/passwd": "x"}, "file '/etc/passwd': absolute paths are "
             "not allowed"),
            ({"../x": "x"}, "file '../x': '.' and '..' are not allowed"),
            ({"a/../../x": "x"}, "file 'a/../../x': '.' and '..' are not "
             "allowed"),
            ({"./x": "x"}, "file './x': '.' and '..' are not allowed"),
            ({"a//b": "x"}, "file 'a//b': empty path components ('//' or a "
             "trailing '/') are not allowed"),
            ({"a/": "x"}, "file 'a/': empty path components ('//' or a "
             "trailing '/') are not allowed"),
            ({"": "x"}, "file '': the path is empty"),
            ({"a\nb": "x"}, "file 'a\nb': control characters are not "
             "allowed"),
            ({"x" * 41: "x"}, "file '%s': the path is too long" % ("x" * 41)),
            ({"a": "x", "b": "x", "c": "x", "d": "x", "e": "x"},
             "too many files (5; at most 4)"),
            ({"big": "x" * 1001}, "the files are too big (more than 1000 "
             "bytes in all)"),
            ({"a": 5}, "file 'a': the content must be a string"),
            ({"a": "x", "a/b": "y"}, "file 'a/b': conflicts with another "
             "file's path"),
        ]
        for files, msg in cases:
            with self.subTest(files=list(files)[:2]):
                r = s.run(key, mid, {"files": files})
                self.assertError(r, 400, "invalid_file", msg, param="files")
        self.assertError(s.run(key, mid, {"files": ["a"]}), 400,
                         "invalid_file", "'files' must be an object of "
                         "path: content")
        # NUL in a path: not even valid JSON for an object key
        r = s.run(key, mid, b'{"files":{"a\\u0000b":"x"}}',
                  ctype="application/json")
        err = self.assertError(r, 400, "invalid_json")
        self.assertIn("NUL", err["message"])


if __name__ == "__main__":
    main()
