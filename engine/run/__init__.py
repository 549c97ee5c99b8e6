"""The run core: the request and its preflight, the run loop, one step's execution with
retries, the undo of completed steps, target locks, the plan a dry run shows, and the
events a run emits."""
