"""The shapes of input the REST API takes, each defined once: row ids, cursors, text.

Every bound here is one the database or a service would otherwise enforce with an
error of its own (an integer key, a NUL byte PostgreSQL refuses, a ``LIKE``
pattern SQLite finds too complex), so the API answers 400 naming the field instead,
and the OpenAPI document states the bound.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, field_validator

from accord.domain.text import MAX_SEARCH, unstorable
from accord.http import MAX_ROW_ID, RowId

__all__ = ["MAX_ROW_ID", "Before", "Input", "RowId", "Search", "Text", "one_of", "storable"]


def storable(value: str) -> str:
    """``value``, when every database can store it: no NUL, no unpaired surrogate."""
    why = unstorable(value)
    if why:
        raise ValueError(why)
    return value


def _storable_anywhere(value: Any) -> Any:
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _storable_anywhere(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable_anywhere(key)
            _storable_anywhere(item)
    return value


def one_of(values: Iterable[str]) -> dict[str, Any]:
    """``json_schema_extra`` stating the values a service takes, where the service (not the
    schema) checks them, so that a request's bad fields are all listed at once."""
    return {"enum": list(values)}


class Input(BaseModel):
    """A request body: every string in it, however deep, is one the database can store."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _storable_anywhere(value)


# Text in a path or query parameter.
Text = Annotated[str, AfterValidator(storable)]
# A page cursor: the id of the last row of the previous page.
Before = Annotated[
    int | None, Query(ge=1, le=MAX_ROW_ID, description="The previous page's last id.")
]
# A free-text search.
Search = Annotated[
    str | None,
    Query(max_length=MAX_SEARCH, description="Text in name, description, pattern."),
    AfterValidator(lambda v: storable(v) if v is not None else v),
]
