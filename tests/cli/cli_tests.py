#!/usr/bin/env python3
"""`wasmgate run` tests through the real binary (Python 3 stdlib only).

    cli_tests.py --list                 one case a line: NAME [walk]
    cli_tests.py WASMGATE GUESTS CASE   runs one case; exit 0 = pass

GUESTS is the folder of the guest modules built by tests/cli/CMakeLists.txt
(guests/*.c with clang --target=wasm32-wasi -O2, guests/*.wat with
wat2wasm). Each case checks one behaviour: the exit status, stdout and
stderr (exactly, or by a pattern where a guest's code offsets show), and
for the file-system cases that nothing outside the preopened directory
changed. Cases marked "walk" are registered twice by CMake: as is, and with
WASMGATE_NO_OPENAT2=1 (the portable path walk instead of openat2).

With WG_CLI_ISOLATION=process in the environment every `wasmgate run`
gets `--isolation process` first (unless it names --isolation itself):
CMake registers each case a second time that way, as cli-process/<case>,
so the whole suite checks that a confined worker process gives the same
exit status, output and errors as a run in-process.
"""
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

WASMGATE = None
GUESTS = None
CASES = {}          # name -> (function, walk)


def case(name, walk=False):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = (fn, walk)
        return fn
    return register


class Failure(Exception):
    pass


def guest(name):
    return os.path.join(GUESTS, name + ".wasm")


class Result:
    def __init__(self, args, p):
        self.args = args
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def __str__(self):
        return ("command: %s\nexit status: %d\nstdout: %r\nstderr: %r"
                % (" ".join(self.args), self.rc, self.out[:2000],
                   self.err[:2000]))


def isolation_args(args):
    """["--isolation", "process"] in the cli-process/* runs, unless args
    choose the isolation themselves."""
    if os.environ.get("WG_CLI_ISOLATION") != "process":
        return []
    if any(str(a).startswith("--isolation") for a in args):
        return []
    return ["--isolation", "process"]


def run(*args, stdin=b"", env=None, cwd=None, timeout=60):
    """Runs `wasmgate run ARGS...`; stdin is bytes (default: empty)."""
    cmd = [WASMGATE, "run"] + isolation_args(args) + [str(a) for a in args]
    e = dict(os.environ)
    e["WG_HOST_ONLY"] = "must-not-leak"
    if env:
        e.update(env)
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, env=e,
                           cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("no result after %ss: %s" % (timeout, " ".join(cmd)))
    return Result(cmd, p)


def check(r, rc, out=None, err=None, out_re=None, err_re=None):
    """Exit status rc; stdout/stderr equal to out/err (str or bytes) or
    matching the regular expressions out_re/err_re in full."""
    why = []
    if r.rc != rc:
        why.append("exit status %d, want %d" % (r.rc, rc))
    for name, got, exact, pat in (("stdout", r.out, out, out_re),
                                  ("stderr", r.err, err, err_re)):
        if exact is not None:
            want = exact.encode() if isinstance(exact, str) else exact
            if got != want:
                why.append("%s is %r, want %r" % (name, got, want))
        if pat is not None:
            text = got.decode(errors="replace")
            if not re.fullmatch(pat, text, re.S):
                why.append("%s %r does not match %r" % (name, text, pat))
    if why:
        raise Failure("\n".join(why) + "\n" + str(r))


def check_eq(got, want, what):
    if got != want:
        raise Failure("%s is %r, want %r" % (what, got, want))


def json_of(r):
    try:
        lines = r.out.decode().splitlines()
        if len(lines) != 1:
            raise ValueError("%d lines" % len(lines))
        return json.loads(lines[0])
    except ValueError as e:
        raise Failure("--json output is not one JSON object (%s)\n%s"
                      % (e, r))


