"""What a run's templates see and how they are rendered: inputs, secrets (and their
redaction), variables, the sandboxed Jinja renderer and its budget."""
