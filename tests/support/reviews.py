"""Short synthetic reviews whose sentiment a model learns at once: data for planting wrong
labels that the label audit must find."""

from __future__ import annotations

import random

GOOD = ["很好", "喜欢", "满意", "漂亮", "舒服", "推荐", "开心", "划算", "干净", "热情"]
BAD = ["很差", "失望", "难用", "退货", "生气", "太贵", "肮脏", "冷淡", "坏了", "后悔"]
POSITIVE, NEGATIVE = "积极", "消极"


def review(rng: random.Random, positive: bool) -> str:
    """Four words of one sentiment and a neutral one, shuffled."""
    words = [*rng.sample(GOOD if positive else BAD, 4), rng.choice(["这个", "东西", "店家"])]
    rng.shuffle(words)
    return "，".join(words)


def planted(count: int, flipped: set[int], seed: int = 7) -> list[tuple[int, str, str]]:
    """(number 1..count, text, given label) of ``count`` reviews; the numbers in
    ``flipped`` are given the wrong label."""
    rng = random.Random(seed)
    rows = []
    for n in range(1, count + 1):
        positive = rng.random() < 0.5
        given = positive != (n in flipped)
        rows.append((n, review(rng, positive), POSITIVE if given else NEGATIVE))
    return rows
