"""Deterministic text from an integer seed: review texts, summaries, names, product titles.

Each record carries one 63-bit seed drawn by the planner; every choice below is derived from it
with a small linear congruential generator. So a row's text is the same whichever worker
process writes it, which is what lets an exact duplicate in another folder be byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

from paisa_assets.generator import vocabulary as v

_MULTIPLIER = 6364136223846793005
_INCREMENT = 1442695040888963407
_MASK = (1 << 64) - 1


class Choices:
    """A tiny seeded generator: cheap to create per row, unlike numpy or `random.Random`."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = (seed * _MULTIPLIER + _INCREMENT) & _MASK

    def below(self, n: int) -> int:
        self.state = (self.state * _MULTIPLIER + _INCREMENT) & _MASK
        return (self.state >> 33) % n

    def pick(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent


BANKS = {
    "positive": (v.POSITIVE_OPENERS, v.POSITIVE_BODY, v.POSITIVE_SUMMARIES),
    "negative": (v.NEGATIVE_OPENERS, v.NEGATIVE_BODY, v.NEGATIVE_SUMMARIES),
    "neutral": (v.NEUTRAL_OPENERS, v.NEUTRAL_BODY, v.NEUTRAL_SUMMARIES),
}
OPPOSITE = {"positive": "negative", "negative": "positive", "neutral": "positive"}


def sentiment_of(rating: int) -> str:
    return "positive" if rating >= 4 else "negative" if rating <= 2 else "neutral"


def review_text(seed: int, rating: int, noun: str, noisy: bool) -> tuple[str, str]:
    """(reviewText, summary) expressing the rating's sentiment; `noisy` mixes in the opposite
    sentiment, as real reviewers do ("great price, but it broke")."""
    choices = Choices(seed)
    sentiment = sentiment_of(rating)
    openers, bodies, summaries = BANKS[sentiment]
    sentences = [choices.pick(openers).format(noun=noun)]
    length = 1 + choices.below(3) + (choices.below(8) if choices.chance(30) else 0)
    other_bodies = BANKS[OPPOSITE[sentiment]][1]
    for _ in range(length):
        bank = other_bodies if noisy and choices.chance(60) else bodies
        sentences.append(choices.pick(bank))
    if choices.chance(4):
        sentences.append("Size &amp; color as shown, &quot;true to size&quot;.")
    summary_bank = BANKS[OPPOSITE[sentiment]][2] if noisy and choices.chance(40) else summaries
    return " ".join(sentences), choices.pick(summary_bank)


def reviewer_name(seed: int) -> str:
    return Choices(seed ^ 0x5A5A).pick(v.FIRST_NAMES)
