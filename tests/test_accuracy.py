"""The founding example: it learns Chinese sentiment (floors just under the benchmark's
targets), its features are exactly scikit-learn's char_wb tf-idf, it predicts what the
scikit-learn pipeline it replaced predicted without importing scikit-learn, and it keeps
the model-script contract (untrained, empty text, plain-data model.pkl, features())."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labelloop.examples import simple_text_classifier as stc
from labelloop.examples.corpus import as_tasks, sentiment_corpus
from labelloop.examples.simple_text_classifier import SimpleTextClassifier

CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
          '<Choice value="积极"/><Choice value="消极"/></Choices></View>')
# Whitespace of every kind, case, a lone surrogate, characters beyond the BMP, a Greek
# final sigma: what lower-casing and word splitting can get wrong.
ODD_TEXTS = ["Hello  World\tfoo\u3000bar\n", "", "   ", "a", "İstanbul ΑΣ ΟΔΟΣ", "x\ud800y",
             "😀 emoji 🎉🎉", "很好很好很好", "\x1c\x1dsplit\x85here\xa0and\u2028there"]


def trained(pairs: list[tuple[str, str]], workdir: Path,
            config: str = CONFIG) -> tuple[SimpleTextClassifier, dict[str, Any]]:
    output = SimpleTextClassifier(config).fit(as_tasks(pairs), workdir)
    return SimpleTextClassifier(config, train_output=output), output


def accuracy(n_train: int, tmp_path: Path) -> float:
    pairs = sentiment_corpus(42)
    test, pool = pairs[:2000], pairs[2000:]
    tmp_path.mkdir()
    model, output = trained(pool[:n_train], tmp_path)
    assert Path(output["model_file"]) == tmp_path / "model.pkl"
    assert sorted(output["labels"]) == ["消极", "积极"] and output["count"] == n_train
    preds = model.predict(as_tasks(test, annotated=False))
    assert all(0.5 <= p["score"] <= 1.0 for p in preds)
    got = [p["result"][0]["value"]["choices"][0] for p in preds]
    return sum(g == y for g, (_, y) in zip(got, test, strict=True)) / len(test)


def test_accuracy_on_1000_and_10000_chinese_sentences(tmp_path: Path) -> None:
    # bench/accuracy.py: 0.803 and 0.889, the same as the scikit-learn pipeline.
    assert accuracy(1000, tmp_path / "a") >= 0.795
    assert accuracy(10000, tmp_path / "b") >= 0.875


def sklearn_columns(vectorizer: Any, vocabulary: np.ndarray) -> np.ndarray:
    """Our column of each of scikit-learn's features (an n-gram's key: its code points
    + 1, 21 bits each)."""
    keys = []
    for gram in vectorizer.get_feature_names_out():
        key = 0
        for ch in gram:
            key = (key << 21) | (ord(ch) + 1)
        keys.append(key)
    columns = np.searchsorted(vocabulary, keys)
    assert np.array_equal(vocabulary[columns], keys)
    return columns


def test_features_are_scikit_learns_char_wb_tfidf(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = [t for t, _ in sentiment_corpus(1)[:300]] + ODD_TEXTS + ["great product", "awful"]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
    expected = vectorizer.fit_transform(train)
    matrix, vocabulary, _ = stc.training_matrix(train)
    columns = sklearn_columns(vectorizer, vocabulary)
    assert abs(matrix[:, columns] - expected).max() < 1e-12

    model, _ = trained([(t, "积极" if i % 2 else "消极") for i, t in enumerate(train)], tmp_path)
    unseen = [t for t, _ in sentiment_corpus(2)[:200]] + ODD_TEXTS + ["", "unseen words"]
    features = model.features(as_tasks([(t, "") for t in unseen], annotated=False))
    assert features.shape == (len(unseen), vocabulary.size)
    assert abs(features[:, columns] - vectorizer.transform(unseen)).max() < 1e-6  # float32
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    assert np.allclose(norms[norms > 0], 1.0) and norms[:200].min() > 0


def test_predicts_what_the_scikit_learn_pipeline_predicted(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pairs = sentiment_corpus(3)
    train, test = pairs[:500], [t for t, _ in pairs[500:1100]] + ODD_TEXTS
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(C=stc.C, max_iter=1000)).fit(*zip(*train, strict=True))
    probs = pipeline.predict_proba(test)
    model, _ = trained(train, tmp_path)
    preds = model.predict(as_tasks([(t, "") for t in test], annotated=False))
    labels = [p["result"][0]["value"]["choices"][0] for p in preds]
    assert labels == list(pipeline.classes_[probs.argmax(axis=1)])
    assert np.allclose([p["score"] for p in preds], probs.max(axis=1), atol=1e-5)


def test_chunks_do_not_change_the_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    pairs = sentiment_corpus(2)
    model, _ = trained(pairs[:300], tmp_path)
    tasks = as_tasks([(t, "") for t, _ in pairs[300:700]] + [(t, "") for t in ODD_TEXTS],
                     annotated=False)
    batch = [p["score"] for p in model.predict(tasks)]
    monkeypatch.setattr(stc, "CHUNK_CHARS", 50)  # a chunk or more per text
    assert np.allclose([p["score"] for p in model.predict(tasks)], batch, rtol=1e-9)
    one_by_one = [model.predict([task])[0]["score"] for task in tasks[:50]]
    assert np.allclose(one_by_one, batch[:50], rtol=1e-9)


def test_english_works_too(tmp_path: Path) -> None:
    good = ["great product, love it", "excellent quality", "really happy with this", "love love"]
    bad = ["terrible, broke in a day", "awful quality", "really unhappy with this", "hate it"]
    pairs = [(t, "Positive") for t in good] + [(t, "Negative") for t in bad]
    config = CONFIG.replace("积极", "Positive").replace("消极", "Negative")
    model, _ = trained(pairs, tmp_path, config)
    preds = model.predict(as_tasks([("I love it, great", ""), ("awful, I hate it", "")],
                                   annotated=False))
    assert [p["result"][0]["value"]["choices"] for p in preds] == [["Positive"], ["Negative"]]


def test_three_labels(tmp_path: Path) -> None:
    config = CONFIG.replace('<Choice value="消极"/>',
                            '<Choice value="消极"/><Choice value="中性"/>')
    pairs = [("好看 喜欢", "积极"), ("很好", "积极"), ("难看 讨厌", "消极"), ("很差", "消极"),
             ("一般 还行", "中性"), ("普通", "中性")]
    model, output = trained(pairs, tmp_path, config)
    assert output["labels"] == sorted(["积极", "消极", "中性"])
    preds = model.predict(as_tasks([("喜欢 很好", ""), ("讨厌", ""), ("一般", ""), ("", "")],
                                   annotated=False))
    assert [p["result"][0]["value"]["choices"][0] for p in preds[:3]] == ["积极", "消极", "中性"]
    assert all(1 / 3 < p["score"] <= 1.0 for p in preds)


def test_prediction_shape_empty_text_and_missing_key(tmp_path: Path) -> None:
    model, _ = trained([("好", "积极"), ("差", "消极")], tmp_path)
    tasks = [{"id": 1, "data": {"text": ""}}, {"id": 2, "data": {}},
             {"id": 3, "data": {"text": None}}, {"id": 4, "data": {"text": 12345}},
             {"id": 5, "data": {"text": "完全没见过的字"}}]
    preds = model.predict(tasks)
    assert len(preds) == len(tasks)
    ids = set()
    for pred in preds:
        (region,) = pred["result"]
        assert isinstance(pred["score"], float) and region["score"] == pred["score"]
        assert 0.5 <= pred["score"] <= 1.0
        assert region["from_name"] == "sentiment" and region["to_name"] == "text"
        assert region["type"] == "choices" and region["value"]["choices"][0] in ("积极", "消极")
        ids.add(region["id"])
    assert len(ids) == len(tasks) and all(len(i) == 10 for i in ids)
    json.dumps(preds)  # plain JSON types only
    assert model.predict([]) == []


def test_untrained_and_missing_model_file(tmp_path: Path) -> None:
    tasks = as_tasks([("好", ""), ("", "")], annotated=False)
    for output in ({}, {"model_file": str(tmp_path / "gone" / "model.pkl")}):
        model = SimpleTextClassifier(CONFIG, train_output=output)
        assert model.predict(tasks) == [{"result": [], "score": 0.0}] * 2
        assert model.features(tasks).shape == (2, 0)


def test_fit_needs_two_labels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2 different labels"):
        SimpleTextClassifier(CONFIG).fit(as_tasks([("好", "积极")]), tmp_path)
    with pytest.raises(ValueError, match="at least 2 different labels"):
        SimpleTextClassifier(CONFIG).fit(as_tasks([("好", "积极")], annotated=False), tmp_path)
    with pytest.raises(ValueError, match="no text"):
        SimpleTextClassifier(CONFIG).fit(as_tasks([("", "积极"), (" ", "消极")]), tmp_path)


class _OnlyNumpy(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] not in ("numpy", "builtins"):
            raise AssertionError(f"model.pkl refers to {module}.{name}")
        return super().find_class(module, name)


def test_model_file_holds_plain_data(tmp_path: Path) -> None:
    _, output = trained([("好 好", "积极"), ("差 差", "消极")], tmp_path)
    saved = _OnlyNumpy(io.BytesIO(Path(output["model_file"]).read_bytes())).load()
    assert saved["format"] == stc.FORMAT and saved["classes"] == ["消极", "积极"]
    assert {k: type(v).__name__ for k, v in saved.items()} == {
        "format": "str", "classes": "list", "vocabulary": "ndarray", "idf": "ndarray",
        "coef": "ndarray", "intercept": "ndarray"}


def test_serves_a_model_the_scikit_learn_pipeline_saved(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(TfidfVectorizer(analyzer="char_wb"), LogisticRegression())
    pipeline.fit(["好 好", "差 差"], ["积极", "消极"])
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(pipeline))
    model = SimpleTextClassifier(CONFIG, train_output={"model_file": str(tmp_path / "model.pkl")})
    (pred,) = model.predict(as_tasks([("好", "")], annotated=False))
    assert pred["result"][0]["value"]["choices"] == ["积极"] and 0.5 < pred["score"] <= 1


def test_predicting_imports_neither_scikit_learn_nor_scipy(tmp_path: Path) -> None:
    _, output = trained(sentiment_corpus(1)[:200], tmp_path)
    code = f"""
