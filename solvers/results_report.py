"""`optgap report`: a results file (JSON lines from `optgap compare`) as a Markdown or HTML report
with tables and PNG figures, per family and objective pattern:

- gap to the optimum per method (box plot over instances, evaluator-checked runs only);
- solve time against instance size, log scale;
- share of instances proven optimal against size, per exact method;
- the worst case: the family's own picture (`Family.plot`: Gantt chart, Pareto front, ...) of the
  run with the largest gap.
"""

from __future__ import annotations

import html
import math
import statistics
from collections import defaultdict
from pathlib import Path

from optgap.solvers import registry
from optgap.solvers.compare import _mean_stat, gaps, read_records
from optgap.solvers.errors import InputError
from optgap.solvers.fields import refuse_nonempty_dir, write_text_new
from optgap.solvers.report import pct
from optgap.solvers.result import Status
from optgap.solvers.suite import load_plugins


def write_report(
    results: str | Path, out_dir: str | Path, *, fmt: str = "md", force: bool = False
) -> Path:
    records = list(read_records(results).values())
    if not records:
        raise InputError(f"{results}: no records")
    out = Path(out_dir)
    refuse_nonempty_dir(out, force)
    out.mkdir(parents=True, exist_ok=True)
    load_plugins(sorted({p for r in records for p in r.get("plugins", [])}))
    doc = _Doc(fmt)
    doc.heading(1, f"optgap report: {Path(results).name}")
    doc.para(
        f"{len(records)} runs. Gap = relative distance of a method's objective from the proven "
        "optimum of the same instance (or, marked *, from the best exact bound when no run proved "
        "optimality). Only runs whose solution the family's independent evaluator accepted count."
    )
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        groups[r["family"], r["options"]["objective"]].append(r)
    for (fam_id, objective), rs in sorted(groups.items()):
        _section(doc, out, fam_id, objective, rs)
    path = out / ("report.html" if fmt == "html" else "report.md")
    write_text_new(path, doc.render(), force=True)  # the folder was checked above
    return path


