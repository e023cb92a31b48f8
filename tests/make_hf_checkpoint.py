#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
"""Writes a llama2.c legacy checkpoint, or a random Llama, as a Hugging Face directory.

    make_hf_checkpoint.py MODEL.bin OUTDIR [--dtype F32|BF16] [--shards N]
    make_hf_checkpoint.py --synthetic MB OUTDIR [--dtype F32|BF16] [--shards N]

OUTDIR gets config.json (LlamaForCausalLM) and either model.safetensors or N shards
model-0000k-of-0000N.safetensors with model.safetensors.index.json. The tensors are
transformers' names for llama2.c's; q_proj and k_proj rows are permuted as llama2.c's
export.py does for transformers' rotate-half RoPE:

    permute(w, heads, rows, cols) = w.reshape(heads, rows // heads // 2, 2, cols)
                                     .transpose(1, 2).reshape(rows, cols)

BF16 values are rounded to nearest even here. Only the standard library is used: this is
the independent reference the C++ reader (qins/llama2/hf.hpp) is tested against.
--synthetic writes a random model of at least MB MiB (dim 512, hidden 1376, 8 heads,
4 key/value heads, vocabulary 8000, untied, as many layers as it takes), tiling a block of
random values so that it takes seconds.
"""

import argparse
import array
import json
import os
import random
import struct
import sys

# The llama2.c legacy layout after the 7-int32 header (qins/llama2/tensors.hpp).
HEADER = struct.Struct("<7i")


