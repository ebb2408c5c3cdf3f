#!/usr/bin/env python3
"""Runs one test of the official WASI testsuite through `wasmgate run`.

    run_wasi_testsuite.py [--timeout S] [--isolation MODE] WASMGATE TEST.wasm

Follows the adapter contract of shared/wasi-testsuite/README.md: TEST.json
(if present) gives args, env, root, exit_code, stdout, stderr. The root
fixture is copied into a fresh scratch directory and preopened as "/" with
`--dir COPY::/`; without root there is no --dir at all. The command line is
the one upstream's wasmtime adapter builds:

    wasmgate run [--env K=V]... [--dir COPY::/] TEST.wasm ARGS...

With --isolation MODE the command starts `wasmgate run --isolation MODE`
(process: the test runs in a seccomp-filtered worker process).

stdin is empty (a closed pipe), stdout and stderr are captured. The test
passes when the exit status equals exit_code and stdout/stderr start with
the expected text. Prints PASS/FAIL with the reason; exits 0 or 1.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def copy_fixture(src, dst):
    """A writable copy of src at dst (symlinks kept as links)."""
    shutil.copytree(src, dst, symlinks=True)
    for dirpath, _dirs, files in os.walk(dst):
        os.chmod(dirpath, 0o755)
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, 0o644)


def run_test(wasmgate, wasm, timeout, isolation=None):
    spec = {}
    base = wasm[:-len(".wasm")]
    if os.path.exists(base + ".json"):
        with open(base + ".json", encoding="utf-8") as f:
            spec = json.load(f)
    unknown = set(spec) - {"args", "env", "root", "exit_code", "stdout",
                           "stderr"}
    if unknown:
        return False, "unsupported spec keys: %s" % sorted(unknown)
    cmd = [wasmgate, "run"]
    if isolation:
        cmd += ["--isolation", isolation]
    for k, v in spec.get("env", {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    scratch = tempfile.mkdtemp(prefix="wg-cli-wasi-")
    try:
        if "root" in spec:
            root = os.path.join(scratch, "root")
            copy_fixture(os.path.join(os.path.dirname(wasm), spec["root"]),
                         root)
            cmd += ["--dir", root + "::/"]
        cmd += [wasm] + spec.get("args", [])
        try:
            p = subprocess.run(cmd, input=b"",
                               capture_output=True, timeout=timeout,
                               env=clean_env())
        except subprocess.TimeoutExpired:
            return False, "no result after %ss" % timeout
        why = []
        want = spec.get("exit_code", 0)
        if p.returncode != want:
            why.append("exit status %d, want %d" % (p.returncode, want))
        for stream, got in (("stdout", p.stdout), ("stderr", p.stderr)):
            if stream in spec:
                exp = spec[stream].encode()
                if got[:len(exp)] != exp:
                    why.append("%s starts %r, want %r" % (stream, got[:200],
                                                         exp))
        if why:
            tail = p.stderr.decode(errors="replace").strip().splitlines()
            why.append("stderr: " + " | ".join(tail[-8:]))
            why.append("command: " + " ".join(cmd))
        return not why, "; ".join(why)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def clean_env():
    """The host environment, plus a variable that must not reach guests."""
    env = dict(os.environ)
    env["WG_HOST_ONLY"] = "must-not-leak"
    return env


def main(argv):
    args = argv[1:]
    timeout = 30.0
    if args[:1] == ["--timeout"]:
        timeout = float(args[1])
        args = args[2:]
    isolation = None
    if args[:1] == ["--isolation"] and len(args) > 1:
        isolation = args[1]
        args = args[2:]
    if len(args) != 2:
        sys.exit(__doc__)
    wasmgate, wasm = args
    ok, why = run_test(wasmgate, wasm, timeout, isolation)
    print("%s %s%s" % ("PASS" if ok else "FAIL", os.path.basename(wasm),
                       "" if ok else ": " + why))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
