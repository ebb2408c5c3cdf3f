"""Executions in worker processes (isolation: process, issue 7): the
seccomp filter kills a worker that attempts a forbidden call and the
server answers 500 and carries on; kill -9 of a worker mid-execution; a
worker that never answers is killed at deadline + grace; a worker out of
address space; nothing crosses from one execution to the next in one
worker.

The forbidden calls come from the worker test hook (src/sandbox/worker.c):
compiled only with -DWG_TEST_HOOKS=ON (the test build's default) and
active only when the server runs with WASMGATE_TEST_WORKER_HOOK=1; the
tests that need it are skipped when the server does not report it."""
import os
import threading
import time
import unittest

from wgtest import Server, ServerTest, guest, main

HOOK_ENV = {"WASMGATE_TEST_WORKER_HOOK": "1"}


def worker_pids(server_pid):
    """The server's child processes (its workers)."""
    pids = set()
    for tid in os.listdir("/proc/%d/task" % server_pid):
        try:
            with open("/proc/%d/task/%s/children" % (server_pid, tid)) as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


class HookedServerTest(ServerTest):
    CONFIG = "executor:\n  threads: 2\n  worker_grace_ms: 300\n"

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(cls.CONFIG, env=HOOK_ENV).start()
        s = cls.srv
        cls.key = s.tenant("w", max_fuel=10 ** 15, max_timeout_ms=10000)
        cls.hello = s.upload(cls.key, guest("hello"))
        cls.loop = s.upload(cls.key, guest("loop"))

    def readyz(self):
        r = self.srv.get("/readyz")
        self.assertEqual(r.status, 200)
        return r.json()["isolation"]

    def need_hook(self):
        if "test_hook" not in self.readyz()["features"]:
            self.skipTest("worker test hook not compiled (WG_TEST_HOOKS=OFF)")

    def assert_serving(self):
        r = self.srv.run(self.key, self.hello)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["exit_code"], 0)

    def test_a_readyz_shows_confinement(self):
        iso = self.readyz()
        self.assertEqual(iso["mode"], "process")
        self.assertEqual(iso["workers"], 2)
        for f in ("seccomp", "no_new_privs"):
            self.assertIn(f, iso["features"])
        self.assertTrue(any("executions isolated in 2 worker processes"
                            in line for line in self.srv.log), self.srv.log)

    def test_forbidden_calls_kill_the_worker(self):
        self.need_hook()
        before = self.readyz()["crashed"]
        for call in ("open", "socket", "execve", "fork"):
            with self.subTest(call=call):
                r = self.srv.run(self.key, self.hello, {
                    "env": {"WASMGATE_TEST_FORBIDDEN": call}})
                err = self.assertError(r, 500, "internal_error")
                self.assertIn("signal 31 (SIGSYS", err["message"])
                self.assertIn("the worker was replaced", err["message"])
                self.assert_serving()
        self.assertEqual(self.readyz()["crashed"], before + 4)

    def test_unanswering_worker_is_killed_at_deadline_plus_grace(self):
        self.need_hook()
        t0 = time.time()
        r = self.srv.run(self.key, self.hello, {
            "env": {"WASMGATE_TEST_FORBIDDEN": "spin"},
            "limits": {"timeout_ms": 200}})
        took = time.time() - t0
        self.assertEqual(r.status, 200, r)
        x = r.json()
        self.assertEqual(x["limit"], "timeout")
        self.assertIn("was killed", x["trap"]["message"])
        self.assertLess(took, 3)
        self.assertGreaterEqual(self.readyz()["killed_timeout"], 1)
        self.assert_serving()

    def test_kill_9_during_an_execution(self):
        out = []
        t = threading.Thread(target=lambda: out.append(self.srv.run(
            self.key, self.loop, {"limits": {"timeout_ms": 8000}})))
        t.start()
        time.sleep(0.5)                 # the loop is running in a worker
        for pid in worker_pids(self.srv.proc.pid):
            os.kill(pid, 9)
        t.join(15)
        err = self.assertError(out[0], 500, "internal_error")
        self.assertIn("killed by signal 9", err["message"])
        self.assert_serving()
        self.assert_serving()


class MemoryTest(ServerTest):
    CONFIG = ("executor:\n  threads: 1\n  worker_address_space: 96MiB\n"
              "  worker_max_rss: 64MiB\n")

    def test_worker_out_of_address_space(self):
        s = self.srv
        features = s.get("/readyz").json()["isolation"]["features"]
        if "rlimit_as" not in features:
            self.skipTest("no RLIMIT_AS (sanitizer build)")
        key = s.tenant("m", max_memory_bytes=1 << 30)
        alloc = s.upload(key, guest("alloc"))
        r = s.run(key, alloc, {"limits": {"memory_bytes": 1 << 30}})
        # The guest's malloc fails well before 1 GiB (memory.grow gets
        # -1 when the worker cannot map more): a clean answer.
        self.assertEqual(r.status, 200, r)
        x = r.json()
        self.assertEqual(x["exit_code"], 3, x)
        mib = int(x["stdout"].split()[1])
        self.assertLess(mib, 96)
        # its RSS passed worker_max_rss: recycled; the next run is served
        self.assertGreaterEqual(s.get("/readyz").json()["isolation"]
                                ["recycled"], 1)
        hello = s.upload(key, guest("hello"))
        self.assertEqual(s.run(key, hello).status, 200)


class NoStateAcrossExecutionsTest(ServerTest):
    # one worker, so that both runs use the same process
    CONFIG = "executor:\n  threads: 1\n  workers: 1\n"

    def test_nothing_left_behind(self):
        s = self.srv
        key = s.tenant("st")
        mid = s.upload(key, guest("state"))
        pids = worker_pids(s.proc.pid)
        r = s.run(key, mid, {"args": ["write"], "env": {"SECRET": "x"},
                             "files": {"input.txt": "in"}})
        self.assertEqual(r.json()["stdout"], "wrote\n")
        r = s.run(key, mid, {"args": ["read"]})
        self.assertEqual(r.status, 200, r)
        got = dict(kv.split(":") for kv in r.json()["stdout"].split())
        # no file, no marker in fresh heap, no env, no fds, empty "/"
        self.assertEqual(got, {"file": "no", "marks": "0",
                               "nonzero": got["nonzero"], "env": "0",
                               "extra_fds": "0", "entries": "0"})
        # malloc's own headers at most, never the 8 MiB written before
        self.assertLess(int(got["nonzero"]), 64)
        self.assertEqual(worker_pids(s.proc.pid), pids)   # same worker


if __name__ == "__main__":
    main()
