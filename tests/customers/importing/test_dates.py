"""The order of a file's dates, from its cells: day first, month first, mixed or undecided. No database."""

import pandas as pd
import pytest

from customers.importing.dates import DateOrder, DateOrderError, contrary_to, date_order, resolve_dayfirst


def test_a_first_part_over_12_says_day_first_and_a_second_part_over_12_month_first():
    assert date_order(pd.Series(["03/02/2024", "25/12/2011 10:00"])).day_first == "25/12/2011 10:00"
    assert date_order(pd.Series(["03/02/2024", "12/25/2011"])).month_first == "12/25/2011"
    undecided = date_order(pd.Series(["03.02.24", "05/05/2024", ""]))
    assert (undecided.day_first, undecided.month_first, undecided.either) == (None, None, "03.02.24")


def test_iso_dates_and_same_day_and_month_read_one_way_only():
    assert date_order(pd.Series(["2024-02-03", "2024/12/25 08:00", "05/05/2024", None])) == DateOrder()


def test_the_order_shown_wins_and_an_undecided_file_needs_one_given():
    day = {"Date": date_order(pd.Series(["25/12/2011", "03/02/2012"]))}
    assert resolve_dayfirst(day, None) is True and resolve_dayfirst(day, True) is True
    either = {"Date": date_order(pd.Series(["03/02/2012"]))}
    assert resolve_dayfirst(either, False) is False and resolve_dayfirst(either, True) is True
    with pytest.raises(DateOrderError, match="could be day first or month first .* --dayfirst or --monthfirst"):
        resolve_dayfirst(either, None)
    assert resolve_dayfirst({"Date": date_order(pd.Series(["2012-02-03"]))}, None) is None


@pytest.mark.parametrize("columns, dayfirst, message", [
    ({"Date": ["25/12/2011", "12/25/2011"]}, None, "both day first .* and month first"),
    ({"Date": ["25/12/2011"], "Signup": ["12/25/2011"]}, None, "an import reads its dates in one order"),
    ({"Date": ["25/12/2011"]}, False, "are day first .* told they are month first"),
    ({"Date": ["12/25/2011"]}, True, "are month first .* told they are day first"),
])
def test_dates_that_no_order_reads_are_refused_with_a_sentence(columns, dayfirst, message):
    with pytest.raises(DateOrderError, match=message):
        resolve_dayfirst({name: date_order(pd.Series(cells)) for name, cells in columns.items()}, dayfirst)


def test_cells_that_only_the_other_order_reads_are_found():
    cells = pd.Series(["03/02/2012", "25/12/2011", "12/25/2011", "2011-12-25", ""])
    assert list(contrary_to(cells, dayfirst=True)) == [False, False, True, False, False]
    assert list(contrary_to(cells, dayfirst=False)) == [False, True, False, False, False]
