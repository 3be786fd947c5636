"""The dashboard page: one self-contained HTML file (plotly.js embedded once, no network).

Every text value from the lake goes through `html.escape` (and through `charts.text` inside a
figure); figures travel as JSON in a non-executable `<script type="application/json">` block
with `<`, `>` and `&` escaped, so no value can close the block. As a second line of defence
the page's Content-Security-Policy allows exactly its own two scripts (by hash), no inline
event handlers and no network access: even a value that escaped escaping could not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from paisa_assets.dashboard import charts
from paisa_assets.dashboard.queries import DashboardData, Kpis, ModelEvaluation

FIGURES_ELEMENT = "paisa-figures"
REVIEW_TEXT_CHARS = 280
TITLE_CHARS = 90

# Renders every figure, marks each container once plotly has drawn it, and records the count on
# <body> (what the browser test and a human waiting for the page can both watch).
BOOTSTRAP_JS = """
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("FIGURES_ELEMENT").textContent);
  var config = {displayModeBar: false, responsive: true};
  var drawn = Object.keys(figures).map(function (id) {
    var element = document.getElementById(id);
    return Plotly.newPlot(element, figures[id].data, figures[id].layout, config)
      .then(function () { element.setAttribute("data-rendered", "true"); });
  });
  Promise.all(drawn).then(
    function () { document.body.setAttribute("data-charts-rendered", String(drawn.length)); },
    function (error) { console.error("paisa dashboard: a chart failed to render", error); }
  );
})();
""".replace("FIGURES_ELEMENT", FIGURES_ELEMENT)

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:#1f2933;background:#f3f5f8}
header{padding:18px 28px;background:#1f2933;color:#fff}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c5ccd6}
main{padding:18px 28px 40px;max-width:1500px;margin:0 auto}
h2{font-size:17px;margin:28px 0 10px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
.kpi-label{color:#5f6b7a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi-value{font-size:26px;font-weight:600;margin-top:2px;overflow-wrap:anywhere}
.kpi-value.time{font-size:17px;padding-top:6px}
.kpi-note{color:#5f6b7a;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:14px}
.panel{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px #0002;
  min-width:0}
.panel h3{margin:4px 4px 8px;font-size:15px}
.chart{min-height:260px}
section.panel + .grid,.grid + section.panel{margin-top:14px}
.no-data{margin:0;padding:28px 12px;color:#5f6b7a;background:#f7f8fa;border:1px dashed #c5ccd6;
  border-radius:6px;text-align:center}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{color:#5f6b7a;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.review-text{white-space:pre-wrap;overflow-wrap:anywhere}
.muted{color:#5f6b7a}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;color:#fff}
.badge.positive{background:#2e933c}.badge.negative{background:#d1495b}
.badge.neutral{background:#a0a4a8}
"""


