"""Playbooks: loading a file (`loader`: YAML, then the schema, then every rule), the checks
(`checks`, `templates`, `commands`), the compiled cache (`compiled`), and the inputs a
run binds to a playbook's declarations (`inputs`). The model itself is `engine.model`."""
