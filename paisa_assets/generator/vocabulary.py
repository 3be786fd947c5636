"""Words and values the generator draws from, modelled on the real datathon sources.

The main_cat forms are the real raw values seen in the batch metadata (HTML-escaped and
`<img ... alt="...">` forms included), embedded here because nothing may read the reference
data at run time.
"""

from __future__ import annotations

IMG = (
    '<img src="https://images-na.ssl-images-amazon.com/images/G/01/{path}" '
    'class="nav-categ-image" alt="{alt}"{close}>'
)

# (clean category name, the raw main_cat forms it appears as, product nouns, style keys)
CATEGORIES: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    (
        "Amazon Fashion",
        (
            IMG.format(
                path="nav2/images/gui/amazon-fashion-store-new._TTD_.png",
                alt="AMAZON FASHION",
                close="/",
            ),
            IMG.format(
                path="nav2/images/gui/amazon-fashion-store-new._CB520838675_.png",
                alt="AMAZON FASHION",
                close=" /",
            ),
        ),
        ("shirt", "dress", "jacket", "pair of jeans", "hoodie"),
        ("Size:", "Color:"),
    ),
    (
        "Arts, Crafts & Sewing",
        ("Arts, Crafts & Sewing", "Arts, Crafts &amp; Sewing"),
        ("yarn", "paint set", "sewing kit", "brush set"),
        ("Color:",),
    ),
    (
        "Cell Phones & Accessories",
        ("Cell Phones & Accessories", "Cell Phones &amp; Accessories"),
        ("phone case", "charger", "screen protector", "cable"),
        ("Color:", "Style:"),
    ),
    (
        "Home Audio & Theater",
        ("Home Audio & Theater", "Home Audio &amp; Theater"),
        ("speaker", "soundbar", "receiver", "subwoofer"),
        ("Style:",),
    ),
    (
        "Toys & Games",
        ("Toys & Games", "Toys &amp; Games"),
        ("puzzle", "board game", "toy car", "doll"),
        ("Style:", "Color:"),
    ),
    (
        "Tools & Home Improvement",
        ("Tools & Home Improvement", "Tools &amp; Home Improvement"),
        ("drill", "wrench set", "light bulb", "tape measure"),
        ("Size:", "Style:"),
    ),
    (
        "Sports & Outdoors",
        ("Sports & Outdoors", "Sports &amp; Outdoors"),
        ("water bottle", "yoga mat", "tent", "backpack"),
        ("Color:", "Size:"),
    ),
    (
        "Digital Music",
        (
            IMG.format(
                path="digital/music/logos/amzn_music_logo_subnav._CB471835632_.png",
                alt="Digital Music",
                close=" /",
            ),
            IMG.format(
                path="digital/music/logos/amzn_music_logo_subnav._CB471835632_.png",
                alt="Digital Music",
                close="/",
            ),
        ),
        ("album", "song", "track"),
        ("Format:",),
    ),
    ("Movies & TV", ("Movies & TV", "Movies &amp; TV"), ("movie", "DVD", "series"), ("Format:",)),
    ("Books", ("Books",), ("book", "novel", "cookbook"), ("Format:",)),
    ("Grocery", ("Grocery",), ("coffee", "tea", "snack", "sauce"), ("Flavor:", "Size:")),
    ("Pet Supplies", ("Pet Supplies",), ("dog toy", "cat litter", "leash", "pet bed"), ("Size:",)),
    (
        "All Beauty",
        ("All Beauty", "Luxury Beauty"),
        ("shampoo", "lotion", "perfume"),
        ("Size:", "Scent:"),
    ),
    (
        "Office Products",
        ("Office Products",),
        ("pen", "notebook", "stapler", "printer ink"),
        ("Color:",),
    ),
    ("Automotive", ("Automotive",), ("wiper blade", "floor mat", "car charger"), ("Size:",)),
    ("Video Games", ("Video Games",), ("game", "controller", "headset"), ("Platform:", "Edition:")),
    (
        "Musical Instruments",
        ("Musical Instruments",),
        ("guitar string", "tuner", "flute"),
        ("Color:",),
    ),
    (
        "Prime Pantry",
        (
            IMG.format(
                path="pantry/subnav/pantry-subnav-logo._CB474181323_.png",
                alt="Prime Pantry",
                close=" /",
            ),
        ),
        ("cereal", "detergent", "paper towel"),
        ("Size:",),
    ),
]

STYLE_VALUES = {
    "Size:": (" Small", " Medium", " Large", " X-Large", " 10", " One Size"),
    "Color:": (" Black", " White", " Navy Blue", " Red", " Fly Breeze", " Grey"),
    "Style:": (" Classic", " Modern", " Pack of 2", " Standard"),
    "Format:": (" Paperback", " Hardcover", " Kindle Edition", " Audio CD", " DVD"),
    "Flavor:": (" Vanilla", " Original", " Dark Roast"),
    "Scent:": (" Lavender", " Unscented"),
    "Platform:": (" PC", " PlayStation 4", " Xbox One"),
    "Edition:": (" Standard", " Deluxe"),
}

