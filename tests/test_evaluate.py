"""btr.evaluate: metrics, calibration, protocols that never score training data, suspects."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from btr.corpus import load_cases, write_cases
from btr.evaluate import evaluate, expected_calibration_error, find_suspects, head_metrics, table
from btr.models import load_model
from btr.schema import HEADS, label_names

NAMES = ["btr", "dismissal"]


def test_ece_is_zero_when_confidence_matches_accuracy():
    # 10 rows at 0.8 confidence, 8 of them right
    proba = np.tile([0.8, 0.2], (10, 1))
    truth = ["btr"] * 8 + ["dismissal"] * 2
    ece, bins = expected_calibration_error(truth, proba, NAMES)
    assert ece == pytest.approx(0.0)
    assert bins == [
        {"lo": pytest.approx(0.7), "hi": pytest.approx(0.8), "n": 10, "confidence": 0.8, "accuracy": 0.8}
    ]


def test_ece_of_an_overconfident_model():
    proba = np.tile([0.9, 0.1], (4, 1))
    ece, _ = expected_calibration_error(["btr", "btr", "dismissal", "dismissal"], proba, NAMES)
    assert ece == pytest.approx(0.4)


def test_head_metrics_per_class_and_confusion():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    result = head_metrics(["btr", "dismissal", "dismissal", "dismissal"], proba, NAMES)
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["per_class"]["btr"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "support": 1,
    }
    assert result["confusion"] == {"labels": NAMES, "matrix": [[1, 0], [1, 2]]}
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


@pytest.fixture
def model_dir(linear_model_dir, tmp_path):
    """A private copy: evaluate records its figures in the model's meta.json."""
    target = tmp_path / "model"
    shutil.copytree(linear_model_dir, target)
    return target


def test_cross_validation_report_files_and_card(model_dir, model_cases_path, tmp_path):
    out = tmp_path / "eval"
    report = evaluate(model_dir, data=model_cases_path, cv=3, out=out, quiet=True)
    assert report["key"] == "cv3" and "grouped by event" in report["protocol"]
    for head, h in report["heads"].items():
        assert h["n"] > 0
        assert 0 <= h["model"]["macro_f1"] <= 1 and 0 <= h["model"]["ece"] <= 1
        assert set(h) == {"n", "model", "keyword", "majority"}
        assert (out / f"reliability_{head}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"confusion_{head}.png").is_file()
    assert (out / "report.json").is_file()
    # the model beats the majority class on category even at this size
    assert (
        report["heads"]["category"]["model"]["macro_f1"] > report["heads"]["category"]["majority"]["macro_f1"]
    )
    model = load_model(model_dir)
    assert model.meta["metrics"]["cv3"]["heads"]["trigger"]["n"] == report["heads"]["trigger"]["n"]
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    assert f"{report['heads']['category']['model']['macro_f1']:.3f}" in card
    assert "category" in table(report)


def test_cv_needs_enough_events(model_dir, model_cases_path, tmp_path):
    few = tmp_path / "few.jsonl"
    cases = load_cases(model_cases_path)
    write_cases([c for c in cases if c.event_id in {cases[0].event_id, cases[-1].event_id}], few)
    from btr.errors import InputError

    with pytest.raises(InputError, match="at least 5 events"):
        evaluate(model_dir, data=few, cv=5, quiet=True, record=False)


def test_training_data_is_never_scored_directly(model_dir, model_cases_path):
    report = evaluate(model_dir, data=model_cases_path, quiet=True, record=False)
    assert report["key"] == "split"
    assert "fitted on the train+validation split" in report["protocol"]


def test_held_out_data_scores_the_saved_model(model_cases_path, tmp_path):
    from btr.models import train

    cases = sorted(load_cases(model_cases_path), key=lambda c: c.event_id)
    events = sorted({c.event_id for c in cases})
    held = set(events[::4])
    write_cases([c for c in cases if c.event_id not in held], tmp_path / "train.jsonl")
    write_cases([c for c in cases if c.event_id in held], tmp_path / "held.jsonl")
    train(out=tmp_path / "m", cases=tmp_path / "train.jsonl", quiet=True)
    report = evaluate(tmp_path / "m", data=tmp_path / "held.jsonl", quiet=True)
    assert report["key"] == "heldout"
    assert report["n_cases"] == sum(c.event_id in held for c in cases)
    assert "heldout" in load_model(tmp_path / "m").meta["metrics"]


def test_suspects_find_flipped_labels(model_dir, model_cases_path, tmp_path):
    cases = load_cases(model_cases_path)
    # Chinese officials' blame-taking resignations relabelled as private-company ones
    flipped = [c for c in cases if c.category.value == "btr" and c.country == "CN"][:4]
    noisy = [
        c.model_copy(update={"category": HEADS["category"]("non_public")}) if c in flipped else c
        for c in cases
    ]
    path = tmp_path / "noisy.jsonl"
    write_cases(noisy, path)
    report = evaluate(model_dir, data=path, cv=3, suspects=True, quiet=True, record=False)
    suspects = report["suspects"]
    assert {s["id"] for s in suspects} <= {c.id for c in cases}
    found = {s["id"] for s in suspects if s["head"] == "category" and s["given"] == "non_public"}
    assert found & {c.id for c in flipped}
    margins = [s["margin"] for s in suspects]
    assert margins == sorted(margins, reverse=True) and all(m > 0 for m in margins)


def test_find_suspects_uses_per_class_thresholds():
    # two cases of two rows each; case b is labelled btr but the model says dismissal
    ids = ["a", "a", "b", "b", "c", "c"]
    names = label_names(HEADS["category"])
    proba = {
        head: np.full((6, len(label_names(labels))), 1 / len(label_names(labels)))
        for head, labels in HEADS.items()
    }
    cat = np.zeros((6, len(names)))
    cat[:, names.index("btr")] = [0.9, 0.9, 0.1, 0.1, 0.2, 0.2]
    cat[:, names.index("dismissal")] = [0.1, 0.1, 0.9, 0.9, 0.8, 0.8]
    proba["category"] = cat
    y = {head: np.array([label_names(labels)[0]] * 6, dtype=object) for head, labels in HEADS.items()}
    y["category"] = np.array(["btr", "btr", "btr", "btr", "dismissal", "dismissal"], dtype=object)
    found = [s for s in find_suspects(ids, y, proba) if s["head"] == "category"]
    assert [(s["id"], s["suggested"]) for s in found] == [("b", "dismissal")]


def test_demo_steps_train_and_evaluate(model_cases_path, tmp_path):
    from btr.demo import step_evaluate, step_train

    model = tmp_path / "models" / "default"
    trained = step_train(tmp_path, corpus=model_cases_path, model=model)
    assert trained["card"] == model / "README.md"
    evaluated = step_evaluate(tmp_path, corpus=model_cases_path, model=model)
    assert "5-fold cross-validation grouped by event" in evaluated["table"]
    assert (tmp_path / "evaluation" / "confusion_category.png").is_file()
    assert "cv5" in load_model(model).meta["metrics"]
    assert "Floors (5-fold CV grouped by event" in (model / "README.md").read_text(encoding="utf-8")
