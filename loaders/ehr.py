"""S4 format: EHR extracts (``ehr_*.jsonl``) into rows of ``bronze.ehr_documents``.

One patient document (a JSON object, visits and all) per line. The lines are read exactly as
ADT event files are (:func:`loaders.adt.parse`, the one JSON-lines reader): a line that is a
JSON object lands as it was received in ``document``; any other non-empty line lands
quarantined (``document`` null, the line in ``raw_line``). New or missing attributes need no
change here: the whole document lands.
"""

from __future__ import annotations

from loaders import adt

SOURCE = "ehr_documents"
TABLE = "ehr_documents"
RECORD_COLUMN = "document"
PREFIX = "ehr_"
SUFFIX = ".jsonl"

parse = adt.parse  # JSON lines, shared with the ADT feed
