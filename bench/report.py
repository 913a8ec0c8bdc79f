"""Turn peers.py's results.json into a markdown table of ratios and a latency chart (PNG).

Usage: python bench/report.py [--out DIR]   (reads DIR/results.json, writes DIR/table.md and
DIR/latency.png)
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ["numpy-vector-store", "faiss IndexFlatIP", "usearch exact"]


def ms(s):
    return f"{s * 1e3:.3f}" if s < 0.01 else f"{s * 1e3:.2f}" if s < 1 else f"{s * 1e3:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    out = Path(args.out)
    doc = json.loads((out / "results.json").read_text())
    cells = defaultdict(dict)
    for r in doc["results"]:
        key = (r["rows"], r["dims"])
        name = r["system"] if r["system"] != "nvs" else f"nvs {r['metric']} {'norm' if r['normalize'] else 'raw'}"
        cells[key][name] = r["seconds"]

    lines = [
        "| rows x dims | read floor ms (best of 1-8 streams) | nvs cosine ms | nvs worst of 6 / floor | "
        + " | ".join(f"{p} ms (x nvs)" for p in PEERS) + " |",
        "|---" * (4 + len(PEERS)) + "|",
    ]
    for (rows, dims) in sorted(cells, key=lambda k: (k[1], k[0])):
        c = cells[(rows, dims)]
        floor = c["scan floor"]
        ours = [v for k, v in c.items() if k.startswith("nvs ")]
        cos = c["nvs cosine norm"]
        row = [f"{rows:,} x {dims}", ms(floor), ms(cos), f"{max(ours) / floor:.2f}"]
        for p in PEERS:
            row.append(f"{ms(c[p])} ({c[p] / cos:.1f}x)" if p in c else "-")
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines) + "\n"
    detail = ["", "| rows x dims | " + " | ".join(f"nvs {m} {n}" for n in ("norm", "raw") for m in ("cosine", "dot", "euclidean")) + " |",
              "|---" * 7 + "|"]
    for (rows, dims) in sorted(cells, key=lambda k: (k[1], k[0])):
        c = cells[(rows, dims)]
        detail.append(f"| {rows:,} x {dims} | " + " | ".join(
            f"{ms(c[f'nvs {m} {n}'])} ({c[f'nvs {m} {n}'] / c['scan floor']:.2f}x)"
            for n in ("norm", "raw") for m in ("cosine", "dot", "euclidean")) + " |")
    table += "\n".join(detail) + "\n"
    (out / "table.md").write_text(table)
    print(table)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims_list = sorted({d for _, d in cells})
    fig, axes = plt.subplots(1, len(dims_list), figsize=(5 * len(dims_list), 4.2), squeeze=False)
    for ax, dims in zip(axes[0], dims_list):
        rows_list = sorted(r for r, d in cells if d == dims)
        for name, style in [("scan floor", "k--"), ("nvs cosine norm", "o-"), *[(p, "s-") for p in PEERS]]:
            pts = [(r, cells[(r, dims)][name]) for r in rows_list if name in cells[(r, dims)]]
            if pts:
                label = "nvs (cosine)" if name == "nvs cosine norm" else name
                ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], style, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{dims} dims, top 10, one thread")
        ax.set_xlabel("rows")
        ax.set_ylabel("latency per query (ms)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    print(f"wrote {out / 'table.md'} and {out / 'latency.png'}")


if __name__ == "__main__":
    main()