def read_llama2c(path):
    """The config and tensors of a legacy llama2.c checkpoint: (config, {name: floats})."""
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, layers, heads, kv_heads, vocab, seq = HEADER.unpack_from(data, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // heads
    kv_dim = head * kv_heads
    values = array.array("f")
    values.frombytes(data[HEADER.size:])
    if sys.byteorder != "little":
        values.byteswap()
    at = 0

    def take(n):
        nonlocal at
        out = values[at:at + n]
        if len(out) != n:
            sys.exit(f"{path}: truncated")
        at += n
        return out

    def per_layer(rows, cols):
        return [take(rows * cols) for _ in range(layers)]

    t = {"token_embedding": take(vocab * dim)}
    t["rms_att_weight"] = per_layer(1, dim)
    t["wq"] = per_layer(dim, dim)
    t["wk"] = per_layer(kv_dim, dim)
    t["wv"] = per_layer(kv_dim, dim)
    t["wo"] = per_layer(dim, dim)
    t["rms_ffn_weight"] = per_layer(1, dim)
    t["w1"] = per_layer(hidden, dim)
    t["w2"] = per_layer(dim, hidden)
    t["w3"] = per_layer(hidden, dim)
    t["rms_final_weight"] = take(dim)
    take(seq * head // 2)  # freq_cis_real
    take(seq * head // 2)  # freq_cis_imag
    if not shared:
        t["wcls"] = take(vocab * dim)
    if at != len(values):
        sys.exit(f"{path}: {len(values) - at} trailing floats: not a legacy llama2.c checkpoint")
    config = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
                  vocab=vocab, seq=seq, shared=shared)
    return config, t


def permute(w, heads, rows, cols):
    """export.py's permute for HF: HF row h*hd + j*(hd/2) + i <- row h*hd + 2i + j."""
    head = rows // heads
    half = head // 2
    out = array.array("f", bytes(4 * rows * cols))
    for h in range(heads):
        for i in range(half):
            for j in range(2):
                src = (h * head + 2 * i + j) * cols
                dst = (h * head + j * half + i) * cols
                out[dst:dst + cols] = w[src:src + cols]
    return out


def hf_tensors(config, t):
    """[(name, shape, floats)] in HF names, q and k permuted."""
    c = config
    head = c["dim"] // c["heads"]
    kv_dim = head * c["kv_heads"]
    out = [("model.embed_tokens.weight", [c["vocab"], c["dim"]], t["token_embedding"])]
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        out += [
            (p + "input_layernorm.weight", [c["dim"]], t["rms_att_weight"][l]),
            (p + "self_attn.q_proj.weight", [c["dim"], c["dim"]],
             permute(t["wq"][l], c["heads"], c["dim"], c["dim"])),
            (p + "self_attn.k_proj.weight", [kv_dim, c["dim"]],
             permute(t["wk"][l], c["kv_heads"], kv_dim, c["dim"])),
            (p + "self_attn.v_proj.weight", [kv_dim, c["dim"]], t["wv"][l]),
            (p + "self_attn.o_proj.weight", [c["dim"], c["dim"]], t["wo"][l]),
            (p + "post_attention_layernorm.weight", [c["dim"]], t["rms_ffn_weight"][l]),
            (p + "mlp.gate_proj.weight", [c["hidden"], c["dim"]], t["w1"][l]),
            (p + "mlp.down_proj.weight", [c["dim"], c["hidden"]], t["w2"][l]),
            (p + "mlp.up_proj.weight", [c["hidden"], c["dim"]], t["w3"][l]),
        ]
    out.append(("model.norm.weight", [c["dim"]], t["rms_final_weight"]))
    if not c["shared"]:
        out.append(("lm_head.weight", [c["vocab"], c["dim"]], t["wcls"]))
    return out


def f32_bytes(values):
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def bf16_bytes(values):
    """float32 -> bfloat16, round to nearest even (NaN kept quiet), little-endian."""
    bits = array.array("I")
    bits.frombytes(array.array("f", values).tobytes())
    out = array.array("H", bytes(2 * len(bits)))
    for k, x in enumerate(bits):
        if (x & 0x7FFFFFFF) > 0x7F800000:
            out[k] = (x >> 16) | 0x40
        else:
            out[k] = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16) & 0xFFFF
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


class Tiled:
    """A synthetic tensor: `count` floats that repeat `block` (raw little-endian bytes)."""

    def __init__(self, block, count, width):
        self.block, self.count, self.width = block, count, width

    def to_bytes(self):
        n = self.count * self.width
        reps = n // len(self.block) + 1
        return (self.block * reps)[:n]


def write_safetensors(path, tensors, dtype):
    """One safetensors file: [(name, shape, floats or Tiled)] in this order."""
    width = 4 if dtype == "F32" else 2
    header, offset = {}, 0
    for name, shape, _ in tensors:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n * width]}
        offset += n * width
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, values in tensors:
            if isinstance(values, Tiled):
                f.write(values.to_bytes())
            else:
                f.write(f32_bytes(values) if dtype == "F32" else bf16_bytes(values))
    return offset


