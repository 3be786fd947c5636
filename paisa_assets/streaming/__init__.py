"""Streaming progress: what the hub has, what bronze holds, what is in flight, what to ask for.

`plan` is pure interval arithmetic; `progress` reads what bronze holds; `runs` reads (and
repairs) the streaming runs recorded in the Dagster instance.
"""
