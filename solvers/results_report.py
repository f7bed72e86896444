"""`optgap report`: a results file (JSON lines from `optgap compare`) as a Markdown or HTML report
with tables and PNG figures, per family and objective pattern:

- gap to the optimum per method (box plot over instances, evaluator-checked runs only);
- solve time against instance size, log scale;
- share of instances proven optimal against size, per exact method;
- performance profiles (Dolan & Moré, Math. Program. 91, 2002): the share of instances on which
  a method is within a factor tau of the best, for solution quality (1 + gap to the optimum) and
  for the exact methods' time to a proven optimum;
- the worst case: the family's own picture (`Family.plot`: Gantt chart, Pareto front, ...) of the
  run with the largest gap.

The gap plot uses a symmetric-log scale (linear below 1 %), so a method with 0.1 % gaps stays
readable beside one with 300 %. An HTML report is one self-contained file: figures are embedded
as base64 PNGs and scale to the page width.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from optgap.solvers import registry
from optgap.solvers.compare import _inst_key, _mean_stat, gaps, read_records
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
    from optgap.solvers.progress import bar

    with bar(len(groups), "report", "section", every=0.0) as progress:
        for (fam_id, objective), rs in sorted(groups.items()):
            _section(doc, out, fam_id, objective, rs)
            progress.set_postfix_str(f"{fam_id} {objective}")
            progress.update(1)
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
    heur = [m for m in methods if any(math.isfinite(x) for x in by_method.get(m, []))]
    if heur:
        from matplotlib.lines import Line2D

        fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(heur) + 2), 3.8))
        data = [[100 * x for x in by_method[m] if math.isfinite(x)] for m in heur]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(heur) + 1), heur, rotation=30, ha="right")
        for i, d in enumerate(data, 1):  # every instance as a dot: boxes hide small samples
            ax.scatter(
                [i + 0.08 * ((j % 5) - 2) for j in range(len(d))], d, s=9, alpha=0.5, color="C0"
            )
        # symlog: linear within 1 %, logarithmic beyond, so small and huge gaps are both legible
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(bottom=min(0.0, *(min(d) for d in data if d)))
        ax.set_ylabel("gap to optimum (%, symlog)")
        ax.set_title(f"{fam_id} {objective}: gap per method ({len(g)} accepted runs)")
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(
            handles=[
                Line2D([], [], color="C1", label="median, box: quartiles, whiskers: 1.5 IQR"),
                Line2D([], [], marker="o", ls="", color="C0", alpha=0.5, label="one instance"),
            ],
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),  # outside the axes: never over a point
        )
        doc.figure(fig, out / f"{tag}-gap.png", "gap to the optimum per method")
        plt.close(fig)

    _profiles(doc, out, tag, fam_id, objective, rs, g, methods, plt)

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
        _integer_x(ax)
        ax.set_xlabel("instance size")
        ax.set_ylabel("median wall time (s, log)")
        ax.set_title(f"{fam_id} {objective}: time against size")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=2)
        doc.figure(fig, out / f"{tag}-time.png", "time against size")
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
            _integer_x(ax)
            ax.set_xlabel("instance size")
            ax.set_ylabel("proven optimal (%)")
            ax.set_title(f"{fam_id} {objective}: share proven optimal")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            doc.figure(fig, out / f"{tag}-proven.png", "share proven optimal against size")
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
            alt = f"worst case: {r['method']} on {r['instance']}, gap {pct(gap)}"
            if doc.fmt == "html":  # drawn to a scratch file, embedded, removed
                with tempfile.TemporaryDirectory() as tmp:
                    scratch = Path(tmp) / "worst.png"
                    fam.plot(inst, r, str(scratch))
                    doc.embed(scratch.read_bytes(), alt)
            else:
                path = out / f"{tag}-worst.png"
                fam.plot(inst, r, str(path))
                doc.image(path.name, alt)
        except (InputError, OSError) as e:
            doc.para(f"(worst case not drawn: {e})")


def _integer_x(ax) -> None:
    """Sizes and counts are integers: no 12.5 on the axis."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def performance_profile(
    ratios: Mapping[str, Sequence[float]], taus: Sequence[float]
) -> dict[str, list[float]]:
    """Dolan-Moré: for each method, the share of instances whose ratio to the best is <= tau.

    ``ratios[method][p]`` is the method's performance ratio on instance p (>= 1; inf when it
    failed there); every method lists the same instances in the same order.
    """
    out = {}
    for m, rs in ratios.items():
        n = len(rs)
        out[m] = [sum(1 for r in rs if r <= t) / n if n else 0.0 for t in taus]
    return out


