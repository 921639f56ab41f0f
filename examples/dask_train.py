"""Train boostobj models on a local Dask cluster and compare their test log-wealth.

Runs offline: a synthetic betting market (:func:`boostobj.datasets.make_betting_market`), a
``distributed.LocalCluster`` of worker processes, then :func:`boostobj.dask.fit_xgboost` and
:func:`boostobj.dask.fit_lightgbm`, each with early stopping on a validation set. Both return
ordinary fitted estimators, scored here on a held-out test set against taking every bet,
taking none and the Bayes policy (take a bet iff ``E[log p | x] > 0``)::

    python examples/dask_train.py --n-samples 50000 --n-workers 2

Needs ``pip install "dask[distributed]"``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the example; returns the test log-wealth of every policy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=50_000, help="training rows")
    parser.add_argument("--n-workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--n-estimators", type=int, default=400, help="upper bound on rounds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import dask.array as da
    from distributed import Client, LocalCluster

    import boostobj.dask as bd
    from boostobj.datasets import bayes_log_wealth, make_betting_market
    from boostobj.metrics import trivial_policies

    n = args.n_samples
    n_valid = max(n // 5, 1)
    X, p, expected = make_betting_market(n + n_valid + 4 * n, random_state=args.seed)
    train, valid, test = slice(0, n), slice(n, n + n_valid), slice(n + n_valid, None)
    r_test = np.log(p[test])

    def chunked(a: np.ndarray) -> da.Array:  # a few partitions per worker
        rows = max(len(a) // (2 * args.n_workers), 1)
        return da.from_array(a, chunks=(rows, *a.shape[1:]))

    results = {
        **{k: v for k, v in trivial_policies(r_test).items() if k != "perfect_foresight"},
        "bayes": bayes_log_wealth(r_test, expected[test]),
    }
    common = {
        "eval_set": [(chunked(X[valid]), chunked(p[valid]))],
        "n_estimators": args.n_estimators,
        "early_stopping_rounds": 50,
    }
    with (
        LocalCluster(
            n_workers=args.n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        X_train, p_train = chunked(X[train]), chunked(p[train])
        for name, fit, kwargs in [
            ("xgboost", bd.fit_xgboost, {"max_depth": 4}),
            ("lightgbm", bd.fit_lightgbm, {"num_leaves": 15}),
        ]:
            start = time.perf_counter()
            model = fit(client, X_train, p_train, **common, **kwargs)
            seconds = time.perf_counter() - start
            results[name] = model.score(X[test], p[test])
            print(f"{name}: {model.n_rounds_} rounds, scale {model.scale_:.4f}, {seconds:.1f} s")

    bayes = results["bayes"]
    print(f"\ntest log-wealth on {len(r_test)} bets (share of the Bayes policy):")
    for name, value in results.items():
        share = f"{value / bayes:7.1%}" if bayes > 0 else "    n/a"
        print(f"  {name:10s} {value:10.2f}  {share}")
    return results


if __name__ == "__main__":
    main()
