"""The record of a ``boostobj tune`` run: ``report.json``, ``report.md`` and PNG plots.

The report only renders: every number and every plot comes from a
:class:`~boostobj.tuning.TuneResult`, whose evaluations each name their rows (the validation
rows that chose the model, the guard's held-out rows, the test rows) and carry the guard's
verdict there. :func:`build_report` collects them into one JSON-serialisable dict;
:func:`render_markdown` and the plots read that dict and the same evaluations, so the three
outputs never disagree.

matplotlib is imported only when a plot is drawn, and figures are drawn on the Agg canvas
directly (no ``pyplot``), so plotting needs no display and changes no global backend.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .guard import Evaluation, best_trivial
from .metrics import threshold_curve
from .persistence import write_file

if TYPE_CHECKING:
    import optuna
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .tuning import TuneResult

__all__ = [
    "PLOTS",
    "build_report",
    "plot_cumulative_log_wealth",
    "plot_optimization_history",
    "plot_threshold_curve",
    "render_markdown",
    "wealth_multiple",
    "write_report",
]

#: What each set of rows of :attr:`~boostobj.tuning.TuneResult.evaluations` is.
_ROW_SETS = {
    "valid": "validation rows that chose the hyperparameters and the threshold",
    "guard": "last validation rows, held out from every choice for the no-edge guard",
    "out_of_fold": (
        "train and guard rows, each decided by the cross-fitted member that did not train on "
        "it; the no-edge guard judges these where the rows are exchangeable"
    ),
    "test": "test rows, used for no choice",
}
#: The plots :func:`write_report` draws, by file name.
PLOTS = ("threshold_curve.png", "cumulative_log_wealth.png", "optimization_history.png")

_POLICY_LABELS = {
    "model": "model",
    "take_all": "take every row",
    "take_none": "take no row",
    "bayes": "Bayes policy (E[log p | x] > 0)",
}


def wealth_multiple(log_wealth: float) -> float:
    """``exp(log_wealth)``, or ``inf`` where that overflows a float."""
    try:
        return math.exp(log_wealth)
    except OverflowError:
        return math.inf


def _section(ev: Evaluation) -> dict[str, Any]:
    """One set of rows: how many, how many taken, log-wealth, the verdict given there."""
    log_wealth = ev.log_wealth
    return {
        "rows": _ROW_SETS.get(ev.rows, ev.rows),
        "n_rows": ev.n_rows,
        "n_taken": ev.n_taken,
        "log_wealth": log_wealth,
        "wealth_multiple": {k: wealth_multiple(v) for k, v in log_wealth.items()},
        "verdict": None if ev.verdict is None else ev.verdict.summary(),
    }


def _verdict(ev: Evaluation, leaks: list[str]) -> dict[str, Any]:
    """Did the model beat the better trivial policy on these rows, beyond noise? Rendered
    from the guard's verdict there (:func:`boostobj.guard.judge_policy`, a paired bootstrap
    in which rows that share a time are resampled together)."""
    assert ev.verdict is not None
    lw = ev.log_wealth
    best = best_trivial(ev.log_p)
    ci, level = ev.verdict.versus(best), ev.verdict.level
    beat = ci.estimate > 0
    interval = f"{100 * level:.0f}% bootstrap interval of the margin {ci.low:.4f} to {ci.high:.4f}"
    if ci.block_length > 1.0:
        interval += f" (time blocks of {ci.block_length:.3g} groups on average)"
    sentence = (
        f"On the {ev.n_rows} {ev.rows} rows the model {'beat' if beat else 'did not beat'} the "
        f"best trivial policy ({_POLICY_LABELS[best]}): log-wealth {lw['model']:.4f} against "
        f"{lw[best]:.4f}"
    )
    if beat and ci.above_zero():  # the judge's own rule
        sentence += f" ({interval}, above 0: the lead is unlikely to be luck)."
    elif beat:
        sentence += f", but the {interval} includes 0: the lead may be luck."
    else:
        taking = {"take_all": "Taking every row", "take_none": "Taking no row"}[best]
        sentence += (
            f" ({interval}). {taking} would have done at least as well: do not act on this model."
        )
    if ev.rows == "valid":
        sentence += (
            " There is no test split: these validation rows chose the threshold and the "
            "hyperparameters, so this comparison flatters the model."
        )
    if "bayes" in lw and lw["bayes"] > 0:
        sentence += (
            f" The Bayes policy earned {lw['bayes']:.4f} on the same rows; the model reached "
            f"{100 * lw['model'] / lw['bayes']:.0f}% of it."
        )
    if leaks:
        sentence += (
            f" But {', '.join(map(repr, leaks))} look{'s' if len(leaks) == 1 else ''} like "
            "a leak of the payoff (see the warnings): until it is left out, this result means "
            "nothing."
        )
    return {
        "split": ev.rows,
        "n_rows": ev.n_rows,
        "best_trivial": best,
        "beat_best_trivial": bool(beat),
        "margin": ci.estimate,
        "margin_interval": [ci.low, ci.high],
        "margin_interval_level": level,
        "margin_block_length": ci.block_length,
        "margin_p_not_better": ci.p_not_better,
        "sentence": sentence,
    }


def _study_section(study: optuna.Study) -> dict[str, Any]:
    from optuna.trial import TrialState

    trials = study.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    return {
        "name": study.study_name,
        "direction": study.direction.name.lower(),
        "n_trials": len(trials),
        "n_complete": len(complete),
        "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "best_trial": None if best is None else best.number,
        "best_value": None if best is None else float(best.value),  # type: ignore[arg-type]
    }


def build_report(result: TuneResult, *, run: dict[str, Any]) -> dict[str, Any]:
    """Collect a run's numbers into one JSON-serialisable dict (non-finite floats kept as floats).

    Every number comes from ``result`` (its :attr:`~boostobj.tuning.TuneResult.evaluations`),
    and each section states the rows it covers; nothing is predicted here.

    Args:
        result: what :func:`boostobj.tuning.tune` returned.
        run: how the run was set up (data, booster, storage, ...); stored under its own keys.
    """
    sections = {name: _section(ev) for name, ev in result.evaluations.items()}
    final = result.evaluations["test" if "test" in sections else "valid"]
    out = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **run,
        "method": result.method,
        "threshold": float(result.threshold),
        "best_params": dict(result.best_params),
        "refit_on_valid": result.holdout_model is not result.model,
        "n_members": len(getattr(result.model, "members_", [result.model])),
        "n_configs": int(getattr(result.model, "n_configs_", 1)),
        "members_early_stopped": _members_early_stopped(result.model),
        "study": {**_study_section(result.study), "storage": run.get("storage")},
        "valid": sections["valid"],
        "guard": sections.get("guard"),
        "out_of_fold": sections.get("out_of_fold"),
        "test": sections.get("test"),
        "verdict": _verdict(final, run["data"].get("suspected_leaks", [])),
        "recommendation": result.recommendation.summary(),
    }
    out["headline"] = _headline(out)
    return out


def _members_early_stopped(model: Any) -> bool:
    """Whether a cross-fitted model's members early-stopped on their held-out blocks."""
    members = getattr(model, "members_", [])
    return any(m.get_params().get("early_stopping_rounds") is not None for m in members)


