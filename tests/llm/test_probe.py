"""src/ai/llm.h driven directly (llm_probe) on the tiny model: greedy
determinism, token counts, stop strings held back, the model's template.

Environment (tests/llm/CMakeLists.txt): LLM_PROBE, TINY_MODEL.
"""
import os
import subprocess
import sys
import unittest

PROBE = os.environ.get("LLM_PROBE", "")
MODEL = os.environ.get("TINY_MODEL", "")


def probe(*args, check=True):
    p = subprocess.run([PROBE] + [str(a) for a in args], capture_output=True,
                       timeout=120)
    if p.returncode == 77:
        print("skipped: " + p.stderr.decode())
        sys.exit(77)
    if check and p.returncode != 0:
        raise AssertionError("llm_probe %s: %d %s" % (args, p.returncode,
                                                      p.stderr))
    lines = p.stderr.decode().strip().splitlines()
    fields = dict(kv.split("=") for kv in lines[-1].split()) \
        if lines and "=" in lines[-1] else {}
    return p.stdout.decode(), fields, p


class ProbeTest(unittest.TestCase):
    def test_greedy_is_deterministic(self):
        a, fa, _ = probe("generate", MODEL, "Once upon a time", 32)
        b, fb, _ = probe("generate", MODEL, "Once upon a time", 32)
        self.assertEqual(a, b)
        self.assertEqual(fa, fb)
        self.assertEqual(fa["status"], "length")
        self.assertEqual(fa["completion_tokens"], "32")
        # BOS + the SentencePiece tokens of the text
        self.assertEqual(fa["prompt_tokens"], "5")

    def test_prefix_of_longer_generation(self):
        short, _, _ = probe("generate", MODEL, "Once upon a time", 8)
        long, _, _ = probe("generate", MODEL, "Once upon a time", 32)
        self.assertTrue(long.startswith(short))

    def test_stop_string(self):
        full, _, _ = probe("generate", MODEL, "Once upon a time", 32)
        stop = full[10:13]
        text, f, _ = probe("generate", MODEL, "Once upon a time", 32, 0, 0,
                           stop)
        self.assertEqual(text, full[:full.index(stop)])
        self.assertEqual(f["status"], "stop")

    def test_seeded_sampling(self):
        a, _, _ = probe("generate", MODEL, "Hi", 16, 0.9, 5)
        b, _, _ = probe("generate", MODEL, "Hi", 16, 0.9, 5)
        g, _, _ = probe("generate", MODEL, "Hi", 16)
        self.assertEqual(a, b)
        self.assertNotEqual(a, g)

    def test_template(self):
        text, _, _ = probe("template", MODEL, "Hi")
        self.assertEqual(text, "USER: Hi\nASSISTANT:")

    def test_missing_model(self):
        _, _, p = probe("generate", "/nonexistent.gguf", "x", 1, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"local model /nonexistent.gguf: No such file or "
                      b"directory", p.stderr)


if __name__ == "__main__":
    if not os.path.isfile(MODEL):
        print("skipped: no tiny model at %r" % MODEL)
        sys.exit(77)
    unittest.main(verbosity=2)
