"""JSON records for one planned line: a review or a product, valid or deliberately broken."""

from __future__ import annotations

from typing import Any

from paisa_assets.generator import vocabulary as v
from paisa_assets.generator.plan import (
    BAD_RATING,
    EXACT_DUPLICATE,
    MALFORMED,
    NEAR_DUPLICATE,
    NO_ASIN,
    NO_REVIEWER,
)
from paisa_assets.generator.text import Choices, review_text, reviewer_name

ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
IMAGE_HOST = "https://images-na.ssl-images-amazon.com"
SCATTER_MULTIPLIER = 6_364_136_223_846_793_007  # gcd with 30 is 1


def _code(number: int, length: int, alphabet: str = ALPHANUMERIC) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits))


def _scatter(index: int, modulus: int) -> int:
    """A bijection of 0..modulus-1 (the multiplier is prime to 2, 3 and 5, the only prime
    factors of the moduli used), so distinct indexes give distinct, random-looking identifiers."""
    return (index * SCATTER_MULTIPLIER + 97_531) % modulus


def asin_of(product: int, seed: int) -> str:
    """Ten characters like the real ones: "B0" + 8 alphanumerics, or 10 digits for a book."""
    if seed % 10 == 0:
        return _code(_scatter(product, 10**10), 10, "0123456789")
    return "B0" + _code(_scatter(product, 36**8), 8)


def reviewer_of(user: int) -> str:
    return "A" + _code(_scatter(user, 36**13), 13)


def review_time_text(epoch: int) -> str:
    """The source's "MM D, YYYY", e.g. "09 5, 2015" (month padded, day not)."""
    import datetime as dt

    day = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return f"{day.month:02d} {day.day}, {day.year}"


def review_record(
    *,
    user: int,
    product: int,
    product_seed: int,
    category: int,
    rating: int,
    time: int,
    seed: int,
    noisy: bool,
    kind: int,
) -> dict[str, Any]:
    choices = Choices(seed)
    _, _, nouns, style_keys = v.CATEGORIES[category]
    noun = nouns[choices.below(len(nouns))]
    text, summary = review_text(seed, rating, noun, noisy)
    record: dict[str, Any] = {
        "overall": float(rating),
        "verified": choices.chance(85),
        "reviewTime": review_time_text(time),
        "reviewerID": reviewer_of(user),
        "asin": asin_of(product, product_seed),
        "reviewerName": reviewer_name(seed),
        "reviewText": text,
        "summary": summary,
        "unixReviewTime": time,
    }
    if choices.chance(15):
        votes = 2 + choices.below(40) if not choices.chance(3) else 1000 + choices.below(4000)
        record["vote"] = f"{votes:,}"
    if choices.chance(45):
        record["style"] = {
            key: v.STYLE_VALUES[key][choices.below(len(v.STYLE_VALUES[key]))]
            for key in style_keys[: 1 + choices.below(len(style_keys))]
        }
    if choices.chance(2):
        record["image"] = [
            f"{IMAGE_HOST}/images/I/{_code(seed + i, 11)[-11:]}._SY88.jpg"
            for i in range(1 + choices.below(3))
        ]
    if choices.below(1000) < 5:
        del record["reviewerName"]
    if choices.below(1000) < 1:
        del record["reviewText"]
    if choices.below(2000) < 1:
        del record["summary"]
    return _apply_kind(record, kind, seed)


def _apply_kind(record: dict[str, Any], kind: int, seed: int) -> dict[str, Any]:
    if kind == NEAR_DUPLICATE and "reviewerID" in record:  # the review edited later
        record["summary"] = "Update: " + str(record.get("summary", ""))
        record["vote"] = "1"
    elif kind == NEAR_DUPLICATE:  # the product listed again with a newer rank and price
        record["rank"] = f"{1 + seed % 9_000_000:,} in {record['category'][0]} ("
        record["price"] = f"${(seed % 9000) / 100 + 1:.2f}"
    elif kind == NO_ASIN:
        del record["asin"]
    elif kind == NO_REVIEWER:
        del record["reviewerID"]
    elif kind == BAD_RATING:
        record["overall"] = 6.0 if seed % 2 else 0.0
    return record


