"""One rule per medium for numbers and p-values, NaN-to-None, and file-name slugs."""

from __future__ import annotations

import math

import pytest

from evalkit.util._format import (
    filename_slug,
    finite_or_none,
    json_safe,
    page_number,
    page_p_value,
    page_percent,
    terminal_number,
    terminal_p_value,
)

NO_NUMBER = [None, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NO_NUMBER)
def test_no_number_is_a_hyphen_in_the_terminal_and_an_en_dash_on_a_page(value: object) -> None:
    assert terminal_number(value) == "-" and terminal_p_value(value) == "-"  # type: ignore[arg-type]
    assert page_number(value) == "–" and page_p_value(value) == "–"
    assert page_percent(value) == "–" and finite_or_none(value) is None


def test_terminal_numbers_have_three_significant_digits() -> None:
    assert terminal_number(0.81234) == "0.812"
    assert terminal_number(12.345) == "12.3"
    assert terminal_number(-0.04, signed=True) == "-0.04"
    assert terminal_number(0.04, signed=True) == "+0.04"
    assert terminal_number(0.123456, digits=5) == "0.12346"


def test_terminal_p_values_have_three_decimals_or_scientific_notation_below_a_thousandth() -> None:
    # One rule for the compare table, the gate's reasons and JUnit properties (the gate's
    # reasons used to drop trailing zeros: p=0.04 there, p=0.040 in the table).
    assert terminal_p_value(0.04) == "0.040"
    assert terminal_p_value(0.001) == "0.001"
    assert terminal_p_value(0.0000234) == "2.3e-05"
    assert terminal_p_value(1.0) == "1.000"


def test_page_numbers_have_three_decimals_and_p_values_below_a_thousandth_read_lt() -> None:
    assert page_number(0.8) == "0.800"
    assert page_number(0.04, signed=True) == "+0.040"
    assert page_number(2, digits=1) == "2.0"
    assert page_p_value(0.04) == "0.040"
    assert page_p_value(0.0004) == "<0.001"
    assert page_percent(0.8123) == "81.2%"


def test_json_safe_replaces_non_finite_floats_with_none_at_any_depth() -> None:
    data = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf, "d": "x"}], "e": (2, None)}
    assert json_safe(data) == {"a": None, "b": [1.0, None, {"c": None, "d": "x"}], "e": [2, None]}


def test_filename_slug_keeps_ascii_names_and_folds_runs_of_other_characters() -> None:
    assert filename_slug("qa-v2.1_x") == "qa-v2.1_x"
    assert filename_slug("support / rag: ünïcode") == "support_rag_n_code"
    assert filename_slug("x" * 80) == "x" * 60
    assert filename_slug("x" * 80, max_length=None) == "x" * 80
    assert filename_slug("///", fallback="run") == "_"
    assert filename_slug("", fallback="suite") == "suite"
