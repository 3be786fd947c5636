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


# Percent of reviews whose whole text belongs to the other side (the reviewer clicked the wrong
# star, or rated the seller rather than the product): label noise every real corpus has.
WRONG_SIDE = 4
HARD = {
    "positive": (v.NEGATED_NEGATIVE, v.TERSE_POSITIVE),
    "negative": (v.NEGATED_POSITIVE + v.SARCASM, v.TERSE_NEGATIVE),
    "neutral": (v.NEGATED_NEGATIVE + v.NEGATED_POSITIVE, v.TERSE_POSITIVE + v.TERSE_NEGATIVE),
}


def review_text(seed: int, rating: int, noun: str, noisy: bool) -> tuple[str, str]:
    """(reviewText, summary) expressing the rating's sentiment as real reviewers do: often
    plainly, but also through negation ("not bad at all"), sarcasm ("great, another one that
    broke"), terse verdicts, off-topic stories, mixed opinions (`noisy`: "great price, but it
    broke") and now and then the other side's text altogether (label noise). The mix is set so
    that TextBlob and a bag-of-words model find it about as hard as the real datathon reviews.
    """
    choices = Choices(seed)
    sentiment = sentiment_of(rating)
    if sentiment != "neutral" and choices.chance(WRONG_SIDE):
        sentiment = OPPOSITE[sentiment]
    openers, bodies, summaries = BANKS[sentiment]
    hard, terse = HARD[sentiment]
    other_bodies = BANKS[OPPOSITE[sentiment]][1]
    sentences = []
    if choices.chance(30):
        sentences.append(choices.pick(v.OFF_TOPIC))
    if choices.chance(20):
        sentences.append(choices.pick(terse))
    else:
        sentences.append(choices.pick(openers).format(noun=noun))
    length = choices.below(3) + (choices.below(8) if choices.chance(30) else 0)
    for _ in range(length):
        roll = choices.below(100)
        if noisy and roll < 60:
            sentences.append(choices.pick(other_bodies))
        elif roll < 20:
            sentences.append(choices.pick(hard).format(noun=noun))
        elif roll < 35:
            sentences.append(choices.pick(v.OFF_TOPIC))
        elif roll < 45:
            sentences.append(choices.pick(other_bodies))  # mixed: "the box was damaged, but..."
        else:
            sentences.append(choices.pick(bodies))
    if choices.chance(4):
        sentences.append("Size &amp; color as shown, &quot;true to size&quot;.")
    summary_bank = BANKS[OPPOSITE[sentiment]][2] if noisy and choices.chance(40) else summaries
    return " ".join(sentences), choices.pick(summary_bank)


def reviewer_name(seed: int) -> str:
    return Choices(seed ^ 0x5A5A).pick(v.FIRST_NAMES)
