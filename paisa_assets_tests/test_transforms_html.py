# ruff: noqa: E501  (the real main_cat values below are kept verbatim, long <img> tags included)
"""HTML text cleaning: entities exactly as html.unescape, tags stripped, main_cat unified."""

from __future__ import annotations

import html
import json

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paisa_assets.transforms.categories import CANONICAL_CATEGORIES, canonical_category
from paisa_assets.transforms.html_text import (
    clean_main_cat,
    collapse_whitespace,
    strip_html,
    unescape_html,
    unescape_html_lists,
)
from paisa_assets_tests.support.datathon import shared_file

UNESCAPE: list[tuple[str | None, str | None]] = [
    (None, None),
    ("", ""),
    ("plain text", "plain text"),
    ("Arts, Crafts &amp; Sewing", "Arts, Crafts & Sewing"),
    ("&lt;b&gt;", "<b>"),
    ("&amp;lt;", "&lt;"),
    ("&amp;eacute;", "&eacute;"),
    ("&quot;q&quot; &#39;s&#39; &#039;t&#039; &apos;", "\"q\" 's' 't' '"),
    ("&#34;&#38;", '"&'),
    ("a&nbsp;b", "a\xa0b"),
    ("caf&eacute;", "café"),
    ("&#8482; &#x2122;", "™ ™"),
    ("&amp; &eacute;", "& é"),
    ("AT&T", "AT&T"),
    ("a & b", "a & b"),
    ("&amp", "&"),
    ("&ampfoo", "&foo"),
    ("&AMP;", "&"),
    ("&#0;", "\ufffd"),
    ("&unknown;", "&unknown;"),
    ("&", "&"),
]


def test_unescape_html_each_form() -> None:
    texts = pl.Series("title", [text for text, _ in UNESCAPE], dtype=pl.String)
    result = unescape_html(texts)
    assert result.name == "title"
    assert result.to_list() == [expected for _, expected in UNESCAPE]


@pytest.mark.parametrize(("text", "expected"), UNESCAPE)
def test_unescape_html_matches_python(text: str | None, expected: str | None) -> None:
    """The vectorised path and the Python fallback both agree with html.unescape."""
    assert expected == (None if text is None else html.unescape(text))
    assert unescape_html(pl.Series([text], dtype=pl.String)).to_list() == [expected]


def test_unescape_html_without_any_entity_returns_input() -> None:
    texts = pl.Series(["a", None, "b"])
    assert unescape_html(texts).to_list() == ["a", None, "b"]


