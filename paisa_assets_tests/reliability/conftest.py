"""Fixtures the reliability tests share with the rest of the suite."""

from paisa_assets_tests.test_azure_storage import azurite  # noqa: F401  (Azurite, session-wide)