import json, sys
from labelloop.examples.simple_text_classifier import SimpleTextClassifier
model = SimpleTextClassifier({CONFIG!r}, train_output=json.loads(sys.argv[1]))
preds = model.predict([{{"data": {{"text": "这本书很好看"}}}}, {{"data": {{}}}}])
assert len(preds) == 2 and preds[0]["result"], preds
print(sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy")))
"""
    result = subprocess.run([sys.executable, "-c", code, json.dumps(output)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_ngram_table_finds_exactly_its_keys() -> None:
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 1 << 62, 50_000))
    table = stc._NgramTable(keys)
    others = rng.integers(1, 1 << 62, 200_000)
    others = others[~np.isin(others, keys)]
    probe = np.concatenate([others, keys[::-1], np.zeros(3, dtype=np.int64)])
    at, slot = table.find(probe)
    assert np.array_equal(np.sort(at), np.arange(others.size, others.size + keys.size))
    assert np.array_equal(slot[np.argsort(at)], table.slot_of[::-1])
    assert np.unique(table.slot_of).size == keys.size


@pytest.mark.parametrize("hashed", [stc.HASHED_PAIRS, 100])  # 100: huge texts' path
def test_term_freq_counts_exactly(hashed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stc, "HASHED_PAIRS", hashed)
    rng = np.random.default_rng(3)
    for size, distinct in ((0, 1), (1, 1), (1000, 10), (50_000, 40_000), (50_000, 500)):
        pairs = rng.integers(0, distinct, size) * 0x10000 + 5
        _, inverse, counts = np.unique(pairs, return_inverse=True, return_counts=True)
        assert np.array_equal(stc._term_freq(pairs), counts[inverse])
