"""Dates known to the year, the month or the day (:class:`PartialDate`), as the corpus records them.

A type of the schema (:mod:`btr.schema` imports it), kept apart because it is reasoning about
intervals of days, not a label set.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import total_ordering
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["PartialDate"]

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@total_ordering
class PartialDate:
    """A date known to the year, the month or the day: ``2008``, ``2008-09``, ``2008-09-14``.

    A partial date stands for an interval of days. ``earliest`` and ``latest``
    bound it; :meth:`certainly_before` and :meth:`days_until` reason on those
    bounds so that an imprecise date never yields a false certainty. Sorting
    (``<``) is by the earliest day, then by precision, so that ``2008`` sorts
    before ``2008-09`` and ``2008-09-14``.

    Examples
    --------
    >>> PartialDate("2008-09") < PartialDate("2008-09-14")
    True
    >>> PartialDate("2008-09").certainly_before(PartialDate("2008-09-14"))
    False
    >>> PartialDate("2008-09-14").days_until(PartialDate("2009-09"))
    (352, 381)
    """

    __slots__ = ("day", "month", "year")

    def __init__(self, value: str | PartialDate | dt.date) -> None:
        if isinstance(value, PartialDate):
            self.year, self.month, self.day = value.year, value.month, value.day
            return
        if isinstance(value, dt.date):
            self.year, self.month, self.day = value.year, value.month, value.day
            return
        match = _DATE_RE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD")
        year, month, day = (int(g) if g else None for g in match.groups())
        if month is not None and not 1 <= month <= 12:
            raise ValueError(f"{value!r} has no month {month}")
        if day is not None:
            dt.date(year, month, day)  # raises ValueError on 2008-02-30
        self.year, self.month, self.day = year, month, day

    @property
    def precision(self) -> str:
        """``"year"``, ``"month"`` or ``"day"``."""
        if self.day is not None:
            return "day"
        return "month" if self.month is not None else "year"

    @property
    def earliest(self) -> dt.date:
        """The first day the date may stand for."""
        return dt.date(self.year, self.month or 1, self.day or 1)

    @property
    def latest(self) -> dt.date:
        """The last day the date may stand for."""
        if self.day is not None:
            return self.earliest
        if self.month is None:
            return dt.date(self.year, 12, 31)
        first_next = dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return first_next - dt.timedelta(days=1)

    def certainly_before(self, other: PartialDate) -> bool:
        """True when every day of ``self`` is before every day of ``other``."""
        return self.latest < other.earliest

    def certainly_after(self, other: PartialDate) -> bool:
        """True when every day of ``self`` is after every day of ``other``."""
        return self.earliest > other.latest

    def days_until(self, other: PartialDate) -> tuple[int, int]:
        """Bounds ``(least, most)`` on the days from ``self`` to ``other``."""
        return (
            (other.earliest - self.latest).days,
            (other.latest - self.earliest).days,
        )

    def _key(self) -> tuple[int, int, int]:
        return (self.year, self.month or 0, self.day or 0)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = PartialDate(other)
            except ValueError:
                return NotImplemented
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: PartialDate) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text

    def __repr__(self) -> str:
        return f"PartialDate({str(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def parse(value: Any) -> PartialDate:
            if isinstance(value, PartialDate | dt.date):
                return cls(value)
            if not isinstance(value, str):
                raise PydanticCustomError("partial_date", "a date must be a string like 2008-09-14")
            try:
                return cls(value)
            except ValueError as err:
                raise PydanticCustomError("partial_date", str(err)) from err

        return core_schema.no_info_plain_validator_function(
            parse,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(pattern=_DATE_RE.pattern),
        )
