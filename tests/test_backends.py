"""The backend contract, run over every booster in the registry.

A new booster passes these tests with one backend class and one line in ``BACKENDS``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest

from boostobj import Rows, log_wealth, make_betting_market
from boostobj._backend import (
    BACKENDS,
    DaskRows,
    Trained,
    TrainSpec,
    get_backend,
    rounds_kept,
)
from boostobj.losses import get_loss
from boostobj.sklearn import ESTIMATORS


@pytest.fixture(scope="module")
def rows() -> tuple[Rows, Rows]:
    X, p, _ = make_betting_market(3000, random_state=0)
    return Rows.from_payoff(X[:2000], p[:2000]), Rows.from_payoff(X[2000:], p[2000:])


def _spec(name: str, **kw: object) -> TrainSpec:
    """What an estimator with small trees would hand its backend."""
    loss = get_loss("logistic")
    params = ESTIMATORS[name](n_jobs=1, learning_rate=0.1).booster_params()
    base = {"params": params, "loss": loss, "scale": 1.0, "threshold": 0.5, "stop_on_loss": True,
            "n_estimators": 60, "early_stopping_rounds": 5, "n_threads": 1}  # fmt: skip
    return TrainSpec(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(params=sorted(BACKENDS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_registry_finds_each_backend_once(name: str) -> None:
    backend = get_backend(name)
    assert backend is get_backend(name)
    assert backend.name == name and backend.model_file
    assert ESTIMATORS[name].booster_name == name
    with pytest.raises(ValueError, match="unknown booster 'nope'"):
        get_backend("nope")


def test_train_stops_early_and_keeps_the_best_round(name: str, rows: tuple[Rows, Rows]) -> None:
    train, valid = rows
    backend = get_backend(name)
    trained = backend.train(_spec(name), train, None, [(valid, None)])
    assert isinstance(trained, Trained)
    curves = next(iter(trained.evals_result.values()))
    loss_curve = np.asarray(curves["logistic_loss"])
    assert {"log_wealth", "logistic_loss"} <= set(curves)
    assert trained.n_rounds == int(np.argmin(loss_curve)) + 1 < 60  # cut at the best round
    margin = backend.margin(trained.booster, valid.X, None)
    assert margin.shape == (len(valid),) and np.isfinite(margin).all()
    shift = np.full(len(valid), 0.25)
    np.testing.assert_allclose(backend.margin(trained.booster, valid.X, shift), margin + 0.25,
                               rtol=1e-6, atol=1e-6)  # fmt: skip


def test_without_eval_sets_every_round_is_kept(name: str, rows: tuple[Rows, Rows]) -> None:
    trained = get_backend(name).train(_spec(name, n_estimators=7), rows[0], None, [])
    assert trained.n_rounds == 7


def test_save_and_load_give_the_same_margins(
    name: str, rows: tuple[Rows, Rows], tmp_path: Path
) -> None:
    backend = get_backend(name)
    trained = backend.train(_spec(name, n_estimators=10), rows[0], None, [])
    path = tmp_path / backend.model_file
    backend.save(trained.booster, path)
    loaded = backend.load(path)
    np.testing.assert_array_equal(backend.margin(loaded, rows[1].X, None),
                                  backend.margin(trained.booster, rows[1].X, None))  # fmt: skip


def test_pruning_callback_reports_every_round(name: str, rows: tuple[Rows, Rows]) -> None:
    backend = get_backend(name)
    seen: list[tuple[int, dict[str, float]]] = []
    callback = backend.pruning_callback(lambda step, values: seen.append((step, dict(values))))
    spec = _spec(name, n_estimators=8, early_stopping_rounds=None, callbacks=[callback])
    backend.train(spec, rows[0], None, [(rows[1], None)])
    assert [step for step, _ in seen] == list(range(8))
    assert all({"log_wealth", "logistic_loss"} <= set(values) for _, values in seen)


def test_search_space_default_point_and_estimator(name: str) -> None:
    backend = get_backend(name)
    point = backend.search_space(optuna.trial.FixedTrial(dict(backend.default_params)))
    assert point == dict(backend.default_params)
    est = ESTIMATORS[name](**backend.estimator_kwargs(point))
    assert est.learning_rate == point["learning_rate"]
    sampled = backend.search_space(optuna.create_study().ask())
    assert set(sampled) == set(point)


def test_rounds_kept_follows_the_boosters_rule() -> None:
    assert rounds_kept(np.array([1.0, 3.0, 2.0, 3.0, 2.5, 1.0]), 2) == (2, 4)
    assert rounds_kept(np.array([1.0, 2.0, 3.0]), 5) == (3, 3)


# -- Dask training: the same contract on a cluster ---------------------------------------------


@pytest.fixture(scope="module")
def weighted_rows(rows: tuple[Rows, Rows]) -> tuple[Rows, Rows]:
    train, valid = rows
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(train))
    return Rows.from_payoff(train.X, np.exp(train.log_p), sample_weight=w), valid


def _on_cluster(rows: Rows) -> DaskRows:
    """``rows`` as dask arrays in 3 uneven row blocks (so each of the 2 workers holds some)."""
    import dask.array as da

    n = len(rows)
    chunks = (n // 2, n // 3, n - n // 2 - n // 3)
    weight = None if rows.weight is None else da.from_array(rows.weight, chunks=(chunks,))
    return DaskRows(
        da.from_array(rows.X, chunks=(chunks, rows.X.shape[1])),
        da.from_array(rows.log_p, chunks=(chunks,)),
        weight,
    )


@pytest.mark.parametrize(
    ("stop_on_loss", "metric"), [(True, "logistic_loss"), (False, "log_wealth")]
)
def test_train_dask_stops_on_the_whole_eval_set(
    name: str, weighted_rows: tuple[Rows, Rows], client, stop_on_loss: bool, metric: str
) -> None:
    """Weighted rows on 2 workers, one eval set split over both: the curves are the whole eval
    set's (not one worker's share), early stopping keeps the best round of the watched one."""
    train, valid = weighted_rows
    loss = get_loss("logistic")
    spec = _spec(
        name, scale=loss.weight_scale(train.log_p, train.weight), stop_on_loss=stop_on_loss
    )
    backend = get_backend(name)
    trained = backend.train_dask(client, spec, _on_cluster(train), [_on_cluster(valid)])
    assert isinstance(trained, Trained)
    curves = {k: np.asarray(v) for k, v in trained.evals_result["valid_0"].items()}
    assert set(curves) == {"log_wealth", "logistic_loss"}
    best = np.argmin(curves[metric]) if stop_on_loss else np.argmax(curves[metric])
    assert trained.n_rounds == int(best) + 1 < 60  # cut at the best round
    assert len(curves[metric]) == min(trained.n_rounds + 5, 60)  # stopped 5 rounds later
    margin = backend.margin(trained.booster, valid.X, None)  # the kept rounds, on one machine
    kept = trained.n_rounds - 1
    assert curves["logistic_loss"][kept] == pytest.approx(
        loss.loss(margin, valid.log_p, scale=spec.scale).mean(), rel=1e-5
    )
    assert curves["log_wealth"][kept] == pytest.approx(
        log_wealth(valid.log_p, margin >= 0), abs=1e-4
    )


def test_train_dask_without_eval_sets_keeps_every_round(name: str, weighted_rows, client) -> None:
    trained = get_backend(name).train_dask(
        client, _spec(name, n_estimators=7), _on_cluster(weighted_rows[0]), []
    )
    assert trained.n_rounds == 7 and trained.evals_result == {}
