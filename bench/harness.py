#!/usr/bin/env python3
"""wasmgate benchmark harness (issue 4). Python 3 standard library only.

Builds nothing: run `cmake --build build` first (bench/ is part of the
default build). Reads build/bench/manifest.txt, written by
bench/CMakeLists.txt, for the program list and paths.

Modes (see bench/README.md):
  harness.py                 timing suite: native and every engine side by
                             side, interleaved, --rounds times; median per
                             program, ratio to native, geometric means, peak
                             RSS, a Markdown table
  harness.py --callgrind     instruction counts (one run each under
  harness.py --perf          valgrind --tool=callgrind, or perf stat)
  harness.py --count         (--count: perf when it works here, else callgrind)
  harness.py --startup       start-up: hello world per engine, the
                             instantiate and load_scaling tools
  harness.py --all           all of the above

Engines: native always; wasmgate from --wasmgate, $WASMGATE, or the build;
wasm3 from $WASM3 and iwasm from $IWASM (or their documented places under
/work/ext); any other with --engine NAME=COMMAND. An engine that cannot run
the WASI hello world is skipped with a warning.

Every run's checksum line is checked against the native one; a mismatch,
a crash or a missing checksum is reported loudly and makes the exit status 1.
"""

import argparse
import concurrent.futures
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Where the lead may build the other engines (bench/README.md), tried when
# the environment variable is unset.
DEFAULT_PATHS = {
    "wasm3": ["/work/ext/wasm3/build/wasm3"],
    "iwasm": ["/work/ext/wamr/product-mini/platforms/linux/build/iwasm"],
}

CHECKSUM_RE = re.compile(rb"^checksum: ([0-9a-f]{8})$", re.M)
DEFAULT_FUEL = 10**18

failures = []   # every problem, printed again at the end


def loud(msg):
    """Reports a problem now and in the closing summary."""
    failures.append(msg)
    sys.stderr.write("\n*** %s ***\n\n" % msg)
    sys.stderr.flush()


