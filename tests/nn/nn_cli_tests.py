#!/usr/bin/env python3
"""WASI-NN through `wasmgate run --nn-preload` on the tiny llama.cpp model
(Python 3 stdlib only).

    nn_cli_tests.py --list        one case a line
    nn_cli_tests.py CASE          runs one case; exit 0 = pass, 77 = skipped

Environment: WASMGATE (the binary), CHAT (guests/chat.wasm, the C guest of
tests/nn/guests/chat.c), TINY_MODEL (tests/llm's random-weight f32 GGUF),
LONG_MODEL (the same generator with a 4096-token context), LLM_PROBE
(tests/llm/llm_probe: src/ai/llm.h driven directly, the reference path).
"""
import json
import os
import re
import subprocess
import sys

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


class Failure(Exception):
    pass


def env(name):
    v = os.environ.get(name)
    if not v:
        raise Failure("%s is not set" % name)
    return v


def run(*args, timeout=120):
    p = subprocess.run([env("WASMGATE"), "run"] + list(args), capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def chat(meta, prompt, *extra, model="default", path=None, opts=()):
    path = path or env("TINY_MODEL")
    return run(*opts, "--nn-preload", "%s:GGML:AUTO:%s" % (model, path),
               env("CHAT"), *extra, "default", meta, prompt)


def probe(prompt, max_tokens, *sampling):
    p = subprocess.run([env("LLM_PROBE"), "generate", env("TINY_MODEL"), prompt,
                        str(max_tokens)] + [str(s) for s in sampling],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise Failure("llm_probe: %r" % p.stderr)
    m = re.search(rb"prompt_tokens=(\d+) completion_tokens=(\d+)", p.stderr)
    return p.stdout, int(m.group(1)), int(m.group(2))


def expect(cond, what, *ctx):
    if not cond:
        raise Failure(what + "".join("\n  %r" % (c,) for c in ctx))


def usage(err):
    m = re.search(r"usage: (\{.*\})", err)
    expect(m, "no usage line", err)
    return m.group(1)


USAGE = '{"input_tokens":%d,"output_tokens":%d,%s}'


def llama_version(err):
    """The build number and commit as printed (their values are checked
    against the library by tests/llm/test_nn_llm.py)."""
    m = re.search(r'("llama_build_number":\d+,"llama_commit":"[^"]*")', err)
    expect(m, "no llama_build_number/llama_commit", err)
    return m.group(1)


PROMPT = "Once upon a time, in a small village,"


@case
def compute_matches_direct_greedy():
    rc, out, err = chat('{"n-predict":24,"temp":0}', PROMPT)
    expect(rc == 0, "exit status %d" % rc, err)
    want, pt, ct = probe(PROMPT, 24)
    expect(out == want, "text differs from llm.h's generate", out, want)
    expect(usage(err) == USAGE % (pt, ct, llama_version(err)), "usage", err)
    expect("end: 0" in err, "end", err)


@case
def compute_matches_direct_seeded():
    meta = '{"n-predict":24,"temp":0.9,"seed":4242,"top-p":1,"top-k":0}'
    rc, out, err = chat(meta, PROMPT)
    expect(rc == 0, "exit status %d" % rc, err)
    want, pt, ct = probe(PROMPT, 24, 0.9, 4242)
    expect(out == want, "text differs from llm.h's generate", out, want)
    rc2, out2, _ = chat(meta, PROMPT)
    expect(out2 == out, "the same seed gave another text", out, out2)
    rc3, out3, _ = chat(meta.replace("4242", "4243"), PROMPT)
    expect(out3 != out, "another seed gave the same text", out)


@case
def stream_matches_compute():
    rc, out, err = chat('{"temp":0}', PROMPT, "--stream", "--max", "24")
    expect(rc == 0, "exit status %d" % rc, err)
    want, pt, ct = probe(PROMPT, 24)
    expect(out == want, "streamed text differs", out, want)
    expect(usage(err) == USAGE % (pt, 24, llama_version(err)), "usage", err)


@case
def context_full_keeps_output():
    # ctx-size 16: the prompt's tokens + 4 fit, then generation stops at 101
    rc, out, err = chat('{"ctx-size":16,"temp":0,"ignore-eos":true}', "Hello there")
    expect(rc == 0, "exit status %d" % rc, err)
    expect("end: 101" in err, "no 101", err)
    m = re.search(r'"input_tokens":(\d+),"output_tokens":(\d+)', err)
    pt, ct = int(m.group(1)), int(m.group(2))
    expect(pt + ct == 16, "tokens %d + %d" % (pt, ct), err)
    want, _, _ = probe("Hello there", ct)
    expect(out == want, "partial output", out, want)
    rc, out, err = chat('{"ctx-size":16,"temp":0,"ignore-eos":true}', "Hello there",
                        "--stream")
    expect("end: 101" in err and out == want, "stream: 101 and the same text", err, out)


@case
def prompt_too_long():
    rc, out, err = chat('{"ctx-size":8}', PROMPT)
    expect(rc == 102 and err == "compute: errno 102\n", "want 102", rc, err)
    rc, out, err = chat('{"ctx-size":8}', PROMPT, "--stream")
    expect(rc == 102 and err == "compute_single: errno 102\n", "want 102", rc, err)


@case
def unknown_model_is_8():
    rc, out, err = run("--nn-preload", "other:GGML:AUTO:" + env("TINY_MODEL"), env("CHAT"),
                       "default", "", "hi")
    expect(rc == 8 and err == "load_by_name: errno 8\n", "want 8", rc, err)
    rc, out, err = run(env("CHAT"), "default", "", "hi")        # no preload at all
    expect(rc == 8 and err == "load_by_name: errno 8\n", "want 8 without preload", rc, err)


@case
def missing_model_file_is_103():
    rc, out, err = chat("", "hi", path="/nonexistent/model.gguf")
    expect(rc == 103 and err == "load_by_name: errno 103\n", "want 103", rc, err)


@case
def bad_metadata():
    rc, out, err = chat('{"n-predict":', "hi")
    expect(rc == 2 and err == "set_input(1): errno 2\n", "malformed: 2", rc, err)
    rc, out, err = chat('{"temp":"hot"}', "hi")
    expect(rc == 1 and err == "set_input(1): errno 1\n", "wrong type: 1", rc, err)
    rc, out, err = chat('{"mmproj":"/etc/passwd"}', "hi")
    expect(rc == 1 and err == "set_input(1): errno 1\n", "host path: 1", rc, err)


@case
def json_schema_constrains_output():
    meta = ('{"n-predict":64,"temp":0,"json-schema":"{\\"type\\":\\"object\\",'
            '\\"properties\\":{\\"a\\":{\\"type\\":\\"boolean\\"}},\\"required\\":[\\"a\\"],'
            '\\"additionalProperties\\":false}"}')
    rc, out, err = chat(meta, PROMPT)
    expect(rc == 0, "exit status %d" % rc, err)
    expect("end: 0\n" in err, "the grammar ends the generation", err)
    try:
        doc = json.loads(out.decode())
    except ValueError:
        raise Failure("not JSON: %r" % out)
    expect(isinstance(doc, dict) and list(doc) == ["a"] and isinstance(doc["a"], bool),
           "not the schema's shape", doc)
    rc, out, err = chat('{"json-schema":"{\\"type\\":\\"tuple\\"}"}', PROMPT)
    expect(rc == 1 and err == "set_input(1): errno 1\n", "unsupported schema: 1", rc, err)


@case
def end_of_sequence():
    # a grammar that accepts one string: after it only end-of-generation fits
    meta = '{"temp":0,"grammar":"root ::= \\"hello world\\""}'
    rc, out, err = chat(meta, "Hi", "--stream")
    expect(rc == 0 and out == b"hello world" and "end: 100\n" in err,
           "stream: the text, then 100", rc, out, err)
    stream_usage = usage(err)
    rc, out, err = chat(meta, "Hi")
    expect(rc == 0 and out == b"hello world" and "end: 0\n" in err,
           "compute: the text, then 0", rc, out, err)
    expect(usage(err) == stream_usage, "same token counts", err, stream_usage)


@case
def bad_preload_entries():
    cases = [
        ("x", "'x' is not NAME:ENCODING:TARGET:PATH"),
        ("x:GGML:AUTO", "'x:GGML:AUTO' is not NAME:ENCODING:TARGET:PATH"),
        (":GGML:AUTO:m", "empty model name in ':GGML:AUTO:m'"),
        ("x:ONNX:AUTO:m", "encoding 'ONNX' is not supported (only ggml and autodetect)"),
        ("x:GGML:NPU:m", "unknown target 'NPU' (cpu, gpu, tpu or auto)"),
        ("x:GGML:AUTO:", "empty path in 'x:GGML:AUTO:'"),
    ]
    for spec, msg in cases:
        rc, out, err = run("--nn-preload", spec, env("CHAT"), "x", "", "hi")
        expect(rc == 2 and err == "wasmgate run: --nn-preload: %s\n" % msg,
               "bad entry " + spec, rc, err)
    rc, out, err = run("--nn-preload", "a:ggml:cpu:/m1", "--nn-preload=a:GGML:GPU:/m2",
                       env("CHAT"), "a", "", "hi")
    expect(rc == 2 and err == "wasmgate run: --nn-preload: model 'a' is given twice\n",
           "duplicate", rc, err)
    # case-insensitive fields, a path with ':' (file missing: 103 at load)
    rc, out, err = run("--nn-preload", "a:gGmL:Auto:/no/such:dir/m.gguf", env("CHAT"), "a",
                       "", "hi")
    expect(rc == 103, "multi-colon path", rc, err)


@case
def process_isolation_same_tokens():
    # the model stays in the CLI, the worker's calls come back to it: the
    # same text and usage as in-process, by compute and by stream
    iso = ("--isolation", "process")
    for extra in ((), ("--stream",)):
        meta = '{"n-predict":24,"temp":0.9,"seed":7,"top-p":1,"top-k":0}'
        rc, out, err = chat(meta, PROMPT, *extra)
        expect(rc == 0, "in-process exit status %d" % rc, err)
        rc2, out2, err2 = chat(meta, PROMPT, *extra, opts=iso)
        expect(rc2 == 0, "in a worker: exit status %d" % rc2, err2)
        expect(out2 == out and usage(err2) == usage(err),
               "a worker's run differs", extra, out, out2, err, err2)
    rc, out, err = chat("", "hi", model="other", opts=iso)
    expect(rc == 8 and err == "load_by_name: errno 8\n", "unknown model", rc, err)


@case
def process_isolation_deadline():
    # the compute runs in this process for a worker: the deadline stops it
    rc, out, err = chat('{"temp":0,"ignore-eos":true}', PROMPT,
                        path=env("LONG_MODEL"),
                        opts=("--isolation", "process", "--timeout", "300ms"))
    expect(rc == 137, "want the timeout status 137", rc, err)
    expect(err.startswith("wasmgate: limit exceeded: timeout (--timeout 300ms): "),
           "message", err)


@case
def deadline_stops_compute():
    # 4096-token context, EOS ignored: compute would run for seconds; the
    # wall-clock limit stops it between tokens and the run is a timeout.
    rc, out, err = chat('{"temp":0,"ignore-eos":true}', PROMPT,
                        path=env("LONG_MODEL"), opts=("--timeout", "300ms"))
    expect(rc == 137, "want the timeout status 137", rc, err)
    expect(err.startswith("wasmgate: limit exceeded: timeout (--timeout 300ms): "),
           "message", err)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: nn_cli_tests.py --list | CASE", file=sys.stderr)
        return 2
    try:
        CASES[sys.argv[1]]()
    except Failure as f:
        print("FAIL %s: %s" % (sys.argv[1], f), file=sys.stderr)
        return 1
    print("ok", sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
