"""The playbook as the engine holds it once read: frozen structs that carry their source
location (`playbook`), and the reading of YAML they are built from (`yamlsource`): one
reading for YAML 1.1 and 1.2, bounded in size, every error at file:line:col."""
