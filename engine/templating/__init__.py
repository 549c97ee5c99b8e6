"""Templates: the sandboxed Jinja renderer (values reach shells as environment variables,
never as code), its time and size budget, and the redaction of secrets from what it
renders and from everything a run records or shows."""
