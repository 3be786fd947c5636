"""One spelling per product category, whatever case the source used.

The same category arrives as an `<img alt="AMAZON FASHION">` logo in `main_cat` and as "Amazon
Fashion" in `category[0]` (the fallback when main_cat is empty); grouped as they are, gold would
show two categories and impute prices from the wrong group's mean. Cleaning is therefore
case-insensitive: the canonical names below (the 78 real raw `main_cat` values of the datathon
metadata, cleaned, with the all-capitals logo texts in title case) are matched by their
case-folded text, and any other label is title-cased word by word, keeping the spellings of the
known names' words ("TV", "GPS", "by"). The result depends only on the case-folded label, so two
spellings that differ in case always become one. The list is embedded because nothing may read
the reference data at run time.
"""

from __future__ import annotations

import polars as pl

CANONICAL_CATEGORIES: tuple[str, ...] = (
    "3D Printing",
    "Alexa Skills",
    "All Beauty",
    "All Electronics",
    "Amazon Devices",
    "Amazon Fashion",
    "Amazon Fire TV",
    "Amazon Home",
    "Amazon Launchpad",
    "Apple Products",
    "Appliances",
    "Arts, Crafts & Sewing",
    "Audible Audiobooks",
    "Automotive",
    "Baby",
    "Beats by Dr. Dre",
    "Books",
    "Buy a Kindle",
    "Camera & Photo",
    "Car Electronics",
    "Cell Phones & Accessories",
    "Collectible Coins",
    "Collectibles & Fine Art",
    "Computers",
    "Digital Music",
    "Entertainment",
    "Fine Art",
    "Fire Phone",
    "GPS & Navigation",
    "Gift Cards",
    "Grocery",
    "Handmade",
    "Health & Personal Care",
    "Home & Business Services",
    "Home Audio & Theater",
    "Industrial & Scientific",
    "Luxury Beauty",
    "Magazine Subscriptions",
    "Memberships & Subscriptions",
    "Movies & TV",
    "Musical Instruments",
    "Office Products",
    "Pet Supplies",
    "Portable Audio & Accessories",
    "Prime Pantry",
    "Shorts",
    "Software",
    "Sports & Outdoors",
    "Sports Collectibles",
    "Tools & Home Improvement",
    "Toys & Games",
    "Vehicles",
    "Video Games",
)
_BY_FOLDED = {name.casefold(): name for name in CANONICAL_CATEGORIES}
# Words of the known names not spelled as plain capitalised words, and a few common acronyms of
# the wider Amazon category tree; lower-case joining words stay lower case after the first word.
_WORD_SPELLINGS = {
    word.casefold(): word
    for name in CANONICAL_CATEGORIES
    for word in name.split(" ")
    if word != word.casefold().capitalize() and not word.islower()
} | {word.casefold(): word for word in ("CDs", "DVD", "PC", "USB", "DIY", "LED", "HD")}
_JOINING_WORDS = frozenset({"a", "an", "and", "by", "for", "in", "of", "on", "or", "the", "to"})


def _word(word: str, first: bool) -> str:
    folded = word.casefold()
    if folded in _WORD_SPELLINGS:
        return _WORD_SPELLINGS[folded]
    if folded in _JOINING_WORDS and not first:
        return folded
    return folded.capitalize()


def canonical_category(label: str) -> str:
    """The one spelling of a (cleaned, whitespace-collapsed) category label."""
    folded = label.casefold()
    if folded in _BY_FOLDED:
        return _BY_FOLDED[folded]
    return " ".join(_word(word, i == 0) for i, word in enumerate(label.split(" ")))


def canonical_categories(labels: pl.Series) -> pl.Series:
    """`canonical_category` of every label (null stays null), computed once per distinct
    label: a table has tens of categories for millions of rows."""
    distinct = labels.drop_nulls().unique().to_list()
    mapping = {label: canonical_category(label) for label in distinct}
    if all(label == spelling for label, spelling in mapping.items()):
        return labels
    return labels.replace_strict(mapping, default=None, return_dtype=pl.String)
