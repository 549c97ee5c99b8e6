"""Random regular expressions for the cross-checks of a dialect against its reference
engine (hypothesis): atoms with quantifiers, nested in sequences, groups and
alternations."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def patterns(
    atoms: Sequence[str],
    quantifiers: Sequence[str],
    group_openers: Sequence[str],
    group_quantifiers: Sequence[str],
) -> st.SearchStrategy[str]:
    """Patterns of up to 6 atoms; a group opens with one of `group_openers`."""
    atom = st.builds(lambda a, q: a + q, st.sampled_from(atoms), st.sampled_from(quantifiers))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        sequence = st.lists(inner, min_size=1, max_size=3).map("".join)
        group = st.builds(
            lambda opener, body, q: f"{opener}{body}){q}",
            st.sampled_from(group_openers),
            sequence,
            st.sampled_from(group_quantifiers),
        )
        return st.one_of(sequence, group, st.builds(lambda a, b: f"{a}|{b}", sequence, sequence))

    return st.recursive(atom, extend, max_leaves=6)
