#!/usr/bin/env python3
# SPDX-FileCopyrightText: 2026 The qins authors
# SPDX-License-Identifier: MIT
"""Runs the qins benchmark suite and prints each qins product next to Eigen float32 on
the same shape, as the median of repetitions, in a markdown table.

    bench/compare.py [--bench build/bench/qins_bench] [--repetitions 5] [--min-time 0.2]
                     [--filter REGEX] [--json-in FILE]

Python standard library only.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile


def run_suite(bench, repetitions, min_time, pattern):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    # Random interleaving runs the repetitions of all benchmarks in a shuffled order, so a
    # slow phase of a shared machine falls on both sides of a pair, not on one.
    cmd = [bench, f"--benchmark_repetitions={repetitions}", f"--benchmark_min_time={min_time}",
           "--benchmark_enable_random_interleaving=true",
           "--benchmark_report_aggregates_only=false", f"--benchmark_out={path}",
           "--benchmark_out_format=json", f"--benchmark_filter={pattern}"]
    print("running:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        data = json.load(f)
    os.unlink(path)
    return data


def medians(data):
    """name (without /real_time) -> (median seconds per iteration, median counters)."""
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"].replace("/real_time", "")
        runs.setdefault(name, []).append(b)
    out = {}
    for name, rs in runs.items():
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[rs[0]["time_unit"]]
        t = statistics.median(r["real_time"] * unit for r in rs)
        wps = statistics.median(r.get("weights_per_second", 0) for r in rs)
        out[name] = (t, wps, len(rs))
    return out


def baseline(m, parts):
    """Eigen float32 on the same shape: for batched products the faster of Eigen's GEMM and
    one Eigen GEMV per input (Eigen's GEMM is slow for a few columns)."""
    options = [m["/".join([parts[0], impl] + parts[2:])][0]
               for impl in ("eigen_f32", "eigen_f32_gemv")
               if "/".join([parts[0], impl] + parts[2:]) in m]
    return min(options) if options else None


def table(m):
    rows = []
    for name, (t, wps, n) in sorted(m.items()):
        parts = name.split("/")
        if parts[0] in ("BM_gemv", "BM_gemv_hot", "BM_gemm") and not parts[1].startswith(("eigen", "read")):
            base = baseline(m, parts)
            if base is None:
                continue
            # The plain read of the same codes, in the same run: the memory floor.
            width = "u16" if "u16" in parts[1] else "u12" if "u12" in parts[1] else "u8"
            read = m.get("/".join([parts[0], "read_" + width] + parts[2:]))
            floor = f"{read[0] / t:.2f}" if read else "-"
            rows.append((parts[0][3:], parts[1], "/".join(parts[2:]), t * 1e3, base * 1e3, base / t, floor, wps, n))
    lines = ["| product | impl | rows/cols/[batch/]threads | qins ms | Eigen f32 ms | speed-up | plain read / qins | G weights/s | reps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p, impl, shape, tq, te, ratio, floor, wps, n in rows:
        lines.append(f"| {p} | {impl} | {shape} | {tq:.3f} | {te:.3f} | **{ratio:.2f}x** | {floor} | {wps / 1e9:.2f} | {n} |")
    lines += per_input_table(m)
    codec = [(k, v) for k, v in sorted(m.items()) if k.startswith(("BM_dequantize", "BM_encode"))]
    if codec:
        lines += ["", "| codec kernel | ms | G weights/s | reps |", "|---|---|---|---|"]
        for k, (t, wps, n) in codec:
            lines.append(f"| {k[3:]} | {t * 1e3:.3f} | {wps / 1e9:.3f} | {n} |")
    return "\n".join(lines)


def per_input_table(m):
    """Time per input of each batched qins product over the batch-1 GEMV of the same
    layer and thread count (the "never slower per input" check), as lines."""
    groups = {}
    for name, (t, _, _) in m.items():
        parts = name.split("/")
        if parts[0] == "BM_gemm" and not parts[1].startswith("eigen") and len(parts) == 6:
            impl, rows, cols, batch, threads = parts[1:]
            groups.setdefault((impl, rows, cols, threads), {})[int(batch)] = t / int(batch)
    lines = []
    for (impl, rows, cols, threads), per_input in sorted(groups.items()):
        # The GEMM benchmarks use one copy of the layer, so compare with the hot GEMV.
        gemv = m.get(f"BM_gemv_hot/{impl}/{rows}/{cols}/{threads}") or m.get(f"BM_gemv/{impl}/{rows}/{cols}/{threads}")
        if not gemv:
            continue
        if not lines:
            lines = ["", "| per input vs batch-1 GEMV | rows/cols/threads | GEMV ms | batch: ms per input (ratio) |",
                     "|---|---|---|---|"]
        cells = ", ".join(f"{b}: {v * 1e3:.3f} ({v / gemv[0]:.2f})" for b, v in sorted(per_input.items()))
        lines.append(f"| {impl} | {rows}/{cols}/{threads} | {gemv[0] * 1e3:.3f} | {cells} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build/bench/qins_bench")
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", default="0.2")
    ap.add_argument("--filter", default="/(4096|11008)/")
    ap.add_argument("--json-in", help="read an existing --benchmark_out JSON instead of running")
    a = ap.parse_args()
    if a.json_in:
        with open(a.json_in) as f:
            data = json.load(f)
    else:
        data = run_suite(a.bench, a.repetitions, a.min_time, a.filter)
    ctx = data.get("context", {})
    print(f"Machine: {ctx.get('host_name', platform.node())}, {ctx.get('num_cpus')} CPUs at "
          f"{ctx.get('mhz_per_cpu')} MHz, build {ctx.get('library_build_type')}, date {ctx.get('date')}")
    print("Medians of %d repetitions; speed-up = Eigen float32 time / qins time on the same shape; "
          "plain read / qins = time to read the same codes / qins time (1.00: at the memory floor). "
          "BM_gemv reads its weights from memory, BM_gemv_hot from cache where they fit.\n" % a.repetitions)
    print(table(medians(data)))


if __name__ == "__main__":
    main()
