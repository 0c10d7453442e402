"""The one read of daily figures adds counts up the place tree (fangkong.reports.figures)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fangkong.places.models import segment
from fangkong.reports.figures import rollup

seg = st.integers(min_value=1, max_value=36**3).map(segment)
path = st.lists(seg, min_size=1, max_size=5).map("".join)


@given(st.dictionaries(path, st.integers(min_value=1, max_value=10**6), max_size=60), st.lists(path, max_size=20))
def test_rollup_equals_naive_prefix_sums(counts, asked):
    pairs = sorted(counts.items())
    asked = asked + [p for p in list(counts)[:5]]
    got = rollup(pairs, asked)
    for place in asked:
        assert got[place] == sum(n for p, n in counts.items() if p.startswith(place))


@given(st.dictionaries(path, st.integers(min_value=1, max_value=1000), max_size=60))
def test_parent_is_sum_of_children_plus_own(counts):
    pairs = sorted(counts.items())
    parents = {p[: len(p) - 7] for p in counts if len(p) > 7}
    for parent in parents:
        children = {p[: len(parent) + 7] for p in counts if p.startswith(parent) and len(p) > len(parent)}
        sums = rollup(pairs, [parent, *children])
        assert sums[parent] == sum(sums[c] for c in children) + counts.get(parent, 0)
