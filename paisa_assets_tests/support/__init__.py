"""Helpers the tests share (test modules import from here or conftest, never from each other)."""
