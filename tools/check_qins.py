#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
"""Runs the qins tool end to end on the shared models: convert from every input kind (a
llama2.c .bin, Hugging Face directories in F32 and sharded BF16, a lone .safetensors file),
run, inspect, tokenize, validate; and every kind of bad input or usage (exit 1 or 2, one line
on stderr naming the file and the problem, no partial output left behind)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

exe = os.environ["QINS"]
models = os.environ["QINS_MODELS_DIR"]
make_hf = os.environ["QINS_MAKE_HF"]
STORIES = os.path.join(models, "stories260K.bin")
BABY = os.path.join(models, "babyllama105.bin")
TOK512 = os.path.join(models, "tok512.bin")
TOK105 = os.path.join(models, "tok105.bin")
STORIES_TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in "
                "the park. One day, she saw a big, red ball.")


def run(args, code=0):
    p = subprocess.run([exe, *args], capture_output=True, text=True)
    if p.returncode != code:
        sys.exit(f"check_qins: qins {' '.join(args)}: exit {p.returncode}, wanted {code}\n{p.stderr}")
    return p


def check(condition, what):
    if not condition:
        sys.exit("check_qins: " + what)


def one_line_error(args, code, needle):
    p = run(args, code)
    lines = p.stderr.strip().splitlines()
    check(len(lines) == 1 and needle in lines[0], f"qins {' '.join(args)}: want one line with '{needle}', "
                                                  f"got {p.stderr!r}")


tmp = tempfile.mkdtemp()
try:
    hf_f32 = os.path.join(tmp, "hf_stories")
    hf_bf16 = os.path.join(tmp, "hf_baby_bf16")
    subprocess.run([sys.executable, make_hf, STORIES, hf_f32], check=True)
    subprocess.run([sys.executable, make_hf, "--dtype", "BF16", "--shards", "3", BABY, hf_bf16], check=True)

    # ---- convert from each kind of input; the result runs and writes the story ----
    for name, source, tok, extra in [("bin", STORIES, TOK512, []),
                                     ("hf", hf_f32, TOK512, ["--bits", "16"]),
                                     ("bin12", STORIES, TOK512, ["--bits", "12"]),
                                     ("lone", os.path.join(hf_f32, "model.safetensors"), TOK512, []),
                                     ("bf16", hf_bf16, TOK105, ["--alpha", "group:32"])]:
        out = os.path.join(tmp, name + ".qins")
        p = run(["convert", source, out, "--json", *extra])
        report = json.loads(p.stdout)
        check(len(report["layers"]) == 35 and os.path.getsize(out) == report["file_bytes"],
              f"{name}: the report lists every layer and the file")
        check(not os.path.exists(out + ".tmp"), f"{name}: no temporary left")
        text = run(["run", out, "--tokenizer", tok, "--tokens", "60"]).stdout
        check(text.startswith("Once upon a time, there was a little girl named Lily."), f"{name}: text {text!r}")
    # 16-bit codes keep float32's greedy text exactly.
    text16 = run(["run", os.path.join(tmp, "hf.qins"), "--tokenizer", TOK512, "--tokens", "30"]).stdout
    text32 = run(["run", STORIES, "--tokens", "30"]).stdout
    check(text16 == text32 and text32.startswith(STORIES_TEXT[:60]), "uint16 writes float32's text")
    # Widths per layer for a KL budget: the plan is in the report and the file holds it.
    mixed = os.path.join(tmp, "mixed.qins")
    plan = json.loads(run(["convert", STORIES, mixed, "--max-kl", "1e-4", "--json"]).stdout)
    widths = plan["widths"]
    check(widths["measured_kl"] <= 1e-4 and len(widths["layers"]) == 35, "--max-kl: the plan")
    bits = {l["name"]: l["bits"] for l in widths["layers"]}
    check(set(bits.values()) <= {8, 12, 16} and len(set(bits.values())) > 1, "--max-kl mixes widths")
    stored = {t["name"]: t["type"] for t in json.loads(run(["inspect", mixed, "--json"]).stdout)["tensors"]}
    check(all(stored[n] == f"uint{b}" for n, b in bits.items()), "--max-kl: the file holds the plan")
    check(run(["run", mixed, "--tokenizer", TOK512, "--tokens", "30"]).stdout.startswith(STORIES_TEXT[:40]),
          "--max-kl: the model writes the story")
    # The table without --json names every layer; --layers leaves the rest in float32.
    table = run(["convert", STORIES, os.path.join(tmp, "ffn.qins"), "--layers", r"layers\.[0-4]\.w[123]"]).stdout
    check("layers.0.wq" in table and "float32" in table and "uint8" in table and "total:" in table, table)

    # ---- inspect, tokenize, run details ----
    listing = json.loads(run(["inspect", os.path.join(tmp, "bin.qins"), "--json"]).stdout)
    check(listing["kind"] == "qins model" and len(listing["tensors"]) == 39
          and listing["metadata"]["qins.model"] == "llama2", "inspect of a model file")
    check(any(t["type"] == "uint8" and t["alpha"] == "per_row" for t in listing["tensors"]), "inspect types")
    listing12 = json.loads(run(["inspect", os.path.join(tmp, "bin12.qins"), "--json"]).stdout)
    wq = [t for t in listing12["tensors"] if t["name"] == "layers.0.wq"]
    check(len(wq) == 1 and wq[0]["type"] == "uint12", "inspect names 12-bit codes")
    st = json.loads(run(["inspect", os.path.join(hf_bf16, "model-00001-of-00003.safetensors"), "--json"]).stdout)
    check(st["kind"] == "safetensors file" and all(t["type"] == "BF16" for t in st["tensors"]), "inspect safetensors")
    check("token_embedding" in run(["inspect", STORIES]).stdout, "inspect llama2.c")
    check(run(["tokenize", TOK512, "Hello world"]).stdout.strip() == "1 346 306 414 263 304 341", "tokenize")
    capped = run(["run", STORIES, "--tokens", "1000"])
    check("capped at 512" in capped.stderr and "tokens/s" in capped.stderr, "run caps --tokens with a note")
    check(run(["run", STORIES, "--prompt", "Lily and Ben", "--tokens", "10"]).stdout.startswith("Lily and Ben"),
          "run continues a prompt")
    ids = run(["run", hf_bf16, "--tokens", "5"]).stdout.split()  # no tokenizer in an HF directory: ids
    check(len(ids) == 5 and all(i.isdigit() for i in ids), "run without a tokenizer prints ids")
    check(run(["run", STORIES, "--temperature", "1", "--seed", "7", "--tokens", "20"]).stdout ==
          run(["run", STORIES, "--temperature", "1", "--seed", "7", "--tokens", "20"]).stdout, "seeded sampling")
    v = json.loads(run(["validate", os.path.join(tmp, "bin.qins"), "--tokenizer", TOK512, "--tokens", "20",
                        "--samples", "1", "--json"]).stdout)
    check(len(v["models"]) == 1 and len(v["models"][0]["configs"]) == 12, "validate a .qins model")
    for sub in ("convert", "run", "inspect", "validate", "tokenize"):
        check("--help" in run([sub, "--help"]).stdout, f"{sub} --help")

    # ---- bad input (exit 1) and bad usage (exit 2): one line each ----
    text_file = os.path.join(tmp, "notes.txt")
    with open(text_file, "w") as f:
        f.write("this is not a model\n")
    empty_dir = os.path.join(tmp, "empty")
    os.mkdir(empty_dir)
    truncated = os.path.join(tmp, "truncated.bin")
    with open(STORIES, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:50000])
    out = os.path.join(tmp, "never.qins")
    one_line_error(["convert", text_file, out], 1, "is a text file")
    one_line_error(["convert", empty_dir, out], 1, "is a directory without config.json")
    one_line_error(["convert", os.path.join(tmp, "bin.qins"), out], 1, "is a qins model, not a float checkpoint")
    one_line_error(["convert", os.path.join(tmp, "missing.bin"), out], 1, "no such file")
    one_line_error(["convert", truncated, out], 1, "truncated")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "a failed convert leaves nothing")
    one_line_error(["convert", STORIES, out, "--bits", "7"], 2, "--bits")
    one_line_error(["convert", STORIES, out, "--bits", "12", "--max-kl", "1e-4"], 2, "excludes")
    one_line_error(["convert", STORIES, out, "--max-kl", "0"], 2, "--max-kl")
    one_line_error(["convert", STORIES, out, "--alpha", "group:x"], 2, "--alpha")
    one_line_error(["convert", STORIES, out, "--alpha", "sometimes"], 2, "--alpha")
    one_line_error(["convert", STORIES, out, "--layers", "layers.[0-4.w1"], 2, "without its ']'")
    one_line_error(["convert", STORIES, out, "--layers", "layer.*.w1"], 2, "matches no layer")
    one_line_error(["run", STORIES, "--tokenizer", TOK105], 1, "tok105.bin")
    one_line_error(["run", hf_bf16, "--prompt", "Once"], 1, "needs a tokenizer")
    one_line_error(["inspect", text_file], 1, "is a text file")
    one_line_error(["tokenize", STORIES, "x"], 1, "tokenizer")
    one_line_error(["frobnicate"], 2, "frobnicate")
    one_line_error([], 2, "subcommand")
finally:
    shutil.rmtree(tmp)
print("qins: convert, run, inspect, tokenize, validate and errors ok")
