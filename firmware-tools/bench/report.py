"""Markdown report of the int8 benchmark: edgeclip (tract) beside onnxruntime.

    python3 report.py RESULTS_DIR OUT.md

Why: firmware-tools/bench/int8.sh leaves raw rows (RESULTS_DIR/results.jsonl, one
JSON line per engine, case and round, from ort_case.py and the bench_case
example) and the machine they ran on (RESULTS_DIR/machine.json); this turns them
into the committed table. Per case: the median over rounds of each round's
median, the minimum over rounds of the minima, edgeclip's median over
onnxruntime's round by round, peak RSS, the floor the case's FLOPs set at the
machine's single-core fp32 GEMM rate, and the cosine of edgeclip's embedding
against onnxruntime's on the same file and input. Then, per model, tower and
thread count at batch 1, whether edgeclip's int8 is at least as fast as
onnxruntime's. Models come in machine.json's order; gemm-repro (one product,
make_gemm_repro.py) is labelled with its shapes and, at batch 1, given each
engine's multiply-add rate.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ENGINES = ("edgeclip", "onnxruntime")
# Table names for models whose directory name says too little.
LABELS = {"gemm-repro": "gemm-repro (197x768 @ 768x3072)"}
DESCRIPTIONS = {
    "default": "models/edgeclip-tiny, the shipped default",
    "gemm-repro": "ViT-B/16's MLP c_fc product alone, int8 MatMulInteger (fp32: MatMul) of the "
                  "[1, 197, 768] input with a 768 x 3072 random weight, image tower only (make_gemm_repro.py)",
}
GEMM_MACS = {"gemm-repro": 197 * 768 * 3072}


def label(model: str) -> str:
    return LABELS.get(model, model)


def ms(x: float) -> str:
    """Milliseconds with about three significant digits."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def rate(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def load(results_dir: Path):
    machine = json.loads((results_dir / "machine.json").read_text())
    rows = [json.loads(line) for line in (results_dir / "results.jsonl").read_text().splitlines() if line.strip()]
    return machine, rows