def _jsonable(value: Any) -> Any:
    """Strict JSON: numpy scalars to Python, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- markdown -----------------------------------------------------------------------------------
def _num(x: float | None, fmt: str = ".4f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _threshold_text(t: float) -> str:
    if t >= 1:  # probabilities never exceed 1: the policy takes nothing
        return f"{t:g} (takes no row)"
    if t <= 0:
        return f"{t:g} (takes every row)"
    return f"{t:.4f}"


_POLICY_WORDS = {"model": "use the model", "take_all": "take every row", "take_none": "take no row"}


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    """The report's first line: the guard's recommendation, said plainly, never a bold "use
    the model" when a leak is suspected or the test rows disagree with the guard."""
    rec, verdict = report["recommendation"], report["verdict"]
    leaks = report["data"].get("suspected_leaks", [])
    policy = rec["policy"]
    final = report.get(verdict["split"]) or {}
    final_policy = (final.get("verdict") or {}).get("policy", policy)
    if leaks:
        caveat = "leak"
        text = (
            f"**Do not act on this run**: {', '.join(map(repr, leaks))} "
            f"look{'s' if len(leaks) == 1 else ''} like a leak of the payoff (see the "
            "warnings), so no number below means anything until it is left out. The guard's "
            f"verdict, for what it is worth: {_POLICY_WORDS[policy]} ({rec['reason']})."
        )
    elif verdict["split"] == "test" and (policy == "model") != (final_policy == "model"):
        caveat = "disagree"
        found = "found an edge" if policy == "model" else "found no edge"
        test = "shows none beyond noise" if policy == "model" else "show one beyond noise"
        text = (
            f"**The guard and the test rows disagree**: the guard {found} ({rec['reason']}), "
            f"but the {final.get('n_rows')} test rows {test}. The saved policy follows the "
            f"guard ({_POLICY_WORDS[policy]}); treat any edge as unproven."
        )
    else:
        caveat = None
        text = f"**{_POLICY_WORDS[policy].capitalize()}**: {rec['reason']}."
    return {"policy": policy, "caveat": caveat, "text": text}


