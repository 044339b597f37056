"""A named-entity tagger that learns from your annotations, for Chinese and English.

A linear-chain CRF (python-crfsuite) over tokens: every CJK character is a token, and
so is every run of other letters or digits (an English word, a number) and every other
symbol. Each token is tagged ``B-<label>``, ``I-<label>`` or ``O``; runs of tags become
``labels`` regions with character offsets into the task text.

What it learns from:

- the label config's ``<Labels>`` on a ``<Text>``, whatever the label names;
- Label Studio's export format: regions of type ``labels`` with ``{start, end, labels}``,
  from each task's last non-cancelled annotation. One with no region for the control
  (an empty ``result``) teaches "no entities here". Overlapping or nested spans are resolved before
  training: the longer span wins, then the one that starts first (:func:`resolve_overlaps`).

The features are chosen from the training texts: when at least 30% of their letters are
CJK, character features (the characters and character pairs in a ±2 window, character
types, a surname list, and how often each character pair occurs in the training texts:
a cheap stand-in for word boundaries); otherwise word features (the lower-cased words in a
±2 window, word shape, prefixes and suffixes). Both add a gazetteer: the entity strings
annotated in the training set, matched in the text. While training, each sentence sees
only the entities annotated in the other folds (5-fold), and one sentence in three sees
no gazetteer at all, so the model learns how far a gazetteer hit can be trusted and how
to find a name no gazetteer knows, as it must at prediction time.

Long texts are cut into sentences (and pieces of at most 200 tokens) for the CRF; the
offsets always point into the whole text.

Scores: each region's ``score`` is the CRF's marginal probability of its tags, averaged
over its tokens. The task's ``score`` is the lowest marginal probability of any tag in
the answer: the confidence of its least certain decision. It does not shrink with the
length of the text the way the whole sequence's probability does, so Label Studio's
uncertainty sampling (lowest score first) brings annotators the texts with a doubtful
entity rather than the longest texts.

Copy it into a backend with ``labelloop init my_backend --script ner_tagger.py``; it needs
``pip install python-crfsuite``.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pycrfsuite

from labelloop.sdk import LabelStudioModel, prediction, span_region, usable_annotations

MODEL_FILE = "model.crfsuite"
FEATURES_FILE = "features.json"

FOLDS = 5  # gazetteer folds while training
GAZETTEER_DROPOUT = 3  # every third training sentence is featurized without the gazetteer
CJK_SHARE = 0.3  # share of CJK letters above which character features are used
MAX_CHUNK = 200  # tokens per CRF sequence
MIN_GAZETTEER_CHARS = 2  # a single character is too ambiguous to be a gazetteer entry

Token = tuple[int, int, str]  # start, end (exclusive), token text
Span = tuple[int, int, str]  # start, end (exclusive), label

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
# A CJK character alone; a run of other letters and digits; any other non-space symbol.
_TOKEN = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+|\\S")
_IS_CJK = re.compile(f"[{_CJK}]")
_SENTENCE_END = frozenset("。！？!?；;…")
_CHINESE_NUMERALS = frozenset("〇零一二三四五六七八九十百千万亿两")
# The commonest Chinese surnames: a language fact that lets the tagger guess names whose
# surname it has not yet seen annotated.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史"
    "陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟"
    "殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游"
    "辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫"
    "费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明"
    "佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝"
    "区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普"
    "阙浦戈伏鹿薄邸雍辜羊乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅"
    "利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由")


class NerTagger(LabelStudioModel):
    """Tags entities in a ``<Text>`` with the labels of the config's ``<Labels>``."""

    # Stochastic gradient descent on the CRF's regularized likelihood (the objective
    # L-BFGS minimizes), 20 passes: as accurate as L-BFGS here in a third of the time,
    # and unlike the perceptron-style algorithms it trains the marginal probabilities
    # that the scores report (bench/ner.py compares them). Override in a subclass to tune.
    algorithm = "l2sgd"
    trainer_params: dict[str, Any] = {"c2": 0.1, "max_iterations": 20}  # noqa: RUF012

    def setup(self) -> None:
        self.control = self.label_config.control("labels")
        self.to_name = self.control.to_name[0]
        self.data_key = self.label_config.data_key(self.control)
        # Labels the config no longer names are dropped: Label Studio would reject them.
        self.allowed = set(self.control.labels)
        self.tagger: pycrfsuite.Tagger | None = None
        self.features: Features | None = None
        model_file = self.train_output.get("model_file")
        features_file = self.train_output.get("features_file")
        if model_file and features_file and Path(model_file).exists():
            self.tagger = pycrfsuite.Tagger()
            self.tagger.open(str(model_file))
            self.features = Features.load(Path(features_file))

    def predict(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None,
                **kwargs: Any) -> list[dict[str, Any]]:
        if self.tagger is None or self.features is None:  # untrained: suggest nothing
            return [prediction([], score=0.0) for _ in tasks]
        return [self._predict_text(_task_text(task, self.data_key)) for task in tasks]

    def _predict_text(self, text: str) -> dict[str, Any]:
        assert self.tagger is not None and self.features is not None
        allowed = self.allowed
        regions, task_score = [], 1.0
        tokens = tokenize(text)
        for first, end in chunks(text, tokens):
            piece = tokens[first:end]
            self.tagger.set(self.features.sequence(text, piece))
            tags = self.tagger.tag()
            marginals = [self.tagger.marginal(tag, i) for i, tag in enumerate(tags)]
            task_score = min(task_score, *marginals)
            for a, b, label in entities(tags):
                if allowed and label not in allowed:
                    continue
                start, stop = piece[a][0], piece[b][1]
                score = sum(marginals[a:b + 1]) / (b - a + 1)
                regions.append(span_region(self.control.name, self.to_name, start, stop,
                                           label, text=text[start:stop], score=score))
        return prediction(regions, score=task_score)

    def fit(self, tasks: list[dict[str, Any]], workdir: Path, **kwargs: Any) -> dict[str, Any]:
        examples = [(text, spans) for text, spans in
                    (self._example(task) for task in tasks) if spans is not None]
        if not examples:
            raise ValueError(f"none of the {len(tasks)} tasks has a usable annotation for "
                             f"<Labels name={self.control.name!r}>")
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        features = Features.learn(examples)
        _seed_crfsuite()
        trainer = pycrfsuite.Trainer(self.algorithm, verbose=False)
        trainer.set_params(self.trainer_params)
        for xseq, yseq in features.training_sequences(examples):
            trainer.append(xseq, yseq)
        model_file, features_file = workdir / MODEL_FILE, workdir / FEATURES_FILE
        trainer.train(str(model_file))
        if not model_file.exists():  # crfsuite reports a failed write by silence alone
            raise OSError(f"crfsuite did not write {model_file}")
        features.save(features_file)
        labels = sorted({label for _, spans in examples for *_, label in spans})
        return {"model_file": str(model_file), "features_file": str(features_file),
                "labels": labels, "mode": features.mode, "count": len(examples),
                "entities": sum(len(spans) for _, spans in examples),
                "algorithm": self.algorithm, "trainer_params": self.trainer_params}

    def _example(self, task: dict[str, Any]) -> tuple[str, list[Span] | None]:
        text = _task_text(task, self.data_key)
        return text, annotated_spans(task, self.control.name, self.control.labels, len(text))


