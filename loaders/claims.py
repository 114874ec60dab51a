"""S5 format: monthly claim batches (``claims_*.csv``) into rows of ``bronze.claims``.

The header line names the fields; every later record lands as ``{header name: field text}``,
read exactly as department extracts are (:func:`loaders.departments.parse`, the one CSV
reader): quotes removed, nothing trimmed or typed, a record with a wrong field count, an
unterminated quote or text PostgreSQL cannot store lands quarantined (``record`` null, its text
in ``raw_line``).
"""

from __future__ import annotations

from loaders import departments

SOURCE = "claims"
TABLE = "claims"
RECORD_COLUMN = "record"
PREFIX = "claims_"
SUFFIX = ".csv"

parse = departments.parse  # CSV records as {header: field}, shared with department extracts