#: The report's words for :attr:`boostobj.tuning.TuneResult.method`.
_METHOD_WORDS = {
    "two_part": (
        "two-part: each row's payoff if it wins and if it loses estimated by two cross-fitted "
        "regressions of log p, then a model of the win probability q; a row is taken when "
        "q log p_win + (1 - q) log p_loss > 0 (`--no-two-part`: learn from p directly)"
    ),
    "payoffs_known": (
        "payoffs known at decision time: a model of the win probability q; a row is taken "
        "when q log p_win + (1 - q) log p_loss > 0"
    ),
}


def _method_text(report: dict[str, Any]) -> str:
    """The report's "Method" line: what the model learned."""
    method = report.get("method", "surrogate")
    if method in _METHOD_WORDS:
        return _METHOD_WORDS[method]
    loss = (report.get("estimator_params") or {}).get("loss", "logistic")
    return f"the `{loss}` surrogate loss, learned from p directly"


def _fitted_on(report: dict[str, Any]) -> str:
    """Which rows trained the saved model, and how (the report's "Fitted on" line)."""
    if not report.get("refit_on_valid"):
        return "train, early-stopped on valid (`--fast`)"
    members, configs = report.get("n_members", 1), report.get("n_configs", 1)
    how = "`--refit`"
    if members > 1:
        per_trial = f"{members // configs} for each of the {configs} best trials, "
        stop = (
            "early-stopped on the block of rows it did not train on"
            if report.get("members_early_stopped", True)
            else "run for the holdout model's rounds, scaled to its rows"
        )
        how = (
            f"cross-fitted (`--cross-fit K`): the mean of {members} models, "
            f"{per_trial if configs > 1 else ''}each trained on all blocks of rows but one and "
            f"{stop}"
        )
    if report.get("out_of_fold"):
        judged = (
            "the validation numbers are those of the same parameters fitted on train only; "
            "the recommendation judged the members' out-of-fold decisions"
        )
    else:
        judged = (
            "the validation numbers and the recommendation are those of the same parameters "
            "fitted on train only"
        )
    return f"train + valid ({how}); {judged}"


def _log_wealth_table(report: dict[str, Any]) -> list[str]:
    """The log-wealth table: one column pair per set of rows, each headed by its row count."""
    splits = [s for s in ("valid", "guard", "out_of_fold", "test") if report.get(s) is not None]
    header = "| policy | " + " | ".join(
        f"{s} ({report[s]['n_rows']} rows) log-wealth | {s} wealth multiple" for s in splits
    )
    lines = [header + " |", "|---" * (1 + 2 * len(splits)) + "|"]
    for key, label in _POLICY_LABELS.items():
        if key not in report["valid"]["log_wealth"]:
            continue
        cells = []
        for s in splits:
            lw, mult = report[s]["log_wealth"][key], report[s]["wealth_multiple"][key]
            cells += [_num(lw), _num(mult, ".4g")]
        if key == "model":
            taken = ", ".join(f"{s}: {report[s]['n_taken']} taken" for s in splits)
            label += f" ({taken})"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- {s}: the {report[s]['rows']}." for s in splits]
    lines += [
        "",
        "The validation rows chose the threshold and the hyperparameters, so the model's "
        "validation log-wealth is optimistic; the guard's, the out-of-fold and the test rows "
        "chose nothing.",
        "",
    ]
    return lines


