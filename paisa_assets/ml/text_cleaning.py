"""Normalise review text before it is turned into features.

The classifier sees words, not markup: reviews carry HTML entities and tags, links, emoji and
numbers that vary without carrying sentiment ("5 stars" and "4 stars" both praise). Cleaning
lives inside the model's pipeline (`clean_text_column`), so the registered model takes raw text
and scoring cannot drift from training.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import polars as pl

from paisa_assets.ml.model_text import TEXT_COLUMN
from paisa_assets.transforms.html_text import strip_html

URL = r"(?i)\b(?:https?://|www\.)\S+"
# Pictographs, dingbats, flags, skin tones and the joiners that glue emoji sequences together.
EMOJI = (
    r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{1F1E6}-\x{1F1FF}"
    r"\x{FE00}-\x{FE0F}\x{200D}\x{20E3}]"
)
NUMBER = r"\d+(?:[.,]\d+)*"
# Anything but letters, apostrophes (negations: "don't") and spaces separates words.
NOT_WORD = r"[^\p{L}' ]+"


def clean_texts(texts: pl.Series | Sequence[str | None]) -> pl.Series:
    """Lower-case words only: markup and entities decoded away, URLs, emoji and digits replaced.

    Digits become the token `num` (a quantity is kept as a fact, its value is not); null becomes
    the empty string, which the vectorizer treats as a review without words.
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series(TEXT_COLUMN, texts, pl.String)
    plain = strip_html(series.cast(pl.String)).fill_null("")
    return (
        plain.str.replace_all(URL, " ")
        .str.replace_all(EMOJI, " ")
        .str.to_lowercase()
        .str.replace_all(NUMBER, " num ")
        .str.replace_all(NOT_WORD, " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" '")
    )


def clean_text_column(frame: pd.DataFrame) -> list[str]:
    """The pipeline's first step: the model's input is a frame with one `text` column."""
    return clean_texts(list(frame[TEXT_COLUMN])).to_list()
