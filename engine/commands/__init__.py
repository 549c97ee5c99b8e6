"""The work behind each CLI verb, callable without click (the webhook and tests use it)."""
