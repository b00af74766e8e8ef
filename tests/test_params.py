"""Hyper-parameters validated before training (btr train --config FILE --set NAME=VALUE)."""

import json

import pytest
from click.testing import CliRunner

from btr.cli import main
from btr.errors import InputError
from btr.models import LinearModel, TransformerModel, hyperparameters, parse_overrides
from btr.paths import DEFAULT_CORPUS


@pytest.mark.parametrize(("kind", "estimator"), [("linear", LinearModel), ("transformer", TransformerModel)])
def test_the_defaults_are_the_estimators_own(kind, estimator):
    defaults = {
        k: v for k, v in estimator().get_params().items() if k not in ("random_state", "quiet", "heads")
    }
    assert hyperparameters(kind) == defaults


def test_overrides_win_over_the_config_which_wins_over_the_defaults(tmp_path):
    config = tmp_path / "linear.toml"
    config.write_text('C = 30\nmin_df = 2\ncue_heads = ["category"]\n', encoding="utf-8")
    params = hyperparameters("linear", config=config, overrides=["C=3", "focus_heads=category,exit_status"])
    assert (params["C"], params["min_df"], params["cue_heads"]) == (3.0, 2, ("category",))
    assert params["focus_heads"] == ("category", "exit_status")
    assert params["lexicon"] == LinearModel().lexicon


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["C=0"], "C: Input should be greater than 0"),
        (["Cee=3"], "Cee: unknown field"),
        (["focus_heads=categroy"], "focus_heads: no head categroy"),
        (["calibrate=perhaps"], "calibrate: Input should be a valid boolean"),
        (["random_state=3"], "random_state: unknown field"),  # the seed is --seed
        (["C"], "expected NAME=VALUE"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(overrides, message):
    with pytest.raises(InputError, match=message):
        hyperparameters("linear", overrides=overrides)


def test_values_are_read_as_json_then_as_lists_then_as_text():
    assert parse_overrides(["a=3", "b=null", "c=x,y", "d=xlm-roberta-base", "e=[1, 2]"]) == {
        "a": 3,
        "b": None,
        "c": ["x", "y"],
        "d": "xlm-roberta-base",
        "e": [1, 2],
    }


def test_cli_trains_with_the_config_and_refuses_a_bad_one_before_training(tmp_path):
    cases = tmp_path / "cases.jsonl"
    lines = DEFAULT_CORPUS.read_text(encoding="utf-8").splitlines()
    cases.write_text("\n".join(lines[::8]) + "\n", encoding="utf-8")
    config = tmp_path / "params.json"
    config.write_text(json.dumps({"C": 2, "calibrate": False}), encoding="utf-8")
    runner = CliRunner()
    bad = runner.invoke(
        main, ["train", "--cases", str(cases), "--out", str(tmp_path / "bad"), "--set", "min_df=-1"]
    )
    assert bad.exit_code != 0 and "min_df: Input should be greater than or equal to 0" in bad.output
    assert not (tmp_path / "bad").exists()
    args = [
        "train",
        "--cases",
        str(cases),
        "--out",
        str(tmp_path / "m"),
        "--config",
        str(config),
        "--set",
        "C=4",
    ]
    ok = runner.invoke(main, [*args, "--quiet"])
    assert ok.exit_code == 0, ok.output
    params = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))["params"]
    assert (params["C"], params["calibrate"]) == (4.0, False)
