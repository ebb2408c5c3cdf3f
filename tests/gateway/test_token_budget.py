"""The daily token budget (quota gateway_tokens_per_day) is kept in the
store: what a tenant spent is still spent after the server restarts on the
same data directory."""
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import Server, ServerTest, main  # noqa: E402
from fake_upstream import Fake  # noqa: E402

FAKE = Fake()
CONFIG = ("models:\n  - name: m-ok\n    base_url: %s\n"
          "    upstream_model: ok\n" % FAKE.url)


def chat(srv, key, max_tokens=None):
    body = {"model": "m-ok", "messages": [{"role": "user", "content": "hi"}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return srv.request("POST", "/v1/chat/completions", body=body, key=key)


class TokenBudgetTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(CONFIG).start()

    def restart(self):
        self.assertEqual(self.srv.stop(signal.SIGTERM), 0)
        self.srv.port = None
        self.srv._port_seen.clear()
        self.srv.start()

    def test_budget_survives_restart(self):
        # Each answer costs 12 tokens (the fake's usage); a request
        # reserves len("hi")/4 rounded up + max_tokens first.
        key = self.srv.tenant("budget", gateway_tokens_per_day=30)
        for _ in range(2):
            r = chat(self.srv, key)
            self.assertEqual(r.status, 200, r)
        self.restart()               # 24 of 30 spent
        # 24 + 1 + 10 > 30: refused, as it would have been before.
        r = chat(self.srv, key, max_tokens=10)
        self.assertError(r, 429, "insufficient_quota",
                         "Tenant budget has used its daily token budget.")
        self.assertIn("retry-after", r.headers)
        # 24 + 1 fits; settled to 12 more: 36 spent, nothing fits.
        r = chat(self.srv, key)
        self.assertEqual(r.status, 200, r)
        self.restart()
        r = chat(self.srv, key)
        self.assertError(r, 429, "insufficient_quota")
        # Another tenant's budget is its own.
        other = self.srv.tenant("other", gateway_tokens_per_day=30)
        self.assertEqual(chat(self.srv, other).status, 200)

    def test_refused_reservation_is_given_back(self):
        # A per-minute refusal (429 rate_limit_exceeded) must not eat the
        # day's budget: two refused 30-token requests (over the minute's
        # 20) would have used 60 of the day's 40.
        key = self.srv.tenant("minute", gateway_tokens_per_minute=20,
                              gateway_tokens_per_day=40)
        for _ in range(2):
            r = chat(self.srv, key, max_tokens=29)
            self.assertError(r, 429, "rate_limit_exceeded")
        self.restart()
        r = chat(self.srv, key)
        self.assertEqual(r.status, 200, r)

if __name__ == "__main__":
    main()
