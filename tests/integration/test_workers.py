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
import json
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from wgtest import (ADMIN_KEY, WASMGATE, Server, ServerTest, guest, main,
                    worker_pids)

HOOK_ENV = {"WASMGATE_TEST_WORKER_HOOK": "1"}


def landlock_abi():
    """The kernel's Landlock ABI version (0: none), asked directly."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(v, 0)


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
        if landlock_abi() >= 2:
            self.assertIn("landlock", iso["features"])
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

    def test_worker_runs_unprivileged(self):
        # the hook reports the worker's ids and tries to create a file in
        # the parent of its scratch directory (reachable through ".." of
        # the directory fd, which the filter cannot tell apart) and in the
        # scratch directory itself
        self.need_hook()
        r = self.srv.run(self.key, self.hello, {
            "env": {"WASMGATE_TEST_PROBE": "privileges"},
            "files": {"given.txt": "x"}})
        self.assertEqual(r.status, 200, r)
        got = dict(kv.split("=") for kv in r.json()["stdout"].split())
        self.assertNotEqual(got["uid"], "0")
        self.assertNotEqual(got["gid"], "0")
        self.assertEqual(got["inside"], "created")
        self.assertEqual(got["given"], "writable")   # the request's file
        self.assertIn("non_root_user", self.readyz()["features"])
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.assertEqual((int(got["uid"]), int(got["gid"])),
                             (nobody.pw_uid, nobody.pw_gid))
            self.assertEqual(got["escape"], "EACCES")
        self.assert_serving()

    def test_oversize_frame_kills_the_worker_at_its_header(self):
        # a compromised worker announces a 512 MiB result (the run's output
        # limit allows 2 x 4 KiB) and sends nothing more: killed at the
        # header, not waited for until the deadline with a buffer grown
        self.need_hook()
        r = self.srv.run(self.key, self.hello, {
            "env": {"WASMGATE_TEST_FORBIDDEN": "huge_frame"},
            "limits": {"timeout_ms": 5000, "max_output_bytes": 4096}})
        err = self.assertError(r, 500, "internal_error")
        self.assertIn("killed by signal 9", err["message"])
        self.assert_serving()

    def test_unanswering_worker_is_killed_at_deadline_plus_grace(self):
        self.need_hook()
        r = self.srv.run(self.key, self.hello, {
            "env": {"WASMGATE_TEST_FORBIDDEN": "spin"},
            "limits": {"timeout_ms": 200}})
        self.assertEqual(r.status, 200, r)
        x = r.json()
        self.assertEqual(x["limit"], "timeout")
        # no timed assertion (shared machines): the message says the
        # outside deadline, not the worker, ended the run
        self.assertIn("was killed", x["trap"]["message"])
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


    def test_workers_killed_while_idle_cost_no_request(self):
        # stopped, the workers (and the spare) cannot read the next run;
        # killed with it unread, they never began it: the pool gives it to
        # a fresh worker instead of answering 500
        before = self.readyz()["crashed"]
        pids = worker_pids(self.srv.proc.pid)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        out = []
        t = threading.Thread(target=lambda: out.append(
            self.srv.run(self.key, self.hello)))
        t.start()
        time.sleep(0.5)                 # the run waits in a stopped worker
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        t.join(30)
        self.assertEqual(out[0].status, 200, out[0])
        self.assertEqual(out[0].json()["exit_code"], 0)
        self.assertGreaterEqual(self.readyz()["crashed"], before + 1)
        self.assert_serving()


class HookedUserTest(ServerTest):
    CONFIG = "executor:\n  threads: 1\n  worker_user: \"12345:23456\"\n"

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("switching users needs a root server")
        cls.srv = Server(cls.CONFIG, env=HOOK_ENV).start()

    def test_configured_ids_and_owned_files(self):
        s = self.srv
        if "test_hook" not in s.get("/readyz").json()["isolation"]["features"]:
            self.skipTest("worker test hook not compiled (WG_TEST_HOOKS=OFF)")
        key = s.tenant("u")
        hello = s.upload(key, guest("hello"))
        r = s.run(key, hello, {"env": {"WASMGATE_TEST_PROBE": "privileges"},
                               "files": {"sub/dir/given.txt": "x",
                                         "given.txt": "y"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["stdout"],
                         "uid=12345 gid=23456 escape=EACCES inside=created "
                         "given=writable outside=EACCES\n")


class NeighbourTest(unittest.TestCase):
    """A non-root server's workers all share its user, so nothing but
    Landlock keeps a worker (a guest that escaped the engine) from the
    directory of a run in another worker, through ".." of its own
    directory fd. Each worker is confined to its own home, and a run's
    directory is moved into the home of the worker that runs it: the
    probe of a second run must not read the first run's file."""

    @classmethod
    def setUpClass(cls):
        if landlock_abi() < 2:
            raise unittest.SkipTest("the kernel has no Landlock (ABI >= 2)")
        nobody = pwd.getpwnam("nobody")
        cls.srv = Server("executor:\n  threads: 2\n  workers: 2\n",
                         env=HOOK_ENV,
                         user=(nobody.pw_uid, nobody.pw_gid)).start()
        if "test_hook" not in cls.srv.get("/readyz").json()[
                "isolation"]["features"]:
            cls.srv.cleanup()
            raise unittest.SkipTest("worker test hook not compiled")

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_a_run_cannot_read_a_run_in_another_worker(self):
        s = self.srv
        self.assertIn("landlock", s.get("/readyz").json()["isolation"][
            "features"])
        key = s.tenant("n", max_fuel=10 ** 15, max_timeout_ms=60000)
        loop = s.upload(key, guest("loop"))
        hello = s.upload(key, guest("hello"))
        scratch = os.path.join(s.data_dir, "scratch")
        # the first run holds a tenant's file while it spins
        body = json.dumps({"limits": {"timeout_ms": 60000},
                           "files": {"secret.txt": "the first run's"}})
        first = socket.create_connection(("127.0.0.1", s.port))
        first.sendall(("POST /v1/modules/%s/executions HTTP/1.1\r\n"
                       "Host: x\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (
                           loop, key, len(body), body)).encode())

        def secret():
            for d, _, files in os.walk(scratch):
                if "secret.txt" in files:
                    return os.path.join(d, "secret.txt")
            return None
        wait_for("the first run's file", secret)
        rel = os.path.relpath(secret(), scratch)
        home, run, _ = rel.split(os.sep)
        self.assertTrue(home.startswith("w-") and run.startswith("x-"), rel)
        try:
            r = s.run(key, hello, {
                "env": {"WASMGATE_TEST_PROBE": "neighbour:" + rel}})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["stdout"], "neighbour=EACCES\n")
            # the same probe may read a file of its own run
            r = s.run(key, hello, {
                "env": {"WASMGATE_TEST_PROBE": "neighbour:x/mine.txt"},
                "files": {"mine.txt": "ok"}})
            self.assertIn(r.json()["stdout"], ("neighbour=ENOENT\n",
                                               "neighbour=EACCES\n"))
        finally:
            first.close()
        # the cancelled run's directory goes, and its killed worker's
        # home at the next run's end; the homes left are the workers'
        wait_for("the first run's directory to go", lambda: not secret())
        self.assertEqual(s.run(key, hello).status, 200)
        wait_for("one home a worker", lambda: len(
            [d for d in os.listdir(scratch) if d.startswith("w-")]) ==
            len(worker_pids(s.proc.pid)))
        self.assertEqual([d for d in os.listdir(scratch)
                          if d.startswith("x-")], [])


