"""Unauthenticated routes, request ids, unknown routes and methods."""
import re
import time

from wgtest import ServerTest, main


class HealthTest(ServerTest):
    def test_healthz_readyz(self):
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        r = self.srv.get("/readyz")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["status"], "ready")
        # what confines executions (isolation: process | thread)
        self.assertIn(body["isolation"]["mode"], ("process", "thread"))

    def test_request_id_everywhere(self):
        ids = set()
        for path in ("/healthz", "/nope", "/v1/modules"):
            r = self.srv.get(path)
            rid = r.headers.get("x-request-id")
            self.assertRegex(rid, r"^req_[0-9a-f]{24}$")
            ids.add(rid)
        self.assertEqual(len(ids), 3)
        r = self.srv.get("/healthz", headers={"X-Request-Id": "client-42.a:b"})
        self.assertEqual(r.headers["x-request-id"], "client-42.a:b")
        # an unsafe client id is replaced
        r = self.srv.get("/healthz", headers={"X-Request-Id": "bad id<>"})
        self.assertRegex(r.headers["x-request-id"], r"^req_")

    def test_unknown_route(self):
        r = self.srv.get("/v2/nothing")
        self.assertError(r, 404, "unknown_url",
                         "Invalid URL (GET /v2/nothing)", param=None)

    def test_wrong_method(self):
        r = self.srv.request("PUT", "/v1/modules")
        self.assertError(r, 405, "method_not_allowed",
                         "Method PUT is not allowed on /v1/modules "
                         "(allowed: POST, GET)")
        self.assertEqual(r.headers["allow"], "POST, GET")

    def test_metrics(self):
        self.srv.get("/healthz")
        self.srv.get("/nope")
        # A request is counted when its connection completes, which may be
        # just after the client read the answer.
        for _ in range(50):
            r = self.srv.get("/metrics")
            if b'route="unmatched",status="404"' in r.body:
                break
            time.sleep(0.02)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        text = r.body.decode()
        for name in ("wasmgate_http_requests_total",
                     "wasmgate_http_request_duration_seconds_bucket",
                     "wasmgate_executions_total",
                     "wasmgate_fuel_used_total",
                     "wasmgate_executor_queue_depth",
                     "wasmgate_executor_active",
                     "wasmgate_module_cache_bytes",
                     "wasmgate_module_cache_entries"):
            self.assertIn("\n# TYPE " + name.replace("_bucket", ""), text)
        m = re.search(r'wasmgate_http_requests_total\{route="GET /healthz",'
                      r'status="200"\} (\d+)', text)
        self.assertTrue(m and int(m.group(1)) >= 1, text[:500])
        self.assertIn('route="unmatched",status="404"', text)


if __name__ == "__main__":
    main()
