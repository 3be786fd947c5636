"""Machine learning on the gold layer: pure training and evaluation code (no Dagster)."""