class BadWorkerUserTest(unittest.TestCase):
    def start_fails(self, user, message):
        with tempfile.TemporaryDirectory(prefix="wgtest-") as tmp:
            cfg = os.path.join(tmp, "config.yaml")
            with open(cfg, "w") as f:
                f.write("executor:\n  isolation: process\n"
                        "  worker_user: \"%s\"\n" % user)
            env = dict(os.environ, WASMGATE_ADMIN_KEY=ADMIN_KEY)
            p = subprocess.run([WASMGATE, "serve", "--listen", "127.0.0.1:0",
                                "--data-dir", os.path.join(tmp, "data"),
                                "--config", cfg], env=env, timeout=60,
                               stdin=subprocess.DEVNULL, capture_output=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(message, p.stderr.decode(), p.stderr)

    def test_refused_users(self):
        self.start_fails("no-such-user-wg", "executor.worker_user: no user "
                         "'no-such-user-wg'")
        self.start_fails("nobody:no-such-group-wg", "executor.worker_user: "
                         "no group 'no-such-group-wg'")
        if os.geteuid() == 0:
            self.start_fails("root", "executor.worker_user 'root': workers "
                             "must not run as root (uid and gid 0)")
            self.start_fails("nobody:0", "executor.worker_user 'nobody:0': "
                             "workers must not run as root (uid and gid 0)")
        else:
            self.start_fails("12345", "executor.worker_user '12345': only a "
                             "server started as root can run its workers as "
                             "another user")


def wait_for(what, fn, limit=60):
    """Polls fn until it returns true (an event, not a time bound)."""
    deadline = time.time() + limit
    while not fn():
        if time.time() > deadline:
            raise AssertionError("never happened: " + what)
        time.sleep(0.02)


class StandbyTest(ServerTest):
    # one worker recycled after every 2 runs: the spare takes its place
    CONFIG = ("executor:\n  threads: 1\n  workers: 1\n"
              "  worker_max_executions: 2\n")

    def test_recycled_worker_is_replaced_by_the_standby(self):
        s = self.srv
        key = s.tenant("sb")
        hello = s.upload(key, guest("hello"))

        def iso():
            return s.get("/readyz").json()["isolation"]
        # the worker and, spawned ahead by the helper thread, the spare
        wait_for("standby spawned", lambda: iso()["spawned"] == 2)
        wait_for("two children", lambda: len(worker_pids(s.proc.pid)) == 2)
        before = worker_pids(s.proc.pid)
        for _ in range(2):
            self.assertEqual(s.run(key, hello).status, 200)
        self.assertEqual(iso()["recycled"], 1)
        self.assertEqual(iso()["standby_used"], 1)
        # the old worker is reaped, the spare serves, a new spare comes
        wait_for("a new standby", lambda: iso()["spawned"] == 3)
        wait_for("old worker reaped",
                 lambda: len(worker_pids(s.proc.pid)) == 2)
        after = worker_pids(s.proc.pid)
        self.assertEqual(len(before & after), 1, (before, after))
        r = s.run(key, hello)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["stdout"].startswith("hello, world\n"))


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
