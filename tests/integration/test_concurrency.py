"""100 concurrent executions; a guest looping forever under a 100 ms
timeout while other executions proceed; traps, timeouts and out-of-memory
guests side by side with well-behaved ones."""
import threading
import time

from wgtest import ServerTest, guest, main


def parallel(fns):
    out = [None] * len(fns)

    def one(i):
        try:
            out[i] = fns[i]()
        except Exception as e:      # reported by the caller
            out[i] = e
    ts = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


class ConcurrencyTest(ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.srv
        cls.key = s.tenant("busy", concurrent_executions=500,
                           requests_per_minute=100000, max_fuel=10 ** 15)
        cls.echo = s.upload(cls.key, guest("echo"))
        cls.ids = {g: s.upload(cls.key, guest(g))
                   for g in ("loop", "trap", "alloc", "tiny")}

    def test_hundred_at_once(self):
        s, key = self.srv, self.key
        rs = parallel([lambda i=i: s.run(key, self.echo,
                                         {"stdin": "n=%d" % i})
                       for i in range(100)])
        for i, r in enumerate(rs):
            self.assertNotIsInstance(r, Exception, r)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["stdout"], "n=%d" % i)
        ids = {r.json()["id"] for r in rs}
        self.assertEqual(len(ids), 100)

    def test_loop_under_timeout_while_others_run(self):
        s, key = self.srv, self.key
        done = {}

        def loop():
            r = s.run(key, self.ids["loop"], {"limits": {"timeout_ms": 100}})
            done["loop"] = time.monotonic()
            return r

        def small(i):
            r = s.run(key, self.echo, {"stdin": str(i)})
            done.setdefault("small", []).append(time.monotonic())
            return r
        t0 = time.monotonic()
        rs = parallel([loop] + [lambda i=i: small(i) for i in range(30)])
        x = rs[0].json()
        self.assertEqual(x["limit"], "timeout")
        self.assertEqual(x["trap"]["kind"], "interrupt")
        self.assertGreaterEqual(x["wall_ms"], 100)
        self.assertLess(x["wall_ms"], 1000)
        for i, r in enumerate(rs[1:]):
            self.assertEqual(r.json()["stdout"], str(i))
        # the others did not wait for the loop
        self.assertLess(min(done["small"]) - t0, done["loop"] - t0)

    def test_bad_guests_do_not_hurt_others(self):
        s, key, ids = self.srv, self.key, self.ids
        fns = []
        for i in range(8):
            fns.append(lambda: s.run(key, ids["trap"]))
            fns.append(lambda: s.run(key, ids["alloc"],
                                     {"limits": {"memory_bytes": 8 << 20}}))
            fns.append(lambda: s.run(key, ids["loop"],
                                     {"limits": {"timeout_ms": 50}}))
            fns.append(lambda i=i: s.run(key, self.echo, {"stdin": "ok%d" % i}))
        rs = parallel(fns)
        for k in range(8):
            trap, alloc, loop, echo = (r.json() for r in rs[4 * k:4 * k + 4])
            self.assertEqual(trap["trap"]["kind"], "unreachable")
            self.assertEqual(alloc["limit"], "memory")
            self.assertEqual(loop["limit"], "timeout")
            self.assertEqual(echo["stdout"], "ok%d" % k)
        self.assertEqual(s.get("/healthz").status, 200)
        r = s.get("/metrics").body.decode()
        self.assertIn('wasmgate_execution_limits_total{limit="timeout"}', r)
        self.assertIn('wasmgate_execution_limits_total{limit="memory"}', r)


if __name__ == "__main__":
    main()