def malformed_line(seed: int, record: dict[str, Any]) -> bytes:
    """A line no JSON parser accepts as an object: truncated, garbage, or an array."""
    import orjson

    variant = seed % 3
    if variant == 0:
        text = orjson.dumps(record)
        return text[: max(5, len(text) // 2)]
    if variant == 1:
        return b"<html><body>503 Service Unavailable</body></html>"
    return orjson.dumps([record.get("asin"), record.get("overall")])


def product_record(
    *, product: int, seed: int, category: int, related: list[str], kind: int
) -> dict[str, Any]:
    choices = Choices(seed)
    name, main_cats, nouns, _ = v.CATEGORIES[category]
    noun = nouns[choices.below(len(nouns))]
    brand = v.BRANDS[choices.below(len(v.BRANDS))]
    title = (
        f"{v.TITLE_ADJECTIVES[choices.below(len(v.TITLE_ADJECTIVES))]} {noun.title()} by {brand}"
    )
    if choices.chance(5):
        title = f'<span id="productTitle" class="a-size-large">\n  {title}\n</span>'
    escaped_category = name.replace("&", "&amp;")
    record: dict[str, Any] = {
        "asin": asin_of(product, seed),
        "title": title,
        "main_cat": "" if choices.chance(3) else main_cats[choices.below(len(main_cats))],
        "category": [escaped_category, noun.title()],
        "also_buy": related[: choices.below(len(related) + 1)],
        "also_view": related[choices.below(len(related) + 1) :],
        "description": [f"This {noun} is made by {brand}."] if choices.chance(80) else [],
        "feature": [f"{v.TITLE_ADJECTIVES[choices.below(8)]} design"] if choices.chance(60) else [],
        "image": [],
        "details": {
            v.DETAIL_KEYS[
                choices.below(len(v.DETAIL_KEYS))
            ]: f"{1 + choices.below(90) / 10} pounds",
            "ASIN:": None,
        },
        "date": f"{v.MONTHS[choices.below(12)]} {1 + choices.below(28)}, "
        f"{2000 + choices.below(19)}",
    }
    record["details"]["ASIN:"] = record["asin"]
    if choices.chance(73):
        record["brand"] = brand
    if choices.chance(41):
        record["price"] = _price(choices)
    if choices.chance(90):
        rank = f"{1 + choices.below(14_000_000):,}"
        record["rank"] = (
            f"{rank} in {name} ("
            if choices.chance(65)
            else [f">#{rank} in {name} (See Top 100 in {name})"]
        )
    if choices.chance(10):
        record["date"] = '<div class="a-fixed-left-grid-col">\n</div>'
    if choices.below(1000) < 15:
        record["similar_item"] = '<table class="a-bordered"><tr><td>Similar</td></tr></table>'
    if choices.below(1000) < 7:
        record["tech1"] = '<table class="techD"><tr><td>Weight</td><td>1 lb</td></tr></table>'
    if choices.chance(19):
        record["fit"] = 'class="a-normal a-align-center"><span>True to size</span>'
    return _apply_kind(record, kind, seed)


def _price(choices: Choices) -> str:
    form = choices.below(100)
    cents = 99 + choices.below(9000)
    if form < 70:
        return f"${cents / 100:.2f}"
    if form < 82:
        return f"${cents / 100:.2f} - ${(cents + 100 + choices.below(5000)) / 100:.2f}"
    if form < 88:
        return f"${1000 + choices.below(3000):,}.{choices.below(100):02d}"
    if form < 95:
        return ""
    return v.JUNK_PRICES[choices.below(len(v.JUNK_PRICES))]


__all__ = ["EXACT_DUPLICATE", "MALFORMED", "malformed_line", "product_record", "review_record"]
