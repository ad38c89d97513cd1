"""Integrations for Ratatosk that need other libraries (web frameworks, pytest)."""

__all__: list[str] = []
