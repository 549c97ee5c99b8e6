"""`runbook postmortem ID`: a blameless postmortem draft of a run or a drill (`story`
reads the record, `sections` builds the draft, `markdown` and `html` render it)."""
