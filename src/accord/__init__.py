"""Accord: regional cyber-security cooperation between states."""

__version__ = "0.1.0"
