"""Remote execution over SSH: inventory, host keys, transports, commands.

Nothing here imports paramiko at module level: `runbook --help` and playbooks without
an `ssh` step never pay for it. The modules are used by `engine.steps.ssh`.

- `inventory`: the hosts file (`hosts:`, `groups:`) with `file:line` errors.
- `hostkeys`: known_hosts from the system, the user and the inventory; refuse unknown.
- `connect`: one transport with distinct connect / banner / auth deadlines.
- `pool`: one transport per host per run, reconnected when it died.
- `command`: a remote command in its own process group, killed on its deadline.
- `group`: a step over several hosts, serial or `parallel: N`.
"""