class Scratch:
    """A temporary directory, removed at the end of the case."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="wg-cli-")
        return self.path

    def __exit__(self, *exc):
        for dirpath, dirs, _files in os.walk(self.path):
            for d in dirs:      # the guest may have made some unreadable
                p = os.path.join(dirpath, d)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(self.path, ignore_errors=True)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def snapshot(top, skip=()):
    """Everything observable about the tree at top: per path its type,
    mode, size, mtime, link count, content hash or link target. Paths
    in skip (relative to top) are left out with everything below them."""
    snap = {}
    for dirpath, dirs, files in os.walk(top):
        rel_dir = os.path.relpath(dirpath, top)
        dirs[:] = [d for d in dirs
                   if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for name in [""] + dirs + files:
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.normpath(os.path.relpath(p, top))
            if rel in skip:
                continue
            st = os.lstat(p)
            item = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                    st.st_size, st.st_mtime_ns, st.st_nlink)
            if stat.S_ISLNK(st.st_mode):
                item += (os.readlink(p),)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    item += (hashlib.sha256(f.read()).hexdigest(),)
            snap[rel] = item
    return snap


def check_unchanged(before, after, what):
    if before != after:
        diff = []
        for k in sorted(set(before) | set(after)):
            if before.get(k) != after.get(k):
                diff.append("  %s: %r -> %r" % (k, before.get(k),
                                                after.get(k)))
        raise Failure("%s changed:\n%s" % (what, "\n".join(diff)))


# ---------------------------------------------------------------------------
# Guest programs: outputs checked exactly

@case("files")
def _files():
    with Scratch() as t:
        r = run("--dir", t + "::/data", guest("files"), "/data")
        check(r, 0, out=(
            "read 15: hello\nworld 42\n"
            "at 6: world, tell 11\n"
            "last 3: 42\n"
            "size 15, regular 1\n"
            "after truncate+pwrite: 5 'Jello'\n"
            "open missing: No such file or directory\n"
            "unlinked: stat No such file or directory\n"), err="")
        check_eq(sorted(os.listdir(t)), ["kept.txt"], "the directory")
        with open(os.path.join(t, "kept.txt")) as f:
            check_eq(f.read(), "kept\n", "kept.txt")


@case("dirs")
def _dirs():
    with Scratch() as t:
        r = run("--dir", t + "::.", guest("dirs"), ".")
        check(r, 0, err="", out=(
            "mkdir tree: ok\n"
            "mkdir tree/sub: ok\n"
            "mkdir tree again: File exists\n"
            "ls tree: a.txt b.txt sub/\n"
            "ls tree/sub: c.txt\n"
            "rename a.txt -> sub/moved.txt: ok\n"
            "rename sub -> renamed: ok\n"
            "ls tree: b.txt renamed/\n"
            "ls tree/renamed: c.txt moved.txt\n"
            "rmdir non-empty: Directory not empty\n"
            "unlink c.txt: ok\n"
            "unlink moved.txt: ok\n"
            "rmdir renamed: ok\n"
            "rmdir missing: No such file or directory\n"
            "ls tree: b.txt\n"
            "ls .: tree/\n"))
        check_eq(sorted(os.listdir(os.path.join(t, "tree"))), ["b.txt"],
                 "tree/ on the host")


@case("envargs")
def _envargs():
    r = run("--env", "A=1", "--env", "EMPTY=", "--env", "B=x y=z",
            "--env", "A=2", guest("envargs"), "plain", "with space",
            'q"uote', "", "--env", "caf\u00e9",
            env={"HOME": "/home/host", "FOO": "host"})
    check(r, 0, err="", out=(
        "argc=7\n"
        "argv[0]=[envargs.wasm]\n"
        "argv[1]=[plain]\n"
        "argv[2]=[with space]\n"
        'argv[3]=[q"uote]\n'
        "argv[4]=[]\n"
        "argv[5]=[--env]\n"
        "argv[6]=[caf\u00e9]\n"
        "envc=3\n"
        "env[0]=[A=2]\n"
        "env[1]=[B=x y=z]\n"
        "env[2]=[EMPTY=]\n"
        "HOME unset\n"))


@case("env-none-from-host")
def _env_none():
    r = run(guest("envargs"), env={"HOME": "/home/host", "PATH": "/bin"})
    check(r, 0, err="", out="argc=1\nargv[0]=[envargs.wasm]\nenvc=0\n"
                            "HOME unset\n")


@case("args-after-double-dash")
def _dashdash():
    r = run("--", guest("envargs"), "--json")
    check(r, 0, err="", out="argc=2\nargv[0]=[envargs.wasm]\n"
                            "argv[1]=[--json]\nenvc=0\nHOME unset\n")


@case("clocks")
def _clocks():
    check(run(guest("clocks")), 0, err="", out=(
        "realtime after 2020: yes\n"
        "monotonic resolution ok: yes\n"
        "monotonic never backwards: yes\n"
        "slept at least 20ms: yes\n"
        "process clock ok: yes\n"))


@case("random")
def _random():
    check(run(guest("random")), 0, err="",
          out="non-zero: yes\ndraws differ: yes\nbits balanced: yes\n")


@case("stdin-file")
def _stdin_file():
    with Scratch() as t:
        src = os.path.join(t, "in.txt")
        write(src, "hello\nwasm world\nno newline")
        r = run("--stdin", src, guest("filter"))
        check(r, 0, out="1: HELLO\n2: WASM WORLD\n3: NO NEWLINE",
              err="27 bytes, 3 lines\n")


@case("stdin-default-empty")
def _stdin_empty():
    # the host's stdin is not the guest's unless --stdin - says so
    r = run(guest("filter"), stdin=b"host input\n")
    check(r, 0, out="", err="0 bytes, 0 lines\n")


@case("stdin-dash")
def _stdin_dash():
    r = run("--stdin", "-", guest("filter"), stdin=b"a\nb\n")
    check(r, 0, out="1: A\n2: B\n", err="4 bytes, 2 lines\n")


@case("exit-codes")
def _exit_codes():
    for code in (0, 1, 7, 124):
        check(run(guest("exitcode"), code), code, out="bye\n", err="")
    for code in (125, 255, 300):
        check(run(guest("exitcode"), code), 125, out="bye\n",
              err="wasmgate: the guest's exit code %d is above 124; "
                  "exiting with 125\n" % code)


@case("json")
def _json():
    r = run("--json", "--env", "K=v", guest("envargs"), "x")
    check(r, 0, err="")
    j = json_of(r)
    check_eq(list(j), ["exit_code", "trap", "limit", "fuel_used", "wall_ms",
                       "peak_memory_bytes", "stdout", "stdout_encoding",
                       "stderr", "stderr_encoding", "stdout_truncated",
                       "stderr_truncated"], "the keys")
    check_eq(j["exit_code"], 0, "exit_code")
    check_eq(j["trap"], None, "trap")
    check_eq(j["limit"], None, "limit")
    check_eq(j["stdout"], "argc=2\nargv[0]=[envargs.wasm]\nargv[1]=[x]\n"
                          "envc=1\nenv[0]=[K=v]\nHOME unset\n", "stdout")
    check_eq(j["stdout_encoding"], "utf-8", "stdout_encoding")
    check_eq((j["stderr"], j["stdout_truncated"], j["stderr_truncated"]),
             ("", False, False), "stderr and truncation")
    check_eq(j["fuel_used"], 0, "fuel_used (unmetered)")
    if not isinstance(j["wall_ms"], float) or j["wall_ms"] < 0:
        raise Failure("wall_ms %r" % j["wall_ms"])
    if j["peak_memory_bytes"] < 65536 or j["peak_memory_bytes"] % 65536:
        raise Failure("peak_memory_bytes %r" % j["peak_memory_bytes"])


@case("json-exit-code")
def _json_exit():
    r = run("--json", guest("exitcode"), "7")
    check(r, 7, err="")
    j = json_of(r)
    check_eq((j["exit_code"], j["trap"], j["stdout"]), (7, None, "bye\n"),
             "exit_code, trap, stdout")


@case("json-binary-output")
def _json_binary():
    r = run("--json", guest("binary"))
    check(r, 0, err="")
    j = json_of(r)
    check_eq((j["stdout"], j["stdout_encoding"]), ("//4AYcM=", "base64"),
             "stdout")
    check_eq((j["stderr"], j["stderr_encoding"]), ("caf\u00e9\n", "utf-8"),
             "stderr")


@case("json-fuel-used")
def _json_fuel():
    r = run("--json", "--fuel", "100000000", guest("exitcode"), "3")
    check(r, 3, err="")
    j = json_of(r)
    if not 0 < j["fuel_used"] < 100000000:
        raise Failure("fuel_used %r" % j["fuel_used"])
    check_eq(j["limit"], None, "limit")


# ---------------------------------------------------------------------------
# --invoke: typed arguments and results, WASI linked

@case("invoke")
def _invoke():
    check(run("--invoke", "mix", guest("trap"), "-5", "1.5", "0x1p-2"), 0,
          out="-5\n1.5\n0.25\n", err="")
    check(run("--invoke", "div", guest("trap"), "-7", "2"), 0, out="-3\n",
          err="")
    r = run("--json", "--invoke", "mix", guest("trap"), "9007199254740993",
            "-0.5", "1e300")
    check(r, 0, err="")
    j = json_of(r)
    check_eq(j["results"], [9007199254740993, -0.5, 1e300], "results")


@case("invoke-wasi")
def _invoke_wasi():
    # fd_write of "hello\n" from the module's data; the errno 0 after it
    check(run("--invoke", "write", guest("efault"), "16", "6"), 0,
          out="hello\n0\n", err="")


@case("invoke-errors")
def _invoke_errors():
    m = guest("mem")
    check(run("--invoke", "nope", m), 1, out="",
          err="%s: error: no export named 'nope'\n" % m)
    check(run("--invoke", "memory", m), 1, out="",
          err="%s: error: export 'memory' is a memory, not a function\n" % m)
    check(run("--invoke", "grow", m), 2, out="",
          err="wasmgate run: function 'grow' (i32) -> (i32) expects 1 "
              "argument, got 0\n")
    check(run("--invoke", "grow", m, "x"), 2, out="",
          err="wasmgate run: invalid argument 'x' for parameter 0 (i32)\n")
    check(run(m), 1, out="",
          err="%s: error: the module has no _start function (use --invoke "
              "FUNC to call another export)\n" % m)


# ---------------------------------------------------------------------------
# Traps and limits: the documented exit status and message

@case("trap")
def _trap():
    check(run(guest("trap")), 134, out="",
          err="wasmgate: trap: integer divide by zero in function #0 at "
              "offset 0x50\n")
    r = run("--json", guest("trap"))
    check(r, 134, err="")
    j = json_of(r)
    check_eq(j["trap"], {"kind": "divzero", "message": "integer divide by "
                         "zero in function #0 at offset 0x50"}, "trap")
    check_eq((j["limit"], j["exit_code"]), (None, 1), "limit, exit_code")


@case("trap-abort")
def _trap_abort():
    # a C guest's abort(): the function name from the name section
    # (no preopen: the first open fails, then abort())
    check(run(guest("hogfds"), "f", "abort"), 134, out="",
          err_re=r"wasmgate: trap: unreachable in function 'abort' "
                 r"\(#\d+\) at offset 0x[0-9a-f]+\n")


@case("call-depth")
def _call_depth():
    check(run(guest("recurse")), 134, out="",
          err="wasmgate: trap: call stack exhausted in function #0 at "
              "offset 0x2e\n")
    j = json_of(run("--json", guest("recurse")))
    check_eq((j["trap"]["kind"], j["limit"]), ("stack", "call_depth"),
             "trap kind, limit")


@case("limit-timeout")
def _timeout():
    check(run("--timeout", "100ms", guest("spin")), 137, out="",
          err="wasmgate: limit exceeded: timeout (--timeout 100ms): "
              "wall-clock timeout\n")
    r = run("--json", "--timeout", "0.1s", guest("spin"))
    check(r, 137, err="")
    j = json_of(r)
    check_eq((j["limit"], j["trap"]["kind"]), ("timeout", "interrupt"),
             "limit, trap kind")


@case("limit-timeout-sleeping")
def _timeout_sleep():
    # the guest is in poll_oneoff for 60 s: the timeout wakes it
    check(run("--timeout", "200ms", guest("sleeper"), "60", timeout=30), 137,
          out="", err="wasmgate: limit exceeded: timeout (--timeout 200ms): "
                      "wall-clock timeout\n")


@case("limit-fuel")
def _fuel():
    check(run("--fuel", "10000", guest("spin")), 135, out="",
          err="wasmgate: limit exceeded: fuel (--fuel 10000): out of fuel "
              "in function #0 at offset 0x23\n")
    r = run("--json", "--fuel", "10000", guest("spin"))
    check(r, 135, err="")
    j = json_of(r)
    check_eq((j["limit"], j["trap"]["kind"], j["fuel_used"]),
             ("fuel", "fuel", 10000), "limit, trap kind, fuel_used")


@case("limit-memory-grow-fails")
def _memory_reported():
    # malloc gets NULL (memory.grow gave -1); the guest says so and exits 0
    check(run("--max-memory", "4MiB", guest("grow")), 0,
          out_re=r"allocated [123] MiB, then malloc returned NULL\n",
          err="wasmgate: limit reached: memory (--max-memory 4MiB)\n")
    j = json_of(run("--json", "--max-memory", "4MiB", guest("grow")))
    check_eq((j["exit_code"], j["trap"], j["limit"]), (0, None, "memory"),
             "exit_code, trap, limit")
    if j["peak_memory_bytes"] > 4 << 20:
        raise Failure("peak_memory_bytes %d above 4MiB"
                      % j["peak_memory_bytes"])


@case("limit-memory-abort")
def _memory_abort():
    check(run("--max-memory", "4MiB", guest("grow"), "abort"), 136, out="",
          err_re=r"wasmgate: limit exceeded: memory \(--max-memory 4MiB\), "
                 r"then trap: unreachable in function 'abort' \(#\d+\) at "
                 r"offset 0x[0-9a-f]+\n")


@case("limit-memory-initial")
def _memory_initial():
    # the C guest's initial memory (2+ pages) is above one page
    check(run("--max-memory", "64KiB", guest("grow")), 136, out="",
          err_re=r"wasmgate: limit exceeded: memory \(--max-memory 64KiB\): "
                 r"memory of \d+ pages exceeds the limit of 1 pages\n")


@case("memory-grow-wat")
def _memory_grow_wat():
    m = guest("mem")
    check(run("--invoke", "grow", m, "1"), 0, out="1\n", err="")
    # more than 4 GiB of pages: -1 from memory.grow, no limit involved
    check(run("--invoke", "grow", m, "65536"), 0, out="-1\n", err="")
    check(run("--invoke", "grow", m, "0xffffffff"), 0, out="-1\n", err="")
    # the second page is refused by --max-memory: -1 and the limit named
    check(run("--max-memory", "128KiB", "--invoke", "grow_twice", m, "1"), 0,
          out="1\n-1\n",
          err="wasmgate: limit reached: memory (--max-memory 128KiB)\n")


@case("limit-fds")
def _fds():
    with Scratch() as t:
        write(os.path.join(t, "f"), "x")
        # 3 stdio + 1 preopen + 6 files = 10
        check(run("--dir", t + "::/", "--max-fds", "10", guest("hogfds"),
                  "f"), 0, out="opened 6, then No file descriptors "
                              "available\n",
              err="wasmgate: limit reached: open_fds (--max-fds 10)\n")
        check(run("--dir", t + "::/", "--max-fds", "10", guest("hogfds"),
                  "f", "abort"), 139, out="",
              err_re=r"wasmgate: limit exceeded: open_fds \(--max-fds 10\), "
                     r"then trap: unreachable in function 'abort' \(#\d+\) "
                     r"at offset 0x[0-9a-f]+\n")


@case("limit-write")
def _write():
    with Scratch() as t:
        check(run("--dir", t + "::/", "--max-write", "10KiB", guest("writer"),
                  "out.bin"), 0,
              out="wrote 10240, then No space left on device\n",
              err="wasmgate: limit reached: write_bytes (--max-write 10KiB)\n")
        check_eq(os.path.getsize(os.path.join(t, "out.bin")), 10240,
                 "out.bin's size on the host")
        check(run("--dir", t + "::/", "--max-write", "1000", guest("writer"),
                  "out.bin", "abort"), 140, out="",
              err_re=r"wasmgate: limit exceeded: write_bytes \(--max-write "
                     r"1000\), then trap: unreachable in function 'abort' "
                     r"\(#\d+\) at offset 0x[0-9a-f]+\n")
        check_eq(os.path.getsize(os.path.join(t, "out.bin")), 1000,
                 "out.bin's size on the host")


@case("limit-output")
def _output():
    chunk = bytes(ord("a") + i % 26 for i in range(1000))   # as spam.c
    letters = chunk * 5
    check(run("--max-output", "1KiB", guest("spam"), "5000", "10"), 0,
          out=letters[:1024],
          err="abcdefghijwasmgate: limit reached: output (--max-output "
              "1KiB)\n")
    r = run("--json", "--max-output", "100", guest("spam"), "5000", "100")
    check(r, 0, err="")
    j = json_of(r)
    check_eq((j["stdout"], j["stdout_truncated"], j["stderr"],
              j["stderr_truncated"], j["limit"]),
             (letters[:100].decode(), True, letters[:100].decode(), False,
              "output"), "output fields")


@case("efault")
def _efault():
    m = guest("efault")
    for args in (("write", "65536", "6"),        # buffer past the end
                 ("write", "65530", "7"),        # buffer straddles the end
                 ("write", "16", "4294967295"),  # length wraps
                 ("write_iovs", "65535", "8"),   # iovec array past the end
                 ("write_iovs", "0", "65533"),   # nwritten out of bounds
                 ("read", "65535", "2"),
                 ("args_get", "65535", "0"),
                 ("environ_sizes_get", "0", "4294967295"),
                 ("random_get", "65000", "1000"),
                 ("clock_time_get", "65532"),
                 ("path_open", "65535", "10")):
        check(run("--invoke", args[0], m, *args[1:]), 0, out="21\n", err="")


# ---------------------------------------------------------------------------
# The file-system sandbox: the guest reaches nothing outside its preopens

def escape_case(ops, expect, setup=None, dirs=None):
    """Runs the probe guest with ops in a scratch tree w/{box/data.txt,
    box/sub/, outside/secret.txt, ro/r.txt} (two levels below the scratch
    top, so that climbing stays inside what is checked), box preopened as
    "/" (or the given --dir list, relative to w). Checks the probe's output
    and that nothing but box changed."""
    with Scratch() as top:
        t = os.path.join(top, "w")
        box = os.path.join(t, "box")
        write(os.path.join(box, "data.txt"), "data\n")
        os.mkdir(os.path.join(box, "sub"))
        write(os.path.join(t, "outside", "secret.txt"), "secret\n")
        write(os.path.join(t, "ro", "r.txt"), "rodata\n")
        if setup:
            setup(t)
        skip = (os.path.join("w", "box"),)
        before = snapshot(top, skip=skip)
        far = ("/tmp/pwned", "/pwned", "/tmp/stolen", "/tmp/d")
        far_before = [p for p in far if os.path.lexists(p)]
        args = []
        for d in dirs or ["box::/"]:
            args += ["--dir", os.path.join(t, d)]
        r = run(*args, guest("probe"), *ops)
        check(r, 0, out="".join(line + "\n" for line in expect), err="")
        check_unchanged(before, snapshot(top, skip=skip),
                        "the tree outside the preopen")
        for p in far:
            if os.path.lexists(p) and p not in far_before:
                raise Failure(p + " appeared")


@case("escape-dotdot", walk=True)
def _escape_dotdot():
    escape_case(
        ["read:../outside/secret.txt", "create:../outside/new",
         "create:../pwned", "read:sub/../../outside/secret.txt",
         "read:sub/../data.txt", "stat:..", "ls:..", "mkdir:../d",
         "unlink:../outside/secret.txt", "utimes:../outside/secret.txt",
         "fd:3", "read:./../box/data.txt"],
        ["read ../outside/secret.txt = NOTCAPABLE",
         "create ../outside/new = NOTCAPABLE",
         "create ../pwned = NOTCAPABLE",
         "read sub/../../outside/secret.txt = NOTCAPABLE",
         "read sub/../data.txt = OK 'data\n'",
         "stat .. = NOTCAPABLE",
         "ls .. = NOTCAPABLE",
         "mkdir ../d = NOTCAPABLE",
         "unlink ../outside/secret.txt = NOTCAPABLE",
         "utimes ../outside/secret.txt = NOTCAPABLE",
         "read ./../box/data.txt = NOTCAPABLE"])


@case("escape-absolute", walk=True)
def _escape_absolute():
    escape_case(
        ["read:/etc/passwd", "create:/tmp/pwned", "create:/pwned",
         "mkdir:/tmp/d", "read:/data.txt", "stat:/"],
        ["read /etc/passwd = NOTCAPABLE",
         "create /tmp/pwned = NOTCAPABLE",
         "create /pwned = NOTCAPABLE",
         "mkdir /tmp/d = NOTCAPABLE",
         "read /data.txt = NOTCAPABLE",
         "stat / = NOTCAPABLE"])


def _outward_links(t):
    box = os.path.join(t, "box")
    os.symlink("../outside", os.path.join(box, "up"))
    os.symlink("../outside/secret.txt", os.path.join(box, "sfile"))
    os.symlink("/etc", os.path.join(box, "etc"))
    os.symlink(os.path.join(t, "outside"), os.path.join(box, "abs"))
    os.symlink("sub/../../outside", os.path.join(box, "sneaky"))


@case("escape-symlink-existing", walk=True)
def _escape_symlink_existing():
    escape_case(
        ["read:up/secret.txt", "create:up/new", "read:sfile", "write:sfile",
         "trunc:sfile", "setsize:sfile", "read:etc/passwd",
         "read:abs/secret.txt", "create:abs/new", "read:sneaky/secret.txt",
         "mkdir:up/d", "unlink:up/secret.txt", "rename:data.txt:up/stolen",
         "utimes:sfile", "ls:up", "readlink:up", "open:sfile"],
        ["read up/secret.txt = NOTCAPABLE",
         "create up/new = NOTCAPABLE",
         "read sfile = NOTCAPABLE",
         "write sfile = NOTCAPABLE",
         "trunc sfile = NOTCAPABLE",
         "setsize sfile = NOTCAPABLE",
         "read etc/passwd = NOTCAPABLE",
         "read abs/secret.txt = NOTCAPABLE",
         "create abs/new = NOTCAPABLE",
         "read sneaky/secret.txt = NOTCAPABLE",
         "mkdir up/d = NOTCAPABLE",
         "unlink up/secret.txt = NOTCAPABLE",
         "rename data.txt up/stolen = NOTCAPABLE",
         "utimes sfile = NOTCAPABLE",
         "ls up = NOTDIR",
         "readlink up = OK '../outside'",
         "open sfile = LOOP"],
        setup=_outward_links)


@case("escape-symlink-by-guest", walk=True)
def _escape_symlink_guest():
    escape_case(
        ["symlink:../outside:evil", "read:evil/secret.txt",
         "create:evil/new", "symlink:../outside/secret.txt:efile",
         "read:efile", "write:efile", "symlink:/etc:abs",
         "symlink:sub/../..:loop", "read:loop/outside/secret.txt",
         "symlink:data.txt:fine", "read:fine"],
        ["symlink ../outside evil = OK",
         "read evil/secret.txt = NOTCAPABLE",
         "create evil/new = NOTCAPABLE",
         "symlink ../outside/secret.txt efile = OK",
         "read efile = NOTCAPABLE",
         "write efile = NOTCAPABLE",
         "symlink /etc abs = PERM",
         "symlink sub/../.. loop = OK",
         "read loop/outside/secret.txt = NOTCAPABLE",
         "symlink data.txt fine = OK",
         "read fine = OK 'data\n'"])


@case("escape-hardlink", walk=True)
def _escape_hardlink():
    escape_case(
        ["link:../outside/secret.txt:hl", "link:up/secret.txt:hl2",
         "link:/etc/passwd:hl3", "link:data.txt:../outside/hl4",
         "link:data.txt:up/hl5", "link:data.txt:inside", "read:inside",
         "link:sfile:hl6", "read:hl6"],
        ["link ../outside/secret.txt hl = NOTCAPABLE",
         "link up/secret.txt hl2 = NOTCAPABLE",
         "link /etc/passwd hl3 = NOTCAPABLE",
         "link data.txt ../outside/hl4 = NOTCAPABLE",
         "link data.txt up/hl5 = NOTCAPABLE",
         "link data.txt inside = OK",
         "read inside = OK 'data\n'",
         # a link to the symlink itself: it still leads nowhere
         "link sfile hl6 = OK",
         "read hl6 = NOTCAPABLE"],
        setup=_outward_links)


@case("escape-rename", walk=True)
def _escape_rename():
    escape_case(
        ["rename:data.txt:../outside/stolen", "rename:data.txt:up/stolen",
         "rename:sub:../outside/sub", "rename:../outside/secret.txt:in",
         "rename:up/secret.txt:in", "rename:data.txt:/tmp/stolen",
         "rename:data.txt:moved.txt", "read:moved.txt"],
        ["rename data.txt ../outside/stolen = NOTCAPABLE",
         "rename data.txt up/stolen = NOTCAPABLE",
         "rename sub ../outside/sub = NOTCAPABLE",
         "rename ../outside/secret.txt in = NOTCAPABLE",
         "rename up/secret.txt in = NOTCAPABLE",
         "rename data.txt /tmp/stolen = NOTCAPABLE",
         "rename data.txt moved.txt = OK",
         "read moved.txt = OK 'data\n'"],
        setup=_outward_links)


@case("readonly-preopen", walk=True)
def _readonly():
    escape_case(
        ["read:r.txt", "create:new.txt", "write:r.txt", "trunc:r.txt",
         "setsize:r.txt", "mkdir:d", "unlink:r.txt", "rename:r.txt:r2.txt",
         "symlink:r.txt:s", "link:r.txt:l", "utimes:r.txt",
         "rename2:r.txt:moved", "link2:r.txt:linked", "fd:4", "to:3",
         "rename2:data.txt:stolen", "link2:data.txt:l2",
         "symlink:data.txt:ok", "ls:."],
        ["read r.txt = OK 'rodata\n'",
         "create new.txt = NOTCAPABLE",
         "write r.txt = NOTCAPABLE",
         "trunc r.txt = NOTCAPABLE",
         "setsize r.txt = NOTCAPABLE",
         "mkdir d = NOTCAPABLE",
         "unlink r.txt = NOTCAPABLE",
         "rename r.txt r2.txt = NOTCAPABLE",
         "symlink r.txt s = NOTCAPABLE",
         "link r.txt l = NOTCAPABLE",
         "utimes r.txt = NOTCAPABLE",
         "rename2 r.txt moved = NOTCAPABLE",
         "link2 r.txt linked = NOTCAPABLE",
         "rename2 data.txt stolen = NOTCAPABLE",
         "link2 data.txt l2 = NOTCAPABLE",
         "symlink data.txt ok = OK",
         "ls . = OK data.txt ok sub"],
        dirs=["ro::/ro:ro", "box::/box"])


@case("readonly-plain-path", walk=True)
def _readonly_plain():
    # --dir PATH:ro: the guest name is the host path
    with Scratch() as t:
        write(os.path.join(t, "f.txt"), "ro\n")
        before = snapshot(t)
        r = run("--dir", t + ":ro", guest("files"), t)
        check(r, 1, out="", err="create: Capabilities insufficient\n")
        check_unchanged(before, snapshot(t), "the read-only directory")


# ---------------------------------------------------------------------------
# Bad command lines: the exact error text, exit status 2 (1 for modules)

@case("usage-unknown-option")
def _usage_unknown():
    r = run("--bogus", guest("spin"))
    check(r, 2, out="", err_re=r"wasmgate run: unknown option '--bogus'\n"
                               r"usage: wasmgate run \[OPTIONS\] FILE\.wasm "
                               r"\[ARGS\.\.\.\]\n.*")
    check(run("--json=yes", guest("spin")), 2, out="",
          err="wasmgate run: --json takes no value\n")
    check(run("--fuel"), 2, out="",
          err="wasmgate run: --fuel needs a value (N)\n")


@case("usage-isolation")
def _usage_isolation():
    for bad in ("proc", "", "Process", "threads"):
        check(run("--isolation", bad, guest("spin")), 2, out="",
              err="wasmgate run: --isolation: '%s' is not process or "
                  "thread\n" % bad)
    check(run("--isolation=none", guest("spin")), 2, out="",
          err="wasmgate run: --isolation: 'none' is not process or thread\n")
    check(run("--isolation"), 2, out="",
          err="wasmgate run: --isolation needs a value (MODE)\n")


def hooks_built():
    return os.environ.get("WG_TEST_HOOKS_BUILT") == "1"


@case("isolation-json-same")
def _isolation_json_same():
    # the same run in-process and in a worker: the same object but for time
    with Scratch() as t:
        write(os.path.join(t, "in.txt"), "x\ny\n")
        objs = []
        for mode in ("thread", "process"):
            r = run("--isolation", mode, "--json", "--fuel", "100000000",
                    "--stdin", os.path.join(t, "in.txt"), guest("filter"))
            check(r, 0, err="")
            j = json_of(r)
            del j["wall_ms"]
            objs.append(j)
        check_eq(objs[1], objs[0], "--json object in a worker")
        check_eq(objs[0]["stdout"], "1: X\n2: Y\n", "stdout")


@case("isolation-forbidden-call")
def _isolation_forbidden():
    # the worker test hook makes the worker itself open /etc/passwd: the
    # seccomp filter kills it, and the run is an error (exit status 1)
    r = run("--isolation", "process", "--env", "WASMGATE_TEST_FORBIDDEN=open",
            guest("exitcode"), "0", env={"WASMGATE_TEST_WORKER_HOOK": "1"})
    if not hooks_built():
        check(r, 0, out="bye\n", err="")   # no hook: the guest just ran
        return
    check(r, 1, out="",
          err="%s: error: the worker process running this execution was "
              "killed by signal 31 (SIGSYS: a forbidden system call)\n"
              % guest("exitcode"))
    # without the variable the hook stays off, even in a hooked build
    check(run("--isolation", "process", "--env",
              "WASMGATE_TEST_FORBIDDEN=open", guest("exitcode"), "0"),
          0, out="bye\n", err="")


def landlock_abi():
    """The kernel's Landlock ABI version (0: none), asked directly."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(v, 0)