POSITIVE_OPENERS = (
    "I love this {noun}.",
    "Great {noun}!",
    "This {noun} is excellent.",
    "Absolutely perfect {noun}.",
    "Very happy with this {noun}.",
    "Best {noun} I have bought in years.",
    "Highly recommend this {noun}.",
    "Exactly what I wanted.",
    "Fantastic quality for the price.",
    "My kids love this {noun}.",
)
POSITIVE_BODY = (
    "It works perfectly and feels solid.",
    "The quality is outstanding.",
    "Shipping was fast and the packaging was great.",
    "It fits perfectly and looks beautiful.",
    "Easy to use and very reliable.",
    "Worth every penny.",
    "It exceeded my expectations.",
    "I would definitely buy it again.",
    "Sturdy, well made and comfortable.",
    "The colors are vibrant and it looks amazing.",
    "Five stars, no complaints at all.",
    "It is a wonderful gift.",
)
NEGATIVE_OPENERS = (
    "Terrible {noun}.",
    "Do not buy this {noun}.",
    "Very disappointed with this {noun}.",
    "This {noun} is junk.",
    "Waste of money.",
    "Awful quality.",
    "The {noun} broke after two days.",
    "I regret buying this {noun}.",
    "Worst purchase ever.",
    "Not as described.",
)
NEGATIVE_BODY = (
    "It stopped working after a week.",
    "The quality is poor and it feels cheap.",
    "It arrived damaged and late.",
    "It does not fit and the return was a hassle.",
    "Customer service never answered.",
    "Completely useless.",
    "The material is flimsy and falls apart.",
    "It smells bad and looks nothing like the picture.",
    "I want a refund.",
    "Cheaply made, avoid it.",
    "It was broken out of the box.",
    "Horrible experience overall.",
)
NEUTRAL_OPENERS = (
    "It is an okay {noun}.",
    "Average {noun}.",
    "The {noun} is fine.",
    "Decent, nothing special.",
    "It does the job.",
    "Mixed feelings about this {noun}.",
)
NEUTRAL_BODY = (
    "Some parts are good, others not so much.",
    "It is smaller than I expected.",
    "For the price it is acceptable.",
    "It works, but the instructions are confusing.",
    "Not bad, not great.",
    "It arrived on time.",
    "The color is a bit different from the photo.",
    "I might return it, I have not decided.",
)
POSITIVE_SUMMARIES = (
    "Five Stars",
    "Love it!",
    "Great product",
    "Excellent",
    "Highly recommended",
    "Perfect &amp; cheap",
)
NEGATIVE_SUMMARIES = (
    "One Star",
    "Disappointed",
    "Junk",
    "Do not buy",
    "Broke quickly",
    "Waste of money",
)
NEUTRAL_SUMMARIES = ("Three Stars", "It's OK", "Average", "Meh", "Could be better")

# What makes real review text hard, for a lexicon and for a bag of words alike.
# Praise through negated complaints, and complaints through negated praise.
NEGATED_NEGATIVE = (
    "Not bad at all.",
    "No complaints so far.",
    "I can't fault it.",
    "Nothing has broken yet.",
    "I was not disappointed.",
    "Never had a problem with it.",
)
NEGATED_POSITIVE = (
    "Not great, to be honest.",
    "I can't say I love it.",
    "Not worth the money.",
    "I would not recommend it.",
    "Not as good as the reviews say.",
    "Nothing special about it.",
)
# Sarcasm: praise words, negative meaning.
SARCASM = (
    "Great, another {noun} that broke in a day.",
    "Just perfect, if you enjoy returning things.",
    "Wonderful, it lasted a whole week.",
    "Love how it fell apart on the first use.",
    "Excellent way to waste twenty dollars.",
)
# Plain, opinion-free sentences: a reviewer's story, not a verdict.
OFF_TOPIC = (
    "I bought it for my brother's birthday.",
    "We are moving house next month.",
    "I ordered it on a Tuesday.",
    "My old one was from another brand.",
    "I use it mostly on weekends.",
    "It came in a brown box.",
    "My wife picked the color.",
    "I have had it for about three months now.",
)
# Short, plain verdicts with little vocabulary to go on.
TERSE_POSITIVE = ("Works.", "Does what it says.", "As expected.", "Good.", "Fine, thanks.")
TERSE_NEGATIVE = ("Meh.", "Returned it.", "Not for me.", "Stopped working.", "Too small.")

FIRST_NAMES = (
    "Amazon Customer",
    "John",
    "Mary",
    "J. Smith",
    "Kindle Customer",
    "Linda",
    "M. Harris",
    "David",
    "Sarah &amp; Tom",
    "Monica",
    "Chris",
    "A. Lee",
    "Robert",
    "Jennifer",
)
BRANDS = (
    "Acme",
    "Generic",
    "AmazonBasics",
    "Crayola",
    "Anker",
    "Hasbro",
    "Ben &amp; Jerry's",
    "Sony",
    "Logitech",
    "Nike",
    "Stanley",
    "Hamilton Beach",
    "LEGO",
    "Philips",
)
TITLE_ADJECTIVES = (
    "Premium",
    "Classic",
    "Deluxe",
    "Portable",
    "Professional",
    "Mini",
    "Heavy Duty",
    "Eco",
)
JUNK_PRICES = (
    ".a-box-inner{background-color:#fff;}.a-box-thumbnail{width:120px}",
    '<span class="a-size-mini">Currently unavailable.</span>',
    "Price not available",
)
DETAIL_KEYS = (
    "\n    Item Weight: \n    ",
    "\n    Product Dimensions: \n    ",
    "Shipping Weight:",
    "ASIN:",
    " Date first listed on Amazon:",
    "Domestic Shipping: ",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
