"""The words of a tabletop exercise: what participants answer at a step, and the kinds of
gap an unclear or blocked step reveals (the prompts, the answers file and the ledger
share them)."""

from __future__ import annotations

WOULD_DO = "would_do"
UNCLEAR = "unclear"
BLOCKED = "blocked"
ANSWERS = (WOULD_DO, UNCLEAR, BLOCKED)
# Each kind of gap with the one word a participant may type for it.
GAP_WORDS = {
    "missing_permission": "permission",
    "unclear_instruction": "instruction",
    "outdated_contact": "contact",
    "missing_tool": "tool",
    "other": "other",
}
GAPS = tuple(GAP_WORDS)


def spoken(word: str) -> str:
    """`would_do` as people say it: `would do`."""
    return word.replace("_", " ")
