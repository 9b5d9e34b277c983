"""Keep jsonschema's IRI grammar from being built in every process that never checks an IRI.

``jsonschema`` (which ``stix2-validator`` imports) imports ``rfc3987_syntax`` when it is
installed, for its ``iri`` and ``iri-reference`` format checks, and that module builds
some forty Lark grammars as it is imported: about a second of CPU in every server worker
and every command that validates. No STIX 2.1 schema uses either format, so the grammars
are almost never needed. ``defer_rfc3987_syntax`` puts a stand-in under that name whose
``is_valid_syntax`` (all jsonschema takes from it) and every other attribute load the
real module on first use, so a check that does need it answers exactly as before.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_NAME = "rfc3987_syntax"
_LOADING = threading.Lock()


def defer_rfc3987_syntax() -> None:
    """Install the stand-in, unless the module is imported already or not installed."""
    if _NAME in sys.modules:
        return
    spec = importlib.util.find_spec(_NAME)
    if spec is None or spec.loader is None:
        return
    stand_in = types.ModuleType(_NAME)
    stand_in.__spec__ = spec
    stand_in.__file__ = spec.origin
    stand_in.__path__ = list(spec.submodule_search_locations or ())  # a package
    real: list[types.ModuleType] = []

    def load() -> types.ModuleType:
        with _LOADING:
            if not real:
                module = importlib.util.module_from_spec(spec)
                sys.modules[_NAME] = module  # its own ``from .syntax_helpers import *``
                try:
                    assert spec.loader is not None
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules[_NAME] = stand_in
                    raise
                real.append(module)
            return real[0]

    def is_valid_syntax(term: str, value: str) -> Any:
        return load().is_valid_syntax(term, value)

    def __getattr__(name: str) -> Any:  # the module's attribute hook
        return getattr(load(), name)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[_NAME] = stand_in
