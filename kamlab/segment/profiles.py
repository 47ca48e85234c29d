"""What each segment looks like: sizes, revenue shares, criteria means, common attributes,
and a readable name from its dominant traits.

The functions take any partition (segments, tiers, types) as a label Series indexed by
account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kamlab import fmt
from kamlab.segment.prepare import DEFAULT_FEATURES, MONEY_COLUMNS, signed_log1p

__all__ = ["NAME_TRAITS", "Profile", "describe_profiles", "name_segments", "profile_segments"]

#: Traits used by :func:`name_segments`: column → (word when high, word when low).
NAME_TRAITS = {
    "revenue_12m": ("large", "small"),
    "revenue_growth_12m": ("growing", "shrinking"),
    "fit": ("high-fit", "low-fit"),
    "order_frequency": ("frequent", "occasional"),
    "gross_margin_12m": ("high-margin", "low-margin"),
    "cost_to_serve": ("costly to serve", "cheap to serve"),
    "nps": ("satisfied", "dissatisfied"),
}


@dataclass(frozen=True)
class Profile:
    """What each group of a partition looks like (:func:`profile_segments`).

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by label: ``n_accounts``, ``share_accounts``, ``revenue_share``, the criteria
        means, and ``<attribute>_mode`` / ``<attribute>_mode_share``.
    standardised : pandas.DataFrame
        Each group's criteria means minus the overall mean, in overall standard deviations
        (money columns on the signed-log scale); :func:`name_segments` reads it.
    """

    table: pd.DataFrame
    standardised: pd.DataFrame

    def summary(self, names: pd.Series | None = None) -> pd.DataFrame:
        """The profile for people: ``name`` (when given), ``n_accounts``, ``share_accounts``,
        ``revenue_share``, the criteria means, and each attribute's most common value with
        its share as text (``"retail (27%)"``, column ``most_common_<attribute>``).

        Examples
        --------
        >>> features = pd.DataFrame({"revenue_12m": [100.0, 120, 5], "region": ["n", "n", "s"]})
        >>> profile = profile_segments(features, pd.Series([0, 0, 1]))
        >>> profile.summary()["most_common_region"].tolist()
        ['n (100%)', 's (100%)']
        """
        table = self.table
        out = table.drop(columns=[c for c in table.columns if c.endswith(("_mode", "_mode_share"))])
        for col in [c for c in table.columns if c.endswith("_mode")]:
            shares = table[f"{col}_share"]
            out[f"most_common_{col.removesuffix('_mode')}"] = [
                f"{value} ({share:.0%})" for value, share in zip(table[col], shares)
            ]
        if names is not None:
            out.insert(0, "name", names.reindex(out.index))
        return out


def profile_segments(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    revenue: str = "revenue_12m",
    criteria: Sequence[str] | None = None,
    attributes: Sequence[str] = ("industry", "region"),
) -> Profile:
    """What each segment looks like.

    Parameters
    ----------
    features : pandas.DataFrame
        Account features (:func:`kamlab.features.account_features`), indexed by account.
    labels : pandas.Series
        Segment (or tier, or type) per account; accounts without a label are left out.
    revenue : str
        Revenue column for the revenue share.
    criteria : sequence of str or None
        Columns whose means are shown; ``None``: :data:`DEFAULT_FEATURES` present plus ``fit``
        (the mean of the ``score_*`` assessment columns) when there are any.
    attributes : sequence of str
        Categorical columns summarised by their most common value and its share.

    Returns
    -------
    Profile

    Examples
    --------
    >>> features = pd.DataFrame({"revenue_12m": [100.0, 120, 5, 6], "nps": [9.0, 8, 3, 4]},
    ...                         index=list("ABCD"))
    >>> profile = profile_segments(features, pd.Series([0, 0, 1, 1], index=list("ABCD")))
    >>> profile.table[["n_accounts", "revenue_share", "nps"]].round(3)
           n_accounts  revenue_share  nps
    group
    0               2          0.952  8.5
    1               2          0.048  3.5
    """
    labels = labels.dropna()
    frame = features.loc[features.index.intersection(labels.index, sort=False)].copy()
    group = labels.reindex(frame.index).rename("group")
    scores = [c for c in frame.columns if c.startswith("score_")]
    if scores:
        frame["fit"] = frame[scores].mean(axis=1)
    if criteria is None:
        criteria = [c for c in DEFAULT_FEATURES if c in frame.columns]
        if scores:
            criteria.append("fit")
    criteria = list(criteria)
    grouped = frame.groupby(group, sort=True, observed=True)
    out = pd.DataFrame({"n_accounts": grouped.size()})
    out["share_accounts"] = out["n_accounts"] / out["n_accounts"].sum()
    if revenue in frame:
        rev = grouped[revenue].sum()
        out["revenue_share"] = rev / frame[revenue].sum()
    out = out.join(grouped[criteria].mean())
    for col in attributes:
        if col not in frame:
            continue
        counts = frame.groupby([group, frame[col]], sort=True, observed=True).size()
        top = counts.sort_values(ascending=False, kind="stable").groupby(level=0).head(1)
        top = top.rename("count").reset_index().set_index("group")
        out[f"{col}_mode"] = top[col]
        out[f"{col}_mode_share"] = top["count"] / out["n_accounts"]
    out.index.name = labels.name if labels.name is not None else "group"
    scaled = frame[criteria].astype(float).copy()
    for c in criteria:
        if c in MONEY_COLUMNS:
            scaled[c] = signed_log1p(scaled[c])
    sd = scaled.std(ddof=0).replace(0, np.nan)
    z = (scaled.groupby(group, sort=True, observed=True).mean() - scaled.mean()) / sd
    z.index.name = out.index.name
    return Profile(table=out, standardised=z)


def name_segments(profile: Profile, threshold: float = 0.3, max_traits: int = 3) -> pd.Series:
    """Readable names from each segment's dominant traits, e.g. ``"large, growing, high-fit"``.

    A trait of :data:`NAME_TRAITS` enters a name when the segment's mean differs from the
    overall mean by at least ``threshold`` standard deviations (:attr:`Profile.standardised`).
    The ``max_traits`` strongest traits are listed in the order of :data:`NAME_TRAITS`. A
    segment with no distinct trait is ``"average"``; duplicate names get the segment number
    appended.

    Examples
    --------
    >>> features = pd.DataFrame({"revenue_12m": [100.0, 120, 5, 6], "nps": [9.0, 8, 3, 4]})
    >>> name_segments(profile_segments(features, pd.Series([0, 0, 1, 1]))).tolist()
    ['large, satisfied', 'small, dissatisfied']
    """
    traits = [c for c in NAME_TRAITS if c in profile.table.columns]
    zf = profile.standardised.reindex(index=profile.table.index, columns=traits)
    names = {}
    for seg, row in zf.iterrows():
        strong = row[row.abs() >= threshold].dropna()
        strong = strong.reindex(
            strong.abs().sort_values(ascending=False, kind="stable").index[:max_traits]
        )
        words = [NAME_TRAITS[c][0 if strong[c] > 0 else 1] for c in traits if c in strong]
        names[seg] = ", ".join(words) if words else "average"
    out = pd.Series(names, name="name")
    dup = out.duplicated(keep=False)
    out[dup] = [f"{n} ({s})" for s, n in out[dup].items()]
    out.index.name = profile.table.index.name
    return out


def describe_profiles(profile: Profile, names: pd.Series) -> str:
    """One line per segment: its name, size and share of revenue (Markdown list).

    Examples
    --------
    >>> features = pd.DataFrame({"revenue_12m": [100.0, 120, 5, 6], "nps": [9.0, 8, 3, 4]})
    >>> profile = profile_segments(features, pd.Series([0, 0, 1, 1]))
    >>> print(describe_profiles(profile, name_segments(profile)))
    The 2 segments, numbered by mean revenue (largest first):
    - Segment 0, *large, satisfied*: 2 accounts (50.0%), 95.2% of revenue.
    - Segment 1, *small, dissatisfied*: 2 accounts (50.0%), 4.8% of revenue.
    """
    table = profile.table
    lines = [f"The {len(table)} segments, numbered by mean revenue (largest first):"]
    for seg, row in table.iterrows():
        revenue = (
            f", {fmt.share(row['revenue_share'])} of revenue" if "revenue_share" in table else ""
        )
        lines.append(
            f"- Segment {seg}, *{names.get(seg, 'unnamed')}*: {fmt.count(row['n_accounts'])} "
            f"accounts ({fmt.share(row['share_accounts'])}){revenue}."
        )
    return "\n".join(lines)
