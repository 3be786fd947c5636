"""Turn the HTML-ish text of the product metadata into plain text.

The scraped metadata carries entities ("Arts, Crafts &amp; Sewing"), markup (`<span id=...>` around
titles, `<img ... alt="AMAZON FASHION"/>` as a main_cat) and script or style blocks. Entity
decoding must equal Python's `html.unescape` exactly (numeric references, legacy entities without
a semicolon...), but calling it per row would cost seconds per million rows, so the few entities
that make up nearly all real occurrences are decoded vectorised and only rows holding anything
else fall back to Python.
"""

from __future__ import annotations

import html

import polars as pl

# Entities decoded without Python. `replace_many` replaces in one left-to-right pass, like
# html.unescape, so "&amp;lt;" becomes "&lt;" and is not decoded twice.
_COMMON_ENTITIES: dict[str, str] = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&apos;": "'",
    "&#39;": "'",
    "&#039;": "'",
    "&#34;": '"',
    "&#38;": "&",
    "&nbsp;": "\xa0",
}
# After the common entities are removed, any "&" still followed by a character that can start an
# entity means the row needs html.unescape itself.
_OTHER_ENTITY = r"&[#A-Za-z0-9]"

_SCRIPT_OR_STYLE = r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>"
_COMMENT = r"(?s)<!--.*?-->"
# Tags that separate words when rendered: replaced by a space so "a<br>b" does not become "ab".
_BREAKING_TAG = r"(?i)</?(?:br|p|div|li|ul|ol|tr|td|th|table|h[1-6]|hr)\b[^>]*>"
# A tag must start with a letter (or "/letter"), so text such as "5 < 6" is left alone.
_TAG = r"</?[A-Za-z][^>]*>"
# Runs of whitespace, or a single whitespace character other than a plain space.
_UNTIDY_WHITESPACE = r"\s{2,}|[^\S ]"

_IMG_ALT = r"""(?i)<img\b[^>]*\balt\s*=\s*(?:"([^"]*)"|'([^']*)')"""


def _select(expr: pl.Expr) -> pl.Series:
    return pl.select(expr).to_series()


def _fast_unescape(texts: pl.Series) -> pl.Series:
    return texts.str.replace_many(list(_COMMON_ENTITIES), list(_COMMON_ENTITIES.values()))


def unescape_html(texts: pl.Series) -> pl.Series:
    """Decode HTML entities exactly as `html.unescape` does, row by row (null stays null)."""
    texts = texts.cast(pl.String)
    has_ampersand = texts.str.contains("&", literal=True)
    decoded = apply_where(texts, has_ampersand, _fast_unescape)
    without_common = texts.str.replace_many(list(_COMMON_ENTITIES), [""] * len(_COMMON_ENTITIES))
    return map_python(decoded, without_common.str.contains(_OTHER_ENTITY), html.unescape_from(texts))
