"""Which order a file writes its dates in: day first (25/12/2011) or month first (12/25/2011).

A date written with numbers only says its order when one of its first two parts is over 12.
The cells of a sample are evidence: a first part over 12 says day first, a second part over
12 says month first, both in one file say it mixes the two (refused: no option reads it).
Without evidence, dates such as 03/02/2024 read differently either way, and the import asks
which order to use instead of guessing. ISO dates (2024-02-03) have one reading. No Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# day or month, day or month, then a year of 2 or 4 digits ("03/02/2024", "3.2.24 10:00");
# RE2 syntax (Arrow's): no look-ahead
NUMERIC_DATE = r"^\s*(?P<first>\d{1,2})[/.\-](?P<second>\d{1,2})[/.\-](?:\d{4}|\d{2})(?:\D|$)"
# How the options are named to people (each place that takes them says them its own way).
OPTION_WORDS = ("--dayfirst or --monthfirst on the command line, \"dayfirst\": true or false in the API, "
                "“Dates are written” on the page")


class DateOrderError(ValueError):
    """The file's dates cannot be read in one order; the message says what to do."""


@dataclass(frozen=True)
class DateOrder:
    """What a column's cells say about the order of their dates."""

    day_first: str | None = None  # a cell that can only be day first (25/12/2011)
    month_first: str | None = None  # a cell that can only be month first (12/25/2011)
    either: str | None = None  # a cell read differently either way (03/02/2024), when no evidence


def _parts(values: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """The cells as text, and the first two parts of those written as numeric dates (NaN
    elsewhere). Arrow's regex over the whole column: an import's chunks of ISO dates pass
    through it at almost no cost."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        text = values.fillna("")
    else:
        text = values.astype(object).where(values.notna(), "").astype(str)
    cells = pa.array(text, type=pa.string())
    if not pc.any(pc.match_substring_regex(cells, NUMERIC_DATE)).as_py():  # a match is 5x cheaper than an extract
        return text, pd.DataFrame({0: np.nan, 1: np.nan}, index=values.index)
    found = pc.extract_regex(cells, NUMERIC_DATE)  # null where no match
    parts = pd.DataFrame({
        0: pc.cast(pc.struct_field(found, "first"), pa.float64()).to_numpy(zero_copy_only=False),
        1: pc.cast(pc.struct_field(found, "second"), pa.float64()).to_numpy(zero_copy_only=False),
    }, index=values.index)
    return text, parts


def date_order(values: pd.Series) -> DateOrder:
    """The evidence of a column's cells (a sample of them) for one order or the other."""
    if values.empty:
        return DateOrder()
    text, parts = _parts(values)
    first, second = parts[0], parts[1]
    day_first = text[first > 12]
    month_first = text[second > 12]
    differ = text[(first <= 12) & (second <= 12) & (first != second)]

    def example(cells: pd.Series) -> str | None:
        return str(cells.iloc[0]).strip() if len(cells) else None

    return DateOrder(day_first=example(day_first), month_first=example(month_first), either=example(differ))


def shown_dayfirst(columns: dict[str, DateOrder]) -> bool | None:
    """The order the cells show (True: day first, False: month first), None when none shows
    one. Raises DateOrderError when they show both (in one column, or one in each)."""
    for column, order in columns.items():
        if order.day_first and order.month_first:
            raise DateOrderError(
                f"The dates in “{column}” are written both day first (“{order.day_first}”) and month first "
                f"(“{order.month_first}”), so none of them can be trusted. Correct the file so that all its dates "
                "use one order (or write them as 2011-12-25), then import it again.")
    day = [column for column, order in columns.items() if order.day_first]
    month = [column for column, order in columns.items() if order.month_first]
    if day and month:
        raise DateOrderError(
            f"The dates in “{day[0]}” are day first (“{columns[day[0]].day_first}”) and those in “{month[0]}” "
            f"month first (“{columns[month[0]].month_first}”): an import reads its dates in one order. Write them "
            "the same way (or as 2011-12-25), then import the file again.")
    return True if day else False if month else None


def resolve_dayfirst(columns: dict[str, DateOrder], dayfirst: bool | None) -> bool | None:
    """The order to read the dates in: the one the cells show, else the one given (None:
    nobody said, and no cell needs it). Raises DateOrderError when the cells mix the two
    orders, when they contradict the order given, or when dates read differently either
    way and no order is given."""
    shown = shown_dayfirst(columns)
    if shown is not None:
        column, order = next((c, o) for c, o in columns.items() if (o.day_first if shown else o.month_first))
        if dayfirst is not None and dayfirst != shown:
            example = order.day_first if shown else order.month_first
            told, is_ = ("month first", "day first") if shown else ("day first", "month first")
            raise DateOrderError(
                f"The dates in “{column}” are {is_} (“{example}”), but the import was told they are {told}. "
                f"Choose {is_}, or leave the order unset to read it from the file.")
        return shown
    either = [column for column, order in columns.items() if order.either]
    if either and dayfirst is None:
        example = columns[either[0]].either
        raise DateOrderError(
            f"The dates in “{either[0]}” could be day first or month first (“{example}” is one date or the other), "
            f"and no date among the first rows tells. Say which order they are in: {OPTION_WORDS}.")
    return dayfirst


def contrary_to(values: pd.Series, *, dayfirst: bool) -> np.ndarray:
    """The cells that can only be read in the other order (a row that mixes the orders in a
    file whose sample showed one): True where the cell contradicts `dayfirst`."""
    if values.empty:
        return np.zeros(0, dtype=bool)
    _, parts = _parts(values)
    impossible = parts[1] > 12 if dayfirst else parts[0] > 12
    return impossible.to_numpy(dtype=bool)
