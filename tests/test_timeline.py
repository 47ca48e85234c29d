"""The timeline: every date of a run from the data and three parameters."""

from __future__ import annotations

import pandas as pd
import pytest

from kamlab.timeline import InsufficientHistory, Timeline, parse_horizon, parse_interval

T = pd.Timestamp


def _iso(values):
    return [str(v.date()) for v in values]


def test_sample_dates():
    tl = Timeline.from_data("2022-01-01", "2024-12-31")
    assert tl.as_of == T("2025-01-01")
    assert tl.horizon_days == 365 and tl.horizon_note == "365 days"
    assert tl.outcome_cutoff == T("2024-01-01")  # month start on or before 2024-01-02
    assert tl.outcome_end == T("2024-12-31")
    assert _iso(tl.backtest_cutoffs) == ["2023-01-01", "2023-07-01", "2024-01-01"]
    assert tl.previous_review == T("2024-07-01")
    assert _iso(tl.review_dates()) == [
        "2023-01-01",
        "2023-07-01",
        "2024-01-01",
        "2024-07-01",
        "2025-01-01",
    ]
    assert _iso(tl.training_cutoffs()) == [
        "2023-01-01",
        "2023-04-01",
        "2023-07-01",
        "2023-10-01",
        "2024-01-01",
    ]
    assert _iso(tl.training_cutoffs(tl.outcome_cutoff)) == ["2023-01-01"]
    (a0, a1), (b0, b1) = tl.retention_periods
    assert (a0, a1, b0, b1) == (T("2023-01-01"), T("2024-01-01"), T("2024-01-01"), T("2025-01-01"))
    assert tl.describe() == (
        "Data 2022-01-01 to 2024-12-31; as of 2025-01-01; outcomes over 365 days from "
        "2024-01-01 to 2024-12-30; previous review 2024-07-01."
    )


@pytest.mark.parametrize("months", [1, 3, 7, 12])
def test_a_refresh_moves_every_date_with_the_data(months):
    """The same portfolio cut at two data ends ``months`` apart: every date moves by exactly
    that many months, none stays behind."""
    before = Timeline.from_data("2021-03-01", "2024-06-30")
    after = Timeline.from_data(
        "2021-03-01", T("2024-07-01") + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    )
    shift = pd.DateOffset(months=months)
    assert after.as_of == before.as_of + shift
    assert after.outcome_cutoff == before.outcome_cutoff + shift
    assert after.previous_review == before.previous_review + shift
    assert after.backtest_cutoffs == [c + shift for c in before.backtest_cutoffs]
    assert after.review_dates()[-2:] == [d + shift for d in before.review_dates()[-2:]]
    old, new = before.to_dict(), after.to_dict()
    for key in ("as_of", "outcome_cutoff", "previous_review", "data_end"):
        assert old[key] != new[key], key


def test_explicit_as_of_moves_everything():
    tl = Timeline.from_data("2022-01-01", "2024-12-31", as_of="2024-07-01")
    assert tl.outcome_cutoff == T("2023-07-01")
    assert tl.previous_review == T("2024-01-01")
    assert _iso(tl.backtest_cutoffs) == ["2023-01-01", "2023-07-01"]


def test_short_data_get_a_shorter_horizon_and_say_so():
    online_retail = Timeline.from_data("2010-12-01", "2011-12-09")
    assert online_retail.horizon_days == 183
    assert "6 months" in online_retail.horizon_note and "374 days" in online_retail.horizon_note
    assert online_retail.outcome_cutoff == T("2011-06-01")
    assert _iso(online_retail.backtest_cutoffs) == ["2011-03-01", "2011-06-01"]
    cdnow = Timeline.from_data("1997-01-01", "1998-06-30")
    assert (cdnow.horizon_days, cdnow.outcome_cutoff) == (242, T("1997-11-01"))
    assert _iso(cdnow.backtest_cutoffs) == ["1997-05-01", "1997-08-01", "1997-11-01"]


def test_too_short_data_explain_what_is_missing():
    tl = Timeline.from_data("2024-01-01", "2024-03-31", horizon_days=365)
    assert tl.outcome_cutoff is None and tl.backtest_cutoffs == []
    with pytest.raises(InsufficientHistory, match="365-day outcome window"):
        tl.require("the back-test")
    assert "too short for 365-day outcomes" in tl.describe()


def test_human_horizons_are_converted_and_stated():
    assert parse_horizon(365) == (365, "365 days")
    assert parse_horizon("90D") == (90, "90 days")
    assert parse_horizon("52W") == (364, "52W = 364 days")
    assert parse_horizon("12M", T("2025-01-01")) == (
        366,
        "12M = 366 days (2024-01-01 to 2025-01-01)",
    )
    assert parse_horizon(pd.DateOffset(years=1), T("2025-07-01"))[0] == 365
    tl = Timeline.from_data("2022-01-01", "2024-12-31", horizon_days="12M")
    assert tl.horizon_days == 366 and tl.outcome_cutoff == T("2024-01-01")
    for bad, message in (
        (0, "positive"),
        (1.5, "whole number"),
        ("soon", "not an interval"),
        (True, "not a horizon"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_horizon(bad, T("2025-01-01"))


def test_bad_dates_name_the_parameter():
    with pytest.raises(ValueError, match="as_of: '2024-02-30' is not a date"):
        Timeline.from_data("2022-01-01", "2024-12-31", as_of="2024-02-30")
    with pytest.raises(ValueError, match="after the data's end"):
        Timeline.from_data("2022-01-01", "2024-12-31", as_of="2025-01-02")
    with pytest.raises(ValueError, match="review_interval: 'often'"):
        Timeline.from_data("2022-01-01", "2024-12-31", review_interval="often")
    assert parse_interval("13W", "x") == pd.DateOffset(weeks=13)


def test_to_dict_is_json_ready():
    import json

    d = Timeline.from_data("2022-01-01", "2024-12-31").to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["review_interval"] == "6M"
