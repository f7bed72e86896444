"""Gantt chart of an F1 schedule: one row per device slot, transfers as arrows between devices,
and one row per shared link (lane) with its transfers as bars (solutions with ``transfers``)."""

from __future__ import annotations

from typing import Any

COLOURS = {"cpu": "#4C72B0", "gpu": "#55A868"}


def slot_rows(instance: Any, schedule: dict[str, dict]) -> dict[str, tuple[str, int]]:
    """Each operator's (device, slot): greedy interval partitioning by start time, which needs no
    more slots than the schedule's peak concurrency (checked by the evaluator)."""
    dur = {
        o.id: instance.duration_us(o, instance.device(schedule[o.id]["device"]))
        for o in instance.operators
    }
    free: dict[str, list[int]] = {d.id: [0] * d.slots for d in instance.devices}
    rows = {}
    for op_id in sorted(schedule, key=lambda o: (round(schedule[o]["start_ms"] * 1000), o)):
        dev = schedule[op_id]["device"]
        start = round(schedule[op_id]["start_ms"] * 1000)
        slot = next((k for k, t in enumerate(free[dev]) if t <= start), 0)
        free[dev][slot] = max(free[dev][slot], start + dur[op_id])
        rows[op_id] = (dev, slot)
    return rows


def lane_bars(instance: Any, solution: dict) -> dict[str, list[tuple[float, float, str]]]:
    """Transfers over shared links, by lane ("cpu0-gpu0"): (start ms, delay ms, "u->v")."""
    schedule = solution["schedule"]
    nbytes = {(e.src, e.dst): e.bytes for e in instance.edges}
    out: dict[str, list[tuple[float, float, str]]] = {}
    for x in solution.get("transfers") or []:
        u, v = x["edge"]
        a, b = schedule[u]["device"], schedule[v]["device"]
        delay = instance.transfer_us(a, b, nbytes[u, v]) / 1000
        out.setdefault("-".join(sorted((a, b))), []).append((x["start_ms"], delay, f"{u}->{v}"))
    return dict(sorted(out.items()))


def plot_gantt(instance: Any, solution: dict, path: str, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    schedule = solution["schedule"]
    ops = {o.id: o for o in instance.operators}
    kinds = {d.id: d.kind for d in instance.devices}
    rows = slot_rows(instance, schedule)
    lanes = lane_bars(instance, solution)
    labels = [(d.id, s) for d in instance.devices for s in range(d.slots)]
    labels += [("lane", name) for name in lanes]
    y = {lab: k for k, lab in enumerate(reversed(labels))}
    end = {
        o: schedule[o]["start_ms"]
        + instance.duration_us(ops[o], instance.device(schedule[o]["device"])) / 1000
        for o in schedule
    }
    makespan = max(end.values())
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.45 * len(labels)))
    label_room = makespan / 60  # only label bars wide enough for a few characters
    for op_id, (dev, slot) in rows.items():
        s, e = schedule[op_id]["start_ms"], end[op_id]
        ax.barh(
            y[dev, slot],
            e - s,
            left=s,
            height=0.7,
            color=COLOURS[kinds[dev]],
            edgecolor="white",
            linewidth=0.4,
        )
        text = ops[op_id].op_type or op_id
        if e - s > label_room * len(text) / 4:
            ax.text(
                (s + e) / 2,
                y[dev, slot],
                text,
                ha="center",
                va="center",
                fontsize=6,
                color="white",
                clip_on=True,
            )
    for name, bars in lanes.items():
        for start, delay, _ in bars:
            ax.barh(y["lane", name], delay, left=start, height=0.5, color="#C44E52",
                    edgecolor="white", linewidth=0.4)  # fmt: skip
    for edge in instance.edges:
        a, b = rows[edge.src], rows[edge.dst]
        if a[0] != b[0]:  # a transfer between devices: producer's end to consumer's start
            ax.annotate(
                "",
                xy=(schedule[edge.dst]["start_ms"], y[b]),
                xytext=(end[edge.src], y[a]),
                arrowprops={"arrowstyle": "->", "color": "#C44E52", "lw": 0.5, "alpha": 0.6},
            )
    ax.axvline(makespan, color="black", lw=1, ls="--")
    ax.text(makespan, len(labels) - 0.4, f" makespan {makespan:g} ms", fontsize=8, va="bottom")
    if solution.get("pattern") == "memory" and solution.get("slo_ms"):
        ax.axvline(solution["slo_ms"], color="#C44E52", lw=1)
        ax.text(
            solution["slo_ms"], -0.9, f" SLO {solution['slo_ms']:g} ms", fontsize=8, color="#C44E52"
        )
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(
        [
            f"lane {s}" if d == "lane" else f"{d} slot {s}" if instance.device(d).slots > 1 else d
            for d, s in reversed(labels)
        ]
    )
    ax.set_ylim(-1, len(labels))
    ax.set_xlabel(
        "time (ms); red arrows: transfers between devices"
        + ("; red bars: transfers on a shared link" if lanes else "")
    )
    ax.set_xlim(0, makespan * 1.08)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_solution_file(instance: Any, data: dict, path: str) -> None:
    """`optgap plot` for dag: check the schedule with the evaluator, then draw it."""
    from optgap.formulations.dag.evaluate import evaluate
    from optgap.solvers.errors import InputError

    ev = evaluate(instance, data["solution"])
    if not ev.feasible:
        raise InputError(f"the evaluator rejects this schedule: {ev.summary()}")
    title = (
        f"{instance.name or 'dag'}: {data.get('method', '?')} ({data.get('status', '?')}), "
        f"makespan {ev.metrics['makespan_ms']:g} ms"
    )
    plot_gantt(instance, data["solution"], path, title=title)
