#!/usr/bin/env python3
"""Writes a random-weight LLaMA-architecture GGUF model for the tests.

No model weights ship with wasmgate and none are downloaded: the tests run
on a model made here, with llama.cpp's own gguf-py (from the source bundle
tools/setup.sh installs) and numpy. The tokenizer is copied, key by key with
its original types, from a vocab-only GGUF of the same bundle
(ggml-vocab-llama-spm.gguf: SentencePiece, 32000 tokens). Weights are
N(0, 0.02) from a fixed seed and norms are 1, in float32 by default so that
greedy output is the same on every CPU kernel. The output is byte-for-byte
reproducible for a given numpy.

A chat template is added (tokenizer.chat_template, a Vicuna-style Jinja
text that llama.cpp recognises as "vicuna"), so that the gateway's use of
the model's own template is exercised rather than the chatml fallback.

Usage: make_tiny_model.py --gguf-py DIR --vocab FILE --out FILE
       [--n-layer 2] [--n-embd 64] [--n-head 4] [--n-head-kv 4]
       [--n-ff 128] [--n-ctx 256] [--seed 1] [--f16]
"""
import argparse
import os
import sys

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}USER: {{ m['content'] }}\n"
    "{% else %}ASSISTANT: {{ m['content'] }}</s>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf-py", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-head-kv", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--f16", action="store_true")
    a = ap.parse_args()

    sys.path.insert(0, a.gguf_py)
    import numpy as np
    import gguf

    vocab = gguf.GGUFReader(a.vocab)
    tokens = vocab.fields["tokenizer.ggml.tokens"]
    n_vocab = len(tokens.data)
    dtype = np.float16 if a.f16 else np.float32
    rng = np.random.default_rng(a.seed)

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) * 0.02).astype(dtype)

    def norm(n):
        return np.ones(n, dtype=np.float32)

    tmp = a.out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name("wasmgate-tiny")
    w.add_uint32("llama.block_count", a.n_layer)
    w.add_uint32("llama.context_length", a.n_ctx)
    w.add_uint32("llama.embedding_length", a.n_embd)
    w.add_uint32("llama.feed_forward_length", a.n_ff)
    w.add_uint32("llama.attention.head_count", a.n_head)
    w.add_uint32("llama.attention.head_count_kv", a.n_head_kv)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_uint32("llama.rope.dimension_count", a.n_embd // a.n_head)
    w.add_uint32("llama.vocab_size", n_vocab)
    w.add_uint32("general.file_type", 1 if a.f16 else 0)
    for key, f in vocab.fields.items():
        if not key.startswith("tokenizer."):
            continue
        main_type = f.types[0]
        if main_type == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, f.contents(), main_type, sub_type=f.types[-1])
        else:
            w.add_key_value(key, f.contents(), main_type)
    w.add_chat_template(CHAT_TEMPLATE)

    e, kv = a.n_embd, a.n_embd // a.n_head * a.n_head_kv
    # numpy (out, in) is ggml ne (in, out), the layout llama.cpp expects.
    w.add_tensor("token_embd.weight", mat(n_vocab, e))
    for i in range(a.n_layer):
        b = "blk.%d." % i
        w.add_tensor(b + "attn_norm.weight", norm(e))
        w.add_tensor(b + "attn_q.weight", mat(e, e))
        w.add_tensor(b + "attn_k.weight", mat(kv, e))
        w.add_tensor(b + "attn_v.weight", mat(kv, e))
        w.add_tensor(b + "attn_output.weight", mat(e, e))
        w.add_tensor(b + "ffn_norm.weight", norm(e))
        w.add_tensor(b + "ffn_gate.weight", mat(a.n_ff, e))
        w.add_tensor(b + "ffn_up.weight", mat(a.n_ff, e))
        w.add_tensor(b + "ffn_down.weight", mat(e, a.n_ff))
    w.add_tensor("output_norm.weight", norm(e))
    w.add_tensor("output.weight", mat(n_vocab, e))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
