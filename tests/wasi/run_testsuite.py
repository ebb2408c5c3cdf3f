#!/usr/bin/env python3
"""Runs WASI testsuite programs (shared/wasi-testsuite) through a runner.

    run_testsuite.py [--no-openat2] [--timeout S] RUNNER TEST.wasm...

RUNNER is tests/wasi's wasi_driver (or any program taking the same
options). For each TEST.wasm, TEST.json (if any) gives args, env, root,
exit_code, stdout, stderr, as the testsuite's README describes. The root
fixture is copied into a fresh temporary directory and preopened as "/".
stdin is empty. Prints one line per test and exits non-zero if any failed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def run_one(runner, wasm, extra, timeout):
    base = wasm[:-5]
    spec = {}
    if os.path.exists(base + ".json"):
        with open(base + ".json", encoding="utf-8") as f:
            spec = json.load(f)
    cmd = [runner] + extra
    for k, v in spec.get("env", {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    tmp = None
    try:
        if "root" in spec:
            tmp = tempfile.mkdtemp(prefix="wasi-ts-")
            root = os.path.join(tmp, "root")
            src = os.path.join(os.path.dirname(wasm), spec["root"])
            shutil.copytree(src, root, symlinks=True)
            for dirpath, dirs, files in os.walk(root):
                os.chmod(dirpath, 0o755)
                for f in files:
                    p = os.path.join(dirpath, f)
                    if not os.path.islink(p):
                        os.chmod(p, 0o644)
            cmd += ["--dir", root + "::/"]
        cmd += [wasm] + spec.get("args", [])
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, "timeout after %ss" % timeout
        want = spec.get("exit_code", 0)
        why = []
        if p.returncode != want:
            why.append("exit %d, want %d" % (p.returncode, want))
        for stream, got in (("stdout", p.stdout), ("stderr", p.stderr)):
            if stream in spec:
                exp = spec[stream].encode()
                if got[:len(exp)] != exp:
                    why.append("%s %r, want %r" % (stream, got[:200], exp))
        if why:
            err = p.stderr.decode(errors="replace").strip().splitlines()
            why.append("stderr: " + " | ".join(err[-6:]))
        return not why, "; ".join(why)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    extra = []
    timeout = 20
    args = argv[1:]
    while args and args[0].startswith("--"):
        if args[0] == "--no-openat2":
            extra.append("--no-openat2")
            args = args[1:]
        elif args[0] == "--timeout":
            timeout = float(args[1])
            args = args[2:]
        else:
            sys.exit("unknown option " + args[0])
    if len(args) < 2:
        sys.exit(__doc__)
    runner, tests = args[0], args[1:]
    failed = 0
    for wasm in tests:
        ok, why = run_one(runner, wasm, extra, timeout)
        name = os.path.relpath(wasm, os.path.dirname(os.path.dirname(wasm)))
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + why))
        failed += not ok
    print("%d/%d passed" % (len(tests) - failed, len(tests)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
