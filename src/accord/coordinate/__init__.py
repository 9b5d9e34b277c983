"""Confidence-building measures: points of contact, communication checks, assistance requests
(UN GGE norm 13(h)) and consultations, with the notifications that carry them.

``workflow`` and ``taxonomy`` are pure (no I/O); the services take a clock and repositories.
"""