def _seed_crfsuite(seed: int = 1) -> None:
    """Seed C's ``rand()``, which crfsuite uses to shuffle the training set each epoch.

    Otherwise a fit depends on how often ``rand()`` ran earlier in the process (another
    fit, say), and the same data can give a different model from one run to the next.
    """
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no libc handle here
        ctypes.CDLL(None).srand(seed)


# ---- reading annotations -------------------------------------------------------------

def _task_text(task: dict[str, Any], data_key: str) -> str:
    value = (task.get("data") or {}).get(data_key)
    return value if isinstance(value, str) else ""


def annotated_spans(task: dict[str, Any], from_name: str, labels: Iterable[str],
                    text_length: int) -> list[Span] | None:
    """The spans of the task's latest non-cancelled annotation, overlaps resolved.

    None when no annotation counts (none, or all cancelled). An annotation with an
    empty ``result`` counts: it says the text has no entities.
    """
    annotations = usable_annotations(task, with_result=False)
    if not annotations:
        return None
    allowed = set(labels)
    spans = [span for region in annotations[-1].get("result") or []
             if (span := _region_span(region, from_name, text_length)) is not None
             and (not allowed or span[2] in allowed)]
    return resolve_overlaps(spans)


def _region_span(region: Any, from_name: str, text_length: int) -> Span | None:
    if not isinstance(region, dict) or region.get("from_name") != from_name:
        return None
    value = region.get("value") or {}
    start, end, picked = value.get("start"), value.get("end"), value.get("labels") or []
    picked = [picked] if isinstance(picked, str) else picked
    if not (isinstance(start, int) and isinstance(end, int) and picked):
        return None  # e.g. a HyperText region (XPath offsets) or a region with no label
    start, end = max(0, start), min(text_length, end)
    return (start, end, str(picked[0])) if start < end else None


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans, sorted by start: the longer span wins, then the earlier.

    A tagger gives each character one tag, so nested or crossing annotations must be
    reduced to one layer. The outer span is the whole entity: 中国人民银行 is an
    organisation and the 中国 inside it part of its name; learning the inner spans would
    teach the tagger to cut organisation names apart. Between spans of the same length
    (crossing, or the same span labelled twice) the one that starts first wins, then the
    label that sorts first, so the choice never depends on the order of the regions.

    >>> resolve_overlaps([(0, 2, "LOC"), (0, 6, "ORG"), (5, 9, "PER"), (7, 9, "LOC")])
    [(0, 6, 'ORG'), (7, 9, 'LOC')]
    """
    kept: list[Span] = []
    for span in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0], s[2])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept)


# ---- tokens, chunks and tags ---------------------------------------------------------

def tokenize(text: str) -> list[Token]:
    """Tokens with their character offsets; whitespace separates and is dropped.

    >>> [t for *_, t in tokenize("江泽民 met Bill Gates, 1998年")]
    ['江', '泽', '民', 'met', 'Bill', 'Gates', ',', '1998', '年']
    """
    return [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def chunks(text: str, tokens: list[Token],
           tags: list[str] | None = None) -> Iterator[tuple[int, int]]:
    r"""Cut tokens into sentences of at most :data:`MAX_CHUNK` tokens for the CRF.

    Yields (first, end) token index ranges. A cut follows a sentence-ending mark or a
    line break; a piece that reaches MAX_CHUNK tokens is cut there. With ``tags``
    (training), no cut falls inside an entity, so each piece keeps its entities whole.

    >>> text = "他说。好\nOK"
    >>> list(chunks(text, tokenize(text)))
    [(0, 3), (3, 4), (4, 5)]
    """
    first = 0
    for i in range(len(tokens) - 1):
        if tags is not None and tags[i + 1].startswith("I-"):
            continue
        ends = tokens[i][2] in _SENTENCE_END or "\n" in text[tokens[i][1]:tokens[i + 1][0]]
        if ends or i + 1 - first >= MAX_CHUNK:
            yield first, i + 1
            first = i + 1
    if first < len(tokens):
        yield first, len(tokens)


def bio_tags(tokens: list[Token], spans: list[Span]) -> list[str]:
    """``B-``/``I-``/``O`` per token; a span tags every token it overlaps.

    >>> bio_tags(tokenize("Bill Gates met 江泽民"), [(0, 10, "PER"), (15, 18, "PER")])
    ['B-PER', 'I-PER', 'O', 'B-PER', 'I-PER', 'I-PER']
    """
    tags = ["O"] * len(tokens)
    starts, ends = [t[0] for t in tokens], [t[1] for t in tokens]
    for start, end, label in spans:
        first, stop = bisect.bisect_right(ends, start), bisect.bisect_left(starts, end)
        for i in range(first, stop):
            tags[i] = ("B-" if i == first else "I-") + label
    return tags


def entities(tags: list[str]) -> Iterator[tuple[int, int, str]]:
    """(first token, last token, label) for each entity in a tag sequence.

    ``I-X`` after ``O`` or after another label starts an entity, as ``B-X`` would.

    >>> list(entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]))
    [(0, 1, 'PER'), (3, 3, 'LOC'), (4, 4, 'LOC'), (5, 5, 'ORG')]
    """
    first, label = -1, ""
    for i, tag in enumerate([*tags, "O"]):
        continues = tag.startswith("I-") and tag[2:] == label and first >= 0
        if first >= 0 and not continues:
            yield first, i - 1, label
            first = -1
        if tag != "O" and not continues:
            first, label = i, tag[2:]


# ---- features ------------------------------------------------------------------------

def cjk_share(texts: Iterable[str]) -> float:
    """The share of CJK characters among the letters of ``texts`` (0 when no letters)."""
    letters = cjk = 0
    for text in texts:
        letters += sum(ch.isalpha() for ch in text)
        cjk += len(_IS_CJK.findall(text))
    return cjk / letters if letters else 0.0


class Gazetteer:
    """Entity strings seen annotated, matched in a text longest-first, left to right."""

    def __init__(self, entries: dict[str, str]) -> None:
        self.entries = entries  # entity string -> its commonest label
        # For each first token, the most tokens an entry starting with it has: a match
        # is only attempted where an entry can start, and only up to that length.
        self.reach: dict[str, int] = {}
        for entry in entries:
            tokens = tokenize(entry)
            if tokens:
                first = tokens[0][2]
                self.reach[first] = max(self.reach.get(first, 0), len(tokens))

    @classmethod
    def from_counts(cls, counts: Counter[tuple[str, str]]) -> Gazetteer:
        best: dict[str, tuple[int, str]] = {}
        # Sorted, so that on a tie the label sorted first wins (deterministic).
        for (entry, label), n in sorted(counts.items()):
            if len(entry) >= MIN_GAZETTEER_CHARS and n > best.get(entry, (0, ""))[0]:
                best[entry] = (n, label)
        return cls({entry: label for entry, (_, label) in best.items()})

    def tags(self, text: str, tokens: list[Token]) -> list[str]:
        """Per token: ``B``/``I``/``E`` + label inside a match, ``-`` outside any."""
        out = ["-"] * len(tokens)
        i = 0
        while i < len(tokens):
            length, label = self._match(text, tokens, i)
            if length == 1:
                out[i] = "S" + label
            elif length:
                out[i:i + length] = ["I" + label] * length
                out[i], out[i + length - 1] = "B" + label, "E" + label
            i += max(length, 1)
        return out

    def _match(self, text: str, tokens: list[Token], i: int) -> tuple[int, str]:
        reach = min(self.reach.get(tokens[i][2], 0), len(tokens) - i)
        start = tokens[i][0]
        for length in range(reach, 0, -1):
            label = self.entries.get(text[start:tokens[i + length - 1][1]])
            if label is not None:
                return length, label
        return 0, ""


class Features:
    """What the CRF sees of each token. Learned from the training set; saved as JSON."""

    def __init__(self, mode: str, gazetteer: dict[str, str], pairs: dict[str, int]) -> None:
        self.mode = mode  # "zh": character features; "en": word features
        self.gazetteer = Gazetteer(gazetteer)
        # zh: how often each pair of adjacent tokens occurs in the training texts.
        self.pairs = pairs

    @classmethod
    def learn(cls, examples: list[tuple[str, list[Span]]]) -> Features:
        texts = [text for text, _ in examples]
        mode = "zh" if cjk_share(texts) >= CJK_SHARE else "en"
        pairs: Counter[str] = Counter()
        if mode == "zh":
            for text in texts:
                pairs.update(_pairs(tokenize(text)))
        gazetteer = Gazetteer.from_counts(_entity_counts(examples))
        return cls(mode, gazetteer.entries, dict(pairs))

    @classmethod
    def load(cls, path: Path) -> Features:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(saved["mode"], saved["gazetteer"], saved["pairs"])

    def save(self, path: Path) -> None:
        saved = {"mode": self.mode, "gazetteer": self.gazetteer.entries, "pairs": self.pairs}
        path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")

    def training_sequences(self, examples: list[tuple[str, list[Span]]]
                           ) -> Iterator[tuple[list[tuple[str, ...]], list[str]]]:
        """(features, tags) per sentence piece, each seen as unseen data would be.

        A sentence of fold k is matched against the gazetteer of the other folds, and
        its pair counts leave out its own pairs: otherwise every training entity would be
        a gazetteer hit and every pair seen, and the CRF would learn to trust both blindly.
        Names that recur in every fold still would be, so one sentence in
        :data:`GAZETTEER_DROPOUT` gets no gazetteer at all: the CRF must also learn to
        find entities from their characters and context, as it must for new names.
        """
        folds = [examples[k::FOLDS] for k in range(FOLDS)]
        counts = [_entity_counts(fold) for fold in folds]
        total = sum(counts, Counter())
        blind = Gazetteer({})
        for fold, own_counts in zip(folds, counts, strict=True):
            gazetteer = Gazetteer.from_counts(total - own_counts)
            for i, (text, spans) in enumerate(fold):
                tokens = tokenize(text)
                tags = bio_tags(tokens, spans)
                own = Counter(_pairs(tokens)) if self.mode == "zh" else None
                seen = blind if i % GAZETTEER_DROPOUT == 0 else gazetteer
                for first, end in chunks(text, tokens, tags):
                    yield self.sequence(text, tokens[first:end], seen, own), tags[first:end]

    def sequence(self, text: str, tokens: list[Token], gazetteer: Gazetteer | None = None,
                 own: Counter[str] | None = None) -> list[tuple[str, ...]]:
        """The feature strings of each token (columns built whole, for speed).

        Each string is ``value|template``: value first, because crfsuite finds attribute
        strings by comparing them from the start, and distinct values make appending a
        training set about a third faster than ``template:value`` would.
        """
        words = [t[2] for t in tokens]
        columns = (_char_columns(words, self.pairs, own) if self.mode == "zh"
                   else _word_columns(words))
        hits = (self.gazetteer if gazetteer is None else gazetteer).tags(text, tokens)
        columns.append([h + "|g" for h in hits])
        return list(zip(*columns, strict=True))


def _entity_counts(examples: Iterable[tuple[str, list[Span]]]) -> Counter[tuple[str, str]]:
    return Counter((text[s:e], label) for text, spans in examples for s, e, label in spans)


def _pairs(tokens: list[Token]) -> Iterator[str]:
    return (a[2] + " " + b[2] for a, b in itertools.pairwise(tokens))


def _shift(values: list[str], d: int, pad: str) -> list[str]:
    """``values`` moved by ``d`` positions: element i is values[i + d], or ``pad``."""
    n = len(values)
    padded = [pad] * abs(d) + values + [pad] * abs(d)
    return padded[abs(d) + d:abs(d) + d + n]


def _char_type(token: str) -> str:
    ch = token[0]
    if ch in _CHINESE_NUMERALS or ch.isdigit():
        return "d"
    if _IS_CJK.match(ch):
        return "c"
    return "a" if ch.isalpha() else "p"


def _pair_bucket(count: int) -> str:
    # log-like buckets: never seen, once, a few times, often, very often
    return "0" if count <= 0 else "1" if count == 1 else "2" if count <= 3 \
        else "3" if count <= 10 else "4" if count <= 50 else "5"


def _char_columns(chars: list[str], pairs: dict[str, int],
                  own: Counter[str] | None) -> list[list[str]]:
    """Chinese: characters and character pairs in a ±2 window, character types,
    surnames, and how common the pairs with the neighbours are (a cheap word-boundary
    signal: a pair never seen in the training texts is more likely a new name)."""
    at = {d: _shift(chars, d, "<" if d < 0 else ">") for d in range(-2, 3)}
    columns = [[f"{c}|{d}" for c in at[d]] for d in range(-2, 3)]
    columns += [[f"{a}{b}|{d}{d + 1}" for a, b in zip(at[d], at[d + 1], strict=True)]
                for d in range(-2, 2)]
    types = [_char_type(c) for c in chars]
    columns.append([f"{a}{b}{c}|t" for a, b, c in
                    zip(_shift(types, -1, "_"), types, _shift(types, 1, "_"), strict=True)])
    surname = ["s" if c in _SURNAMES else "-" for c in chars]
    columns.append([f"{a}{b}{c}|s" for a, b, c in
                    zip(_shift(surname, -2, "_"), _shift(surname, -1, "_"), surname,
                        strict=True)])
    own = own or Counter()
    left = [_pair_bucket(pairs.get(p, 0) - own[p]) for p in
            (a + " " + b for a, b in zip(at[-1], chars, strict=True))]
    right = _shift(left, 1, "_")
    columns.append([f"{a}{b}|p" for a, b in zip(left, right, strict=True)])
    return columns


def _shape(word: str) -> str:
    """The word's letter classes, runs squeezed.

    >>> [_shape(w) for w in ("Paris", "NATO", "1998", "McDonald", "x-ray", "F16")]
    ['Xx', 'X', 'd', 'XxXx', 'x-x', 'Xd']
    """
    shape = re.sub("[0-9]+", "d", re.sub("[A-Z]+", "X", re.sub("[a-z]+", "x", word)))
    return shape if not _IS_CJK.search(shape) else "c"


def _word_columns(words: list[str]) -> list[list[str]]:
    """English: lower-cased words in ±2, word pairs, shapes in ±1, affixes."""
    lower = [w.lower() for w in words]
    at = {d: _shift(lower, d, "<" if d < 0 else ">") for d in range(-2, 3)}
    columns = [[f"{w}|{d}" for w in at[d]] for d in range(-2, 3)]
    columns += [[f"{a} {b}|{d}{d + 1}" for a, b in zip(at[d], at[d + 1], strict=True)]
                for d in (-1, 0)]
    shapes = [_shape(w) for w in words]
    columns += [[f"{s}|h{d}" for s in _shift(shapes, d, "_")] for d in (-1, 0, 1)]
    columns.append([f"{w[:3]}|p" for w in lower])
    columns.append([f"{w[-3:]}|x" for w in lower])
    return columns