def _section(doc: _Doc, out: Path, fam_id: str, objective: str, rs: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fam = registry.family(fam_id)
    tag = f"{fam_id}-{objective}"
    doc.heading(2, f"{fam_id} · {objective} ({'maximise' if fam.sense == 'max' else 'minimise'})")
    doc.para(fam.title)
    g = gaps(rs)
    by_method: dict[str, list[float]] = defaultdict(list)
    proven_all = defaultdict(lambda: True)
    for r, gap, proven in g:
        by_method[r["method"]].append(gap)
        proven_all[r["method"]] &= proven
    methods = sorted({r["method"] for r in rs})
    rows = []
    for m in methods:
        mr = [r for r in rs if r["method"] == m]
        gm = by_method.get(m, [])
        mark = "" if proven_all[m] else "*"
        rows.append(
            [
                m,
                mr[0]["stats"].get("kind", "?"),
                str(len(mr)),
                str(sum(r["evaluation"]["verdict"] == "feasible" for r in mr)),
                str(sum(r["status"] == Status.OPTIMAL for r in mr)),
                pct(statistics.median(gm)) + mark if gm else "-",
                pct(statistics.fmean(gm)) + mark if gm else "-",
                pct(max(gm)) + mark if gm else "-",
                f"{statistics.median(r['time_s'] for r in mr):.3g}",
                str(sum(r["status"] in (Status.ERROR, Status.TIME_LIMIT) for r in mr)),
                str(sum(r["evaluation"]["verdict"] == "rejected" for r in mr)),
                _mean_stat(mr, "samples"),
            ]
        )
    doc.table(
        [
            "method",
            "kind",
            "runs",
            "accepted",
            "optimal",
            "median gap",
            "mean gap",
            "max gap",
            "median time s",
            "failed",
            "rejected",
            "samples",
        ],
        rows,
    )

    # gap distribution
    heur = [m for m in methods if by_method.get(m)]
    if heur:
        fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(heur) + 2), 3.6))
        data = [[100 * x for x in by_method[m]] for m in heur]
        ax.boxplot(data, showfliers=True)
        ax.set_xticks(range(1, len(heur) + 1), heur, rotation=30, ha="right")
        for i, d in enumerate(data, 1):  # every instance as a dot: boxes hide small samples
            ax.scatter([i + 0.08 * ((j % 5) - 2) for j in range(len(d))], d, s=9, alpha=0.5)
        ax.set_ylabel("gap to optimum (%)")
        ax.set_title(f"{fam_id} {objective}: gap per method ({len(g)} accepted runs)")
        ax.grid(axis="y", alpha=0.3)
        doc.image(_save(fig, out / f"{tag}-gap.png"), "gap to the optimum per method")
        plt.close(fig)

    sized = [r for r in rs if r.get("size") is not None]
    if sized:
        # time against size
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        for m in methods:
            pts = defaultdict(list)
            for r in sized:
                if r["method"] == m:
                    pts[r["size"]].append(max(r["time_s"], 1e-5))
            if pts:
                xs = sorted(pts)
                ax.plot(xs, [statistics.median(pts[x]) for x in xs], marker="o", label=m)
        ax.set_yscale("log")
        ax.set_xlabel("instance size")
        ax.set_ylabel("median wall time (s, log)")
        ax.set_title(f"{fam_id} {objective}: time against size")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=2)
        doc.image(_save(fig, out / f"{tag}-time.png"), "time against size")
        plt.close(fig)

        # share proven optimal against size
        exact = [
            m
            for m in methods
            if any(r["stats"].get("kind") == "exact" for r in sized if r["method"] == m)
        ]
        if exact:
            fig, ax = plt.subplots(figsize=(6.5, 3.4))
            for m in exact:
                per = defaultdict(list)
                for r in sized:
                    if r["method"] == m:
                        per[r["size"]].append(r["status"] == Status.OPTIMAL)
                xs = sorted(per)
                ax.plot(xs, [100 * sum(per[x]) / len(per[x]) for x in xs], marker="s", label=m)
            ax.set_ylim(-5, 105)
            ax.set_xlabel("instance size")
            ax.set_ylabel("proven optimal (%)")
            ax.set_title(f"{fam_id} {objective}: share proven optimal")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            doc.image(_save(fig, out / f"{tag}-proven.png"), "share proven optimal against size")
            plt.close(fig)

    # the worst case, in the family's own picture
    worst = max(
        (
            (r, gap)
            for r, gap, _ in g
            if r["stats"].get("kind") == "heuristic" and math.isfinite(gap)
        ),
        key=lambda x: x[1],
        default=None,
    )
    if worst is not None and fam.plot is not None:
        r, gap = worst
        from optgap.solvers.suite import build_instance

        try:
            inst = build_instance(fam_id, r["source"])
            path = out / f"{tag}-worst.png"
            fam.plot(inst, r, str(path))
            doc.image(
                path.name,
                f"worst case: {r['method']} on {r['instance']}, gap {pct(gap)}",
            )
        except (InputError, OSError) as e:
            doc.para(f"(worst case not drawn: {e})")


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name


class _Doc:
    """Blocks rendered as Markdown or as one self-contained-enough HTML page (PNGs beside it)."""

    def __init__(self, fmt: str):
        if fmt not in ("md", "html"):
            raise InputError(f"--format {fmt!r}: choose md or html")
        self.fmt = fmt
        self.parts: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.parts.append(
            f"<h{level}>{html.escape(text)}</h{level}>"
            if self.fmt == "html"
            else "#" * level + " " + text
        )

    def para(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>" if self.fmt == "html" else text)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        if self.fmt == "html":
            th = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            self.parts.append(f"<table><tr>{th}</tr>{body}</table>")
        else:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            self.parts.append("\n".join(lines))

    def image(self, name: str, alt: str) -> None:
        self.parts.append(
            f'<p><img src="{html.escape(name)}" alt="{html.escape(alt)}"><br>{html.escape(alt)}</p>'
            if self.fmt == "html"
            else f"![{alt}]({name})"
        )

    def render(self) -> str:
        if self.fmt == "html":
            style = "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
            return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(self.parts)}</body></html>\n"
        return "\n\n".join(self.parts) + "\n"
