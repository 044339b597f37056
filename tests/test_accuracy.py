"""The founding example learns Chinese sentiment (floors below the benchmark's targets)."""

from __future__ import annotations

from pathlib import Path

from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.examples.simple_text_classifier import SimpleTextClassifier

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')


def accuracy(n_train: int, tmp_path: Path) -> float:
    pairs = sentiment_corpus(42)
    test, pool = pairs[:2000], pairs[2000:]
    tmp_path.mkdir()
    output = SimpleTextClassifier(CONFIG).fit(as_tasks(pool[:n_train]), tmp_path)
    assert Path(output["model_file"]).exists() and sorted(output["labels"]) == ["消极", "积极"]
    model = SimpleTextClassifier(CONFIG, train_output=output)
    preds = model.predict(as_tasks(test, annotated=False))
    assert all(0.5 <= p["score"] <= 1.0 for p in preds)
    got = [p["result"][0]["value"]["choices"][0] for p in preds]
    return sum(g == y for g, (_, y) in zip(got, test, strict=True)) / len(test)


def test_accuracy_on_1000_and_10000_chinese_sentences(tmp_path: Path) -> None:
    assert accuracy(1000, tmp_path / "a") >= 0.77
    assert accuracy(10000, tmp_path / "b") >= 0.86


def test_english_works_too(tmp_path: Path) -> None:
    good = ["great product, love it", "excellent quality", "really happy with this", "love love"]
    bad = ["terrible, broke in a day", "awful quality", "really unhappy with this", "hate it"]
    pairs = [(t, "Positive") for t in good] + [(t, "Negative") for t in bad]
    config = CONFIG.replace("积极", "Positive").replace("消极", "Negative")
    output = SimpleTextClassifier(config).fit(as_tasks(pairs), tmp_path)
    model = SimpleTextClassifier(config, train_output=output)
    preds = model.predict(as_tasks([("I love it, great", ""), ("awful, I hate it", "")],
                                   annotated=False))
    assert [p["result"][0]["value"]["choices"] for p in preds] == [["Positive"], ["Negative"]]


def test_fit_needs_two_labels(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="at least 2 different labels"):
        SimpleTextClassifier(CONFIG).fit(as_tasks([("好", "积极")]), tmp_path)