def render_markdown(report: dict[str, Any]) -> str:
    """``report.md``: the verdict, the data, the tuned model, a log-wealth table and the plots."""
    data, study = report["data"], report["study"]
    lines = [
        "# boostobj tune report",
        "",
        f"Created {report['created_utc']} with boostobj {report['boostobj_version']}.",
        "",
        "## Recommendation (decided before the test rows)",
        "",
        report["headline"]["text"],
        "",
        "## Verdict",
        "",
        report["verdict"]["sentence"],
        "",
        "## Data",
        "",
        f"- Source: {data['source']}",
        f"- Payoff column: `{data['payoff_column']}` (multiplier p > 0; 1 = break-even)",
        f"- Split: {data['split_method']}; rows "
        + ", ".join(f"{k} {v}" for k, v in data["n_rows"].items()),
        f"- Features ({len(data['features'])}): " + ", ".join(f"`{c}`" for c in data["features"]),
    ]
    if data.get("categorical_features"):
        lines.append(
            "- Categorical (text, split by level): "
            + ", ".join(f"`{c}`" for c in data["categorical_features"])
        )
    if data.get("ignored_columns"):
        why = data.get("ignored_why") or {}
        lines.append(
            "- Left out: "
            + ", ".join(
                f"`{c}` ({why[c]})" if c in why else f"`{c}`" for c in data["ignored_columns"]
            )
        )
    for warning in report.get("warnings", []):
        lines.append(f"- **Warning:** {warning}")
    lines += [
        "",
        "## Model",
        "",
        f"- Booster: {report['booster']}, at most {report['n_estimators']} trees",
        f"- Method: {_method_text(report)}",
        f"- Threshold: take a row when the predicted probability is >= "
        f"{_threshold_text(report['threshold'])}",
        f"- Best parameters: `{json.dumps(report['best_params'], sort_keys=True)}`",
        f"- Fitted on: {_fitted_on(report)}",
        f"- Trials: {study['n_trials']} ({study['n_complete']} complete, {study['n_pruned']} "
        f"pruned); best trial "
        f"{study['best_trial']} with value {_num(study['best_value'])}",
        f"- Study `{study['name']}` in `{study['storage']}`"
        + (f"; browse it with `optuna-dashboard {study['storage']}`" if study["storage"] else ""),
        f"- Model folder: `{report['model_dir']}`; apply it with "
        f"`boostobj predict {report['model_dir']} DATA --out predictions.csv` or load it with "
        f"`boostobj.load_model`",
        "",
        "## Log-wealth",
        "",
        "Log-wealth is the sum of log p over the rows taken; the wealth multiple is its exp.",
        "",
    ]
    lines += _log_wealth_table(report)
    plots = report.get("plots", [])
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{Path(p).stem.replace('_', ' ')}]({p})" for p in plots]
        lines.append("")
    return "\n".join(lines)


# -- plots --------------------------------------------------------------------------------------
def _figure(title: str) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def plot_threshold_curve(ev: Evaluation, threshold: float, path: str | Path) -> None:
    """Log-wealth of every threshold policy on ``ev``'s rows (the validation rows that chose
    the threshold, the same rows as the report's table), with the chosen threshold marked."""
    curve = threshold_curve(ev.score, ev.log_p)
    # Ascending thresholds; the infinite ends (take all / take none) drawn at the axis ends.
    x, y = curve.thresholds[::-1].copy(), curve.log_wealth[::-1]
    finite = x[np.isfinite(x)]
    lo = min(0.0, float(finite.min())) if finite.size else 0.0
    hi = max(1.0, float(finite.max())) if finite.size else 1.0
    x[x == -np.inf], x[x == np.inf] = lo, hi
    fig, ax = _figure(f"Log-wealth by threshold on the {ev.n_rows} {ev.rows} rows")
    ax.step(x, y, where="post", label="take rows with probability >= threshold")
    ax.axhline(0.0, color="grey", linestyle=":", label="take no row")
    ax.axhline(float(y[0]), color="tab:red", linestyle="--", label="take every row")
    ax.axvline(
        min(max(threshold, lo), hi),
        color="black",
        label=f"chosen threshold {threshold:.4g}",
    )
    ax.set_xlabel("threshold on predicted probability")
    ax.set_ylabel("log-wealth (sum of log p taken)")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=100)


