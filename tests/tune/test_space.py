"""The search space registry: what each task searches, fixed options, conditional dropout."""

import optuna
import pytest

from lstmkit.tune.space import CELLS, SPACES, Param, describe_space, search_space, suggest


def _names(space):
    return [p.name for p in space]


def test_each_task_searches_the_issue_hyperparameters():
    common = ["hidden", "layers", "cell", "dropout", "lr", "batch_size"]
    assert set(_names(search_space("classify"))) == {*common, "bidirectional", "head_dropout"}
    forecast = search_space("forecast", context={"season": 12, "max_lookback": 40})
    assert set(_names(forecast)) == {*common, "bidirectional", "head_dropout", "lookback"}
    assert set(_names(search_space("textgen"))) == set(common)  # a language model reads forward
    cell = next(p for p in search_space("classify") if p.name == "cell")
    assert cell.choices == CELLS == ("lstm", "peephole", "coupled", "gru", "layernorm")
    assert set(SPACES) == {"classify", "forecast", "textgen"}


@pytest.mark.parametrize(
    ("season", "longest", "lookbacks"),
    [(12, 30, (12, 24)), (12, 10_000, (12, 24, 36, 48)), (1, 1000, (8, 16, 24, 32)),
     (24, 10, (24,))],
)  # fmt: skip
def test_forecast_lookback_is_whole_seasons_that_fit(season, longest, lookbacks):
    space = search_space("forecast", context={"season": season, "max_lookback": longest})
    assert next(p for p in space if p.name == "lookback").choices == lookbacks


def test_forecast_context_keeps_training_windows_on_airline():
    from lstmkit.tune.tasks import TASKS

    context = TASKS["forecast"].context({"source": "airline"}, {})
    assert context["season"] == 12 and context["rows"] == 144
    assert 24 <= context["max_lookback"] < 36  # 36 + 12 leaves training too few rows
    longer = TASKS["forecast"].context({"source": "airline"}, {"horizon": 6})
    assert longer["max_lookback"] >= 36


def test_fixed_options_leave_the_space_and_decide_conditions():
    fixed = {"hidden": 32, "lr": 1e-3, "lookback": 24}
    space = search_space("forecast", fixed, {"season": 12, "max_lookback": 40})
    assert not {"hidden", "lr", "lookback"} & set(_names(space))
    assert "dropout" not in _names(search_space("classify", {"layers": 1}))
    assert "dropout" in _names(search_space("classify", {"layers": 3}))


def test_dropout_is_suggested_only_for_stacked_layers():
    space = search_space("textgen", {"hidden": 8, "cell": "gru", "lr": 1e-3, "batch_size": 8})
    one = optuna.trial.FixedTrial({"layers": 1})  # a dropout suggestion would raise here
    assert suggest(one, space) == {"layers": 1}
    two = optuna.trial.FixedTrial({"layers": 2, "dropout": 0.25})
    assert suggest(two, space) == {"layers": 2, "dropout": 0.25}


def test_param_checks_and_description():
    with pytest.raises(ValueError, match="kind must be one of int, float, categorical"):
        Param("x", "weird")
    with pytest.raises(ValueError, match="needs choices"):
        Param("x", "categorical")
    with pytest.raises(ValueError, match="needs low and high"):
        Param("x", "float", low=0.0)
    with pytest.raises(ValueError, match="task must be one of"):
        search_space("regress")
    lines = describe_space(search_space("classify"))
    assert "lr             0.0001 .. 0.01 (log)" in lines
    assert any(line.startswith("dropout") and "[when layers > 1]" in line for line in lines)