@dataclass
class RenderedPage:
    html: str
    charts: list[str]  # ids of the chart containers, one plotly figure each
    empty_panels: list[str] = field(default_factory=list)  # panels showing "no data yet"


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def clip(value: str | None, limit: int) -> str:
    """Cut before escaping, so an entity is never split."""
    value = value or ""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def script_json(value: object) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, no `<!--`, no `&`."""
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


@cache
def plotly_js() -> str:
    """plotly.js from the installed plotly package (never a CDN)."""
    source = get_plotlyjs()
    if "</script" in source.lower():
        raise ValueError("plotly.js contains '</script' and cannot be inlined as is")
    return source


def csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "—"


class PageBuilder:
    """Collects the figures while the sections are written, so ids, JSON and count agree."""

    def __init__(self) -> None:
        self.figures: dict[str, dict] = {}
        self.empty: list[str] = []

    def no_data(self, name: str, note: str) -> str:
        """A clear note in place of a panel whose table is missing or empty."""
        self.empty.append(name)
        return f'<p class="no-data" data-empty="{esc(name)}">No data yet: {esc(note)}</p>'

    def chart(self, name: str, figure: go.Figure | None, empty_note: str) -> str:
        """The panel body: a chart container, or a clear note when there is nothing to plot."""
        if figure is None:
            return self.no_data(name, empty_note)
        element_id = f"chart-{name}"
        self.figures[element_id] = json.loads(pio.to_json(figure, validate=False))
        return f'<div class="chart" id="{esc(element_id)}" data-chart="{esc(name)}"></div>'

    def panel(self, name: str, figure: go.Figure | None, empty_note: str, title: str) -> str:
        return (
            f'<section class="panel" id="panel-{esc(name)}"><h3>{esc(title)}</h3>'
            f"{self.chart(name, figure, empty_note)}</section>"
        )


def kpi_tile(key: str, label: str, value: str, raw: object, note: str = "", kind: str = "") -> str:
    """A tile: the formatted figure, and the exact value in `data-value` for machines."""
    note_html = f'<div class="kpi-note">{esc(note)}</div>' if note else ""
    classes = f"kpi-value {kind}".strip()
    return (
        f'<div class="kpi" data-kpi="{esc(key)}"><div class="kpi-label">{esc(label)}</div>'
        f'<div class="{esc(classes)}" data-value="{esc(raw)}">{esc(value)}</div>{note_html}</div>'
    )


def kpi_tiles(kpis: Kpis, generated_at: datetime) -> str:
    last = kpis.last_event_at
    if last is None:
        last_note = "no stream events yet"
    else:
        minutes = max(0, int((generated_at - last).total_seconds() // 60))
        last_note = f"{minutes:,} min before this page was built"
    avg = "—" if kpis.avg_rating is None else f"{kpis.avg_rating:.2f}"
    tiles = [
        kpi_tile("reviews", "Reviews", f"{kpis.reviews:,}", kpis.reviews),
        kpi_tile("reviewers", "Reviewers", f"{kpis.reviewers:,}", kpis.reviewers),
        kpi_tile("products", "Products", f"{kpis.products:,}", kpis.products),
        kpi_tile(
            "avg_rating",
            "Average rating",
            avg,
            "" if kpis.avg_rating is None else repr(kpis.avg_rating),
            "stars, 1 to 5",
        ),
        kpi_tile(
            "stream_events_last_hour",
            "Stream events, last hour",
            f"{kpis.stream_events_last_hour:,}",
            kpis.stream_events_last_hour,
            "enqueued on the event hub",
        ),
        kpi_tile(
            "last_event_at",
            "Last stream event",
            format_time(last),
            "" if last is None else last.isoformat(),
            last_note,
            kind="time",
        ),
    ]
    return f'<section class="kpis">{"".join(tiles)}</section>'


def sentiment_badge(sentiment: str | None) -> str:
    if not sentiment:
        return '<span class="muted">not scored</span>'
    return f'<span class="badge {esc(sentiment)}">{esc(sentiment)}</span>'


def latest_reviews_table(page: PageBuilder, data: DashboardData) -> str:
    if not data.latest_reviews:
        return page.no_data("latest_reviews", "gold.reviews_enriched has no reviews yet.")
    rows = "".join(
        "<tr>"
        f"<td>{esc(r.review_date)}</td><td>{esc(r.source)}</td>"
        f'<td class="num">{esc(r.rating)}★</td>'
        f"<td>{esc(clip(r.title, TITLE_CHARS)) or '<span class=muted>unknown product</span>'}</td>"
        f'<td><b>{esc(clip(r.summary, TITLE_CHARS))}</b><div class="review-text">'
        f"{esc(clip(r.review_text, REVIEW_TEXT_CHARS))}</div></td>"
        f"<td>{sentiment_badge(r.sentiment)}</td>"
        "</tr>"
        for r in data.latest_reviews
    )
    return (
        "<table><thead><tr><th>date</th><th>source</th><th class=num>rating</th>"
        "<th>product</th><th>review</th><th>model</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def recommendations_section(page: PageBuilder, data: DashboardData) -> str:
    if not data.recommendations:
        return page.no_data(
            "recommendations", "gold.recommendations has no rows (the recommender has not run)."
        )
    cards = []
    for reviewer in data.recommendations:
        reviewed = ", ".join(
            f"{esc(clip(p.title or p.asin, TITLE_CHARS))} ({esc(p.rating)}★)"
            for p in reviewer.reviewed
        )
        rows = "".join(
            f'<tr><td class="num">{esc(item.rank)}</td>'
            f"<td>{esc(clip(item.title, TITLE_CHARS)) or '<span class=muted>no title</span>'}"
            f' <span class="muted">{esc(item.asin)}</span></td>'
            f'<td class="num">{item.score:.3f}</td><td>{esc(item.reason)}</td></tr>'
            for item in reviewer.items
        )
        cards.append(
            f'<section class="panel recommendation" data-reviewer="{esc(reviewer.reviewer_id)}">'
            f"<h3>Reviewer {esc(reviewer.reviewer_id)}</h3>"
            f'<p class="muted">Recently reviewed: {reviewed or "—"}</p>'
            "<table><thead><tr><th class=num>#</th><th>recommended product</th>"
            f"<th class=num>score</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>"
            "</section>"
        )
    return f'<div class="grid">{"".join(cards)}</div>'


def model_summary(page: PageBuilder, model: ModelEvaluation | None) -> str:
    if model is None:
        return page.no_data(
            "model",
            "gold.model_evaluations has no paisa-sentiment evaluation "
            "(the classifier has not been trained).",
        )
    status = "champion" if model.is_champion else "latest (no champion yet)"
    metrics = "".join(
        f'<tr><td>{esc(name)}</td><td class="num">{value:.4f}</td></tr>'
        for name, value in sorted(model.metrics.items())
    )
    return (
        f"<p>paisa-sentiment version <b>{esc(model.version)}</b>, {esc(status)}; "
        f"run <code>{esc(model.run_id or '—')}</code>, trained {esc(format_time(model.trained_at))}"
        "</p>"
        + (
            f"<table><thead><tr><th>metric (test set)</th><th class=num>value</th></tr></thead>"
            f"<tbody>{metrics}</tbody></table>"
            if metrics
            else '<p class="muted">No metrics recorded.</p>'
        )
    )


def quarantine_examples_table(data: DashboardData) -> str:
    """Recent quarantined rows of each kind: where they came from and the full reason."""
    examples = data.quality.examples
    if not examples:
        return '<p class="muted">No row has been quarantined.</p>'
    rows = "".join(
        f"<tr><td>{esc(e.kind)}</td><td>{esc(e.layer)} · {esc(e.dataset)}</td>"
        f"<td>{esc(e.source or '')}</td>"
        f'<td class="num">{"" if e.line is None else f"{e.line:,}"}</td>'
        f"<td>{esc(e.reason)}</td></tr>"
        for e in examples
    )
    return (
        "<table><thead><tr><th>kind</th><th>where</th><th>source file</th>"
        "<th class=num>line</th><th>reason</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def data_quality_table(page: PageBuilder, data: DashboardData) -> str:
    quality = data.quality
    if not quality.reconciliation:
        return page.no_data("reconciliation", "nothing has been ingested into bronze.")
    rows = "".join(
        f"<tr><td>{esc(r.dataset)}</td>"
        f'<td class="num">{r.bad_input:,}</td>'
        f'<td class="num">{r.bronze:,}</td><td class="num">{r.quarantined:,}</td>'
        f'<td class="num">{r.duplicates:,}</td><td class="num">{r.silver:,}</td></tr>'
        for r in quality.reconciliation
    )
    cross = quality.cross_source_duplicates
    cross_note = (
        ""
        if cross is None
        else f'<p class="muted">Reviews both in the batch files and on the stream, kept once '
        f'in gold (the batch copy): <b data-value="{cross}">{cross:,}</b>.</p>'
    )
    return (
        "<table><thead><tr><th>dataset</th><th class=num>bad lines (bronze quarantine)</th>"
        "<th class=num>bronze rows</th><th class=num>quarantined by silver</th>"
        "<th class=num>duplicates dropped</th><th class=num>silver rows</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        '<p class="muted">bronze rows = silver rows + quarantined by silver + duplicates dropped '
        "(checked by <code>reconciles_with_bronze</code> on every run).</p>" + cross_note
    )


def basis(name: str) -> str:
    return "the model's labels" if name == "model" else "rating-based: no model scores yet"


def render_page(data: DashboardData) -> RenderedPage:
    """The whole page for `data`; `charts` lists every figure the page draws."""
    page = PageBuilder()
    panel: Callable[[str, go.Figure | None, str, str], str] = page.panel
    no_reviews = "gold.reviews_enriched has no reviews yet."
    prices = data.price_rating
    price_scope = f"{prices.priced_products:,} products with a listed price"
    if len(prices.points) < prices.priced_products:
        price_scope = f"the {len(prices.points):,} most reviewed of {price_scope}"
    by_year_basis = basis(data.sentiment_by_year.basis)
    brand_basis = basis(data.brands.basis)
    model_note = version_note = ""
    if data.model is not None:
        version_note = f": version {data.model.version}"
        auc = data.model.metrics.get("roc_auc")
        model_note = f": version {data.model.version}" + (
            f", AUC {auc:.3f}" if auc is not None else ""
        )
    sections = [
        "<h2>Reviews</h2><div class='grid'>",
        panel("ratings", charts.ratings_histogram(data.ratings), no_reviews, "Ratings histogram"),
        panel(
            "ratings_verified",
            charts.ratings_by_verified(data.ratings_by_verified),
            no_reviews,
            "Ratings by verified purchase (share of each group's reviews)",
        ),
        panel(
            "reviews_per_year",
            charts.reviews_per_year(data.years),
            "gold.category_monthly has no dated reviews yet.",
            "Reviews per year",
        ),
        panel(
            "rating_per_year",
            charts.rating_per_year(data.years),
            "gold.category_monthly has no dated reviews yet.",
            "Average rating per year",
        ),
        panel(
            "categories",
            charts.top_categories(data.categories),
            "gold.category_monthly is empty.",
            "Top 10 main categories",
        ),
        panel(
            "price_rating",
            charts.price_rating(data.price_rating),
            "no product in gold.product_summary has a listed price.",
            f"Price against average rating ({price_scope})",
        ),
        "</div><h2>Sentiment</h2><div class='grid'>",
        panel(
            "sentiment_share",
            charts.sentiment_share(data.sentiment_share),
            no_reviews,
            "Sentiment share: the model's labels and the ratings' "
            "(1-2★ negative, 3★ neutral, 4-5★ positive)",
        ),
        panel(
            "sentiment_by_year",
            charts.sentiment_by_year(data.sentiment_by_year),
            no_reviews,
            f"Sentiment by year ({by_year_basis})",
        ),
        panel(
            "brands_positive",
            charts.top_brands(data.brands, "positive"),
            "no review of a branded product is positive yet.",
            f"Top 10 brands by positive reviews ({brand_basis})",
        ),
        panel(
            "brands_negative",
            charts.top_brands(data.brands, "negative"),
            "no review of a branded product is negative yet.",
            f"Top 10 brands by negative reviews ({brand_basis})",
        ),
        "</div><h2>Sentiment classifier</h2>",
        f'<section class="panel" id="panel-model">{model_summary(page, data.model)}</section>',
        "<div class='grid'>",
        panel(
            "roc",
            charts.roc_curve(data.model),
            "no ROC curve recorded in gold.model_evaluations for paisa-sentiment.",
            f"ROC curve on the test set{model_note}",
        ),
        panel(
            "confusion",
            charts.confusion_matrix(data.model),
            "no confusion matrix recorded in gold.model_evaluations for paisa-sentiment.",
            f"Confusion matrix on the test set{version_note}",
        ),
        "</div><h2>Recommendations</h2>",
        recommendations_section(page, data),
        "<h2>Stream freshness</h2><div class='grid'>",
        panel(
            "stream",
            charts.stream_freshness(data.stream),
            "bronze.eh_streaming holds no event (nothing received from the event hub).",
            "Events per enqueued hour (UTC) and ingestion lag (enqueued → bronze)",
        ),
        "</div><h2>Data quality</h2><div class='grid'>",
        panel(
            "quarantine",
            charts.quarantine_reasons(data.quality),
            "no row has been quarantined.",
            "Quarantined rows by rule (a row breaking several rules counts under each)",
        ),
        '<section class="panel" id="panel-reconciliation"><h3>Duplicates dropped</h3>'
        f"{data_quality_table(page, data)}</section>",
        '<section class="panel" id="panel-quarantine-examples">'
        "<h3>Recent quarantined rows, by kind</h3>"
        f"{quarantine_examples_table(data)}</section>",
        "</div><h2>Latest reviews</h2>",
        '<section class="panel" id="panel-latest-reviews">'
        f"{latest_reviews_table(page, data)}</section>",
    ]
    body = "".join(sections)
    figures_json = script_json(page.figures)
    library = plotly_js()
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {csp_hash(library)} {csp_hash(BOOTSTRAP_JS)}",
            "style-src 'unsafe-inline'",
            "img-src data: blob:",
            "font-src data:",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    generated = format_time(data.generated_at)
    document = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="paisa-chart-count" content="{len(page.figures)}">'
        "<title>paisa: Amazon reviews dashboard</title>"
        f"<style>{STYLE}</style></head>"
        f'<body data-chart-count="{len(page.figures)}">'
        "<header><h1>paisa: Amazon product reviews</h1>"
        f"<p>Built {esc(generated)} from the gold, bronze and silver Delta tables.</p></header>"
        f"<main><h2>Headline figures</h2>{kpi_tiles(data.kpis, data.generated_at)}{body}</main>"
        f'<script type="application/json" id="{FIGURES_ELEMENT}">{figures_json}</script>'
        f"<script>{library}</script>"
        f"<script>{BOOTSTRAP_JS}</script>"
        "</body></html>\n"
    )
    return RenderedPage(document, list(page.figures), page.empty)
