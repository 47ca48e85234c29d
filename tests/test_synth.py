"""The synthetic generator: valid contract data, reproducible, with visible planted truth."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from kamlab.data import load_dataset
from kamlab.synth import GROWTH_COEFFICIENTS, generate, write_synthetic


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = write_synthetic(tmp_path / "a", n_accounts=60, years=2, seed=7)
    b = write_synthetic(tmp_path / "b", n_accounts=60, years=2, seed=7)
    c = write_synthetic(tmp_path / "c", n_accounts=60, years=2, seed=8)
    assert _hashes(a) == _hashes(b)
    assert _hashes(a)["transactions.csv"] != _hashes(c)["transactions.csv"]


def test_committed_sample_is_what_the_documented_command_writes(tmp_path, sample_dir):
    # data/README.md: kamlab synth --accounts 300 --years 3 --seed 42 --out data/sample
    fresh = write_synthetic(tmp_path / "sample", n_accounts=300, years=3, seed=42)
    assert _hashes(fresh) == {k: v for k, v in _hashes(sample_dir).items() if k != "README.md"}


def test_parquet_output_loads(tmp_path):
    folder = write_synthetic(tmp_path, n_accounts=30, years=1, seed=1, fmt="parquet")
    ds = load_dataset(folder)
    assert len(ds.accounts) == 30 and ds.ledger.empty


def test_sample_is_a_plausible_b2b_portfolio(sample_dataset):
    tx = sample_dataset.transactions
    revenue = tx.groupby("account_id")["amount"].sum().sort_values(ascending=False)
    top = revenue.head(int(0.2 * len(revenue))).sum() / revenue.sum()
    assert 0.6 <= top <= 0.8, f"top 20 % share {top:.3f}"
    assert (tx["amount"] < 0).sum() > 100  # credit notes
    churned = sample_dataset.accounts["churned_on"].notna().mean()
    assert 0.1 <= churned <= 0.5
    kinds = set(sample_dataset.interactions["kind"])
    assert kinds == {"nps", "support_ticket", "qbr"}
    scores = sample_dataset.assessments["score"]
    assert scores.between(1, 5).all() and set(scores.unique()) <= {1, 2, 3, 4, 5}
    # No transactions after an account churned.
    merged = tx.merge(sample_dataset.accounts[["account_id", "churned_on"]], on="account_id")
    assert not (merged["date"] >= merged["churned_on"]).any()


def test_truth_file_documents_drivers(sample_dir):
    truth = json.loads((sample_dir / "truth.json").read_text())
    assert truth["growth_drivers"] == sorted(k for k, v in GROWTH_COEFFICIENTS.items() if v)
    assert "market_influence" in truth["noise_criteria"]
    assert truth["churn_drivers"] == ["satisfaction", "willingness_to_partner"]


def test_planted_growth_driver_is_visible_in_observed_data():
    p = generate(n_accounts=600, years=3, seed=3)
    tx = p.transactions.assign(year=p.transactions["date"].dt.year)
    by_year = tx.pivot_table(index="account_id", columns="year", values="amount", aggfunc="sum")
    both = by_year[(by_year[2022] > 0) & (by_year[2024] > 0)]
    growth = np.log(both[2024] / both[2022])
    first = (
        p.assessments.sort_values("assessed_on")
        .groupby(["account_id", "criterion"])["score"]
        .first()
        .unstack()
    )
    frame = first.join(growth.rename("growth"), how="inner")
    rho_driver = frame["growth_potential"].corr(frame["growth"], method="spearman")
    rho_noise = frame["reputation"].corr(frame["growth"], method="spearman")
    assert rho_driver > 0.3, rho_driver
    assert abs(rho_noise) < 0.1, rho_noise


def test_planted_churn_driver_is_visible():
    p = generate(n_accounts=800, years=3, seed=4)
    truth = p.truth_accounts.set_index("account_id")
    low = truth["z_willingness_to_partner"] < -0.5
    high = truth["z_willingness_to_partner"] > 0.5
    assert truth.loc[low, "churned"].mean() > truth.loc[high, "churned"].mean() + 0.1


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_accounts must be at least 10"):
        generate(n_accounts=3)
    with pytest.raises(ValueError, match="years must be at least 1"):
        generate(years=0)
