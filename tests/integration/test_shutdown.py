"""SIGTERM while busy: no new connections, running and queued executions
finish and are answered, the audit log is whole, exit code 0."""
import signal
import socket
import threading
import time
import unittest

from wgtest import Server, guest, main, read_response


def in_flight(s):
    """Executions the server is running or has queued (from /metrics)."""
    n = 0
    for line in s.get("/metrics").body.decode().splitlines():
        if line.startswith(("wasmgate_executor_queue_depth ",
                            "wasmgate_executor_active ")):
            n += int(float(line.split()[1]))
    return n


def wait_idle(s):
    """Until the pool is empty: an upload's job leaves it a moment after
    its answer, and would be counted as the execution a test waits for."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and in_flight(s) > 0:
        time.sleep(0.02)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_while_busy(self):
        with Server("executor:\n  shutdown_grace_ms: 10000\n") as s:
            key = s.tenant("late", max_fuel=10 ** 15)
            loop = s.upload(key, guest("loop"))
            echo = s.upload(key, guest("echo"))
            wait_idle(s)
            results = []

            def run(spec, mid):
                try:
                    results.append(s.run(key, mid, spec))
                except Exception as e:
                    results.append(e)
            ts = [threading.Thread(target=run, args=(
                {"limits": {"timeout_ms": 700}}, loop)) for _ in range(4)]
            ts += [threading.Thread(target=run, args=({"stdin": "x"}, echo))
                   for _ in range(4)]
            for t in ts:
                t.start()
            # wait until the server holds all 8 (running or queued): on a
            # busy machine the client threads may need more than a moment
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and in_flight(s) < 8:
                time.sleep(0.02)
            self.assertEqual(in_flight(s), 8)
            t0 = time.monotonic()
            s.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            # the listening socket is closed
            with self.assertRaises(OSError):
                c = socket.create_connection(("127.0.0.1", s.port), 1)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if not c.recv(100):
                    raise ConnectionResetError()
            for t in ts:
                t.join(30)
            rc = s.proc.wait(30)
            elapsed = time.monotonic() - t0
            self.assertEqual(rc, 0, s.log)
            self.assertLess(elapsed, 10)
            self.assertEqual(len(results), 8)
            for r in results:
                self.assertNotIsInstance(r, Exception, r)
                self.assertEqual(r.status, 200, r)
            limits = sorted(str(r.json()["limit"]) for r in results)
            self.assertEqual(limits, ["None"] * 4 + ["timeout"] * 4)
            self.assertIn("wasmgate: stopped", s.log)
            rc, out = s.audit_verify()
            self.assertEqual(rc, 0, out)
            execs = [l for l in s.audit_lines()
                     if l["route"].endswith("/executions")]
            self.assertEqual(len(execs), 8)
            self.assertTrue(all(l["status"] == 200 for l in execs))

    def test_new_requests_during_drain_get_503(self):
        with Server("executor:\n  shutdown_grace_ms: 10000\n") as s:
            key = s.tenant("drain", max_fuel=10 ** 15)
            loop = s.upload(key, guest("loop"))
            wait_idle(s)
            outcome = []

            def run():
                try:
                    outcome.append(s.run(key, loop,
                                         {"limits": {"timeout_ms": 3000}}))
                except Exception as e:   # noqa: BLE001 - shown below
                    outcome.append(e)
            t = threading.Thread(target=run)
            t.start()
            # the drain lasts while that execution runs: wait until it does
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and in_flight(s) < 1:
                time.sleep(0.02)
            # (the upload's job, counted here before wait_idle, once made
            # this see 1 and then 0: the outcome and the log say so if not)
            self.assertEqual(in_flight(s), 1, (outcome, s.log))
            # a kept-alive connection, accepted (one answer) before the signal
            c = socket.create_connection(("127.0.0.1", s.port), 5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(read_response(c).startswith(b"HTTP/1.1 200"))
            s.proc.send_signal(signal.SIGTERM)
            # the drain has begun once the listening socket is closed
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", s.port), 1).close()
                except OSError:
                    break
                time.sleep(0.02)
            c.sendall(("GET /v1/modules HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % key).encode())
            data = read_response(c).decode()
            c.close()
            self.assertTrue(data.startswith("HTTP/1.1 503"), data)
            self.assertIn('"code":"shutting_down"', data)
            t.join()
            self.assertEqual(s.proc.wait(30), 0)


if __name__ == "__main__":
    main()
