"""The CSV tables datasets are named by (a manifest, a soft-targets table): read, checked for
their columns, and their bad rows named in one line.

    >>> rows_problem("without tags", [2, 5])
    '2 rows without tags (line 4; line 7)'
"""
import os

import pandas as pd

__all__ = ["SHOWN_ROWS", "read_table", "rows_problem"]

SHOWN_ROWS = 3  # offending rows named in an error; the count covers all of them


def rows_problem(what, rows, details=None):
    """'3 rows without tags (line 4; line 7; line 9)' with the first SHOWN_ROWS named, and
    ``details[row]`` after each where given (``rows`` are pandas indices: row 0 is line 2)."""
    shown = [f"line {i + 2}" + (f": {details[i]}" if details else "") for i in rows[:SHOWN_ROWS]]
    more = f", and {len(rows) - SHOWN_ROWS} more" if len(rows) > SHOWN_ROWS else ""
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''} {what} ({'; '.join(shown)}{more})"


def read_table(csv_path, required, error, noun, expected):
    """The CSV at ``csv_path`` as strings (no NaN), columns stripped; raises ``error`` ('<noun>
    <path>: ...', one line) when it is missing, unreadable, lacks a ``required`` column or has no rows.

    Args:
        csv_path: the file.
        required: column names it must have.
        error: the exception class raised.
        noun: what the file is, first word of every message ("manifest").
        expected: the columns named in a missing-column message ("path, tags and optionally split").
    """
    if not os.path.isfile(csv_path):
        raise error(f"{noun} {csv_path}: no such file")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as problem:
        raise error(f"{noun} {csv_path}: not a readable CSV ({str(problem).strip()})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise error(f"{noun} {csv_path}: missing column(s) {', '.join(missing)}; it has {', '.join(frame.columns)} "
                    f"(expected {expected})")
    if frame.empty:
        raise error(f"{noun} {csv_path}: no rows")
    return frame