def plot_cumulative_log_wealth(ev: Evaluation, path: str | Path) -> None:
    """Cumulative log-wealth over the rows (or over time) of the model, take-all and Bayes.

    With a time column, rows that share a time count as one step, drawn at that time.
    """
    n, time, split = ev.n_rows, ev.groups, ev.rows
    order = np.arange(n) if time is None else np.argsort(time, kind="stable")
    x = np.arange(1, n + 1) if time is None else time[order]
    last = np.append(x[1:] != x[:-1], True)  # the last row of each distinct time
    r = ev.log_p[order]
    curves = {  # label: (rows taken, None for all; colour)
        "model": (np.asarray(ev.take, dtype=bool)[order], "tab:blue"),
        "take every row": (None, "tab:red"),
    }
    if ev.expected_log_payoff is not None:
        curves["Bayes policy"] = (np.asarray(ev.expected_log_payoff)[order] > 0, "tab:green")
    fig, ax = _figure(f"Cumulative log-wealth on the {split} rows")
    for label, (take, color) in curves.items():
        wealth = np.cumsum(r if take is None else np.where(take, r, 0.0))
        ax.step(x[last], wealth[last], where="post", label=label, color=color, linewidth=1.2)
    ax.axhline(0.0, color="grey", linestyle=":", label="take no row")
    if np.issubdtype(x.dtype, np.datetime64):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel(f"{split} row" if time is None else "decision time")
    ax.set_ylabel("cumulative log-wealth")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=100)


def plot_optimization_history(study: optuna.Study, path: str | Path) -> None:
    """Value of each complete trial and the best value so far (pruned trials are counted only)."""
    from matplotlib.ticker import MaxNLocator
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from .tuning._study import CONFIG_ATTR

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    n_pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    number = np.array([t.number for t in done])
    value = np.array([t.value for t in done], dtype=np.float64)
    maximize = study.direction == StudyDirection.MAXIMIZE
    best = (np.fmax if maximize else np.fmin).accumulate(value) if value.size else value
    fig, ax = _figure(f"Optimisation history of study {study.study_name!r}")
    label = "complete trial" + (f" ({n_pruned} pruned trials not shown)" if n_pruned else "")
    ax.scatter(number, value, s=18, alpha=0.7, label=label)
    ax.step(number, best, where="post", color="tab:orange", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    config = study.user_attrs.get(CONFIG_ATTR) or {}
    on_loss = config.get("select_on") == "loss"
    ax.set_ylabel(f"trial value (validation {'minus loss' if on_loss else 'log-wealth'})")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=100)


def write_report(
    out_dir: str | Path,
    result: TuneResult,
    *,
    run: dict[str, Any],
    plots: bool = True,
    **deprecated: Any,
) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and (if ``plots``) the :data:`PLOTS` into ``out_dir``.

    The threshold plot uses the validation rows of the table, the cumulative plot the test
    rows (or the validation rows without them). Returns the report dict (as written, before
    non-finite floats become ``null``). ``valid=`` and ``test=`` of the previous release are
    ignored with a ``DeprecationWarning``: the report renders ``result.evaluations``.
    """
    if deprecated:
        import warnings

        unknown = sorted(set(deprecated) - {"valid", "test"})
        if unknown:
            raise TypeError(f"write_report() got an unexpected keyword argument {unknown[0]!r}")
        warnings.warn(
            "write_report(valid=..., test=...) is deprecated and ignored: the report renders "
            "result.evaluations",
            DeprecationWarning,
            stacklevel=2,
        )
    out = Path(out_dir)
    report = build_report(result, run=run)
    report["plots"] = []
    if plots:
        threshold_png, cumulative_png, history_png = (out / name for name in PLOTS)
        evaluations = result.evaluations
        plot_threshold_curve(evaluations["valid"], result.threshold, threshold_png)
        plot_cumulative_log_wealth(evaluations.get("test", evaluations["valid"]), cumulative_png)
        plot_optimization_history(result.study, history_png)
        report["plots"] = list(PLOTS)
    text = json.dumps(_jsonable(report), indent=2, allow_nan=False)
    write_file(out / "report.json", lambda tmp: tmp.write_text(text + "\n"), overwrite=True)
    markdown = render_markdown(report)
    write_file(out / "report.md", lambda tmp: tmp.write_text(markdown), overwrite=True)
    return report