STRIP: list[tuple[str | None, str | None]] = [
    (None, None),
    ("", None),
    ("   ", None),
    ("<span></span>", None),
    ("Plain Title", "Plain Title"),
    (
        '<span id="productTitle" class="a-size-large">\n   Sony Headphones  </span>',
        "Sony Headphones",
    ),
    ("Foo &amp; Bar", "Foo & Bar"),
    ("Caf&eacute; &#8482;", "Café ™"),
    ("&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
    ("a<br>b", "a b"),
    ("a<BR/>b", "a b"),
    ("<p>one</p><p>two</p>", "one two"),
    ("<div>x</div>y", "x y"),
    ("<b>H</b>ello", "Hello"),
    ('<a href="/x">link</a> text', "link text"),
    ("<script>var x = 1; if (a < b) {}</script>Title", "Title"),
    ('<style type="text/css">.a{color:red}</style>Title', "Title"),
    ("<!-- <b>comment</b> -->Title", "Title"),
    ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
    ("  lots   of\n\tspace  ", "lots of space"),
    ("&nbsp;x&nbsp;&nbsp;y&nbsp;", "x y"),
]


def test_strip_html_each_form() -> None:
    texts = pl.Series("title", [text for text, _ in STRIP], dtype=pl.String)
    result = strip_html(texts)
    assert result.name == "title"
    assert result.to_list() == [expected for _, expected in STRIP]


@pytest.mark.parametrize("texts", [pl.Series([], dtype=pl.String), pl.Series([None, None])])
def test_strip_html_empty_and_all_null(texts: pl.Series) -> None:
    result = strip_html(texts)
    assert result.dtype == pl.String
    assert result.to_list() == [None] * len(texts)


def test_collapse_whitespace_only_touches_untidy_rows() -> None:
    texts = pl.Series(["tidy text", " lead", "trail ", "in  side", "tab\there", "", None])
    expected = ["tidy text", "lead", "trail", "in side", "tab here", None, None]
    assert collapse_whitespace(texts).to_list() == expected


def test_unescape_html_lists_keeps_shape() -> None:
    lists = pl.Series(
        "category",
        [["Clothing, Shoes &amp; Jewelry", "Women"], None, [], ["caf&eacute;", None]],
        dtype=pl.List(pl.String),
    )
    assert unescape_html_lists(lists).to_list() == [
        ["Clothing, Shoes & Jewelry", "Women"],
        None,
        [],
        ["café", None],
    ]


@pytest.mark.parametrize(
    "lists",
    [pl.Series([], dtype=pl.List(pl.String)), pl.Series([None, None], dtype=pl.List(pl.String))],
)
def test_unescape_html_lists_empty_and_all_null(lists: pl.Series) -> None:
    result = unescape_html_lists(lists)
    assert result.dtype == pl.List(pl.String)
    assert result.to_list() == [None] * len(lists)


# Every distinct raw main_cat of the real batch metadata (metadata_main_cat_values.json) and its
# cleaned value: 78 raw spellings, 53 categories.
MAIN_CATS: list[tuple[str, str | None]] = [
    ("", None),
    ("3D Printing", "3D Printing"),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01//nav2/images/gui/amazon-fashion-store-new._TTD_.png" class="nav-categ-image" alt="AMAZON FASHION"/>',
        "Amazon Fashion",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/digital/music/logos/amzn_music_logo_subnav._CB471835632_.png" class="nav-categ-image" alt="Digital Music" />',
        "Digital Music",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/digital/music/logos/amzn_music_logo_subnav._CB471835632_.png" class="nav-categ-image" alt="Digital Music"/>',
        "Digital Music",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/handmade/brand/logos/2018/subnav_logo._CB502360610_.png" class="nav-categ-image" alt="Handmade" />',
        "Handmade",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/handmade/brand/logos/2018/subnav_logo._CB502360610_.png" class="nav-categ-image" alt="Handmade"/>',
        "Handmade",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/img16/amazon-launchpad/content-grid/launchpad_lp_nav-logo_v2._CB268684856_.png" class="nav-categ-image" alt="AMAZON LAUNCHPAD"/>',
        "Amazon Launchpad",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/nav2/images/gui/amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION" />',
        "Amazon Fashion",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/nav2/images/gui/amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION"/>',
        "Amazon Fashion",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/pantry/subnav/pantry-subnav-logo._CB474181323_.png" class="nav-categ-image" alt="Prime Pantry" />',
        "Prime Pantry",
    ),
    (
        '<img src="https://images-na.ssl-images-amazon.com/images/G/01/pantry/subnav/pantry-subnav-logo._CB474181323_.png" class="nav-categ-image" alt="Prime Pantry"/>',
        "Prime Pantry",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/digital/music/logos/amzn_music_logo_subnav._CB471835632_.png" class="nav-categ-image" alt="Digital Music" />',
        "Digital Music",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/digital/music/logos/amzn_music_logo_subnav._CB471835632_.png" class="nav-categ-image" alt="Digital Music"/>',
        "Digital Music",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/handmade/brand/logos/2018/subnav_logo._CB502360610_.png" class="nav-categ-image" alt="Handmade"/>',
        "Handmade",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/nav2/images/gui/amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION" />',
        "Amazon Fashion",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/nav2/images/gui/amazon-fashion-store-new._CB520838675_.png" class="nav-categ-image" alt="AMAZON FASHION"/>',
        "Amazon Fashion",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/pantry/subnav/pantry-subnav-logo._CB474181323_.png" class="nav-categ-image" alt="Prime Pantry" />',
        "Prime Pantry",
    ),
    (
        '<img src="https://m.media-amazon.com/images/G/01/pantry/subnav/pantry-subnav-logo._CB474181323_.png" class="nav-categ-image" alt="Prime Pantry"/>',
        "Prime Pantry",
    ),
    ("Alexa Skills", "Alexa Skills"),
    ("All Beauty", "All Beauty"),
    ("All Electronics", "All Electronics"),
    ("Amazon Devices", "Amazon Devices"),
    ("Amazon Fire TV", "Amazon Fire TV"),
    ("Amazon Home", "Amazon Home"),
    ("Apple Products", "Apple Products"),
    ("Appliances", "Appliances"),
    ("Arts, Crafts & Sewing", "Arts, Crafts & Sewing"),
    ("Arts, Crafts &amp; Sewing", "Arts, Crafts & Sewing"),
    ("Audible Audiobooks", "Audible Audiobooks"),
    ("Automotive", "Automotive"),
    ("Baby", "Baby"),
    ("Beats by Dr. Dre", "Beats by Dr. Dre"),
    ("Books", "Books"),
    ("Buy a Kindle", "Buy a Kindle"),
    ("Camera & Photo", "Camera & Photo"),
    ("Camera &amp; Photo", "Camera & Photo"),
    ("Car Electronics", "Car Electronics"),
    ("Cell Phones & Accessories", "Cell Phones & Accessories"),
    ("Cell Phones &amp; Accessories", "Cell Phones & Accessories"),
    ("Collectible Coins", "Collectible Coins"),
    ("Collectibles & Fine Art", "Collectibles & Fine Art"),
    ("Computers", "Computers"),
    ("Entertainment", "Entertainment"),
    ("Fine Art", "Fine Art"),
    ("Fire Phone", "Fire Phone"),
    ("GPS & Navigation", "GPS & Navigation"),
    ("GPS &amp; Navigation", "GPS & Navigation"),
    ("Gift Cards", "Gift Cards"),
    ("Grocery", "Grocery"),
    ("Health & Personal Care", "Health & Personal Care"),
    ("Health &amp; Personal Care", "Health & Personal Care"),
    ("Home & Business Services", "Home & Business Services"),
    ("Home Audio & Theater", "Home Audio & Theater"),
    ("Home Audio &amp; Theater", "Home Audio & Theater"),
    ("Industrial & Scientific", "Industrial & Scientific"),
    ("Industrial &amp; Scientific", "Industrial & Scientific"),
    ("Luxury Beauty", "Luxury Beauty"),
    ("MEMBERSHIPS & SUBSCRIPTIONS", "Memberships & Subscriptions"),
    ("Magazine Subscriptions", "Magazine Subscriptions"),
    ("Movies & TV", "Movies & TV"),
    ("Movies &amp; TV", "Movies & TV"),
    ("Musical Instruments", "Musical Instruments"),
    ("Office Products", "Office Products"),
    ("Pet Supplies", "Pet Supplies"),
    ("Portable Audio & Accessories", "Portable Audio & Accessories"),
    ("Portable Audio &amp; Accessories", "Portable Audio & Accessories"),
    ("Shorts", "Shorts"),
    ("Software", "Software"),
    ("Sports & Outdoors", "Sports & Outdoors"),
    ("Sports &amp; Outdoors", "Sports & Outdoors"),
    ("Sports Collectibles", "Sports Collectibles"),
    ("Tools & Home Improvement", "Tools & Home Improvement"),
    ("Tools &amp; Home Improvement", "Tools & Home Improvement"),
    ("Toys & Games", "Toys & Games"),
    ("Toys &amp; Games", "Toys & Games"),
    ("Vehicles", "Vehicles"),
    ("Video Games", "Video Games"),
]


