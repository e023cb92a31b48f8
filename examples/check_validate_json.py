#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
"""Runs qins_validate --json (with and without a model) and checks the JSON's shape."""
import json
import os
import subprocess
import sys

exe = os.environ["QINS_VALIDATE"]
KEYS = {"name", "bits", "alpha", "weight_bytes", "fp32_bytes", "compression", "rel_rmse", "token_match",
        "token_match_15", "first_divergence", "top1_agreement", "mean_kld"}

def run(args, env=None):
    out = subprocess.run([exe, "--json", *args], check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)

with_model = run(["--tokens", "30"])
assert with_model["tokens"] == 30 and len(with_model["reference"]) == 30, with_model
assert len(with_model["configs"]) == 7
for c in with_model["configs"]:
    missing = KEYS - c.keys()
    assert not missing, missing
    assert c["weight_bytes"] > 0 and c["fp32_bytes"] == with_model["configs"][0]["fp32_bytes"]
    assert 0 <= c["token_match"] <= 30 and 0 <= c["token_match_15"] <= 15
uint16 = next(c for c in with_model["configs"] if c["name"].startswith("uint16"))
assert uint16["token_match"] == 30, uint16

env = dict(os.environ, QINS_MODEL="/nonexistent/model.bin")
without = run([], env)
assert without["model"] is None and without["tokens"] == 0
assert all(c["token_match"] is None and c["rel_rmse"] > 0 for c in without["configs"][1:])
print("qins_validate --json: ok")
