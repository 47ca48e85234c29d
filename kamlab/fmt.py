"""Numbers for people: the one place that decides how kamlab prints a number.

Every number in a report, a summary sentence or an HTML table goes through these functions, so
that it carries only the precision the numerics promise and reads the same on every machine:
money in whole currency units with thousands separators, shares as percentages, counts as
integers, estimates to at most four significant digits, p-values to two, and a dash for a
missing value. None of them ever switches to scientific notation.

>>> money(18150234.4871), money(-1234.6, "EUR"), share(0.63249), count(244.0)
('18,150,234', 'EUR -1,235', '63.2%', '244')
>>> estimate(0.000123456), estimate(23790.3), estimate(4.19e4), p_value(5.3e-17), p_value(0.0024)
('0.0001235', '23,790', '41,900', '< 0.001', '0.0024')
>>> money(float("nan")), share(None)
('–', '–')
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "MISSING",
    "count",
    "estimate",
    "is_missing",
    "listing",
    "money",
    "p_value",
    "share",
    "signed",
]

#: What a missing value looks like in a report.
MISSING = "–"


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT and NA are not equal to themselves
    except (TypeError, ValueError):  # pd.NA raises on bool()
        return True


def money(value: Any, currency: str | None = None) -> str:
    """Whole currency units with thousands separators: ``'1,234,568'`` or ``'EUR 1,234,568'``."""
    if is_missing(value):
        return MISSING
    amount = float(value)
    text = f"{round(amount):,d}"
    return f"{currency} {text}" if currency else text


def share(value: Any, digits: int = 1, signed: bool = False) -> str:
    """A proportion as a percentage: ``0.6325`` → ``'63.2%'``; ``signed`` for a change:
    ``'+3.5%'``, ``'-12.1%'``."""
    if is_missing(value):
        return MISSING
    text = f"{float(value) * 100:.{digits}f}%"
    return _with_sign(text) if signed else text


def count(value: Any) -> str:
    """An integer with thousands separators: ``244.0`` → ``'244'``."""
    if is_missing(value):
        return MISSING
    return f"{round(float(value)):,d}"


def estimate(value: Any, digits: int = 4) -> str:
    """At most ``digits`` significant digits, never scientific notation.

    Large values are rounded to ``digits`` significant digits and printed in full with
    separators (``41,900``); small ones with as many decimals as the digits need
    (``0.0001235``).
    """
    if is_missing(value):
        return MISSING
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = digits - 1 - magnitude
    rounded = round(x, decimals)
    if rounded != 0 and math.floor(math.log10(abs(rounded))) > magnitude:  # 9.9996 → 10.00
        decimals -= 1
    if decimals <= 0:
        return f"{round(x, decimals):,.0f}"
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def signed(value: Any, digits: int = 4) -> str:
    """:func:`estimate` with an explicit sign: ``'+0.13'``, ``'-0.22'``."""
    if is_missing(value):
        return MISSING
    return _with_sign(estimate(value, digits))


def _with_sign(text: str) -> str:
    """A formatted number with an explicit ``+`` unless negative or exactly zero."""
    return text if text.startswith("-") or text == "0" else f"+{text}"


def p_value(value: Any, name: str | None = None) -> str:
    """Two significant digits; below 0.001 as ``'< 0.001'``. With ``name``, a statement for a
    sentence: ``'q = 0.042'``, ``'p < 0.001'``.

    >>> p_value(0.04213, "q"), p_value(2e-5, "p"), p_value(float("nan"), "p")
    ('q = 0.042', 'p < 0.001', 'p = –')
    """
    if is_missing(value):
        text = MISSING
    elif float(value) < 0.001:
        text = "< 0.001"
    else:
        text = estimate(float(value), 2)
    if name is None:
        return text
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def listing(items) -> str:
    """Names joined for a sentence: ``'a'``, ``'a and b'``, ``'a, b and c'``.

    >>> listing(["nps"]), listing(["nps", "qbr"]), listing(["a", "b", "c"]), listing([])
    ('nps', 'nps and qbr', 'a, b and c', '')
    """
    names = [str(i) for i in items]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
