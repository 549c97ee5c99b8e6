"""Kubernetes support for the `kubectl` step type and the `kubernetes` SLI probe.

Nothing here imports the `kubernetes` package at module level: the official client is
imported by `engine.backends.kube.session.connect`, which only runs when a Kubernetes step or
probe does. Modules:

* `config`   - which kubeconfig and context a step uses, and the preflight refusals
* `client`   - requests with deadlines, retries on 429/5xx, bounded 409 re-reads, errors
* `session`  - one API client per context per run; the cluster's UID and its guard
* `guard`    - the preflight refusals (context missing, level 3 without one, wrong cluster)
* `spec`     - the step body: what each action needs; `fields` - capture and restore parts
* `kinds`    - kinds → REST paths (plus discovery for other API groups)
* `ops`      - what an action gets (`Op`) and gives back (`Done`, `Preview`)
* `read`, `wait` - get / logs, and waiting on a condition (a watch that re-lists on 410)
* `scale`, `node`, `patch`, `apply`, `meta`, `rollout`, `delete` - the mutating actions
* `export`, `restore` - namespaces to a directory and back; `archive` - its format
  (one file per object, MANIFEST.json with checksums, written last) and its checks
"""
