"""Quotas: requests per minute (429 + Retry-After, OpenAI-style body) and
concurrent executions."""
import threading
import time

from wgtest import ServerTest, guest, main


class QuotaTest(ServerTest):
    def test_rate_limit(self):
        s = self.srv
        key = s.tenant("slow", requests_per_minute=3)
        for _ in range(3):
            self.assertEqual(s.get("/v1/modules", key=key).status, 200)
        r = s.get("/v1/modules", key=key)
        err = self.assertError(r, 429, "rate_limit_exceeded", param=None)
        self.assertEqual(err["type"], "requests")
        self.assertRegex(err["message"], r"^Rate limit reached for tenant "
                         r"slow: 3 requests per minute\. Please try again "
                         r"in \d+ms\.$")
        self.assertIn(int(r.headers["retry-after"]), range(1, 21))
        # other tenants are not affected
        other = s.tenant("fast")
        self.assertEqual(s.get("/v1/modules", key=other).status, 200)
        # raising the quota takes effect at once (the bucket refills)
        s.admin("PATCH", "/v1/admin/tenants/slow",
                {"quotas": {"requests_per_minute": 6000}})
        time.sleep(0.1)
        self.assertEqual(s.get("/v1/modules", key=key).status, 200)

    def test_concurrent_executions(self):
        s = self.srv
        key = s.tenant("one_at_a_time", concurrent_executions=1,
                       max_fuel=10 ** 15)
        loop = s.upload(key, guest("loop"))
        tiny = s.upload(key, guest("tiny"))
        results = []
        t = threading.Thread(target=lambda: results.append(
            s.run(key, loop, {"limits": {"timeout_ms": 1500}})))
        t.start()
        time.sleep(0.4)
        r = s.run(key, tiny)
        err = self.assertError(r, 429, "concurrency_limit_exceeded")
        self.assertEqual(err["message"], "Too many concurrent executions for "
                         "tenant one_at_a_time (the limit is 1). Please try "
                         "again.")
        self.assertEqual(r.headers["retry-after"], "1")
        t.join()
        self.assertEqual(results[0].json()["limit"], "timeout")
        self.assertEqual(s.run(key, tiny).status, 200)


if __name__ == "__main__":
    main()