def group(rows: list[dict], model_order: list[str]):
    """{(model, tower, batch, precision, threads): {engine: {round: row}}}, in table order."""
    cases: dict[tuple, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        key = (row["model"], row["tower"], row["batch"], row["precision"], row["threads"])
        cases[key][row["engine"]][row["round"]] = row
    order = {m: i for i, m in enumerate(model_order)}

    def sort_key(key):
        model, tower, batch, precision, threads = key
        return (order.get(model, len(order)), tower != "image", batch, precision != "fp32", threads)

    return {k: cases[k] for k in sorted(cases, key=sort_key)}


def summary(by_round: dict[int, dict]) -> dict | None:
    """Median of medians, min of mins, max RSS over the rounds that ran; None if none did."""
    ok = [r for r in by_round.values() if "median_ms" in r]
    if not ok:
        return None
    cos = [r["cosine_vs_ort"] for r in ok if r.get("cosine_vs_ort") is not None]
    return {
        "median": statistics.median(r["median_ms"] for r in ok),
        "min": min(r["min_ms"] for r in ok),
        "rss": max(r["peak_rss_mb"] for r in ok),
        "cosine": min(cos) if cos else None,
        "runs": ok[0]["runs"],
    }


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: report.py RESULTS_DIR OUT.md")
    results_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    machine, rows = load(results_dir)
    cases = group(rows, machine.get("models", []))
    gemm = machine["gemm_gflops_1core"]
    gflops = machine.get("gflops", {})
    ort_versions = sorted({r["ort_version"] for r in rows if r.get("ort_version")})

    lines = ["# edgeclip (tract) and onnxruntime, fp32 and int8, on CPU", ""]
    command = f"firmware-tools/bench/int8.sh {machine['rounds']}"
    if machine.get("quick"):
        command = f"EDGECLIP_BENCH_QUICK=1 {command}"
    wall = machine.get("wall_s")
    took = f", {wall / 60:.0f} min" if wall else ""
    lines.append(f"Command: `{command}` ({machine['rounds']} round{'s' if machine['rounds'] != 1 else ''}{took}).  ")
    if machine.get("quick"):
        lines.append("**Quick mode**: runs divided by 10 (at least 2), one round: a check that the pipeline works, "
                     "not numbers to quote.  ")
    lines.append(f"Date: {machine['date']}.  ")
    tree = f"commit {machine.get('commit', 'unknown')}" + (" with uncommitted changes" if machine.get("dirty") else "")
    lines.append(f"edgeclip: {tree}, bench_case {machine.get('edgeclip_build', '')}.  ")
    flags = ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in machine.get("flags", {}).items())
    lines.append(f"CPU: {machine['cpu']} ({machine.get('arch', '')}), {machine['cores']} cores; {flags}.  ")
    lines.append(f"onnxruntime: {', '.join(ort_versions) or 'unknown'} (CPUExecutionProvider, sequential, "
                 "default graph optimizations).  ")
    lines.append(f"Single-core fp32 GEMM (numpy, 1024 x 1024 x 1024, best of 10): {gemm:.1f} GFLOP/s.")
    lines.append("")
    model_lines = []
    for model in machine.get("models", []):
        g = gflops.get(model, {})
        what = DESCRIPTIONS.get(model, "open_clip architecture, random weights")
        model_lines.append(f"- {label(model)}: {what}; GFLOP per item: "
                           + ", ".join(f"{t} {v:g}" for t, v in g.items()))
    lines += model_lines + [""]

    header = ["model", "tower", "batch", "precision", "threads", "edgeclip median (min) ms",
              "onnxruntime median (min) ms", "ratio edgeclip / ort (per round)", "edgeclip items/s",
              "peak RSS edgeclip / ort MB", "FLOP floor ms", "cosine vs ort"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" if i < 5 else "---:" for i in range(len(header))) + "|")
    int8_ratio = {}
    runs_seen = {}
    gemm_rates = []
    for (model, tower, batch, precision, threads), engines in cases.items():
        s = {e: summary(engines.get(e, {})) for e in ENGINES}
        e, o = s["edgeclip"], s["onnxruntime"]
        cell = {e_: (f"{ms(v['median'])} ({ms(v['min'])})" if v else "failed") for e_, v in s.items()}
        rounds = sorted(set(engines.get("edgeclip", {})) | set(engines.get("onnxruntime", {})))
        ratios = []
        for r in rounds:
            a, b = engines.get("edgeclip", {}).get(r), engines.get("onnxruntime", {}).get(r)
            ok = a and b and "median_ms" in a and "median_ms" in b
            ratios.append(f"{a['median_ms'] / b['median_ms']:.2f}" if ok else "-")
        g = gflops.get(model, {}).get(tower)
        floor = ms(g * batch / (gemm * threads) * 1e3) if g else "-"
        cos = f"{e['cosine']:.6f}" if e and e["cosine"] is not None else "-"
        rss = f"{e['rss']:.0f}" if e else "-"
        rss += f" / {o['rss']:.0f}" if o else " / -"
        lines.append("| " + " | ".join([
            label(model), tower, str(batch), precision, str(threads),
            cell["edgeclip"], cell["onnxruntime"], " / ".join(ratios),
            rate(batch * 1e3 / e["median"]) if e else "-", rss, floor, cos,
        ]) + " |")
        if precision == "int8" and batch == 1:
            int8_ratio[(model, tower, threads)] = e["median"] / o["median"] if e and o else None
        if e or o:
            runs_seen.setdefault((model, batch), (e or o)["runs"])
        if model in GEMM_MACS and batch == 1:
            gemm_rates.append((model, precision, threads, *(
                GEMM_MACS[model] / (v["median"] * 1e6) if v else None for v in (e, o))))
    lines.append("")
    if gemm_rates:
        lines += ["Single products, batch 1: multiply-adds per second (GMAC/s) at each engine's median.", "",
                  "| product | precision | threads | edgeclip GMAC/s | onnxruntime GMAC/s |",
                  "|---|---|---|---:|---:|"]
        for model, precision, threads, e_rate, o_rate in gemm_rates:
            cells = ["-" if r is None else rate(r) for r in (e_rate, o_rate)]
            lines.append(f"| {label(model)} | {precision} | {threads} | {cells[0]} | {cells[1]} |")
        lines.append("")

    base = machine.get("python_baseline_rss_mb")
    runs_text = "; ".join(f"{m} batch {b}: {n}"
                          for (m, b), n in runs_seen.items())
    lines += [
        "## How to read",
        "",
        "Each case is one process per engine (onnxruntime first, then edgeclip), one case after "
        "another; a round runs every case once. Times are per call of the tower on the whole batch, "
        "after warm-up runs; the table gives the median over rounds of each round's median and, in "
        f"brackets, the fastest single run over all rounds. Timed runs per round: {runs_text}. "
        "The ratio is edgeclip's median over onnxruntime's, one number per round: below 1 edgeclip "
        "is faster, and rounds that disagree show how much of a gap is noise. The FLOP floor is the "
        "tower's GFLOPs (MatMul, Gemm and Conv of one batch-1 forward, times the batch) at the "
        "single-core fp32 GEMM rate above times the threads: a bound for fp32, which int8, doing "
        "integer arithmetic, can go below. Peak RSS is the whole process's, the maximum over rounds; "
        "onnxruntime's includes the Python interpreter, numpy and onnxruntime's library"
        + (f" ({base:.0f} MB with nothing loaded)" if base is not None else "")
        + ". The cosine compares edgeclip's batch-1 embedding with onnxruntime's on the same file "
        "and input (the lowest over rounds; for int8, onnxruntime's int8 output).",
        "",
        "## int8 summary",
        "",
        "Batch 1: edgeclip's int8 median over onnxruntime's int8 median (medians over rounds).",
        "",
        "| model | tower | threads | int8 ratio | edgeclip ≤ onnxruntime |",
        "|---|---|---|---:|---|",
    ]
    for (model, tower, threads), r in int8_ratio.items():
        verdict = "failed" if r is None else ("yes" if r <= 1.0 else "no")
        lines.append(f"| {label(model)} | {tower} | {threads} | {'-' if r is None else f'{r:.2f}'} | {verdict} |")
    failed = [r for r in rows if "error" in r]
    if failed:
        lines += ["", f"{len(failed)} case run(s) failed; see results.jsonl."]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
