#!/usr/bin/env python3
"""The aarch64 int8 micro-kernels' inner loops under llvm-mca.

Reads the assembly of the kernels crate (`cargo rustc ... -- --emit asm`), finds
each kernel's hottest loop (the loop with the most of its multiply-accumulate
instruction: `usmmla` for `i8mm`, `udot` for `dotprod`, `smlal`/`smlal2` for `neon`), and runs
llvm-mca on it for each core the boards have. Prints multiply-accumulates per
cycle against the core's peak, where the peak is llvm-mca's own figure for a
stream of independent instructions of the same kind: a model's estimate, not a
measurement on silicon.

    mca_loops.py KERNELS.s [llvm-mca]
"""
import re
import subprocess
import sys

# (kernel, instruction pattern, multiply-accumulates per instruction, a stream of
# independent ones for the peak, CPUs that have the instruction)
KERNELS = [
    ("i8mm", r"\busmmla\b", 32, "usmmla v{r}.4s, v14.16b, v15.16b", ["cortex-a78", "neoverse-n2"]),
    ("dotprod", r"\budot\b", 16, "udot v{r}.4s, v14.16b, v15.4b[0]", ["cortex-a55", "cortex-a76"]),
    ("neon", r"\bsmlal2?\b", 4, "smlal v{r}.4s, v14.4h, v15.h[0]",
     ["cortex-a72", "cortex-a55", "cortex-a76"]),
]


def loops(lines):
    """Every loop: (label, body lines), the body from the label to the backward branch."""
    labels = {}
    for i, line in enumerate(lines):
        m = re.match(r"^(\.LBB\w+):", line)
        if m:
            labels[m.group(1)] = i
    found = []
    for i, line in enumerate(lines):
        m = re.match(r"^\s+(b(?:\.\w+)?|cbn?z|tbn?z)\s+.*?(\.LBB\w+)\s*$", line)
        if m and m.group(2) in labels and labels[m.group(2)] < i:
            start = labels[m.group(2)]
            body = [l for l in lines[start + 1:i + 1]
                    if l.strip() and not l.strip().startswith((".", "//")) and not l.startswith(".LBB")]
            found.append((m.group(2), body))
    return found


def cycles(asm, cpu, mca, iterations=200):
    out = subprocess.run(
        [mca, "-mtriple=aarch64", f"-mcpu={cpu}", "-mattr=+dotprod,+i8mm", f"-iterations={iterations}"],
        input=asm, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    return total / iterations


def main():
    path = sys.argv[1]
    mca = sys.argv[2] if len(sys.argv) > 2 else "llvm-mca"
    lines = open(path).read().splitlines()
    all_loops = loops(lines)
    print("| kernel | core | MAC instructions per loop | cycles per loop | MAC/cycle | peak MAC/cycle | of peak |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, pattern, macs, stream, cpus in KERNELS:
        count = lambda body: sum(1 for l in body if re.search(pattern, l))
        label, body = max(all_loops, key=lambda lb: count(lb[1]))
        n = count(body)
        if n == 0:
            print(f"| {name} | - | no loop found | | | | |")
            continue
        # Sixteen accumulators (v0-v7, v16-v23), none of them an operand.
        peak_asm = "\n".join(stream.format(r=r if r < 8 else r + 8) for r in range(16)) + "\n"
        for cpu in cpus:
            per_loop = cycles("\n".join(body) + "\n", cpu, mca)
            peak = 16 * macs / cycles(peak_asm, cpu, mca)
            rate = n * macs / per_loop
            print(f"| {name} | {cpu} | {n} | {per_loop:.1f} | {rate:.1f} | {peak:.1f} | {100 * rate / peak:.0f}% |")


if __name__ == "__main__":
    main()
