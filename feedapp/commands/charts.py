"""The charts of ``feedapp simulate --plot DIR``: PNG files drawn with matplotlib's Agg canvas.

Imported only when charts are asked for (matplotlib is then imported; no GUI backend, nothing from
Qt). The figures come from a ``feedapp.core.simulate.simulate`` report with its creators' side
(``feedapp.core.fame``): Lorenz curves of exposure, per-creator exposure over time, learning curves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from feedapp.core.fame import BLOCK


def write_plots(report: dict, out_dir: str | Path) -> list[Path]:
    """PNG charts of a ``simulate`` report: Lorenz curves, exposure over time, learning curves."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ValueError("--plot needs matplotlib (pip install matplotlib)") from e
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fame = report.get("fame") or {}
    written: list[Path] = []

    def save(fig, name: str) -> None:
        FigureCanvasAgg(fig)
        path = out / name
        fig.savefig(path, dpi=110, bbox_inches="tight")
        written.append(path)

    if fame:
        fig = Figure(figsize=(5.5, 5))
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="equal exposure")
        for p, f in fame.items():
            ax.plot(f["lorenz"]["creators"], f["lorenz"]["impressions"], lw=2, label=f"{p} (Gini {f['gini']:.2f})")
        ax.set_xlabel("share of creators (least exposed first)")
        ax.set_ylabel("share of impressions")
        ax.set_title("Exposure Lorenz curve")
        ax.legend(loc="upper left", fontsize=8)
        save(fig, "lorenz.png")

        fig = Figure(figsize=(5 * len(fame), 4))
        axes = fig.subplots(1, len(fame), sharey=True, squeeze=False)[0]
        for ax, (p, f) in zip(axes, fame.items()):
            ot = f["exposure_over_time"]
            series = ot["impressions"]
            nblocks = len(next(iter(series.values()), []))
            totals = np.maximum(np.sum([v for v in series.values()], axis=0), 1)
            x = [ot["block"] * (i + 0.5) for i in range(nblocks)]
            marked = set(f["breakouts"]) | ({f["newcomer"]["creator"]} if f["newcomer"] else set())
            for name, v in series.items():
                share = np.asarray(v) / totals
                if name in marked:
                    ax.plot(x, share, lw=2.2, label=name)
                else:
                    ax.plot(x, share, lw=0.8, color="0.7")
            ax.set_title(p)
            ax.set_xlabel("view")
            if marked:
                ax.legend(fontsize=7)
        axes[0].set_ylabel("share of impressions per block of 10 views")
        fig.suptitle("Per-creator exposure over time (breakouts and newcomer highlighted)")
        save(fig, "exposure_over_time.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for p in report.get("policies", []):
        curve = [np.nan if v is None else v for v in p["curve"]]
        ax.plot([BLOCK * (i + 0.5) for i in range(len(curve))], curve, marker="o", ms=3, label=p["ranker"])
    if "chance" in report:
        ax.axhline(report["chance"], color="grey", ls="--", lw=1, label="chance")
    ax.set_xlabel("view")
    ax.set_ylabel("share of clips from preferred topics")
    ax.set_ylim(0, 1)
    ax.set_title("Learning curves")
    ax.legend(fontsize=8)
    save(fig, "learning_curves.png")
    return written
