"""Plotly figures of the dashboard's data (pure: data in, figure out; None when there is none).

Plotly renders a small HTML dialect in every label, title and hover text (`<b>`, `<br>`,
`<a href>`...), so a product title or brand is never handed over raw: `text` escapes `&`, `<`
and `>`, which plotly decodes back for display, so markup shows as the characters it is made of.
Quotes stay as they are: plotly does not decode `&quot;`, and outside a tag they mean nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import timedelta

import plotly.graph_objects as go

from paisa_assets.dashboard.queries import (
    SENTIMENTS,
    BrandSentiment,
    DataQuality,
    ModelEvaluation,
    PriceRating,
    SentimentByYear,
    SentimentShare,
    StreamHour,
    YearStats,
)

SENTIMENT_COLORS = {"negative": "#d1495b", "neutral": "#a0a4a8", "positive": "#2e933c"}
ACCENT = "#3366cc"
STARS = [f"{n}★" for n in range(1, 6)]
LABEL_CHARS = 60
HOUR_MS = 3_600_000


def text(value: object, limit: int | None = None) -> str:
    """A value as plotly text that shows literally (see the module docstring), optionally cut
    to `limit` characters first (cutting after escaping could split an entity)."""
    raw = "" if value is None else str(value)
    if limit is not None and len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return html.escape(raw, quote=False)


def _layout(**extra: object) -> dict:
    """The shared look; panel titles are HTML headings on the page, not plotly titles."""
    return {
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 16, "b": 50},
        "height": 320,
        **extra,
    }


def _share(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def ratings_histogram(ratings: dict[int, int]) -> go.Figure | None:
    if not sum(ratings.values()):
        return None
    return go.Figure(
        go.Bar(
            x=STARS,
            y=[ratings[n] for n in range(1, 6)],
            marker_color=ACCENT,
            hovertemplate="%{x}: %{y:,} reviews<extra></extra>",
        ),
        _layout(xaxis_title="rating", yaxis_title="reviews"),
    )


def ratings_by_verified(by_verified: dict[bool, dict[int, int]]) -> go.Figure | None:
    """Each group's share per star: verified purchases outnumber the others by far, so counts
    would hide the difference in shape that matters."""
    if not any(sum(group.values()) for group in by_verified.values()):
        return None
    traces = []
    for verified, name, color in ((True, "verified", ACCENT), (False, "not verified", "#f4a259")):
        counts = by_verified[verified]
        total = sum(counts.values())
        traces.append(
            go.Bar(
                name=f"{name} ({total:,})",
                x=STARS,
                y=[_share(counts[n], total) for n in range(1, 6)],
                customdata=[counts[n] for n in range(1, 6)],
                marker_color=color,
                hovertemplate="%{x}: %{y:.1f}% (%{customdata:,} reviews)<extra></extra>",
            )
        )
    return go.Figure(
        traces,
        _layout(
            barmode="group",
            yaxis_title="% of the group's reviews",
            xaxis_title="rating",
        ),
    )


def reviews_per_year(years: Sequence[YearStats]) -> go.Figure | None:
    if not years:
        return None
    return go.Figure(
        go.Bar(
            x=[y.year for y in years],
            y=[y.reviews for y in years],
            marker_color=ACCENT,
            hovertemplate="%{x}: %{y:,} reviews<extra></extra>",
        ),
        _layout(xaxis={"dtick": 1, "title": "year"}, yaxis_title="reviews"),
    )


def rating_per_year(years: Sequence[YearStats]) -> go.Figure | None:
    if not years:
        return None
    return go.Figure(
        go.Scatter(
            x=[y.year for y in years],
            y=[y.avg_rating for y in years],
            mode="lines+markers",
            line_color=ACCENT,
            hovertemplate="%{x}: %{y:.2f}★<extra></extra>",
        ),
        _layout(
            xaxis={"dtick": 1, "title": "year"},
            yaxis={"range": [1, 5.1], "title": "average rating"},
        ),
    )


def _horizontal_bars(pairs: Sequence[tuple[str, int]], color: str, unit: str) -> go.Figure | None:
    if not pairs:
        return None
    ordered = list(reversed(pairs))  # plotly draws the first category at the bottom
    labels = [text(name, LABEL_CHARS) for name, _ in ordered]
    return go.Figure(
        go.Bar(
            x=[n for _, n in ordered],
            y=labels,
            orientation="h",
            marker_color=color,
            hovertemplate=f"%{{y}}: %{{x:,}} {unit}<extra></extra>",
        ),
        _layout(
            margin={"l": 20, "r": 20, "t": 16, "b": 40},
            xaxis_title=unit,
            yaxis={"automargin": True, "type": "category"},
        ),
    )


def top_categories(categories: Sequence[tuple[str, int]]) -> go.Figure | None:
    return _horizontal_bars(categories, ACCENT, "reviews")


def top_brands(brands: BrandSentiment, sentiment: str) -> go.Figure | None:
    pairs = brands.positive if sentiment == "positive" else brands.negative
    return _horizontal_bars(
        pairs,
        SENTIMENT_COLORS[sentiment],
        f"{sentiment} reviews",
    )


def sentiment_share(share: SentimentShare) -> go.Figure | None:
    groups = [("by rating", share.rating)]
    if share.model is not None:
        groups.insert(0, ("by the model", share.model))
    if not any(sum(counts.values()) for _, counts in groups):
        return None
    traces = []
    for sentiment in SENTIMENTS:
        totals = [sum(counts.values()) for _, counts in groups]
        values = [counts[sentiment] for _, counts in groups]
        traces.append(
            go.Bar(
                name=sentiment,
                y=[name for name, _ in groups],
                x=[_share(v, t) for v, t in zip(values, totals, strict=True)],
                customdata=values,
                orientation="h",
                marker_color=SENTIMENT_COLORS[sentiment],
                hovertemplate=f"{sentiment}: %{{x:.1f}}% (%{{customdata:,}} reviews)"
                "<extra>%{y}</extra>",
            )
        )
    return go.Figure(
        traces,
        _layout(
            barmode="stack",
            height=260,
            xaxis={"range": [0, 100], "title": "% of reviews"},
            yaxis={"type": "category"},
            margin={"l": 110, "r": 20, "t": 16, "b": 40},
        ),
    )


def sentiment_by_year(by_year: SentimentByYear) -> go.Figure | None:
    if not by_year.counts:
        return None
    years = sorted(by_year.counts)
    return go.Figure(
        [
            go.Bar(
                name=sentiment,
                x=years,
                y=[by_year.counts[y][sentiment] for y in years],
                marker_color=SENTIMENT_COLORS[sentiment],
                hovertemplate=f"%{{x}}: %{{y:,}} {sentiment}<extra></extra>",
            )
            for sentiment in SENTIMENTS
        ],
        _layout(
            barmode="stack",
            xaxis={"dtick": 1, "title": "year"},
            yaxis_title="reviews",
        ),
    )


def price_rating(prices: PriceRating) -> go.Figure | None:
    points = prices.points
    if not points:
        return None
    biggest = max(p.reviews for p in points)
    return go.Figure(
        go.Scatter(
            x=[p.price for p in points],
            y=[p.avg_rating for p in points],
            mode="markers",
            marker={
                "size": [6 + 18 * math.sqrt(p.reviews / biggest) for p in points],
                "color": ACCENT,
                "opacity": 0.55,
            },
            customdata=[[p.reviews, text(p.asin)] for p in points],
            hovertext=[text(p.title or p.asin, LABEL_CHARS) for p in points],
            hovertemplate="%{hovertext}<br>%{customdata[1]}: $%{x:,.2f}, %{y:.2f}★, "
            "%{customdata[0]:,} reviews<extra></extra>",
        ),
        _layout(
            xaxis={"type": "log", "title": "price (USD, log scale)"},
            yaxis={"range": [0.8, 5.2], "title": "average rating"},
        ),
    )


def stream_freshness(hours: Sequence[StreamHour]) -> go.Figure | None:
    """Hour-wide bars on a time axis (hours without events stay visible as gaps), the lag on a
    second axis."""
    if not hours:
        return None
    middles = [h.hour + timedelta(minutes=30) for h in hours]
    first, last = hours[0].hour, hours[-1].hour + timedelta(hours=1)
    return go.Figure(
        [
            go.Bar(
                name="events",
                x=middles,
                y=[h.events for h in hours],
                width=[HOUR_MS * 0.9] * len(hours),
                customdata=[h.hour.strftime("%Y-%m-%d %H:00") for h in hours],
                marker_color=ACCENT,
                hovertemplate="%{customdata} UTC: %{y:,} events<extra></extra>",
            ),
            go.Scatter(
                name="mean lag (s)",
                x=middles,
                y=[h.avg_lag_seconds for h in hours],
                yaxis="y2",
                mode="lines+markers",
                line_color="#f4a259",
                hovertemplate="mean lag %{y:,.1f} s<extra></extra>",
            ),
            go.Scatter(
                name="max lag (s)",
                x=middles,
                y=[h.max_lag_seconds for h in hours],
                yaxis="y2",
                mode="lines+markers",
                line={"color": "#d1495b", "dash": "dot"},
                hovertemplate="max lag %{y:,.1f} s<extra></extra>",
            ),
        ],
        _layout(
            xaxis={
                "type": "date",
                "title": "enqueued hour (UTC)",
                "range": [first - timedelta(minutes=30), last + timedelta(minutes=30)],
            },
            yaxis={"title": "events", "rangemode": "tozero"},
            yaxis2={
                "title": "lag (seconds)",
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
            },
            legend={"orientation": "h", "y": -0.3},
            margin={"l": 60, "r": 60, "t": 16, "b": 90},
        ),
    )


def roc_curve(model: ModelEvaluation | None) -> go.Figure | None:
    if model is None or len(model.roc_fpr) < 2:
        return None
    auc = model.metrics.get("roc_auc")
    name = f"version {model.version}" + (f" (AUC {auc:.3f})" if auc is not None else "")
    return go.Figure(
        [
            go.Scatter(
                name=name,
                x=model.roc_fpr,
                y=model.roc_tpr,
                mode="lines",
                line={"color": ACCENT, "width": 2},
                hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>",
            ),
            go.Scatter(
                name="chance",
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                line={"color": "#a0a4a8", "dash": "dash"},
                hoverinfo="skip",
            ),
        ],
        _layout(
            xaxis={"range": [0, 1], "title": "false positive rate"},
            yaxis={"range": [0, 1.02], "title": "true positive rate"},
            legend={"x": 0.55, "y": 0.1},
        ),
    )


def confusion_matrix(model: ModelEvaluation | None) -> go.Figure | None:
    if model is None or not model.confusion_matrix:
        return None
    labels = [text(label) for label in model.confusion_labels]
    return go.Figure(
        go.Heatmap(
            z=model.confusion_matrix,
            x=labels,
            y=labels,
            colorscale="Blues",
            showscale=False,
            texttemplate="%{z:,}",
            hovertemplate="true %{y}, predicted %{x}: %{z:,}<extra></extra>",
        ),
        _layout(
            xaxis={"title": "predicted", "type": "category", "side": "bottom"},
            yaxis={"title": "true", "type": "category", "autorange": "reversed"},
        ),
    )


def quarantine_reasons(quality: DataQuality) -> go.Figure | None:
    """One bar per kind of rule (positions quoted in reasons left out, see
    `queries.reason_kind_sql`), stacked by where it was applied (bronze or silver, and the
    dataset)."""
    if not quality.reasons:
        return None
    totals: dict[str, int] = {}
    for r in quality.reasons:
        totals[r.reason] = totals.get(r.reason, 0) + r.rows
    reasons = sorted(totals, key=lambda reason: (totals[reason], reason))  # largest on top
    labels = {reason: text(reason, LABEL_CHARS) for reason in reasons}
    places = sorted({(r.layer, r.dataset) for r in quality.reasons})
    traces = []
    for layer, dataset in places:
        rows = {
            r.reason: r.rows for r in quality.reasons if (r.layer, r.dataset) == (layer, dataset)
        }
        traces.append(
            go.Bar(
                name=text(f"{layer} · {dataset}"),
                x=[rows.get(reason, 0) for reason in reasons],
                y=[labels[reason] for reason in reasons],
                orientation="h",
                hovertemplate="%{y}: %{x:,} rows<extra>%{fullData.name}</extra>",
            )
        )
    return go.Figure(
        traces,
        _layout(
            barmode="stack",
            margin={"l": 20, "r": 20, "t": 16, "b": 40},
            xaxis_title="quarantined rows",
            # Every kind labelled (plotly thins crowded category ticks), each bar tall enough.
            yaxis={"automargin": True, "type": "category", "dtick": 1},
            height=max(320, 120 + 28 * len(reasons)),
            legend={"orientation": "h", "y": -0.25},
        ),
    )
