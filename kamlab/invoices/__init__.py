"""Invoice exports → contract folders: ``kamlab import``, its mapping, and nothing guessed silently.

An invoice export (CSV, Excel or Parquet; any ERP, any column names) plus a small YAML mapping
becomes a :class:`~kamlab.data.Dataset` with ``accounts`` and ``transactions``. Every line left
out is counted in the ledger (:class:`kamlab.ledger.Ledger`) with its rule, lines and signed
value, and the reconciliation shows kept + dropped = the file's **signed** total, to the cent,
by document type. :func:`write_import` writes the contract folder with ``ledger.csv`` and
``source.json``; :func:`propose_mapping` reads a sample of an export and proposes a mapping.

==========================  ==================================================================
``mapping``                 the keys, their checks, YAML text (:func:`load_invoice_mapping`)
``read``                    dialects, numbers in any notation, dates in any order
``build``                   the import, credit notes, currency, attributes, reconciliation
``propose``                 the proposed mapping (column roles in four languages, sniffing)
``command``                 ``kamlab import`` on the command line
==========================  ==================================================================
"""

from kamlab.invoices.build import MANY_LINES, ImportResult, import_invoices, write_import
from kamlab.invoices.command import describe_import, import_command
from kamlab.invoices.mapping import (
    AMOUNT_FORMS,
    ATTRIBUTES,
    COLUMN_ROLES,
    DATE_ORDERS,
    load_invoice_mapping,
    mapping_yaml,
)
from kamlab.invoices.propose import propose_mapping

__all__ = [
    "AMOUNT_FORMS",
    "ATTRIBUTES",
    "COLUMN_ROLES",
    "DATE_ORDERS",
    "MANY_LINES",
    "ImportResult",
    "describe_import",
    "import_command",
    "import_invoices",
    "load_invoice_mapping",
    "mapping_yaml",
    "propose_mapping",
    "write_import",
]
