#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
"""Runs qins_validate end to end: the JSON report (schema of README.md), the SVG plots
(well-formed XML, one point per model and configuration), the text report, and every
kind of bad input (non-zero exit, one line on stderr naming the file and the problem)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

exe = os.environ["QINS_VALIDATE"]
models = os.environ["QINS_MODELS_DIR"]
STORIES = os.path.join(models, "stories260K.bin")
BABY = os.path.join(models, "babyllama105.bin")
CONFIG_KEYS = {"name", "qins", "bits", "alpha", "weight_bytes", "fp32_bytes", "compression", "bits_per_weight",
               "rel_rmse", "rel_rmse_no_quant", "token_match", "token_match_15", "first_divergence",
               "top1_agreement", "mean_kld", "kld_stderr", "kld_p99", "kld_max", "delta_ce", "delta_ce_stderr",
               "reference_ce", "positions", "verdict", "generated", "text", "notes"}
MODEL_KEYS = {"model", "tokenizer", "config", "linear_weights", "prompt", "tokens", "reference", "reference_text",
              "positions", "sequences", "notes", "seconds", "configs"}
README_TEXT = {"stories260K.bin": "Once upon a time, there was a little girl named Lily. She loved to play outside "
                                  "in the park. One day, she saw a big, red ball.",
               "babyllama105.bin": "Once upon a time, there was a little girl named Lily. She loved to play outside "
                                   "in the sunshine. One day, she went to the park with her mommy and daddy."}


def run(args, env=None, code=0):
    p = subprocess.run([exe, *args], capture_output=True, text=True, env=env)
    assert p.returncode == code, (args, p.returncode, p.stderr)
    return p


def check(condition, what):
    if not condition:
        sys.exit("check_validate: " + what)


tmp = tempfile.mkdtemp()
try:
    # ---- The default run: both shared models, JSON and plots ----
    plots = os.path.join(tmp, "plots", "nested")  # created by --plot
    report = json.loads(run(["--json", "--tokens", "40", "--samples", "2", "--plot", plots]).stdout)
    check(report["schema"] == "qins-validate 2", "schema")
    check(report["isa"] in ("scalar", "avx2", "avx512", "avx512vnni", "amx"), "isa: the kernel path")
    check([os.path.basename(m["model"]) for m in report["models"]] == ["stories260K.bin", "babyllama105.bin"],
          "the default run covers both shared models")
    for m in report["models"]:
        name = os.path.basename(m["model"])
        check(not MODEL_KEYS - m.keys(), f"{name}: missing model keys {MODEL_KEYS - m.keys()}")
        check(m["tokens"] == 40 and len(m["reference"]) == 40, f"{name}: 40 reference tokens")
        check(len(m["reference_text"]) > 30 and README_TEXT[name].startswith(m["reference_text"]),
              f"{name}: float32 writes the README's story")
        check(len(m["sequences"]) == 5, f"{name}: greedy from BOS, two prompts, two samples")
        check(m["positions"] == sum(len(s["prompt"]) - 1 + len(s["continuation"]) for s in m["sequences"]),
              f"{name}: positions")
        check(len(m["configs"]) == 12, f"{name}: 12 configurations")
        fp32 = m["configs"][0]["fp32_bytes"]
        for c in m["configs"]:
            check(not CONFIG_KEYS - c.keys(), f"{name}/{c['name']}: missing keys {CONFIG_KEYS - c.keys()}")
            check(c["weight_bytes"] > 0 and c["fp32_bytes"] == fp32, f"{name}/{c['name']}: bytes")
            check(abs(c["bits_per_weight"] - 8 * c["weight_bytes"] / (fp32 / 4)) < 1e-9, "bits per weight")
            check(0 <= c["token_match"] <= 40 and 0 <= c["top1_agreement"] <= 1, "ranges")
            check(c["mean_kld"] >= 0 and c["kld_p99"] <= c["kld_max"] + 1e-15, "KL statistics")
            check(c["verdict"] in report["thresholds"] or c["verdict"] == "broken", "verdict")
            check(c["qins"] == ("not QINS" not in c["name"]), "QINS or not")
        by_name = {c["name"]: c for c in m["configs"]}
        for lossless in ("uint16, alpha per row", "float codec, no quantization", "float16 (not QINS)"):
            check(by_name[lossless]["token_match"] == 40, f"{name}: {lossless} keeps every token")
            check(by_name[lossless]["text"] == m["reference_text"], f"{name}: {lossless} writes float32's text")
        check(by_name["uint8, alpha per row"]["mean_kld"] < by_name["uint8, alpha = 1"]["mean_kld"],
              f"{name}: calibration lowers KL")
        u8, u12, u16 = (by_name[f"uint{b}, alpha per row"] for b in (8, 12, 16))
        check(u12["bits"] == 12 and u8["weight_bytes"] < u12["weight_bytes"] < u16["weight_bytes"],
              f"{name}: 12-bit codes sit between 8 and 16 bits in bytes")
        check(u12["mean_kld"] < u8["mean_kld"] / 10, f"{name}: 12-bit codes lose far less than 8-bit ones")
    check(len(report["synthetic"]) == 2, "synthetic rows")

    for svg in ("qins_error_vs_bits.svg", "qins_kl_vs_bits.svg"):
        root = ET.parse(os.path.join(plots, svg)).getroot()  # raises on malformed XML
        points = [e for e in root.iter() if e.get("class") == "point"]
        expected = sorted((os.path.basename(m["model"]), c["name"]) for m in report["models"] for c in m["configs"])
        check(sorted((p.get("data-model"), p.get("data-config")) for p in points) == expected,
              f"{svg}: one point per model and configuration")

    # ---- The text report ----
    text = run([STORIES, "--tokens", "30", "--samples", "1"]).stdout
    for needle in ("== stories260K.bin", "uint8, alpha per row", "Q8_0, llama.cpp (not QINS)", "float32:",
                   "Where QINS's companding pays off", "verdict, from the mean KL divergence"):
        check(needle in text, f"text report: '{needle}'")

    # ---- A prompt, and a model without a tokenizer ----
    prompted = json.loads(run([STORIES, "--json", "--tokens", "20", "--samples", "0", "--prompt",
                               "Lily and Ben"]).stdout)["models"][0]
    check(prompted["reference_text"].startswith("Lily and Ben"), "--prompt continues the prompt")
    lonely = os.path.join(tmp, "alone", "model.bin")
    os.makedirs(os.path.dirname(lonely))
    shutil.copy(STORIES, lonely)
    bare = json.loads(run([lonely, "--json", "--tokens", "10", "--samples", "1"]).stdout)["models"][0]
    check(bare["tokenizer"] is None and bare["reference_text"].split()[0] == "403", "no tokenizer: token ids")
    check(bare["configs"][3]["mean_kld"] > 0, "no tokenizer: the metrics still work")
    run(["--help"])

    # ---- Bad input: exit 1 (bad file) or 2 (bad usage), one line naming the problem ----
    text_file = os.path.join(tmp, "notes.txt")
    with open(text_file, "w") as f:
        f.write("this is not a model\n")
    truncated = os.path.join(tmp, "truncated.bin")
    with open(STORIES, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:5000])
    bad_tokenizer = os.path.join(tmp, "tok.bin")
    with open(bad_tokenizer, "wb") as f:
        f.write(b"\x07\x00\x00\x00\x00\x00")
    env_missing = dict(os.environ, QINS_MODEL=os.path.join(tmp, "missing.bin"))
    cases = [
        ([os.path.join(tmp, "missing.bin")], 1, "missing.bin"),
        ([text_file], 1, "notes.txt"),
        ([truncated], 1, "truncated"),
        ([STORIES, "--tokenizer", os.path.join(models, "tok105.bin")], 1, "tok105.bin"),
        ([STORIES, "--tokenizer", bad_tokenizer], 1, "tok.bin"),
        ([lonely, "--prompt", "Once"], 1, "tokenizer"),
        (["--tokens", "zero"], 2, "--tokens"),
        (["--tokens", "0"], 2, "--tokens"),
        (["--frobnicate"], 2, "frobnicate"),
        (["--plot", text_file], 2, "notes.txt"),
        ([], 1, "missing.bin", env_missing),
    ]
    for args, code, needle, *env in cases:
        p = run(args, env[0] if env else None, code)
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and needle in lines[0], f"{args}: want one line naming '{needle}', got {p.stderr!r}")
finally:
    shutil.rmtree(tmp)
print("qins_validate: report, JSON, plots and errors ok")