def note(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Running a process


class Result:
    def __init__(self, rc, wall, cpu, maxrss_kib, out, err, timed_out):
        self.rc = rc
        self.wall = wall            # seconds
        self.cpu = cpu              # user + sys seconds
        self.maxrss_kib = maxrss_kib
        self.out = out
        self.err = err
        self.timed_out = timed_out

    def checksum(self):
        m = CHECKSUM_RE.findall(self.out)
        return m[-1].decode() if len(m) == 1 else None

    def why(self):
        """A one-line description of a failed run."""
        if self.timed_out:
            return "timed out"
        tail = self.err.decode(errors="replace").strip().splitlines()
        tail = tail[-1] if tail else ""
        if self.rc != 0:
            return "exit status %d%s" % (self.rc, ": " + tail if tail else "")
        return "no single 'checksum: <hex>' line in its output" + (
            " (stderr: %s)" % tail if tail else "")


# The peak RSS of a child comes from GNU time (Debian package "time"), not
# from wait4: Linux folds the pre-exec image of a child forked from this
# Python process (~15 MiB) into its ru_maxrss.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run(cmd, timeout, rss=True):
    """Runs cmd; returns a Result with wall time, CPU time and (with rss)
    peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(prefix="rss.") as rssf:
        rss = rss and GNU_TIME
        if rss:
            cmd = [GNU_TIME, "-f", "%M", "-o", rssf.name] + cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rc = p.returncode
        if rc < 0:
            rc = 128 - rc   # killed by a signal: shell convention
        maxrss = ru.ru_maxrss
        if rss:
            m = re.findall(rb"^(\d+)$", rssf.read(), re.M)
            maxrss = int(m[-1]) if m else 0
        return Result(rc, wall, ru.ru_utime + ru.ru_stime, maxrss,
                      out.read(), err.read(), bool(timed_out))


# ---------------------------------------------------------------------------
# Build layout and engines


def read_manifest(build):
    path = os.path.join(build, "bench", "manifest.txt")
    if not os.path.exists(path):
        sys.exit("harness: %s not found: configure and build first:\n"
                 "  cmake -S . -B build -G Ninja && cmake --build build"
                 % path)
    info = {"program": []}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, _, value = line.rstrip("\n").partition("\t")
            if key == "program":
                info["program"].append(value)
            else:
                info[key] = value
    return info


class Engine:
    def __init__(self, name, prefix, native=False):
        self.name = name
        self.prefix = prefix       # argv before the .wasm file
        self.native = native

    def command(self, info, program, scale):
        args = [] if scale == 100 else [str(scale)]
        if self.native:
            return [os.path.join(info["native_dir"], program)] + args
        wasm = os.path.join(info["wasm_dir"], program + ".wasm")
        return self.prefix + [wasm] + args


def find_engine(name, env, explicit):
    """Path of an engine binary: explicit, $env, or a documented place."""
    for cand in [explicit, os.environ.get(env)] + DEFAULT_PATHS.get(name, []):
        if cand:
            path = shutil.which(cand) or (
                cand if os.path.exists(cand) else None)
            if path:
                return path
            if cand in (explicit, os.environ.get(env)):
                loud("%s: %s does not exist" % (name, cand))
                return None
    return None


def make_engines(args, info):
    engines = [Engine("native", [], native=True)]
    if args.native_only:
        return engines
    wg = args.wasmgate or os.environ.get("WASMGATE") or info.get("wasmgate")
    if wg and os.path.exists(wg):
        prefix = [wg, "run"]
        if args.fuel is not None:
            prefix += ["--fuel", str(args.fuel)]
        engines.append(Engine("wasmgate", prefix))
    else:
        loud("wasmgate binary not found (%s): build it or set WASMGATE" % wg)
    for name, env in (("wasm3", "WASM3"), ("iwasm", "IWASM")):
        path = find_engine(name, env, getattr(args, name))
        if path:
            engines.append(Engine(name, [path]))
    for spec in args.engine:
        name, eq, cmd = spec.partition("=")
        if not eq or not name or not cmd:
            sys.exit("harness: --engine wants NAME=COMMAND, got %r" % spec)
        engines.append(Engine(name, shlex.split(cmd)))
    if info.get("wasm_ok") != "TRUE" and len(engines) > 1:
        loud("the build has no wasm32-wasi programs (clang "
             "--target=wasm32-wasi failed at configure time); only native "
             "runs")
        return engines[:1]
    usable = [engines[0]]
    for e in engines[1:]:
        r = run(e.command(info, "hello", 100), args.timeout)
        if r.rc == 0 and b"hello, world" in r.out:
            usable.append(e)
        else:
            loud("engine %s cannot run the WASI hello world (%s); skipped"
                 % (e.name, r.why() if r.rc else "wrong output"))
    return usable


# ---------------------------------------------------------------------------
# Reporting helpers


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt_ms(s):
    ms = s * 1e3
    return "%.0f" % ms if ms >= 100 else "%.1f" % ms


def fmt_ratio(r):
    return "%.2f×" % r if r < 10 else "%.1f×" % r


def fmt_count(n):
    return "{:,}".format(n)


def machine_line(info, args):
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return ("%s, %d CPUs; native: %s %s; wasm: %s -O2 (wasm32-wasi)"
            % (cpu, os.cpu_count() or 0, info.get("native_cc", "?"),
               info.get("native_flags", "").replace(";", " "),
               info.get("wasm_cc", "?")))


def emit(lines, args):
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(text)


# ---------------------------------------------------------------------------
# Timing suite


def check(prog, engine, r, want):
    """Checks one run; returns its checksum, or None after a loud report."""
    got = r.checksum()
    if r.rc != 0 or got is None:
        loud("%s on %s FAILED: %s" % (prog, engine.name, r.why()))
        return None
    if want is not None and got != want:
        loud("CHECKSUM MISMATCH: %s on %s printed %s, native printed %s"
             % (prog, engine.name, got, want))
        return None
    return got


def time_suite(args, info, engines, programs):
    samples = {(p, e.name): [] for p in programs for e in engines}
    rss = {}
    bad = set()
    t_start = time.time()
    # The reference checksums: one native run per program first (which
    # also warms the page cache).
    want = {}
    for prog in programs:
        r = run(engines[0].command(info, prog, args.scale), args.timeout)
        got = check(prog, engines[0], r, None)
        if got:
            want[prog] = got
        else:
            bad.update((prog, e.name) for e in engines)
    for rnd in range(args.rounds):
        # Rotate the engine order each round, so no engine always runs
        # right after the same neighbour.
        k = rnd % len(engines)
        order = engines[k:] + engines[:k]
        for prog in programs:
            for e in order:
                key = (prog, e.name)
                if key in bad:
                    continue
                r = run(e.command(info, prog, args.scale), args.timeout)
                got = check(prog, e, r, want[prog])
                if got is None:
                    bad.add(key)
                    continue
                t = r.cpu if args.cpu_time else r.wall
                samples[key].append(t)
                rss[key] = max(rss.get(key, 0), r.maxrss_kib)
                note("round %d/%d  %-10s %-9s %8.1f ms  %7.1f MiB  %s"
                     % (rnd + 1, args.rounds, prog, e.name, t * 1e3,
                        r.maxrss_kib / 1024, got))
    note("suite: %.0f s" % (time.time() - t_start))

    med = {k: statistics.median(v) for k, v in samples.items()
           if v and k not in bad}
    wasm_engines = [e.name for e in engines[1:]]

    head = ["program", "native ms"] + ["%s ms (× native)" % n
                                       for n in wasm_engines]
    lines = ["## Run time (median of %d rounds%s)" % (
                 args.rounds, ", CPU time" if args.cpu_time else ", wall"),
             "",
             machine_line(info, args) + (
                 "; wasmgate fuel metering %s" % (
                     "on" if args.fuel is not None else "off")
                 if "wasmgate" in wasm_engines else "") +
             ("; work scale %d%%" % args.scale if args.scale != 100 else ""),
             "",
             "| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1)]
    ratios = {n: [] for n in wasm_engines}
    for prog in programs:
        nat = med.get((prog, "native"))
        row = [prog, fmt_ms(nat) if nat else "FAIL"]
        for n in wasm_engines:
            t = med.get((prog, n))
            if t is None:
                row.append("FAIL" if (prog, n) in bad else "–")
            elif nat:
                ratios[n].append(t / nat)
                row.append("%s (%s)" % (fmt_ms(t), fmt_ratio(t / nat)))
            else:
                row.append(fmt_ms(t))
        lines.append("| " + " | ".join(row) + " |")
    gm = {n: geomean(ratios[n]) for n in wasm_engines}
    row = ["**geometric mean**", ""]
    for n in wasm_engines:
        g = gm[n]
        row.append("**%s**" % fmt_ratio(g) if g else "–")
        if g and len(ratios[n]) < len(programs):
            row[-1] += " (%d of %d)" % (len(ratios[n]), len(programs))
    lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if gm.get("wasmgate"):
        for other in wasm_engines:
            if other != "wasmgate" and gm.get(other):
                q = gm["wasmgate"] / gm[other]
                lines.append(
                    "wasmgate's slowdown is %.2f of %s's%s" % (
                        q, other, " (target: ≤ 0.67)" if other == "wasm3"
                        else ""))
        lines.append("")

    lines += ["## Peak RSS (MiB, largest over the rounds%s)" % (
                  "" if GNU_TIME else "; NO /usr/bin/time: each value "
                  "includes ~15 MiB of the harness's fork image"), "",
              "| program | " + " | ".join(["native"] + wasm_engines) + " |",
              "|---|" + "---:|" * (1 + len(wasm_engines))]
    for prog in programs:
        row = [("**%s**" % prog) if prog == "coremark" else prog]
        for n in ["native"] + wasm_engines:
            v = rss.get((prog, n))
            row.append("%.1f" % (v / 1024) if v else "–")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    emit(lines, args)
    return {"median_s": {"%s/%s" % k: v for k, v in med.items()},
            "samples_s": {"%s/%s" % k: v for k, v in samples.items()},
            "maxrss_kib": {"%s/%s" % k: v for k, v in rss.items()},
            "geomean_ratio": gm, "checksums": want}


# ---------------------------------------------------------------------------
# Instruction counts


def perf_works():
    if not shutil.which("perf"):
        return False
    r = run(["perf", "stat", "-x,", "-e", "instructions:u", "true"], 30)
    return r.rc == 0 and re.search(rb"^\d+,", r.err, re.M) is not None


def count_once(tool, cmd, timeout):
    """(instructions, Result) of cmd under perf or callgrind."""
    if tool == "perf":
        r = run(["perf", "stat", "-x,", "-e", "instructions:u", "--"] + cmd,
                timeout)
        m = re.search(rb"^(\d+),[^,]*,instructions", r.err, re.M)
        return (int(m.group(1)) if m else None), r
    fd, out = tempfile.mkstemp(prefix="callgrind.", suffix=".out")
    os.close(fd)
    try:
        # A large main stack: WAMR touches the pages below its stack for
        # its guard region and dies under valgrind's default 8 MiB.
        r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                 "--main-stacksize=67108864", "--"] + cmd, timeout)
    finally:
        os.unlink(out)
    m = re.search(rb"Collected\s*:\s*(\d+)", r.err)
    return (int(m.group(1)) if m else None), r


def count_suite(args, info, engines, programs):
    tool = args.count
    if tool == "auto":
        tool = "perf" if perf_works() else "callgrind"
    if tool == "perf" and not perf_works():
        loud("perf stat -e instructions:u does not work here (no hardware "
             "counters?); use --callgrind")
        return None
    if tool == "callgrind" and not shutil.which("valgrind"):
        loud("valgrind not found")
        return None
    scale = args.count_scale
    counts = {}
    want = {}
    timeout = args.timeout * 50

    def measure(job):
        prog, e = job
        return job, count_once(tool, e.command(info, prog, scale), timeout)

    def record(job, n, r):
        prog, e = job
        if tool == "callgrind" and r.rc == 132:   # SIGILL under valgrind
            r.err += (b"\n(valgrind cannot decode an instruction of this "
                      b"build: -march=native or wrgsbase; bench/README.md "
                      b"says how to build a portable one)")
        got = check(prog, e, r, want.get(prog))
        if got is not None and n is None:
            loud("%s on %s: no instruction count from %s"
                 % (prog, e.name, tool))
        if got is None or n is None:
            return
        if e.native:
            want[prog] = got
        counts[(prog, e.name)] = n
        note("count %-10s %-9s %16s  %s" % (prog, e.name, fmt_count(n), got))

    # Counts do not depend on load, so the runs go in parallel: native
    # first (its checksums are the reference), then every engine.
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for stage in (engines[:1], engines[1:]):
            jobs = [(p, e) for p in programs for e in stage
                    if e.native or (p, "native") in counts]
            for (job, (n, r)) in pool.map(measure, jobs):
                record(job, n, r)
    wasm_engines = [e.name for e in engines[1:]]
    lines = ["## Instructions executed (%s, work scale %d%%)" % (
                 "perf stat -e instructions:u" if tool == "perf"
                 else "valgrind --tool=callgrind", scale), "",
             "| program | native | " +
             " | ".join("%s (× native)" % n for n in wasm_engines) + " |",
             "|---|" + "---:|" * (1 + len(wasm_engines))]
    ratios = {n: [] for n in wasm_engines}
    for prog in programs:
        nat = counts.get((prog, "native"))
        row = [prog, fmt_count(nat) if nat else "FAIL"]
        for n in wasm_engines:
            c = counts.get((prog, n))
            if c and nat:
                ratios[n].append(c / nat)
                row.append("%s (%s)" % (fmt_count(c), fmt_ratio(c / nat)))
            else:
                row.append(fmt_count(c) if c else "FAIL")
        lines.append("| " + " | ".join(row) + " |")
    row = ["**geometric mean**", ""]
    for n in wasm_engines:
        g = geomean(ratios[n])
        row.append("**%s**" % fmt_ratio(g) if g else "–")
    lines += ["| " + " | ".join(row) + " |", ""]
    emit(lines, args)
    return {"tool": tool, "scale": scale,
            "instructions": {"%s/%s" % k: v for k, v in counts.items()}}


# ---------------------------------------------------------------------------
# Start-up


def startup(args, info, engines):
    lines = ["## Start-up", "",
             "WASI hello world, whole process, median (min) of %d runs:" %
             args.startup_runs, "",
             "| engine | ms |", "|---|---:|"]
    times = {e.name: [] for e in engines}
    for i in range(args.startup_runs):
        for e in engines:
            r = run(e.command(info, "hello", 100), args.timeout, rss=False)
            if r.rc != 0 or b"hello, world" not in r.out:
                loud("hello on %s FAILED: %s" % (e.name, r.why()))
                continue
            times[e.name].append(r.wall)
    result = {"hello_s": times}
    for e in engines:
        t = times[e.name]
        cell = ("%.2f (%.2f)" % (statistics.median(t) * 1e3, min(t) * 1e3)
                if t else "FAIL")
        lines.append("| %s | %s |" % (e.name if not e.native
                                      else "native (hello)", cell))
    lines.append("")
    for tool, targv, title in (
            ("instantiate", [], "In-process instantiation of a validated "
             "1-page module (target < 20 µs):"),
            ("load_scaling", [], "wg_module_load (decode + validate + "
             "compile) on generated modules:")):
        path = info.get(tool)
        if not path or not os.path.exists(path):
            loud("%s tool not built (%s)" % (tool, path))
            continue
        r = run([path] + targv, args.timeout * 10, rss=False)
        lines += [title, ""]
        out = r.out.decode(errors="replace").rstrip("\n")
        if r.rc != 0:
            loud("%s FAILED: %s" % (tool, r.why()))
            lines += ["FAILED: " + r.why(), ""]
            if not out:
                continue
        lines += (out.splitlines() if tool == "load_scaling"
                  else ["    " + l for l in out.splitlines()])
        lines.append("")
        result[tool] = out
    emit(lines, args)
    return result


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(
        description="Runs the wasmgate benchmark suite (see bench/README.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="CMake build directory (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds (default: %(default)s)")
    ap.add_argument("--programs",
                    help="comma-separated subset of the suite")
    ap.add_argument("--scale", type=int, default=100,
                    help="work per program in percent (default: 100)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="measure user+sys CPU time instead of wall time")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds per run before it is killed (default: "
                    "%(default)s; x50 under --count)")
    ap.add_argument("--wasmgate", help="wasmgate binary (default: $WASMGATE, "
                    "else the build's src/cli/wasmgate)")
    ap.add_argument("--wasm3", help="wasm3 binary (default: $WASM3)")
    ap.add_argument("--iwasm", help="WAMR iwasm binary (default: $IWASM)")
    ap.add_argument("--engine", action="append", default=[],
                    metavar="NAME=COMMAND",
                    help="another engine: COMMAND FILE.wasm [PERCENT] runs a "
                    "WASI program (repeatable)")
    ap.add_argument("--native-only", action="store_true",
                    help="run only the native programs")
    fuel = ap.add_mutually_exclusive_group()
    fuel.add_argument("--fuel", type=int, default=DEFAULT_FUEL,
                      help="wasmgate --fuel budget (default: %(default)s: "
                      "metering on, never runs out)")
    fuel.add_argument("--no-fuel", dest="fuel", action="store_const",
                      const=None, help="run wasmgate unmetered")
    ap.add_argument("--count", choices=["auto", "perf", "callgrind"],
                    help="count instructions instead of timing")
    ap.add_argument("--callgrind", dest="count", action="store_const",
                    const="callgrind", help="same as --count=callgrind")
    ap.add_argument("--perf", dest="count", action="store_const",
                    const="perf", help="same as --count=perf")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="parallel runs under --count (default: %(default)s)")
    ap.add_argument("--count-scale", type=int, default=5,
                    help="work scale in percent for --count (default: "
                    "%(default)s)")
    ap.add_argument("--startup", action="store_true",
                    help="measure start-up only (hello, instantiate, "
                    "load_scaling)")
    ap.add_argument("--startup-runs", type=int, default=20)
    ap.add_argument("--all", action="store_true",
                    help="timing suite, start-up and instruction counts")
    ap.add_argument("--markdown", metavar="FILE",
                    help="also append the Markdown tables to FILE")
    ap.add_argument("--json", metavar="FILE",
                    help="write every sample and count to FILE")
    args = ap.parse_args()

    info = read_manifest(os.path.abspath(args.build))
    programs = info["program"]
    if args.programs:
        sel = args.programs.split(",")
        unknown = [p for p in sel if p not in programs]
        if unknown:
            sys.exit("harness: not in the suite: %s (suite: %s)"
                     % (", ".join(unknown), ", ".join(programs)))
        programs = sel
    if args.all and not args.count:
        args.count = "auto"

    engines = make_engines(args, info)
    note("engines: " + ", ".join(
        e.name + ("" if e.native else " (" + " ".join(e.prefix) + ")")
        for e in engines))
    try:
        load = os.getloadavg()[0]
        if load > 0.5 * (os.cpu_count() or 1):
            note("harness: the machine is busy (load average %.1f on %d "
                 "CPUs): wall times will be noisy; --cpu-time or --count "
                 "hold up better" % (load, os.cpu_count() or 1))
    except OSError:
        pass
    report = {"machine": machine_line(info, args), "engines":
              {e.name: e.prefix for e in engines}}
    if args.markdown:
        open(args.markdown, "w").close()
    if args.all or (not args.startup and not args.count):
        report["time"] = time_suite(args, info, engines, programs)
    if args.all or args.startup:
        report["startup"] = startup(args, info, engines)
    if args.count:
        report["count"] = count_suite(args, info, engines, programs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if failures:
        sys.stderr.write("\nharness: %d problem(s):\n" % len(failures))
        for f in failures:
            sys.stderr.write("  - %s\n" % f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
