"""A client that goes away stops its execution: a guest spinning in a loop
or asleep in WASI, long before its own deadline; one still queued never
runs; the server answers no one, counts the execution as cancelled and
audits the request as 499 client_closed. Bytes of a pipelined next
request are not a hang-up. Runs in both isolation modes (in a worker
process the worker is killed and replaced)."""
import json
import socket
import time

from wgtest import ServerTest, content_length, guest, main, worker_pids

LONG = {"limits": {"timeout_ms": 60000}}


def metric(s, name):
    """One sample of /metrics (0 when absent)."""
    for line in s.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return 0


def cancelled(s):
    return metric(s, 'wasmgate_executions_total{outcome="cancelled"}')


def responses(data):
    """The whole HTTP/1.1 responses (Content-Length framed) at the start
    of data, as (head, body) pairs."""
    out = []
    while b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        n = content_length(head)
        if len(rest) < n:
            break
        out.append((head, rest[:n]))
        data = rest[n:]
    return out


def cpu_ticks(pid):
    """User + system CPU ticks of a process (0 once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def wait_for(what, cond, timeout=20):
    """Polls cond until it holds; the bound is far below the runs' own
    60 s deadline, so meeting it means they were stopped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class CancelTest(ServerTest):
    CONFIG = "executor:\n  threads: 1\n  queue: 4\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.srv
        cls.key = s.tenant("gone", max_fuel=10 ** 15,
                           max_timeout_ms=120000)
        cls.loop = s.upload(cls.key, guest("loop"))
        cls.sleep = s.upload(cls.key, guest("sleep"))
        cls.hello = s.upload(cls.key, guest("hello"))
        wait_for("an idle pool", lambda: cls.busy() == 0)

    @classmethod
    def busy(cls):
        return (metric(cls.srv, "wasmgate_executor_active") +
                metric(cls.srv, "wasmgate_executor_queue_depth"))

    def open_run(self, module, spec, extra=b""):
        """Sends an execution request on a raw connection (plus extra
        bytes right behind it) and returns the open socket."""
        body = json.dumps(spec).encode()
        c = socket.create_connection(("127.0.0.1", self.srv.port))
        c.sendall(b"POST /v1/modules/%s/executions HTTP/1.1\r\n"
                  b"Host: x\r\nAuthorization: Bearer %s\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s%s" % (
                      module.encode(), self.key.encode(), len(body), body,
                      extra))
        return c

    def wait_spinning(self):
        """Until the loop guest runs: the executor has it, and under
        process isolation a worker burns CPU (the worker has the run,
        which a cancel then has to kill)."""
        wait_for("the run to start",
                 lambda: metric(self.srv, "wasmgate_executor_active") == 1)
        if self.workers_cancelled() is None:
            return
        base = {p: cpu_ticks(p) for p in worker_pids(self.srv.proc.pid)}
        wait_for("a worker to run the guest", lambda: any(
            cpu_ticks(p) >= t + 10 for p, t in base.items()))

    def workers_cancelled(self):
        iso = self.srv.get("/readyz").json()["isolation"]
        return iso.get("killed_cancelled") if iso["mode"] == "process" \
            else None

    def assert_audited(self, n):
        lines = self.srv.audit_lines()
        gone = [x for x in lines if x.get("status") == 499]
        self.assertEqual(len(gone), n, lines[-3:])
        for x in gone:
            self.assertEqual(x["reason"], "client_closed")
            self.assertEqual(x["tenant"], "gone")

    def assert_serving(self):
        r = self.srv.run(self.key, self.hello)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["exit_code"], 0)

    def test_a_disconnect_stops_a_spinning_guest(self):
        before, wk = cancelled(self.srv), self.workers_cancelled()
        c = self.open_run(self.loop, LONG)
        self.wait_spinning()
        c.close()
        wait_for("the run to stop", lambda: self.busy() == 0)
        self.assertEqual(cancelled(self.srv), before + 1)
        if wk is not None:
            self.assertEqual(self.workers_cancelled(), wk + 1)
        self.assert_audited(1)
        self.assert_serving()

    def test_b_disconnect_wakes_a_sleeping_guest(self):
        before = cancelled(self.srv)
        c = self.open_run(self.sleep, LONG)
        wait_for("the run to start",
                 lambda: metric(self.srv, "wasmgate_executor_active") == 1)
        time.sleep(0.2)               # asleep in poll_oneoff by now
        c.shutdown(socket.SHUT_RDWR)
        c.close()
        wait_for("the run to stop", lambda: self.busy() == 0)
        self.assertEqual(cancelled(self.srv), before + 1)
        self.assert_audited(2)
        self.assert_serving()

    def test_c_queued_run_of_a_gone_client_never_starts(self):
        before, wk = cancelled(self.srv), self.workers_cancelled()
        first = self.open_run(self.loop, LONG)
        self.wait_spinning()
        second = self.open_run(self.loop, LONG)
        wait_for("the second run to queue", lambda: metric(
            self.srv, "wasmgate_executor_queue_depth") == 1)
        second.close()
        time.sleep(0.2)
        first.close()
        wait_for("both to end", lambda: self.busy() == 0)
        self.assertEqual(cancelled(self.srv), before + 2)
        if wk is not None:
            # only the first reached a worker, which was killed
            self.assertEqual(self.workers_cancelled(), wk + 1)
        self.assert_audited(4)
        self.assert_serving()

    def test_d_pipelined_request_is_not_a_hang_up(self):
        before = cancelled(self.srv)
        c = self.open_run(self.loop, {"limits": {"timeout_ms": 500}},
                          extra=b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        c.settimeout(30)
        data = b""
        while len(responses(data)) < 2:
            piece = c.recv(65536)
            if not piece:
                break
            data += piece
        c.close()
        got = responses(data)
        self.assertEqual(len(got), 2, data[:500])
        self.assertTrue(got[0][0].startswith(b"HTTP/1.1 200"), got[0])
        self.assertEqual(json.loads(got[0][1])["limit"], "timeout")
        self.assertTrue(got[1][0].startswith(b"HTTP/1.1 200"), got[1])
        self.assertEqual(cancelled(self.srv), before)


if __name__ == "__main__":
    main()
