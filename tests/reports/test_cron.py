import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.reports.cron import describe, parse


@pytest.mark.parametrize(
    "expr, field, values",
    [
        ("0 6 * * *", 1, {6}),
        ("*/15 * * * *", 0, {0, 15, 30, 45}),
        ("0 6 * * mon-fri", 4, {1, 2, 3, 4, 5}),
        ("0 0 1 jan,jul *", 3, {1, 7}),
        ("0 0 * * 7", 4, {0}),
        ("5-20/5 * * * *", 0, {5, 10, 15, 20}),
    ],
)
def test_fields_expand(expr, field, values):
    assert set(parse(expr).values[field]) == values


@pytest.mark.parametrize(
    "expr, word",
    [
        ("0 6 * *", "4 fields"),
        ("61 * * * *", "outside 0-59"),
        ("0 25 * * *", "outside 0-23"),
        ("* * * * funday", "not a number"),
        ("*/0 * * * *", "positive"),
        ("5-1 * * * *", "backwards"),
        ("@sometimes", "not a known macro"),
        ("", "empty"),
    ],
)
def test_bad_expressions_are_one_sentence(expr, word):
    with pytest.raises(ValidationError) as info:
        parse(expr)
    msg = str(info.value)
    assert word in msg and "\n" not in msg and "five fields" in msg


def test_descriptions():
    assert describe("0 6 * * *") == "at 06:00 every day"
    assert describe("*/15 * * * *") == "every 15 minutes"
    assert describe("0 6 * * 1-5") == "at 06:00 on Monday to Friday"
    assert describe("@daily") == "at 00:00 every day"