@case("isolation-landlock")
def _isolation_landlock():
    # the worker test hook's probe, in a worker of this (root, in CI) CLI
    # whose uid stays: through ".." of its directory fd it creates a file
    # beside the preopened directory and reads one there. A chroot does
    # not stop that walk; Landlock (kernel ABI >= 2) must.
    if not hooks_built():
        return
    with Scratch() as t:
        inner = os.path.join(t, "inner")
        os.mkdir(inner)
        write(os.path.join(inner, "given.txt"), "x")
        write(os.path.join(t, "wasmgate-probe-outside.txt"), "secret")
        os.chmod(t, 0o755)
        r = run("--isolation", "process", "--dir", inner + "::/", "--env",
                "WASMGATE_TEST_PROBE=privileges", guest("exitcode"),
                env={"WASMGATE_TEST_WORKER_HOOK": "1"})
        check(r, 0, err="")
        got = dict(kv.split("=") for kv in r.out.decode().split())
        check_eq(got["inside"], "created", "a file made in the directory")
        check_eq(got["given"], "writable", "the directory's own file")
        if landlock_abi() >= 2:
            check_eq(got["escape"], "EACCES", "a file made beside it")
            check_eq(got["outside"], "EACCES", "a file read beside it")
        elif os.geteuid() == 0:
            # no Landlock: what this test guards against is possible
            check_eq(got["outside"], "readable", "a file read beside it")
        check_eq(sorted(os.listdir(t)), ["inner",
                 "wasmgate-probe-outside.txt"], "beside the directory")


