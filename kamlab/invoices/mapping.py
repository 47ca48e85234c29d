"""The invoice mapping: its keys, their checks, and its YAML text."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from kamlab._io import read_yaml

__all__ = [
    "AMOUNT_FORMS",
    "ATTRIBUTES",
    "COLUMN_ROLES",
    "DATE_ORDERS",
    "load_invoice_mapping",
    "mapping_yaml",
    "parse_amount",
]

#: What ``columns`` may map a file column to (account attributes go under ``account_attributes``).
COLUMN_ROLES = (
    "account_id",
    "date",
    "invoice",
    "product",
    "description",
    "category",
    "quantity",
    "unit_price",
    "amount",
    "cost",
)
ATTRIBUTES = ("name", "industry", "region", "size_band", "account_manager")
DATE_ORDERS = ("day_first", "month_first", "iso")
NUMBER_ROLES = ("quantity", "unit_price", "amount", "cost")
_KEYS: dict[str, type | tuple[type, ...]] = {
    "source": dict,
    "columns": dict,
    "date_format": str,
    "date_order": str,
    "amount": str,
    "credit_notes": dict,
    "currency": str,
    "account_attributes": dict,
    "adjustment_prefix": str,
    "exclude_products": list,
    "exclude_product_prefixes": list,
    "text_fixes": dict,
    "drop_exact_duplicates": bool,
    "drop_zero_prices": bool,
}
_SOURCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "sheet": (str, int),
    "header_row": int,
    "sep": str,
    "decimal": str,
    "thousands": str,
    "encoding": str,
}
_CREDIT_KEYS: dict[str, type | tuple[type, ...]] = {
    "prefix": str,
    "column": str,
    "values": list,
    "sign": str,
    "reference": str,
}
_MOVED = {
    "cancellation_prefix": "credit_notes: {prefix: ...}",
    "sheet": "source: {sheet: ...}",
}
AMOUNT_FORMS = (
    "a column ('Nettobetrag'), a product of columns ('Menge * Einzelpreis') or a sum or "
    "difference of columns ('Brutto - Rabatt', 'Netto + Fracht')"
)


def _check_keys(where: str, section: str, given: Mapping, allowed: Mapping) -> None:
    for key, value in given.items():
        name = f"{section}{key}"
        if key not in allowed:
            hint = f"; write {_MOVED[key]}" if not section and key in _MOVED else ""
            raise ValueError(
                f"{where}: unknown key '{name}'{hint}; allowed"
                f"{' in ' + section.rstrip('.') if section else ''}: {', '.join(sorted(allowed))}"
            )
        kinds = allowed[key] if isinstance(allowed[key], tuple) else (allowed[key],)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            hint = ", e.g. {Kundenname: name}" if key == "account_attributes" else ""
            raise ValueError(
                f"{where}: key '{name}' must be a {' or '.join(k.__name__ for k in kinds)}, "
                f"got {type(value).__name__}{hint}"
            )


def parse_amount(expression: str, where: str = "mapping") -> list[tuple[str, str]]:
    """The terms of an amount expression as ``(operator, name)`` pairs.

    Examples
    --------
    >>> parse_amount("Menge * Einzelpreis")
    [('', 'Menge'), ('*', 'Einzelpreis')]
    >>> parse_amount("Brutto - Rabatt")
    [('', 'Brutto'), ('-', 'Rabatt')]
    """
    parts = re.split(r"\s*(\*)\s*|\s+([+-])\s+", expression.strip())
    names = [p.strip() for p in parts[::3]]
    ops = [a or b for a, b in zip(parts[1::3], parts[2::3])]
    if not all(names) or (len(set(ops)) > 1 and "*" in ops):
        raise ValueError(
            f"{where}: key 'amount' is {expression!r}, which kamlab cannot evaluate; "
            f"supported forms: {AMOUNT_FORMS}"
        )
    return list(zip(["", *ops], names))


def load_invoice_mapping(source: str | os.PathLike | Mapping) -> dict:
    """Read and check an invoice mapping (a YAML file or a dict); errors name the key.

    Parameters
    ----------
    source : path-like or mapping
        The mapping, see the module docstring for every key.

    Returns
    -------
    dict
        The mapping with defaults filled in (``source``, ``credit_notes``, ``amount``), list
        items as text.

    Examples
    --------
    >>> m = load_invoice_mapping({"columns": {"Kundennr": "account_id", "Datum": "date",
    ...                                       "Betrag": "amount"}})
    >>> m["amount"], m["credit_notes"]
    ('amount', {})
    >>> load_invoice_mapping({"columns": {"K": "account_id"}, "cancellation_prefix": "C"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: mapping: unknown key 'cancellation_prefix'; write credit_notes: {prefix: ...}; ...
    """
    if isinstance(source, Mapping):
        mapping, where = dict(source), "mapping"
    else:
        where = Path(source).name
        mapping = read_yaml(source, "invoice mapping")
    _check_keys(where, "", mapping, _KEYS)
    src = dict(mapping.get("source") or {})
    _check_keys(where, "source.", src, _SOURCE_KEYS)
    credit = dict(mapping.get("credit_notes") or {})
    _check_keys(where, "credit_notes.", credit, _CREDIT_KEYS)
    if "sheet" in src:
        src["sheet"] = str(src["sheet"])
    if src.get("header_row", 1) < 1:
        raise ValueError(f"{where}: key 'source.header_row' counts from 1 (the first row)")
    if src.get("decimal", ".") not in (".", ","):
        raise ValueError(f"{where}: key 'source.decimal' must be '.' or ','")
    if src.get("thousands") is not None and src.get("thousands") == src.get("decimal", "."):
        raise ValueError(f"{where}: keys 'source.thousands' and 'source.decimal' are the same")
    if len(src.get("sep", ",")) != 1:
        raise ValueError(f"{where}: key 'source.sep' must be one character, e.g. ';' or '\\t'")
    if "encoding" in src:
        try:
            codecs.lookup(src["encoding"])
        except LookupError:
            raise ValueError(
                f"{where}: key 'source.encoding' names an unknown encoding {src['encoding']!r} "
                "(e.g. utf-8, cp1252, latin-1)"
            ) from None
    columns = {str(k): str(v) for k, v in (mapping.get("columns") or {}).items()}
    for file_col, role in columns.items():
        if role in ATTRIBUTES:
            raise ValueError(
                f"{where}: key 'columns' maps '{file_col}' to '{role}', an account attribute: "
                f"list it under account_attributes ({file_col}: {role})"
            )
        if role not in COLUMN_ROLES:
            raise ValueError(
                f"{where}: key 'columns' maps '{file_col}' to '{role}'; kamlab names are "
                f"{', '.join(COLUMN_ROLES)}"
            )
    roles = list(columns.values())
    for role in set(roles):
        if roles.count(role) > 1:
            clash = [c for c, r in columns.items() if r == role]
            raise ValueError(f"{where}: key 'columns' maps {clash} all to '{role}'")
    for needed in ("account_id", "date"):
        if needed not in roles:
            raise ValueError(f"{where}: key 'columns' must map a column to '{needed}'")
    if "amount" not in mapping and "amount" not in roles:
        raise ValueError(
            f"{where}: key 'amount' is missing and no column is mapped to 'amount'; "
            f"set amount: to {AMOUNT_FORMS}"
        )
    mapping["amount"] = str(mapping.get("amount", "amount"))
    parse_amount(mapping["amount"], where)
    if "date_format" in mapping and "date_order" in mapping:
        raise ValueError(f"{where}: set either 'date_format' or 'date_order', not both")
    if mapping.get("date_order", "iso") not in DATE_ORDERS:
        raise ValueError(f"{where}: key 'date_order' must be one of {', '.join(DATE_ORDERS)}")
    if ("column" in credit) != ("values" in credit):
        raise ValueError(
            f"{where}: 'credit_notes.column' and 'credit_notes.values' go together (the type "
            "column and its credit-note values)"
        )
    credit["values"] = [str(v) for v in credit.get("values", [])]
    if credit.get("sign", "negative") not in ("positive", "negative"):
        raise ValueError(
            f"{where}: key 'credit_notes.sign' must be 'positive' (the file books credit notes "
            "as positive amounts: kamlab negates them) or 'negative'"
        )
    if not credit["values"]:
        credit.pop("values")
    attributes = {str(k): str(v) for k, v in (mapping.get("account_attributes") or {}).items()}
    for file_col, attr in attributes.items():
        if attr not in ATTRIBUTES:
            raise ValueError(
                f"{where}: key 'account_attributes' maps '{file_col}' to '{attr}'; account "
                f"attributes are {', '.join(ATTRIBUTES)}"
            )
    for key in ("exclude_products", "exclude_product_prefixes"):
        if key in mapping:
            mapping[key] = [str(v) for v in mapping[key]]
    mapping.update(source=src, columns=columns, credit_notes=credit)
    if attributes:
        mapping["account_attributes"] = attributes
    return mapping


_ORDER = (
    "source",
    "columns",
    "date_format",
    "date_order",
    "amount",
    "credit_notes",
    "currency",
    "account_attributes",
)


def mapping_yaml(mapping: Mapping, notes: Iterable[str] = ()) -> str:
    """The mapping as YAML text, keys in reading order, ``notes`` as comments on top.

    Examples
    --------
    >>> print(mapping_yaml({"columns": {"Kundennr": "account_id", "Datum": "date"},
    ...                     "source": {"sep": ";"}, "date_format": "%d.%m.%Y"},
    ...                    notes=["check the dates"]), end="")
    # check the dates
    source:
      sep: ;
    columns:
      Kundennr: account_id
      Datum: date
    date_format: '%d.%m.%Y'
    """
    ordered = {k: mapping[k] for k in _ORDER if mapping.get(k) not in (None, {}, [])}
    ordered.update({k: v for k, v in mapping.items() if k not in _ORDER})
    text = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {note}\n" for note in notes) + text