def quality_ratios(
    g: list[tuple[dict, float, bool]], records: list[dict], methods: list[str]
) -> dict[str, list[float]]:
    """Ratio 1 + gap to the optimum per (method, instance); inf where the method has no
    accepted answer. Instances: those with a reference value (gaps() found one)."""
    by: dict[tuple[str, str], float] = {}
    insts: list[str] = []
    for r, gap, _ in g:
        k = _inst_key(r)
        if k not in insts:
            insts.append(k)
        by[r["method"], k] = 1.0 + max(0.0, gap)
    return {m: [by.get((m, k), math.inf) for k in insts] for m in methods}


def time_ratios(records: list[dict], methods: list[str]) -> dict[str, list[float]]:
    """Ratio of time to a proven optimum over the fastest proof, per (exact method, instance);
    inf where the method proved nothing (or its answer was rejected)."""
    t: dict[tuple[str, str], float] = {}
    insts: list[str] = []
    for r in records:
        k = _inst_key(r)
        if k not in insts:
            insts.append(k)
        if r["status"] == Status.OPTIMAL and r["evaluation"]["verdict"] == "feasible":
            t[r["method"], k] = max(float(r["time_s"]), 1e-4)  # a floor: 0 s would divide by 0
    out: dict[str, list[float]] = {m: [] for m in methods}
    for k in insts:
        best = min((t[m, k] for m in methods if (m, k) in t), default=None)
        for m in methods:
            out[m].append(math.inf if best is None or (m, k) not in t else t[m, k] / best)
    return out


def _profiles(doc, out, tag, fam_id, objective, rs, g, methods, plt) -> None:
    panels = []
    q = quality_ratios(g, rs, methods)
    if any(q.values()) and len(methods) > 1:
        panels.append(("solution quality: 1 + gap to the optimum", q, "all methods"))
    exact = [
        m for m in methods if any(r["stats"].get("kind") == "exact" for r in rs if r["method"] == m)
    ]
    tr = time_ratios(rs, exact)
    if len(exact) > 1 and any(math.isfinite(x) for v in tr.values() for x in v):
        panels.append(("time to a proven optimum / fastest", tr, "exact methods"))
    for title, ratios, who in panels:
        finite = [x for v in ratios.values() for x in v if math.isfinite(x)]
        hi = max(2.0, 1.05 * max(finite)) if finite else 2.0
        taus = [hi ** (i / 200) for i in range(201)]  # 1 .. hi, evenly on a log axis
        prof = performance_profile(ratios, taus)
        n = len(next(iter(ratios.values())))
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
        styles = ("-", "--", "-.", ":")
        for i, (m, ys) in enumerate(prof.items()):  # curves may coincide: vary the dashes too
            ax.step(taus, ys, where="post", label=m, ls=styles[i % 4], lw=1.6)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("factor tau of the best (log)")
        ax.set_ylabel(f"share of the {n} instances")
        ax.set_title(f"{fam_id} {objective}: performance profile, {title}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        slug = "quality" if who == "all methods" else "time"
        doc.figure(
            fig,
            out / f"{tag}-profile-{slug}.png",
            f"performance profile ({who}): share of instances within a factor tau of the best "
            f"{title.split(':')[0]}; the curve at tau = 1 is the share where the method is best",
        )
        plt.close(fig)


class _Doc:
    """Blocks rendered as Markdown (PNGs beside it) or as one self-contained HTML page."""

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

    def figure(self, fig, path: Path, alt: str) -> None:
        """A matplotlib figure: a PNG beside report.md, or embedded in the HTML page."""
        fig.tight_layout()
        if self.fmt == "html":
            import io

            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            self.embed(buf.getvalue(), alt)
        else:
            fig.savefig(path, dpi=110)
            self.image(path.name, alt)

    def embed(self, png: bytes, alt: str) -> None:
        data = base64.b64encode(png).decode("ascii")
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(alt)}</figcaption></figure>"
        )

    def render(self) -> str:
        if self.fmt == "html":
            style = (
                "body{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em}"
                "img{max-width:100%;height:auto}figure{margin:1em 0}"
                "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}"
                "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
            )
            return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(self.parts)}</body></html>\n"
        return "\n\n".join(self.parts) + "\n"
