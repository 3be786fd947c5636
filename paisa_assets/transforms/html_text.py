"""Turn the HTML-ish text of the product metadata into plain text.

The scraped metadata carries entities ("Arts, Crafts &amp; Sewing"), markup (`<span id=...>` around
titles, `<img ... alt="AMAZON FASHION"/>` as a main_cat) and script or style blocks. Entity
decoding must equal Python's `html.unescape` exactly (numeric references, legacy entities without
a semicolon...), but calling it per row would cost seconds per million rows, so the few entities
that make up nearly all real occurrences are decoded vectorised and only rows holding anything
else fall back to Python. Each step touches only the rows that need it (see `rowwise`).
"""

from __future__ import annotations

import html

import polars as pl

from paisa_assets.transforms.categories import canonical_categories
from paisa_assets.transforms.rowwise import apply_where, map_python

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
_UNTIDY_TEXT = rf"^\s|\s$|{_UNTIDY_WHITESPACE}|^$"

_IMG_ALT = r"""(?i)<img\b[^>]*\balt\s*=\s*(?:"([^"]*)"|'([^']*)')"""


def _select(expr: pl.Expr) -> pl.Series:
    return pl.select(expr).to_series()


def _decode_common_entities(texts: pl.Series) -> pl.Series:
    return texts.str.replace_many(list(_COMMON_ENTITIES), list(_COMMON_ENTITIES.values()))


def _needs_python_unescape(texts: pl.Series) -> pl.Series:
    without_common = texts.str.replace_many(list(_COMMON_ENTITIES), [""] * len(_COMMON_ENTITIES))
    return without_common.str.contains(_OTHER_ENTITY).fill_null(False)


def unescape_html(texts: pl.Series) -> pl.Series:
    """Decode HTML entities exactly as `html.unescape` does, row by row (null stays null)."""
    texts = texts.cast(pl.String)
    has_ampersand = texts.str.contains("&", literal=True).fill_null(False)
    if not has_ampersand.any():
        return texts
    python_rows = has_ampersand & _needs_python_unescape(texts)
    decoded = apply_where(texts, has_ampersand & ~python_rows, _decode_common_entities)
    return map_python(decoded, python_rows, html.unescape)


def unescape_html_lists(lists: pl.Series) -> pl.Series:
    """`unescape_html` on every element of a List[String] column (list shape and nulls kept)."""
    element = pl.element().map_batches(unescape_html, return_dtype=pl.String, is_elementwise=True)
    return lists.cast(pl.List(pl.String())).list.eval(element)


def _tidy_whitespace(texts: pl.Series) -> pl.Series:
    tidy = texts.str.replace_all(_UNTIDY_WHITESPACE, " ").str.strip_chars(" ")
    return _select(pl.when(tidy != "").then(tidy))


def collapse_whitespace(texts: pl.Series) -> pl.Series:
    """Collapse whitespace runs to one space and trim; an empty result becomes null."""
    texts = texts.cast(pl.String)
    return apply_where(texts, texts.str.contains(_UNTIDY_TEXT), _tidy_whitespace)


def _drop_markup(texts: pl.Series) -> pl.Series:
    return (
        texts.str.replace_all(_SCRIPT_OR_STYLE, " ")
        .str.replace_all(_COMMENT, " ")
        .str.replace_all(_BREAKING_TAG, " ")
        .str.replace_all(_TAG, "")
    )


def remove_tags(texts: pl.Series) -> pl.Series:
    """Drop markup: script/style blocks with their content, comments, then every tag."""
    texts = texts.cast(pl.String)
    return apply_where(texts, texts.str.contains("<", literal=True), _drop_markup)


def strip_html(texts: pl.Series) -> pl.Series:
    """HTML fragment -> plain text: tags removed, entities decoded, whitespace collapsed and
    trimmed, empty -> null.

    Tags go before entities are decoded, so an escaped "&lt;b&gt;" survives as the text "<b>".
    """
    return collapse_whitespace(unescape_html(remove_tags(texts)))


def _img_alt_or_text(texts: pl.Series) -> pl.Series:
    alt = texts.str.extract_groups(_IMG_ALT)
    return _select(pl.coalesce(alt.struct.field("1"), alt.struct.field("2"), texts))


def _clean_label(texts: pl.Series) -> pl.Series:
    """A category label: the alt text of an `<img>` logo if there is one, as plain text."""
    texts = texts.cast(pl.String)
    label = apply_where(texts, texts.str.contains("<", literal=True), _img_alt_or_text)
    return strip_html(label)


def clean_main_cat(main_cat: pl.Series, category_first: pl.Series) -> pl.Series:
    """Cleaned main_cat, or the cleaned first category where main_cat is empty after cleaning.

    Several raw spellings of one category ("Camera &amp; Photo", an `<img alt="AMAZON FASHION">`
    logo, "Amazon Fashion" from category[0]...) become one canonical spelling
    (`canonical_categories`, case-insensitive), so gold can group by it.
    """
    cleaned = _clean_label(main_cat).alias(main_cat.name)
    missing = cleaned.is_null() & category_first.is_not_null()
    label = apply_where(cleaned, missing, _clean_label, source=category_first)
    return canonical_categories(label).alias(main_cat.name)
