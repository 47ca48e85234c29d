"""The feature engine on Spark (PySpark local mode through Ibis): the same checks as on DuckDB.

Runs where Java and pyspark are installed (``make test-spark`` installs the ``spark`` extra;
Java 17: ``apt-get install openjdk-17-jre-headless`` on Debian) and skips with the reason
elsewhere. Each Spark query takes seconds, so the checks are batched into few queries: one panel
per dataset rather than one query per cutoff.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.0 calls astype(copy=False), which pandas 3 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _spark_or_skip():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (make test-spark installs the spark extra)")
    java = shutil.which("java")
    if java is None:
        pytest.skip("no Java runtime (Debian: apt-get install openjdk-17-jre-headless)")
    probe = subprocess.run([java, "-version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"java -version failed: {probe.stderr.strip()[:200]}")


@pytest.fixture(scope="module")
def con():
    _spark_or_skip()
    import ibis
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("kamlab-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield ibis.pyspark.connect(spark)
    spark.stop()


def test_sample_panel_matches_duckdb(con, sample_dir, sample_dataset):
    """Two cutoffs (a horizon inside the look-back window splits it in two buckets) and the
    default settings, at rtol 1e-9 against the DuckDB path on the loaded sample."""
    from kamlab import features, scale

    cutoffs = ["2023-06-01", "2022-03-15"]
    got = scale.feature_table(sample_dir, cutoffs, 180, con=con)
    expected = features.feature_panel(sample_dataset, cutoffs, 180)
    pd.testing.assert_frame_equal(expected, got.table, rtol=1e-9, check_exact=False)
    single = scale.account_features(sample_dir, "2024-01-01", con=con)
    reference = features.account_features(sample_dataset, "2024-01-01")
    pd.testing.assert_frame_equal(reference, single, rtol=1e-9, check_exact=False)
    assert single.attrs == reference.attrs and len(single) == 244


def test_edge_cases(con, tmp_path):
    from test_scale import EDGE_CUTOFFS, check_edge, write_edge

    from kamlab import features, scale
    from kamlab.data import load_dataset

    folder = write_edge(tmp_path / "edge")
    got = scale.feature_table(folder, EDGE_CUTOFFS, 365, con=con)
    dataset = load_dataset(folder)
    for cutoff in EDGE_CUTOFFS:
        expected = features.account_features(dataset, cutoff, 365)
        pd.testing.assert_frame_equal(expected, got.at(cutoff), rtol=1e-9, check_exact=False)
        check_edge(got.at(cutoff), cutoff)


def test_hand_made_tables_as_spark_tables(con):
    """The exact hand-made values of tests/test_features.py, from tables handed over as Ibis
    memtables: the kinds and criteria lookups run on Spark too."""
    import ibis
    import numpy as np
    from test_features import TINY, _dataset

    from kamlab import scale

    dataset = _dataset(TINY)
    tables = {t: ibis.memtable(getattr(dataset, t)) for t in ("accounts", "transactions")}
    tables.update(
        interactions=ibis.memtable(dataset.interactions),
        assessments=ibis.memtable(dataset.assessments),
    )
    f = scale.account_features(tables, "2022-01-01", 365, con=con)
    a, b, c = f.loc["A"], f.loc["B"], f.loc["C"]
    assert a["revenue_12m"] == 225.0 and a["revenue_prev_12m"] == 100.0
    assert a["revenue_growth_12m"] == pytest.approx(np.log(2.25), rel=1e-12)
    assert a["orders_12m"] == 1 and a["products_12m"] == 2
    assert a["recency_days"] == 306 and a["tenure_days"] == 731
    assert a["order_frequency"] == pytest.approx(1 / (365 / (365.25 / 12)), rel=1e-15)
    assert a["credit_note_share_12m"] == pytest.approx(0.1, rel=1e-15)
    assert a["nps"] == 9.0 and b["support_hours_12m"] == 3 and b["support_tickets_12m"] == 1
    assert a["score_fit"] == 4.0 and np.isnan(b["score_fit"])
    assert b["revenue_share"] == pytest.approx(400 / 705, rel=1e-15)
    assert a["growth_dh"] == pytest.approx((600 - 225) / ((600 + 225) / 2), rel=1e-15)
    assert a["grew"] and not a["churned"] and c["churned"] and c["growth_dh"] == -2.0
    assert f.dtypes["orders_12m"] == "float64" and f.dtypes["industry"] == "str"


def test_reads_parquet_written_by_kamlab_synth(con, tmp_path):
    """Microsecond timestamps (Spark refuses Parquet's nanoseconds)."""
    from kamlab import features, scale
    from kamlab.data import load_dataset
    from kamlab.synth import write_synthetic

    folder = write_synthetic(tmp_path, n_accounts=40, years=2, seed=5, fmt="parquet")
    parts = Path(folder) / "transactions"
    parts.mkdir()
    shutil.move(Path(folder) / "transactions.parquet", parts / "part-0.parquet")
    dataset = load_dataset(folder)
    cutoff = dataset.start + pd.Timedelta(days=400)
    got = scale.account_features(folder, cutoff, 180, con=con)
    expected = features.account_features(dataset, cutoff, 180)
    pd.testing.assert_frame_equal(expected, got, rtol=1e-9, check_exact=False)
    assert len(got) > 20