@case("isolation-timeout-blocked-read")
def _isolation_blocked_read():
    # in-process, a guest blocked reading a pipe outlives --timeout until
    # the read returns; a worker is killed one second after the deadline
    cmd = [WASMGATE, "run", "--isolation", "process", "--timeout", "200ms",
           "--stdin", "-", guest("filter")]
    rfd, wfd = os.pipe()           # the write end stays open: no EOF
    try:
        p = subprocess.Popen(cmd, stdin=rfd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        os.close(rfd)
        rfd = -1
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Failure("no result after 30 s: " + " ".join(cmd))
    finally:
        if rfd >= 0:
            os.close(rfd)
        os.close(wfd)
    r = Result(cmd, p)
    r.out, r.err = out, err
    check(r, 137, out="",
          err="wasmgate: limit exceeded: timeout (--timeout 200ms): "
              "wall-clock timeout (the worker did not stop within 1000 ms "
              "of the deadline and was killed)\n")


@case("usage-no-module")
def _usage_no_module():
    check(run("--json"), 2, out="",
          err_re=r"wasmgate run: no module given\nusage: wasmgate run .*")


@case("usage-bad-size")
def _usage_size():
    check(run("--max-memory", "12XB", guest("spin")), 2, out="",
          err="wasmgate run: --max-memory: '12XB' is not a size (examples: "
              "65536, 64KiB, 64MiB, 1GiB, 2MB)\n")
    check(run("--max-memory", "10KiB", guest("spin")), 2, out="",
          err="wasmgate run: --max-memory: '10KiB' is below the minimum of "
              "64KiB (one page)\n")
    check(run("--max-memory=65535", guest("spin")), 2, out="",
          err="wasmgate run: --max-memory: '65535' is below the minimum of "
              "64KiB (one page)\n")
    check(run("--max-write", "-1", guest("spin")), 2, out="",
          err="wasmgate run: --max-write: '-1' is not a size (examples: "
              "65536, 64KiB, 64MiB, 1GiB, 2MB)\n")
    check(run("--max-output", "2GiB", guest("spin")), 2, out="",
          err="wasmgate run: --max-output: '2GiB' is above the maximum of "
              "1GiB\n")
    check(run("--max-output", "0", guest("spin")), 2, out="",
          err="wasmgate run: --max-output: '0' is below the minimum of "
              "1 byte\n")


@case("usage-bad-duration")
def _usage_duration():
    for bad in ("5x", "1.5.5s", "ms", "-1s", "1.0000000001s", " 1s"):
        check(run("--timeout", bad, guest("spin")), 2, out="",
              err="wasmgate run: --timeout: '%s' is not a duration "
                  "(examples: 250us, 500ms, 2s, 1.5m, 1h)\n" % bad)
    for bad in ("0", "0ms", "8761h"):
        check(run("--timeout", bad, guest("spin")), 2, out="",
              err="wasmgate run: --timeout: '%s' is out of range (more "
                  "than 0, at most 365 days)\n" % bad)
    # accepted forms: each stops the spinning guest as a timeout
    for good in ("250us", "1ms", "0.05", "0.05s", "0.001m"):
        check(run("--timeout", good, guest("spin")), 137, out="",
              err="wasmgate: limit exceeded: timeout (--timeout %s): "
                  "wall-clock timeout\n" % good)


@case("usage-bad-numbers")
def _usage_numbers():
    check(run("--fuel", "0", guest("spin")), 2, out="",
          err="wasmgate run: --fuel: '0' is out of range (1 to "
              "9223372036854775807)\n")
    check(run("--fuel", "1e6", guest("spin")), 2, out="",
          err="wasmgate run: --fuel: '1e6' is not a number of fuel units\n")
    check(run("--max-fds", "2", guest("spin")), 2, out="",
          err="wasmgate run: --max-fds: '2' is out of range (3 to 65536)\n")
    with Scratch() as t:
        check(run("--max-fds", "4", "--dir", t, "--dir", t, guest("spin")),
              2, out="", err="wasmgate run: --max-fds: 4 is too few for "
                             "stdio and 2 preopened directories (at least "
                             "5)\n")


@case("usage-missing-module")
def _usage_missing_module():
    with Scratch() as t:
        p = os.path.join(t, "nope.wasm")
        check(run(p), 1, out="",
              err="wasmgate: cannot open %s: No such file or directory\n" % p)


@case("usage-malformed-module")
def _usage_malformed():
    with Scratch() as t:
        p = os.path.join(t, "bad.wasm")
        write(p, b"this is not wasm")
        check(run(p), 1, out="",
              err="%s: error: magic header not detected (at byte offset 0)\n"
                  % p)
        write(p, b"\0asm\1\0\0\0\1\5")
        check(run("--json", p), 1, out="",
              err="%s: error: unexpected end (at byte offset 10)\n" % p)


@case("usage-unknown-import")
def _usage_import():
    m = guest("import")
    check(run(m), 1, out="",
          err="%s: error: unknown import: env.missing\n" % m)


@case("usage-dir")
def _usage_dir():
    with Scratch() as t:
        missing = os.path.join(t, "missing")
        check(run("--dir", missing, guest("spin")), 2, out="",
              err="wasmgate run: --dir: cannot open '%s': No such file or "
                  "directory\n" % missing)
        check(run("--dir", missing + "::/data:ro", guest("spin")), 2, out="",
              err="wasmgate run: --dir: cannot open '%s': No such file or "
                  "directory\n" % missing)
        f = os.path.join(t, "file")
        write(f, "x")
        check(run("--dir", f + "::/", guest("spin")), 2, out="",
              err="wasmgate run: --dir: '%s' is not a directory\n" % f)
        for bad in ("::/x", t + "::", ":ro"):
            check(run("--dir", bad, guest("spin")), 2, out="",
                  err="wasmgate run: --dir: '%s' is not HOST::GUEST[:ro] or "
                      "PATH[:ro]\n" % bad)


@case("usage-env")
def _usage_env():
    for bad in ("FOO", "=value", ""):
        check(run("--env", bad, guest("spin")), 2, out="",
              err="wasmgate run: --env: '%s' is not KEY=VALUE\n" % bad)


@case("usage-stdin")
def _usage_stdin():
    with Scratch() as t:
        missing = os.path.join(t, "missing")
        check(run("--stdin", missing, guest("filter")), 2, out="",
              err="wasmgate run: --stdin: cannot open '%s': No such file or "
                  "directory\n" % missing)
        check(run("--stdin", t, guest("filter")), 2, out="",
              err="wasmgate run: --stdin: '%s' is a directory\n" % t)


@case("startup-libraries")
def _startup_libraries():
    """`wasmgate run` opens none of the server's libraries (issue 4, start-
    up): they are loaded on first use (src/base/dl.h). LD_DEBUG=files logs
    every object the dynamic loader opens, at start-up or later."""
    server_only = ("libcurl.", "libmicrohttpd.", "libcrypto.", "libssl.",
                   "libsqlite3.", "libgnutls.")
    with Scratch() as t:
        for args in ((guest("exitcode"), "0"),
                     ("--json", guest("exitcode"), "0")):
            log = os.path.join(t, "ld")
            r = run(*args, env={"LD_DEBUG": "files", "LD_DEBUG_OUTPUT": log})
            check(r, 0, err="")
            text = ""
            for name in os.listdir(t):
                with open(os.path.join(t, name), errors="replace") as f:
                    text += f.read()
                os.unlink(os.path.join(t, name))
            opened = set(re.findall(r"\bfile=(\S+)", text))
            if not any(os.path.basename(o).startswith("libc.") for o in opened):
                raise Failure("LD_DEBUG=files logged no libc: %r" % text[:500])
            bad = sorted(o for o in opened
                         if os.path.basename(o).startswith(server_only))
            if bad:
                raise Failure("`wasmgate run %s` opened %s"
                              % (" ".join(args[:-2]), ", ".join(bad)))


@case("help")
def _help():
    r = run("--help")
    check(r, 0, err="", out_re=r"usage: wasmgate run \[OPTIONS\] FILE\.wasm "
                               r"\[ARGS\.\.\.\]\n.*")
    text = r.out.decode()
    for opt in ("--dir", "--env", "--fuel", "--max-memory", "--timeout",
                "--stdin", "--invoke", "--json", "--max-fds", "--max-write",
                "--max-output", "--isolation"):
        if "\n  %s" % opt not in text:
            raise Failure("--help does not list " + opt)


def main(argv):
    global WASMGATE, GUESTS
    if argv[1:] == ["--list"]:
        for name, (_fn, walk) in CASES.items():
            print(name + (" walk" if walk else ""))
        return 0
    if len(argv) != 4:
        sys.exit(__doc__)
    WASMGATE, GUESTS, name = argv[1:]
    if name not in CASES:
        sys.exit("unknown case " + name)
    try:
        CASES[name][0]()
    except Failure as f:
        print("FAIL %s\n%s" % (name, f))
        return 1
    print("PASS " + name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
