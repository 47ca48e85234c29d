"""Synthetic B2B portfolios with planted truth.

:func:`generate` draws a portfolio in the data contract from a documented generative model, and
:func:`write_synthetic` writes it (plus ``truth.json`` and ``truth_accounts.csv``) to a folder.

The model, per account ``i`` (all draws from one seeded ``numpy.random.Generator``):

* latent traits ``z_ik ~ N(0, 1)``, one per assessed criterion plus ``satisfaction`` and
  ``cost_to_serve``; ``market_influence`` is correlated (ρ = 0.4) with ``strategic_fit`` so a
  noise criterion is not trivially independent of a driver;
* annual revenue at the start ``S_i ~ LogNormal(log 60 000, 1.25)`` (heavy tail);
* true log growth per year ``g_i = 0.03 + Σ_k β_k z_ik + ε_i``, ``ε_i ~ N(0, 0.10)``, with
  ``β`` in :data:`GROWTH_COEFFICIENTS` (zeros are noise criteria);
* monthly churn hazard ``h_i = 0.008 · exp(Σ_k γ_k z_ik)`` with ``γ`` in
  :data:`CHURN_COEFFICIENTS`; a churned account stops ordering and gets ``churned_on``;
* orders per month ``~ Poisson(λ_i)`` with ``λ_i`` growing mildly with size; order values
  share the month's expected revenue ``S_i · exp(g_i t) · season(t) / 12`` with log-normal
  noise; 3 % of orders are followed by a credit note (negative amount);
* quarterly assessments score every criterion 1–5 as ``round(3 + 0.9 z + N(0, 0.6))``;
* interactions: half-yearly NPS (0–10, driven by ``satisfaction``), support tickets (rate and
  hours driven by ``cost_to_serve``) and quarterly business reviews for the largest accounts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kamlab._io import atomic_write, write_csv
from kamlab.data import TRANSACTION_COLUMNS

__all__ = [
    "ASSESSED_CRITERIA",
    "CHURN_COEFFICIENTS",
    "GROWTH_COEFFICIENTS",
    "SyntheticPortfolio",
    "generate",
    "write_synthetic",
]

ASSESSED_CRITERIA = (
    "growth_potential",
    "willingness_to_partner",
    "strategic_fit",
    "market_influence",
    "executive_fit",
    "innovativeness",
    "reputation",
    "information_exchange",
    "long_term_vision",
    "complexity_of_needs",
)
LATENT = ASSESSED_CRITERIA + ("satisfaction", "cost_to_serve")


def _planted(**effects: float) -> dict[str, float]:
    """One coefficient per latent trait (in :data:`LATENT` order): 0 unless given."""
    unknown = sorted(set(effects) - set(LATENT))
    if unknown:
        raise ValueError(f"not latent traits: {unknown}")
    return {trait: effects.get(trait, 0.0) for trait in LATENT}


#: Planted effect on log revenue growth per year of one standard deviation of each trait.
GROWTH_COEFFICIENTS = _planted(
    growth_potential=0.15, willingness_to_partner=0.10, strategic_fit=0.07
)
#: Planted effect on the log monthly churn hazard of one standard deviation of each trait.
CHURN_COEFFICIENTS = _planted(willingness_to_partner=-0.5, satisfaction=-0.6)
GROWTH_INTERCEPT = 0.03
GROWTH_NOISE_SD = 0.10
BASE_MONTHLY_HAZARD = 0.008
SIZE_LOG_MEAN = np.log(60_000.0)
SIZE_LOG_SD = 1.25
CREDIT_NOTE_RATE = 0.03
INDUSTRIES = ("manufacturing", "retail", "healthcare", "logistics", "technology", "construction")
INDUSTRY_P = (0.25, 0.2, 0.15, 0.15, 0.15, 0.10)
REGIONS = ("north", "south", "east", "west", "international")
CATEGORIES = (
    "components",
    "consumables",
    "equipment",
    "software",
    "services",
    "spares",
    "packaging",
    "safety",
)
CATEGORY_MARGIN = (0.22, 0.30, 0.18, 0.55, 0.40, 0.35, 0.25, 0.32)


@dataclass
class SyntheticPortfolio:
    """A generated portfolio: the four contract tables and the planted truth."""

    accounts: pd.DataFrame
    transactions: pd.DataFrame
    assessments: pd.DataFrame
    interactions: pd.DataFrame
    truth: dict
    truth_accounts: pd.DataFrame


def _month_starts(start: pd.Timestamp, months: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=months, freq="MS")


def generate(
    n_accounts: int = 300,
    years: int = 3,
    seed: int = 42,
    start: str = "2022-01-01",
) -> SyntheticPortfolio:
    """Draw a synthetic portfolio in the data contract with planted growth and churn drivers.

    Parameters
    ----------
    n_accounts : int
        Number of accounts.
    years : int
        Years of history, starting at ``start``.
    seed : int
        Seed of the one random generator; same arguments → identical tables.
    start : str
        First day of the history (ISO date).

    Returns
    -------
    SyntheticPortfolio
    """
    if n_accounts < 10:
        raise ValueError(f"n_accounts must be at least 10, got {n_accounts}")
    if years < 1:
        raise ValueError(f"years must be at least 1, got {years}")
    rng = np.random.default_rng(seed)
    start_ts = pd.Timestamp(start)
    end_ts = start_ts + pd.DateOffset(years=years) - pd.Timedelta(days=1)
    n_months = 12 * years
    ids = np.array([f"A{i:05d}" for i in range(1, n_accounts + 1)])

    # Latent traits; market_influence shares variance with strategic_fit.
    z = rng.standard_normal((n_accounts, len(LATENT)))
    fit_col, infl_col = LATENT.index("strategic_fit"), LATENT.index("market_influence")
    z[:, infl_col] = 0.4 * z[:, fit_col] + np.sqrt(1 - 0.4**2) * z[:, infl_col]
    beta = np.array([GROWTH_COEFFICIENTS[k] for k in LATENT])
    gamma = np.array([CHURN_COEFFICIENTS[k] for k in LATENT])
    growth = GROWTH_INTERCEPT + z @ beta + rng.normal(0, GROWTH_NOISE_SD, n_accounts)
    hazard = BASE_MONTHLY_HAZARD * np.exp(z @ gamma)
    size = np.exp(rng.normal(SIZE_LOG_MEAN, SIZE_LOG_SD, n_accounts))

    # Acquisition: three quarters before the window, the rest during its first two thirds.
    new = rng.random(n_accounts) < 0.25
    days_before = rng.integers(30, 8 * 365, n_accounts)
    days_into = rng.integers(0, max(1, int(n_months * 30.4 * 2 / 3)), n_accounts)
    acquired = np.where(
        new,
        start_ts.value + days_into * 86_400 * 10**9,
        start_ts.value - days_before * 86_400 * 10**9,
    )
    acquired = pd.to_datetime(acquired).normalize()
    first_month = np.where(
        new, (acquired.year - start_ts.year) * 12 + acquired.month - start_ts.month, 0
    )

    # Churn: the month an account leaves (geometric from its first month in the window).
    leave_after = rng.geometric(np.clip(hazard, 1e-6, 1.0))  # months survived + 1
    churn_month = first_month + leave_after
    churned = churn_month < n_months
    churn_day = rng.integers(1, 28, n_accounts)
    month_index = _month_starts(start_ts, n_months + 1)
    churned_on = pd.to_datetime(
        np.where(
            churned,
            month_index[np.minimum(churn_month, n_months)].values
            + (churn_day * 86_400 * 10**9).astype("timedelta64[ns]"),
            np.datetime64("NaT"),
        )
    )

    accounts = _accounts_table(rng, ids, size, acquired, churned_on, end_ts)
    transactions = _transactions_table(
        rng, ids, size, growth, first_month, churn_month, churned_on, start_ts, end_ts, n_months
    )
    assessments = _assessments_table(rng, ids, z, acquired, churned_on, accounts, start_ts, years)
    interactions = _interactions_table(
        rng, ids, z, size, acquired, churned_on, start_ts, end_ts, n_months
    )

    truth = {
        "generator": "kamlab.synth",
        "model_version": 1,
        "seed": seed,
        "n_accounts": n_accounts,
        "start": start_ts.date().isoformat(),
        "end": end_ts.date().isoformat(),
        "growth": {
            "unit": "log revenue growth per year per standard deviation of the latent trait",
            "intercept": GROWTH_INTERCEPT,
            "noise_sd": GROWTH_NOISE_SD,
            "coefficients": GROWTH_COEFFICIENTS,
        },
        "churn": {
            "unit": "log monthly churn hazard per standard deviation of the latent trait",
            "base_monthly_hazard": BASE_MONTHLY_HAZARD,
            "coefficients": CHURN_COEFFICIENTS,
        },
        "growth_drivers": sorted(k for k, v in GROWTH_COEFFICIENTS.items() if v != 0),
        "churn_drivers": sorted(k for k, v in CHURN_COEFFICIENTS.items() if v != 0),
        "noise_criteria": sorted(
            k
            for k in ASSESSED_CRITERIA
            if GROWTH_COEFFICIENTS[k] == 0 and CHURN_COEFFICIENTS[k] == 0
        ),
        "observed_as": {
            **{k: f"assessments.criterion == '{k}' (1-5)" for k in ASSESSED_CRITERIA},
            "satisfaction": "interactions.kind == 'nps' (0-10)",
            "cost_to_serve": "interactions.kind == 'support_ticket' (value = hours)",
        },
        "correlations": {"market_influence~strategic_fit": 0.4},
        "assessment_model": "score = clip(round(3 + 0.9 z + N(0, 0.6)), 1, 5)",
    }
    truth_accounts = pd.DataFrame(
        {
            "account_id": ids,
            "annual_revenue_at_start": np.round(size, 2),
            "true_log_growth_per_year": np.round(growth, 6),
            "monthly_churn_hazard": np.round(hazard, 6),
            "churned": churned,
            **{f"z_{k}": np.round(z[:, j], 6) for j, k in enumerate(LATENT)},
        }
    )
    return SyntheticPortfolio(
        accounts, transactions, assessments, interactions, truth, truth_accounts
    )


def _accounts_table(rng, ids, size, acquired, churned_on, end_ts) -> pd.DataFrame:
    n = len(ids)
    managers = np.array([f"AM{k:02d}" for k in range(1, max(3, n // 25) + 1)])
    band = pd.cut(
        size,
        [0, 25_000, 100_000, 400_000, np.inf],
        labels=["small", "medium", "large", "enterprise"],
    ).astype("str")
    renewal = acquired + pd.to_timedelta((((end_ts - acquired).days // 365) + 1) * 365, unit="D")
    return pd.DataFrame(
        {
            "account_id": ids,
            "name": [f"Account {i[1:]}" for i in ids],
            "industry": rng.choice(INDUSTRIES, n, p=INDUSTRY_P),
            "region": rng.choice(REGIONS, n, p=(0.3, 0.25, 0.2, 0.15, 0.1)),
            "size_band": band,
            "account_manager": rng.choice(managers, n),
            "acquired_on": acquired,
            "churned_on": churned_on,
            "contract_renewal_on": renewal.where(pd.isna(churned_on)),
        }
    )


def _transactions_table(
    rng, ids, size, growth, first_month, churn_month, churned_on, start_ts, end_ts, n_months
) -> pd.DataFrame:
    n = len(ids)
    months = np.arange(n_months)
    t_years = (months + 0.5) / 12
    season = 1 + 0.12 * np.sin(2 * np.pi * (months + 2) / 12)
    rate = np.clip(np.exp(rng.normal(np.log(1.6), 0.45, n)) * (size / 60_000) ** 0.15, 0.3, 12)
    active = (months[None, :] >= first_month[:, None]) & (months[None, :] <= churn_month[:, None])
    counts = rng.poisson(rate[:, None] * active)
    acc_idx, month_idx = np.nonzero(counts)
    reps = counts[acc_idx, month_idx]
    acc = np.repeat(acc_idx, reps)
    mon = np.repeat(month_idx, reps)
    expected = size[acc] * np.exp(growth[acc] * t_years[mon]) * season[mon] / 12 / rate[acc]
    amount = expected * rng.lognormal(-0.5 * 0.5**2, 0.5, len(acc))
    month_starts = _month_starts(start_ts, n_months)
    days_in = month_starts.days_in_month.values[mon]
    date = month_starts.values[mon] + (rng.integers(0, 10**6, len(acc)) % days_in).astype(
        "timedelta64[D]"
    )
    # Orders stop on the churn date within the churn month.
    keep = pd.isna(churned_on[acc]) | (date < churned_on.values[acc])
    acc, mon, amount, date = acc[keep], mon[keep], amount[keep], date[keep]

    # Each account buys from a few categories; products carry a fixed list price.
    breadth = rng.integers(1, 5, n)
    cat_pick = rng.integers(0, 10**6, len(acc)) % breadth[acc]
    cat_offset = rng.integers(0, len(CATEGORIES), n)
    cat = (cat_offset[acc] + cat_pick) % len(CATEGORIES)
    prod_no = rng.integers(1, 13, len(acc))
    price = 20 + 15 * ((cat * 13 + prod_no * 7) % 17)
    quantity = np.maximum(1, np.round(amount / price)).astype(int)
    amount = (quantity * price).astype(float)  # invoiced at list price
    margin = np.asarray(CATEGORY_MARGIN)[cat]
    cost = np.round(amount * (1 - margin) * rng.lognormal(0, 0.05, len(acc)), 2)

    orders = pd.DataFrame(
        {
            "account_id": ids[acc],
            "date": pd.to_datetime(date),
            "amount": amount.astype(float),
            "product": [f"{CATEGORIES[c][:3].upper()}-{p:02d}" for c, p in zip(cat, prod_no)],
            "category": np.asarray(CATEGORIES)[cat],
            "quantity": quantity.astype(float),
            "cost": cost,
        }
    )
    # Credit notes: part of an order comes back a few days later.
    credit = rng.random(len(orders)) < CREDIT_NOTE_RATE
    notes = orders.loc[credit].copy()
    share = rng.uniform(0.1, 1.0, len(notes))
    notes["date"] = notes["date"] + pd.to_timedelta(rng.integers(1, 30, len(notes)), unit="D")
    notes["quantity"] = -np.maximum(1, np.round(notes["quantity"].to_numpy() * share))
    unit = orders.loc[credit, "amount"].to_numpy() / orders.loc[credit, "quantity"].to_numpy()
    notes["amount"] = np.round(notes["quantity"].to_numpy() * unit, 2)
    notes["cost"] = np.round(
        notes["cost"].to_numpy()
        * notes["quantity"].to_numpy()
        / orders.loc[credit, "quantity"].to_numpy(),
        2,
    )
    leave = pd.Series(churned_on, index=ids).reindex(notes["account_id"]).to_numpy()
    notes = notes[(notes["date"] <= end_ts) & ~(notes["date"].to_numpy() >= leave)]
    out = pd.concat([orders, notes], ignore_index=True)
    out = out.sort_values(["date", "account_id", "amount"], kind="stable").reset_index(drop=True)
    out.insert(0, "transaction_id", [f"T{i:07d}" for i in range(1, len(out) + 1)])
    return out[[c for c in TRANSACTION_COLUMNS if c in out]]


def _assessments_table(rng, ids, z, acquired, churned_on, accounts, start_ts, years):
    quarters = pd.date_range(start_ts, periods=4 * years, freq="QS")
    n, k = len(ids), len(ASSESSED_CRITERIA)
    offsets = rng.integers(5, 25, (n, len(quarters)))
    dates = quarters.values[None, :] + offsets.astype("timedelta64[D]")
    alive = (dates >= acquired.values[:, None]) & (
        np.asarray(pd.isna(churned_on))[:, None] | (dates < churned_on.values[:, None])
    )
    acc_idx, q_idx = np.nonzero(alive)
    crit_z = z[:, : len(ASSESSED_CRITERIA)]
    scores = np.clip(
        np.round(3 + 0.9 * crit_z[acc_idx] + rng.normal(0, 0.6, (len(acc_idx), k))), 1, 5
    )
    manager = accounts["account_manager"].to_numpy()
    frame = pd.DataFrame(
        {
            "account_id": np.repeat(ids[acc_idx], k),
            "assessed_on": np.repeat(dates[acc_idx, q_idx], k),
            "criterion": np.tile(ASSESSED_CRITERIA, len(acc_idx)),
            "score": scores.reshape(-1),
            "assessor": np.repeat(manager[acc_idx], k),
        }
    )
    return frame.sort_values(["assessed_on", "account_id", "criterion"], kind="stable").reset_index(
        drop=True
    )


def _interactions_table(rng, ids, z, size, acquired, churned_on, start_ts, end_ts, n_months):
    n = len(ids)
    sat = z[:, LATENT.index("satisfaction")]
    cts = z[:, LATENT.index("cost_to_serve")]
    pieces = []
    month_starts = _month_starts(start_ts, n_months)

    def alive_at(dates):
        return (dates >= acquired.values[:, None]) & (
            np.asarray(pd.isna(churned_on))[:, None] | (dates < churned_on.values[:, None])
        )

    surveys = month_starts[::6]
    s_dates = surveys.values[None, :] + rng.integers(0, 28, (n, len(surveys))).astype(
        "timedelta64[D]"
    )
    a, s = np.nonzero(alive_at(s_dates))
    nps = np.clip(np.round(7 + 1.8 * sat[a] + rng.normal(0, 1.5, len(a))), 0, 10)
    pieces.append(
        pd.DataFrame({"account_id": ids[a], "date": s_dates[a, s], "kind": "nps", "value": nps})
    )

    t_rate = 0.35 * np.exp(0.6 * cts)
    t_counts = rng.poisson(t_rate[:, None] * np.ones(n_months)[None, :])
    a, m = np.nonzero(t_counts)
    reps = t_counts[a, m]
    a, m = np.repeat(a, reps), np.repeat(m, reps)
    t_dates = month_starts.values[m] + rng.integers(0, 28, len(a)).astype("timedelta64[D]")
    hours = np.round(rng.gamma(2.0, 1.5 * np.exp(0.4 * cts[a])), 1)
    tickets = pd.DataFrame(
        {"account_id": ids[a], "date": t_dates, "kind": "support_ticket", "value": hours}
    )
    alive = (t_dates >= acquired.values[a]) & (
        pd.isna(churned_on[a]) | (t_dates < churned_on.values[a])
    )
    pieces.append(tickets[alive])

    big = np.nonzero(size >= np.quantile(size, 0.8))[0]
    quarters = month_starts[::3]
    q_dates = quarters.values[None, :] + rng.integers(7, 40, (len(big), len(quarters))).astype(
        "timedelta64[D]"
    )
    alive_big = (q_dates >= acquired.values[big][:, None]) & (
        np.asarray(pd.isna(churned_on[big]))[:, None] | (q_dates < churned_on.values[big][:, None])
    )
    alive_big &= q_dates <= np.datetime64(end_ts)
    b, q = np.nonzero(alive_big)
    pieces.append(
        pd.DataFrame(
            {"account_id": ids[big[b]], "date": q_dates[b, q], "kind": "qbr", "value": np.nan}
        )
    )
    out = pd.concat(pieces, ignore_index=True)
    out = out[out["date"] <= end_ts]
    return out.sort_values(["date", "account_id", "kind"], kind="stable").reset_index(drop=True)


def write_synthetic(
    out: str | os.PathLike,
    n_accounts: int = 300,
    years: int = 3,
    seed: int = 42,
    start: str = "2022-01-01",
    fmt: str = "csv",
) -> Path:
    """Generate a portfolio and write its tables, ``truth.json`` and ``truth_accounts.csv``.

    Each file is written atomically. ``fmt`` is ``"csv"`` or ``"parquet"``; Parquet dates are
    microsecond timestamps, which every engine reads (Spark refuses nanoseconds).

    Returns
    -------
    pathlib.Path
        The output folder.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    portfolio = generate(n_accounts=n_accounts, years=years, seed=seed, start=start)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for table in ("accounts", "transactions", "assessments", "interactions"):
        frame = getattr(portfolio, table)
        if fmt == "csv":
            write_csv(
                frame,
                folder / f"{table}.csv",
                date_format="%Y-%m-%d",
                float_format="%.6g" if table != "transactions" else "%.2f",
            )
        else:
            # Microsecond timestamps: Spark (and other engines) refuse Parquet's nanosecond
            # TIMESTAMP; kamlab's dates are whole days, so nothing is truncated.
            atomic_write(
                folder / f"{table}.parquet",
                lambda tmp, f=frame: f.to_parquet(tmp, index=False, coerce_timestamps="us"),
            )
    write_csv(portfolio.truth_accounts, folder / "truth_accounts.csv", float_format="%.6g")
    text = json.dumps(portfolio.truth, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / "truth.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return folder