def test_clean_main_cat_every_real_value() -> None:
    raw = pl.Series("main_cat", [value for value, _ in MAIN_CATS])
    no_category = pl.Series([None] * len(MAIN_CATS), dtype=pl.String)
    result = clean_main_cat(raw, no_category)
    assert result.name == "main_cat"
    assert result.to_list() == [expected for _, expected in MAIN_CATS]
    assert result.drop_nulls().n_unique() == 53


def test_shared_main_cat_values_are_all_in_the_table() -> None:
    values = json.loads(shared_file("metadata_main_cat_values.json").read_text())
    assert set(values) <= {value for value, _ in MAIN_CATS}


@pytest.mark.parametrize(
    ("main_cat", "category_first", "expected"),
    [
        ("Books", "Other", "Books"),
        ("", "Clothing, Shoes &amp; Jewelry", "Clothing, Shoes & Jewelry"),
        (None, "Clothing, Shoes &amp; Jewelry", "Clothing, Shoes & Jewelry"),
        ("   ", "<b>Toys</b> &amp; Games", "Toys & Games"),
        ('<img src="x.png" class="nav-categ-image"/>', "Books", "Books"),
        ("<img src='x.png' alt='Single Quoted'>", None, "Single Quoted"),
        ('<IMG SRC="x.png" ALT="Upper &amp; Case" />', None, "Upper & Case"),
        ("", "", None),
        (None, None, None),
    ],
)
def test_clean_main_cat_falls_back_to_first_category(
    main_cat: str | None, category_first: str | None, expected: str | None
) -> None:
    result = clean_main_cat(
        pl.Series([main_cat], dtype=pl.String), pl.Series([category_first], dtype=pl.String)
    )
    assert result.to_list() == [expected]


