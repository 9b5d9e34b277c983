"""A toy capability: one table, one service, one route, one command, one migration.

It lives wholly in this package; the only thing outside it that names it is the
``capabilities=`` argument a test passes, which stands for the registry line.
"""
