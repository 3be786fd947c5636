"""The one text column the sentiment model reads, and the SQL that builds it from gold.

Kept apart from the modelling modules (scikit-learn, TextBlob, pandas) so that assets can name
the column without importing them: every Dagster step process imports every asset module.
"""

TEXT_COLUMN = "text"
# Summary and body, as one text: a summary alone ("Five stars") often carries the sentiment.
TEXT_SQL = f"concat_ws('. ', nullif(summary, ''), nullif(review_text, '')) AS {TEXT_COLUMN}"