def test_clean_main_cat_empty_input() -> None:
    empty = pl.Series("main_cat", [], dtype=pl.String)
    result = clean_main_cat(empty, empty)
    assert result.dtype == pl.String
    assert result.len() == 0


# Category labels: ASCII letters, digits and the punctuation real labels use (Unicode case rules
# such as "ß" -> "SS" -> "ss" make "same but for case" ill-defined beyond this).
LABEL_TEXT = (
    st.text(
        alphabet=st.sampled_from(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789&,.-' "
        ),
        min_size=1,
        max_size=40,
    )
    .map(lambda text: " ".join(text.split()))
    .filter(bool)
)


@given(LABEL_TEXT)
def test_category_spelling_ignores_case_and_is_stable(label: str) -> None:
    canonical = canonical_category(label)
    assert canonical.casefold() == label.casefold()
    for variant in (label.upper(), label.lower(), label.swapcase(), label.title()):
        assert canonical_category(variant) == canonical
    assert canonical_category(canonical) == canonical


@given(st.sampled_from(CANONICAL_CATEGORIES), st.data())
def test_every_spelling_of_a_known_category_is_its_canonical_name(name: str, data) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    spelled = "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))
    assert canonical_category(spelled) == name
    main_cat = pl.Series("main_cat", [f'<img src="x.png" alt="{spelled}"/>', "", spelled])
    first = pl.Series([None, name.upper(), None], dtype=pl.String)
    assert clean_main_cat(main_cat, first).to_list() == [name, name, name]


def test_the_real_main_cat_values_clean_onto_the_canonical_names() -> None:
    values = json.loads(shared_file("metadata_main_cat_values.json").read_text())
    assert len(values) == 78
    cleaned = clean_main_cat(pl.Series(values), pl.Series([None] * 78, dtype=pl.String))
    assert set(cleaned.drop_nulls()) == set(CANONICAL_CATEGORIES)
    assert cleaned.null_count() == 1  # the empty value (and category[0] is absent here)
    # The logo form and the category[0] form of a category are one value.
    logo = next(v for v in values if 'alt="AMAZON FASHION"' in v)
    both = clean_main_cat(pl.Series([logo, ""]), pl.Series([None, "Amazon Fashion"]))
    assert both.to_list() == ["Amazon Fashion", "Amazon Fashion"]
