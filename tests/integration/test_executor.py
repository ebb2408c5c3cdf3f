"""The executor pool: a full queue answers 503 with Retry-After while the
server stays responsive; records keep outputs only when configured."""
import threading
import time

from wgtest import Server, ServerTest, guest, main


class QueueFullTest(ServerTest):
    CONFIG = "executor:\n  threads: 1\n  queue: 1\n"

    def test_full_queue_is_503(self):
        s = self.srv
        key = s.tenant("crowd", max_fuel=10 ** 15)
        loop = s.upload(key, guest("loop"))
        results = []

        def run():
            results.append(s.run(key, loop, {"limits": {"timeout_ms": 600}}))
        ts = [threading.Thread(target=run) for _ in range(2)]
        for t in ts:
            t.start()
            time.sleep(0.15)           # one runs, one waits in the queue
        r = s.run(key, loop, {"limits": {"timeout_ms": 600}})
        self.assertError(r, 503, "server_busy", "The server is busy: the "
                         "execution queue is full. Please try again.")
        self.assertEqual(r.headers["retry-after"], "1")
        self.assertEqual(s.get("/healthz").status, 200)   # HTTP still free
        self.assertEqual(s.get("/v1/modules", key=key).status, 200)
        for t in ts:
            t.join()
        self.assertEqual([x.status for x in results], [200, 200])
        m = s.get("/metrics").body.decode()
        self.assertIn("wasmgate_executor_queue_depth 0", m)


class StoreOutputTest(ServerTest):
    CONFIG = "executions:\n  store_output: true\n"

    def test_record_keeps_output(self):
        s = self.srv
        key = s.tenant("keeper")
        mid = s.upload(key, guest("hello"))
        x = s.run(key, mid).json()
        rec = s.get("/v1/executions/" + x["id"], key=key).json()
        self.assertEqual(rec["stdout"], x["stdout"])
        self.assertEqual(rec["stderr"], "to stderr\n")
        self.assertEqual(rec["stdout_encoding"], "utf-8")


if __name__ == "__main__":
    main()
