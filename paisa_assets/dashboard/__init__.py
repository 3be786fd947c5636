"""The dashboard: figures queried from the lake (`queries`) and a self-contained page (`render`).

No Dagster here: the asset in `paisa_assets.assets.dashboard` opens the tables, calls these pure
functions and writes the page, so both halves are unit-tested without a Dagster run.
"""
