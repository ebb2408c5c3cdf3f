"""WASI-NN's sampler keys and embedding mode on the tiny llama.cpp model,
through `wasmgate run --nn-preload` and the C guests tests/nn/guests/chat.c
and embed.c, against llm_probe (src/ai/llm.h driven directly) and
llama_embed_direct (llama.h alone). Python 3 stdlib only.

Environment (tests/llm/CMakeLists.txt): WASMGATE, LLM_PROBE, TINY_MODEL,
CHAT, EMBED, EMBED_DIRECT, LLAMA_LIB_DIR.
"""
import json
import math
import os
import re
import subprocess
import sys
import unittest

E = os.environ
for k in ("WASMGATE", "LLM_PROBE", "TINY_MODEL", "CHAT", "EMBED",
          "EMBED_DIRECT", "LLAMA_LIB_DIR"):
    if not E.get(k) or (k != "LLAMA_LIB_DIR" and not os.path.exists(E[k])):
        print("skipped: %s missing (%r)" % (k, E.get(k)))
        sys.exit(77)

PROMPT = "Once upon a time, in a small village,"


def run(guest, *args, opts=()):
    p = subprocess.run([E["WASMGATE"], "run", "--nn-preload",
                        "default:GGML:AUTO:" + E["TINY_MODEL"], guest] +
                       list(opts) + ["default"] + list(args),
                       capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


def chat(meta, prompt=PROMPT):
    rc, out, err = run(E["CHAT"], meta, prompt)
    if rc != 0:
        raise AssertionError("chat.wasm %s: exit %d %s" % (meta, rc, err))
    return out


def probe(*args):
    p = subprocess.run([E["LLM_PROBE"]] + [str(a) for a in args],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("llm_probe %s: %s" % (args, p.stderr))
    return p.stdout.decode("utf-8", "replace")


def direct(text, norm=2):
    p = subprocess.run([E["EMBED_DIRECT"], E["LLAMA_LIB_DIR"], E["TINY_MODEL"],
                        text, str(norm)], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("llama_embed_direct: %d %s" % (p.returncode,
                                                            p.stderr))
    m = re.search(rb"n_embd=(\d+)", p.stderr)
    return json.loads(p.stdout), int(m.group(1))


def embed(meta, prompt=PROMPT, meta2=None, single=False, config=False):
    return run(E["EMBED"], meta, prompt, *([meta2] if meta2 else []),
               opts=(["--single"] if single else []) +
               (["--config"] if config else []))


def usage(err):
    m = re.search(r"usage: (\{.*\})", err)
    if not m:
        raise AssertionError("no usage line: %r" % err)
    return json.loads(m.group(1))


class SamplerKeys(unittest.TestCase):
    N = 200   # the tiny model starts repeating itself within 200 tokens

    def test_repeat_penalty_greedy(self):
        base = '{"n-predict":%d,"temp":0' % self.N
        plain = chat(base + "}")
        pen = chat(base + ',"repeat-penalty":1.5}')
        self.assertNotEqual(pen, plain)
        self.assertEqual(chat(base + ',"repeat-penalty":1.5}'), pen)
        self.assertEqual(pen, probe("--repeat-penalty", 1.5, "generate",
                                    E["TINY_MODEL"], PROMPT, self.N))
        self.assertEqual(plain, probe("generate", E["TINY_MODEL"], PROMPT,
                                      self.N))
        # last-n-penalty 0 turns the penalties off; 1.0 is no penalty
        self.assertEqual(chat(base + ',"repeat-penalty":1.5,'
                                     '"last-n-penalty":0}'), plain)
        self.assertEqual(chat(base + ',"repeat-penalty":1.0}'), plain)
        # clamped to >= 0: a negative penalty is 0, i.e. off for repeat
        self.assertEqual(chat(base + ',"repeat-penalty":-3}'), plain)

    def test_presence_and_frequency_penalty(self):
        base = '{"n-predict":%d,"temp":0' % self.N
        plain = chat(base + "}")
        for key, opt in (("presence-penalty", "--presence-penalty"),
                         ("frequency-penalty", "--frequency-penalty")):
            with self.subTest(key=key):
                got = chat(base + ',"%s":1}' % key)
                self.assertNotEqual(got, plain)
                self.assertEqual(got, probe(opt, 1, "generate",
                                            E["TINY_MODEL"], PROMPT, self.N))
                # negative values are clamped to 0 (WasmEdge's rule)
                self.assertEqual(chat(base + ',"%s":-1}' % key), plain)

    def test_same_as_the_gateways_path(self):
        # the gateway's local provider gives llm_probe's `chat` text for
        # the same options (tests/llm/test_local_provider.py); a guest
        # sending the templated prompt with the same keys gets it too
        prompt = probe("template", E["TINY_MODEL"], "Hello")
        for meta, opts in (
                ('{"n-predict":200,"temp":0,"presence-penalty":1}',
                 ["--presence-penalty", 1]),
                ('{"n-predict":24,"temp":0.9,"seed":3,"top-k":0,"top-p":1,'
                 '"min-p":0,"frequency-penalty":0.5}',
                 ["--frequency-penalty", 0.5])):
            with self.subTest(meta=meta):
                args = [200] if "200" in meta else [24, 0.9, 3]
                self.assertEqual(chat(meta, prompt),
                                 probe(*opts, "chat", E["TINY_MODEL"],
                                       "Hello", *args))

    def test_seeded_keys_match_direct(self):
        base = '{"n-predict":40,"temp":0.8,"seed":7,"top-k":0,"top-p":1'
        plain = chat(base + ',"min-p":0}')
        cases = [
            (',"min-p":0.5}', ["--min-p", 0.5]),
            (',"min-p":0,"typ-p":0.5}', ["--typical-p", 0.5]),
            (',"mirostat":1,"min-p":0}', ["--mirostat", 1]),
            (',"mirostat":2,"mirostat-tau":3,"mirostat-eta":0.2,'
             '"min-p":0}', None),
            (',"min-p":0,"repeat-penalty":1.3,"last-n-penalty":-1}',
             ["--repeat-penalty", 1.3, "--last-n", -1]),
        ]
        seen = {plain}
        for meta, opts in cases:
            with self.subTest(meta=meta):
                got = chat(base + meta)
                self.assertNotIn(got, seen)
                seen.add(got)
                self.assertEqual(chat(base + meta), got)   # deterministic
                if opts:
                    self.assertEqual(got, probe(*opts, "generate",
                                                E["TINY_MODEL"], PROMPT, 40,
                                                0.8, 7))
        # min-p's default is llama.cpp's 0.05: same as giving it
        self.assertEqual(chat(base + "}"), chat(base + ',"min-p":0.05}'))

    def test_wrong_types_and_values_are_1(self):
        for meta in ('{"repeat-penalty":"x"}', '{"presence-penalty":true}',
                     '{"frequency-penalty":[1]}', '{"last-n-penalty":1.5}',
                     '{"min-p":"0.1"}', '{"typ-p":null}', '{"mirostat":1.0}',
                     '{"mirostat-eta":"a"}', '{"mirostat-tau":{}}',
                     '{"mirostat":3}', '{"mirostat":-1}',
                     '{"embedding":1}', '{"embd-normalize":2.5}'):
            with self.subTest(meta=meta):
                rc, out, err = run(E["CHAT"], meta, "hi")
                self.assertEqual((rc, err), (1, "set_input(1): errno 1\n"))


def norm2(v):
    return math.sqrt(sum(x * x for x in v))


class BuildInfo(unittest.TestCase):
    def test_usage_names_the_librarys_build(self):
        # what llama.cpp's build recorded (LLAMA_BUILD_NUMBER, LLAMA_COMMIT
        # of libllama-common.so), as WasmEdge reports them
        import ctypes
        path = os.path.join(E["LLAMA_LIB_DIR"], "libllama-common.so")
        if not os.path.exists(path):
            self.skipTest("no libllama-common.so in " + E["LLAMA_LIB_DIR"])
        lib = ctypes.CDLL(path)
        build = ctypes.c_int.in_dll(lib, "LLAMA_BUILD_NUMBER").value
        commit = ctypes.c_char_p.in_dll(lib, "LLAMA_COMMIT").value.decode()
        rc, out, err = run(E["CHAT"], '{"n-predict":2,"temp":0}', "hi")
        self.assertEqual(rc, 0, err)
        u = usage(err)
        self.assertEqual(list(u), ["input_tokens", "output_tokens",
                                   "llama_build_number", "llama_commit"])
        self.assertEqual((u["llama_build_number"], u["llama_commit"]),
                         (build, commit))
        self.assertTrue(commit)


class EmbeddingMode(unittest.TestCase):
    def test_matches_llama_h_and_is_normalised(self):
        want, n_embd = direct(PROMPT)
        rc, out, err = embed('{"embedding":true}')
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith('{"n_embedding": %d, "embedding": ['
                                       % n_embd), out[:80])
        got = json.loads(out)
        self.assertEqual(got["n_embedding"], n_embd)
        self.assertEqual(len(got["embedding"]), n_embd)
        self.assertLess(abs(norm2(got["embedding"]) - 1), 1e-6)
        for a, b in zip(got["embedding"], want["embedding"]):
            self.assertLess(abs(a - b), 1e-6, (a, b))
        # 10 significant digits
        self.assertTrue(all(len(re.sub(r"[-.]|e.*", "", t).lstrip("0")) <= 10
                            for t in out.split("[")[1].rstrip("]}").split(",")))
        # deterministic across runs, and what llm.h itself gives
        self.assertEqual(embed('{"embedding":true}')[1], out)
        self.assertEqual(probe("embed", E["TINY_MODEL"], PROMPT), out)
        u = usage(err)
        self.assertEqual(u["output_tokens"], 0)
        self.assertEqual(u["input_tokens"], 11)
        # LlamaEdge's way: `embedding` in the load config of the graph
        rc, out2, err = embed('{"embedding":true}', config=True)
        self.assertEqual((rc, out2), (0, out), err)

    def test_normalisations(self):
        raw, _ = direct(PROMPT, -1)
        for norm in (-1, 0, 1, 2, 3):
            with self.subTest(norm=norm):
                rc, out, err = embed('{"embedding":true,"embd-normalize":%d}'
                                     % norm)
                self.assertEqual(rc, 0, err)
                v = json.loads(out)["embedding"]
                want, _ = direct(PROMPT, norm)
                for a, b in zip(v, want["embedding"]):
                    self.assertLess(abs(a - b), 1e-6 * max(1, abs(b)), (a, b))
                if norm == 0:
                    self.assertAlmostEqual(max(abs(x) for x in v), 32760, 2)
                elif norm == 1:
                    self.assertAlmostEqual(sum(abs(x) for x in v), 1, 5)
                elif norm == 3:
                    self.assertAlmostEqual(sum(abs(x) ** 3 for x in v), 1, 5)
                elif norm == -1:
                    k = raw["embedding"]
                    self.assertGreater(abs(norm2(v) - 1), 1e-3)
                    for a, b in zip(v, k):
                        self.assertLess(abs(a - b), 1e-6 * max(1, abs(b)))

    def test_prompt_longer_than_batch_is_102(self):
        # 11 tokens: fits a batch of 11, not of 10 (ctx-size plays no part)
        rc, out, err = embed('{"embedding":true,"batch-size":11}')
        self.assertEqual(rc, 0, err)
        rc, out, err = embed('{"embedding":true,"batch-size":10}')
        self.assertEqual((rc, err), (102, "compute: errno 102\n"))
        rc, out, err = embed('{"embedding":true,"ctx-size":12}')
        self.assertEqual(rc, 0, err)

    def test_compute_single_is_1(self):
        rc, out, err = embed('{"embedding":true}', single=True)
        self.assertEqual((rc, err), (1, "compute_single: errno 1\n"))

    def test_switching_modes_on_one_context(self):
        # embedding, then generation on the same context: the text is the
        # greedy text of a fresh one
        rc, out, err = embed('{"embedding":true}', PROMPT,
                             '{"embedding":false,"temp":0,"n-predict":12}')
        self.assertEqual(rc, 0, err)
        vec, text = out.split("\n", 1)
        self.assertEqual(json.loads(vec)["n_embedding"],
                         direct(PROMPT)[1])
        self.assertEqual(text, probe("generate", E["TINY_MODEL"], PROMPT, 12))
        # and generation first, then embedding
        rc, out, err = embed('{"embedding":false,"temp":0,"n-predict":12}',
                             PROMPT, '{"embedding":true}')
        self.assertEqual(rc, 0, err)
        text, vec = out.split("\n", 1)
        self.assertEqual(text, probe("generate", E["TINY_MODEL"], PROMPT, 12))
        self.assertEqual(vec, embed('{"embedding":true}')[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
