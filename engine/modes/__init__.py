"""The use cases behind each verb, callable without click (the webhook and the tests use
them): run and plan, drills, rollback, probes, validation, the history of runs."""
