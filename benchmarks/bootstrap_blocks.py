"""What the guard's time blocks change on the two real tables.

The no-edge guard's bootstrap used to draw whole dates (football: whole matches) i.i.d., which
ignores serial dependence between consecutive dates. It now runs a stationary bootstrap over
the time-ordered per-date sums, with the mean block length chosen from their autocorrelation
(:func:`boostobj.stats.optimal_block_length`: Politis-White 2004 with the Patton-Politis-White
2009 correction). For each real table (``benchmarks/data``, see PROVENANCE.md) and each of its
chronological splits, this script reports:

- the lag-1 autocorrelation of take-all's per-group log-wealth series (the group sums of
  ``log p`` in time order), the block length chosen for it, and the 95% interval of
  take-all's log-wealth (= take-all minus take-none, the difference the guard bootstraps) with
  the old i.i.d. groups (``block_length=1``) and with the data-driven blocks, 2000 resamples
  (the guard's default);
- the guard's verdict (:func:`boostobj.guard.judge_policy`) on one fixed rule
  with a feature known at decision time, old against new, with both intervals' block lengths.
  The rules are picked a priori, not fitted: stocks ``ret_20d > 0`` (20-day momentum),
  football ``odds < 2`` (back the favourites). They only show the guard at work.

Groups: stocks ``date``, football ``match_id`` (as ``quality.py``). Run from the repository
root, in a few seconds::

    python -m benchmarks.bootstrap_blocks        # writes results/bootstrap_blocks.{json,md}
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

try:  # first: it sets OMP_WAIT_POLICY before any OpenMP runtime loads
    from benchmarks import common
    from benchmarks.quality import BLOCK_COLUMN, REAL
except ImportError:  # run as a plain script: benchmarks/ is sys.path[0]
    import common  # type: ignore[no-redef]
    from quality import BLOCK_COLUMN, REAL  # type: ignore[no-redef]

import numpy as np

from boostobj.guard import judge_policy
from boostobj.stats import BootstrapResult, bootstrap_log_wealth

RULES = {"stocks": ("ret_20d", ">", 0.0), "football": ("odds", "<", 2.0)}
SPLITS = ("train", "valid", "test")


def _interval(res: BootstrapResult) -> dict[str, float]:
    return {
        "estimate": res.estimate,
        "low": res.low,
        "high": res.high,
        "width": res.high - res.low,
        "block_length": res.block_length,
    }


def _verdict(take: Any, r: Any, groups: Any, n_boot: int, seed: int, **kw: Any) -> dict[str, Any]:
    rec = judge_policy(take, r, block=groups, n_boot=n_boot, seed=seed, **kw)
    return {
        "policy": rec.policy,
        "vs_take_all": _interval(rec.vs_take_all),
        "vs_take_none": _interval(rec.vs_take_none),
    }


def run_split(df: Any, table: str, split: str, n_boot: int, seed: int) -> dict[str, Any]:
    """Take-all's interval and the rule's verdict on one split, old blocks and new."""
    part = df[df["split"] == split]
    r = part["log_p"].to_numpy(dtype=np.float64)
    groups = part[BLOCK_COLUMN[table]].to_numpy()
    everything = np.ones(r.size, dtype=bool)
    kw = {"block": groups, "n_boot": n_boot, "seed": seed}
    old = bootstrap_log_wealth(r, everything, block_length=1.0, **kw)
    new = bootstrap_log_wealth(r, everything, block_length="auto", **kw)
    column, op, cut = RULES[table]
    x = part[column].to_numpy(dtype=np.float64)
    take = x > cut if op == ">" else x < cut
    sums = part.groupby(BLOCK_COLUMN[table], sort=False)["log_p"].sum().to_numpy()
    dev = sums - sums.mean()
    return {
        "n_rows": int(r.size),
        "n_groups": old.n_groups,
        "lag1_autocorrelation": float(dev[1:] @ dev[:-1] / (dev @ dev)),
        "take_all": {
            "old": _interval(old),
            "new": _interval(new),
            "width_ratio": (new.high - new.low) / (old.high - old.low),
        },
        "rule": {
            "n_taken": int(take.sum()),
            "old": _verdict(take, r, groups, n_boot, seed, block_length=1.0),
            "new": _verdict(take, r, groups, n_boot, seed),
        },
    }


def _cells(iv: dict[str, float]) -> str:
    return f"{iv['estimate']:.2f} [{iv['low']:.2f}, {iv['high']:.2f}]"


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# The guard's bootstrap on the real tables: i.i.d. groups against time blocks",
        "",
        common.generated_by("bootstrap_blocks.py", results),
        "",
        f"Take-all's log-wealth, 95% percentile interval, {results['n_boot']} resamples. "
        "Old: groups (stocks dates, football matches) drawn i.i.d. New: stationary bootstrap "
        "over the time-ordered group sums, mean block length (in groups) chosen from the "
        "data.",
        "",
        "| table | split | rows | groups | lag-1 autocorrelation | block length | old interval "
        "| new interval | width new / old |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for table, splits in results["tables"].items():
        for split, rec in splits.items():
            ta = rec["take_all"]
            lines.append(
                f"| {table} | {split} | {rec['n_rows']:,} | {rec['n_groups']:,} | "
                f"{rec['lag1_autocorrelation']:+.3f} | {ta['new']['block_length']:.2f} | "
                f"{_cells(ta['old'])} | {_cells(ta['new'])} | {ta['width_ratio']:.2f} |"
            )
    lines += [
        "",
        "The guard's verdict on a fixed rule (not fitted; stocks `ret_20d > 0`, football "
        f"`odds < 2`), {results['n_boot']} resamples: the model minus take-all and minus "
        "take-none, old and new (block lengths in brackets).",
        "",
        "| table | split | rows taken | verdict old | verdict new | minus take-all old | "
        "minus take-all new | minus take-none old | minus take-none new |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for table, splits in results["tables"].items():
        for split, rec in splits.items():
            old, new = rec["rule"]["old"], rec["rule"]["new"]
            cells = []
            for key in ("vs_take_all", "vs_take_none"):
                cells.append(_cells(old[key]))
                cells.append(f"{_cells(new[key])} ({new[key]['block_length']:.2f})")
            lines.append(
                f"| {table} | {split} | {rec['rule']['n_taken']:,} | {old['policy']} | "
                f"{new['policy']} | " + " | ".join(cells) + " |"
            )
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--n-boot", type=int, default=2000, help="resamples (default 2000, the guard's)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=common.HERE / "data")
    ap.add_argument("--out", type=Path, default=common.RESULTS, help="output folder")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tables: dict[str, dict[str, Any]] = {}
    for table, filename in REAL.items():
        df = pd.read_csv(args.data_dir / filename)
        tables[table] = {}
        for split in SPLITS:
            tables[table][split] = rec = run_split(df, table, split, args.n_boot, args.seed)
            ta = rec["take_all"]
            common.log(
                f"{table}/{split}: block length {ta['new']['block_length']:.2f}, take-all "
                f"width x{ta['width_ratio']:.2f}, rule {rec['rule']['old']['policy']} -> "
                f"{rec['rule']['new']['policy']}"
            )
    results = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        "n_boot": args.n_boot,
        "seed": args.seed,
        "rules": {k: " ".join(map(str, v)) for k, v in RULES.items()},
        "groups": BLOCK_COLUMN,
        **common.provenance("pandas"),
        "seconds": round(time.perf_counter() - t0, 1),
        "tables": tables,
    }
    common.write_results(
        args.out, "bootstrap_blocks", common.jsonable(results), render_markdown(results)
    )
    return results


if __name__ == "__main__":
    main()