def write_config(outdir, c, dtype):
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c["dim"],
        "intermediate_size": c["hidden"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv_heads"],
        "vocab_size": c["vocab"],
        "max_position_embeddings": c["seq"],
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "tie_word_embeddings": c["shared"],
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "rope_scaling": None,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32" if dtype == "F32" else "bfloat16",
    }
    with open(os.path.join(outdir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def write_model(outdir, config, tensors, dtype, shards):
    os.makedirs(outdir, exist_ok=True)
    write_config(outdir, config, dtype)
    if shards <= 1:
        write_safetensors(os.path.join(outdir, "model.safetensors"), tensors, dtype)
        return
    if shards > len(tensors):
        sys.exit(f"--shards {shards}: the model has only {len(tensors)} tensors")
    # Contiguous groups of tensors of about equal size, none empty.
    sizes = [v.count if isinstance(v, Tiled) else len(v) for _, _, v in tensors]
    total, groups, start = sum(sizes), [], 0
    for k in range(shards):
        end, acc = start, sum(sizes[:start])
        while end < len(tensors) - (shards - k - 1) and (
                end == start or k == shards - 1 or acc + sizes[end] <= total * (k + 1) / shards):
            acc += sizes[end]
            end += 1
        groups.append(tensors[start:end])
        start = end
    weight_map, total_size = {}, 0
    for k, group in enumerate(groups):
        name = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        total_size += write_safetensors(os.path.join(outdir, name), group, dtype)
        for tensor_name, _, _ in group:
            weight_map[tensor_name] = name
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    with open(os.path.join(outdir, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def synthetic(mib):
    """A random untied Llama of at least `mib` MiB in F32, as (config, tensors)."""
    c = dict(dim=512, hidden=1376, heads=8, kv_heads=4, vocab=8000, seq=1024, shared=False)
    kv_dim = c["dim"] // c["heads"] * c["kv_heads"]
    per_layer = 4 * (2 * c["dim"] + 2 * c["dim"] ** 2 + 2 * kv_dim * c["dim"] +
                     3 * c["hidden"] * c["dim"])
    fixed = 4 * (2 * c["vocab"] * c["dim"] + c["dim"])
    c["layers"] = max(1, -(-(mib * 2**20 - fixed) // per_layer))
    rng = random.Random(1234)
    # Values exactly representable in bfloat16 (low 16 bits zero), so either dtype is a slice.
    raw = array.array("f", [rng.gauss(0.0, 0.02) for _ in range(4099)])
    bits = array.array("I")
    bits.frombytes(raw.tobytes())
    bits = array.array("I", [x & 0xFFFF0000 for x in bits])
    if sys.byteorder != "little":
        bits.byteswap()
    f32_block = bits.tobytes()
    norm_block = f32_bytes([1.0 + 0.0078125 * ((k % 7) - 3) for k in range(64)])
    return c, f32_block, norm_block


def synthetic_tensors(c, f32_block, norm_block, dtype):
    def tile(block, count):
        if dtype == "F32":
            return Tiled(block, count, 4)
        return Tiled(bytes(b for k, b in enumerate(block) if k % 4 >= 2), count, 2)

    kv_dim = c["dim"] // c["heads"] * c["kv_heads"]
    d, h, v = c["dim"], c["hidden"], c["vocab"]
    out = [("model.embed_tokens.weight", [v, d], tile(f32_block, v * d))]
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        out += [
            (p + "input_layernorm.weight", [d], tile(norm_block, d)),
            (p + "self_attn.q_proj.weight", [d, d], tile(f32_block, d * d)),
            (p + "self_attn.k_proj.weight", [kv_dim, d], tile(f32_block, kv_dim * d)),
            (p + "self_attn.v_proj.weight", [kv_dim, d], tile(f32_block, kv_dim * d)),
            (p + "self_attn.o_proj.weight", [d, d], tile(f32_block, d * d)),
            (p + "post_attention_layernorm.weight", [d], tile(norm_block, d)),
            (p + "mlp.gate_proj.weight", [h, d], tile(f32_block, h * d)),
            (p + "mlp.down_proj.weight", [d, h], tile(f32_block, d * h)),
            (p + "mlp.up_proj.weight", [h, d], tile(f32_block, h * d)),
        ]
    out.append(("model.norm.weight", [d], tile(norm_block, d)))
    out.append(("lm_head.weight", [v, d], tile(f32_block, v * d)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="a llama2.c legacy checkpoint (.bin)")
    parser.add_argument("outdir", help="the Hugging Face directory to write")
    parser.add_argument("--synthetic", type=int, metavar="MB",
                        help="write a random Llama of at least MB MiB instead of MODEL")
    parser.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    parser.add_argument("--shards", type=int, default=1, metavar="N",
                        help="N > 1: N shards and model.safetensors.index.json")
    args = parser.parse_args()
    if (args.model is None) == (args.synthetic is None):
        parser.error("give either MODEL.bin or --synthetic MB")
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    if args.synthetic is not None:
        if args.synthetic < 1:
            parser.error("--synthetic must be at least 1")
        config, f32_block, norm_block = synthetic(args.synthetic)
        tensors = synthetic_tensors(config, f32_block, norm_block, args.dtype)
    else:
        config, t = read_llama2c(args.model)
        tensors = hf_tensors(config, t)
    write_model(args.outdir, config, tensors, args.dtype, args.shards)


if __name__ == "__main__":
    main()
