"""Generate realistic, varied, valid playbooks for the benchmarks.

Each generated playbook looks like the shipped ones: metadata with triggers, 1-5 typed
inputs (patterns, enums, defaults), sometimes a secret, targets, an SLI probe, 3-10
steps of mixed types (shell, ssh, kubectl, http, wait, manual) with undo /
irreversible / readonly stories, captures, `when` conditions, retries, and templates
that read inputs, secrets, captures and earlier steps. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Step = dict[str, Any]

HEADER = "# yaml-language-server: $schema=../schema/playbook.v1.json\n"

TOPICS = (
    ("disk", "filesystem almost full", "NodeFilesystemAlmostOutOfSpace"),
    ("service", "service unhealthy", "ServiceDown"),
    ("cache", "cache hit ratio collapsed", "CacheHitRatioLow"),
    ("queue", "queue backlog growing", "QueueBacklogHigh"),
    ("db", "replication lag high", "ReplicationLagHigh"),
    ("cert", "certificate about to expire", "CertificateExpiringSoon"),
    ("dns", "resolver timeouts", "DnsTimeouts"),
    ("pod", "pods crash-looping", "KubePodCrashLooping"),
    ("memory", "memory pressure", "NodeMemoryPressure"),
    ("latency", "p99 latency above SLO", "LatencySloBurn"),
)

# name -> (declaration, a valid value used in examples)
INPUT_POOL: dict[str, dict[str, Any]] = {
    "host": {
        "type": "string",
        "required": True,
        "pattern": "^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+$",
        "description": "Host to act on, `[user@]host`.",
    },
    "service": {
        "type": "string",
        "default": "api",
        "pattern": "^[a-z][a-z0-9-]*$",
        "description": "systemd unit (without .service).",
    },
    "namespace": {"type": "string", "default": "default", "pattern": "^[a-z0-9-]+$"},
    "deployment": {"type": "string", "required": True, "pattern": "^[a-z0-9-]+$"},
    "replicas": {"type": "integer", "default": 3, "description": "Replica count to restore."},
    "threshold": {"type": "number", "default": 85.5, "description": "Usage threshold (%)."},
    "dry": {"type": "boolean", "default": False, "description": "Only look, change nothing."},
    "mode": {"type": "string", "default": "safe", "enum": ["safe", "fast", "paranoid"]},
    "log_dir": {"type": "string", "default": "/var/log", "pattern": "^/[A-Za-z0-9._/-]+$"},
    "health_url": {"type": "string", "default": "http://127.0.0.1:8080/healthz"},
    "retention_days": {"type": "integer", "default": 14},
}


# What a template stands for when the playbook does not declare that input.
LITERALS: dict[str, str | int | float] = {
    "host": "db-1.internal",
    "service": "api",
    "namespace": "prod",
    "deployment": "web",
    "replicas": 3,
    "threshold": 85,
    "log_dir": "/var/log",
    "health_url": "http://127.0.0.1:8080/healthz",
    "retention_days": 14,
}
# Every playbook declares at least one of these: what it acts on.
SUBJECTS = ("host", "service", "deployment")


def tpl(expression: str) -> str:
    """A Jinja expression as a template: `{{ expression }}`."""
    return "{{ " + expression + " }}"


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _str_presenter)


@dataclass
class _Context:
    rng: random.Random
    maturity: int
    inputs: list[str]
    secrets: list[str]
    captures: list[str] = field(default_factory=list)
    step_ids: list[str] = field(default_factory=list)

    def ref(self, *preferred: str) -> str:
        """`{{ inputs.X }}` for the first preferred input declared, else a literal."""
        for name in preferred:
            if name in self.inputs:
                return tpl(f"inputs.{name}")
        return str(LITERALS[preferred[0]])

    def earlier_value(self) -> str | None:
        """A template reading an earlier step's result (capture or steps.<id>)."""
        choices = [tpl(f"captures.{c}") for c in self.captures]
        choices += [tpl(f"steps.{s}.exit_code") for s in self.step_ids]
        return self.rng.choice(choices) if choices else None


def _undo_shell(ctx: _Context, text: str) -> dict[str, Any]:
    return {"shell": {"run": text}}


def _shell_inspect(ctx: _Context, sid: str) -> Step:
    svc = ctx.ref("service", "host", "deployment")
    capture = f"{sid}_out"
    run = ctx.rng.choice(
        [
            f"systemctl show {svc} --property=ActiveState --value",
            f"df -P {ctx.ref('log_dir')} | awk 'NR == 2 {{ print $5 }}'",
            ["sh", "-c", 'ps -eo pid,rss,comm --sort=-rss | head -n "$1"', "sh", "10"],
            f"du -sk {ctx.ref('log_dir')} | cut -f1",
        ]
    )
    ctx.captures.append(capture)
    return {
        "title": "Record the current state",
        "readonly": True,
        "shell": {"run": run, "capture": capture},
    }


def _shell_change(ctx: _Context, sid: str) -> Step:
    svc = ctx.ref("service", "deployment", "host")
    step: Step = {
        "title": "Restart the unit and record why",
        "mitigates": True,
        "shell": {
            "run": ["systemctl", "restart", svc],
            "expect": {"exit_code": [0]},
        },
        "undo": _undo_shell(ctx, f"systemctl start {svc}"),
    }
    earlier = ctx.earlier_value()
    if earlier is not None:
        step["shell"]["env"] = {"PREVIOUS": earlier}
    if ctx.secrets:
        step["shell"].setdefault("env", {})["API_TOKEN"] = tpl(f"secrets.{ctx.secrets[0]}")
    return step


def _shell_script(ctx: _Context, sid: str) -> Step:
    log_dir = ctx.ref("log_dir", "service")
    days = ctx.ref("retention_days", "replicas", "threshold")
    earlier = ctx.earlier_value() or "unknown"
    script = (
        "set -eu\n"
        f"echo 'usage before: {earlier}'\n"
        f'find {log_dir} -xdev -type f -name "*.gz" -mtime +{days} -print > "$MANIFEST"\n'
        'wc -l < "$MANIFEST"\n'
    )
    if ctx.rng.random() < 0.3 and "dry" in ctx.inputs:
        script = (
            "{% if inputs.dry %}echo 'dry run: nothing moved'{% else %}" + script + "{% endif %}"
        )
    return {
        "title": "Move old compressed logs to the trash directory",
        "description": "Each moved file is listed, so the undo moves exactly those back.",
        "mitigates": True,
        "undo_if_interrupted": True,
        "shell": {"run": script, "env": {"MANIFEST": "/run/runbook-moved.list"}},
        "undo": {
            "shell": {
                "run": (
                    'while IFS= read -r f; do mv -- "/var/trash/$(basename "$f")" "$f"; '
                    'done < "$MANIFEST"'
                ),
                "env": {"MANIFEST": "/run/runbook-moved.list"},
            }
        },
    }


def _ssh_step(ctx: _Context, sid: str) -> Step:
    host = ctx.ref("host", "service")
    readonly = ctx.rng.random() < 0.5
    if readonly:
        return {
            "title": "List the biggest directories",
            "readonly": True,
            "ssh": {
                "host": host,
                "sudo": True,
                "run": ["sh", "-c", 'du -xh --max-depth=2 "$1" | sort -rh | head', "sh", "/"],
            },
        }
    return {
        "title": "Vacuum the journal",
        "irreversible": "vacuumed journal files are deleted",
        "mitigates": True,
        "ssh": {"host": host, "sudo": True, "run": ["journalctl", "--vacuum-size=500M"]},
    }


def _kubectl_step(ctx: _Context, sid: str) -> Step:
    namespace = ctx.ref("namespace", "service")
    name = ctx.ref("deployment", "service", "host")
    action = ctx.rng.choice(["get", "scale", "rollout_restart", "logs"])
    body: dict[str, Any] = {
        "action": action,
        "namespace": namespace,
        "kind": "Deployment",
        "name": name,
    }
    if action == "scale":
        body["replicas"] = ctx.ref("replicas") if "replicas" in ctx.inputs else 2
    if action == "logs":
        body.update(kind="Pod", tail_lines=200, container="app")
    if action == "get":
        body["fields"] = ["status.availableReplicas", "status.conditions"]
    if ctx.rng.random() < 0.3:
        body["context"] = "prod-eu-1"  # else the playbook's `kubernetes: {context: ...}`
    return {"title": f"kubectl {action}", "kubectl": body}


def _http_step(ctx: _Context, sid: str) -> Step:
    url = ctx.ref("health_url", "host", "service")
    if ctx.rng.random() < 0.6:
        return {
            "title": "Check the health endpoint",
            "http": {"url": url, "method": "GET", "expect_status": [200, 204]},
        }
    headers = {"Content-Type": "application/json"}
    if ctx.secrets:
        headers["Authorization"] = "Bearer " + tpl(f"secrets.{ctx.secrets[0]}")
    return {
        "title": "Flush the application cache",
        "irreversible": "a flushed cache refills from the database",
        "mitigates": True,
        "http": {
            "url": url,
            "method": "POST",
            "headers": headers,
            "json": {"scope": "all", "reason": "runbook {{ run.id }}"},
            "expect_status": 202,
        },
    }


def _wait_step(ctx: _Context, sid: str) -> Step:
    if ctx.rng.random() < 0.5:
        return {"title": "Let things settle", "wait": ctx.rng.choice(["5s", "30s", "1m"])}
    return {
        "title": "Give the service time to warm up",
        "wait": {"duration": "10s", "reason": "caches refill after a restart"},
    }


def _manual_step(ctx: _Context, sid: str) -> Step:
    return {
        "title": "Ask the on-call to check the dashboard",
        "manual": {
            "instructions": f"Open the dashboard for {ctx.ref('service', 'host')} and compare.",
            "expect": "error rate back under 1 %",
        },
    }


Maker = Callable[[_Context, str], Step]
MAKERS: tuple[tuple[Maker, int], ...] = (
    (_shell_inspect, 5),
    (_shell_change, 4),
    (_shell_script, 2),
    (_ssh_step, 3),
    (_kubectl_step, 3),
    (_http_step, 2),
    (_wait_step, 2),
    (_manual_step, 1),
)


def _steps(ctx: _Context, count: int) -> list[Step]:
    makers = [m for m, _ in MAKERS]
    weights = [w for _, w in MAKERS]
    steps: list[Step] = []
    for n in range(count):
        maker = _shell_inspect if n == 0 else ctx.rng.choices(makers, weights)[0]
        if ctx.maturity == 3 and maker is _manual_step:
            maker = _wait_step
        sid = f"{maker.__name__.strip('_')}_{n}"
        when = _condition(ctx) if n > 0 and ctx.rng.random() < 0.25 else None
        step: Step = {"id": sid, **maker(ctx, sid)}
        if when is not None:
            step["when"] = when
        if ctx.maturity == 3 or ctx.rng.random() < 0.7:
            step["timeout"] = ctx.rng.choice(["10s", "30s", "2m", "5m"])
        if ctx.rng.random() < 0.2:
            step["retry"] = {"attempts": 3, "backoff": "2s", "max_backoff": "10s"}
        if ctx.maturity < 3 and step.get("mitigates") and ctx.rng.random() < 0.3:
            step["confirm"] = f"Go ahead on {ctx.ref('host', 'service', 'deployment')}?"
        ctx.step_ids.append(sid)
        steps.append(step)
    return steps


def _condition(ctx: _Context) -> str:
    """A `when:` reading what exists before this step: earlier steps, captures, inputs."""
    choices = [f"steps.{ctx.step_ids[-1]}.exit_code == 0"]
    if "dry" in ctx.inputs:
        choices.append("not inputs.dry")
    if "mode" in ctx.inputs:
        choices.append("inputs.mode != 'paranoid'")
    if ctx.captures:
        choices.append(f"captures.{ctx.captures[-1]} | length > 0")
    return ctx.rng.choice(choices)


def _sli(ctx: _Context) -> dict[str, Any]:
    kind = ctx.rng.choice(["command", "http", "prometheus"])
    probe: dict[str, Any]
    if kind == "command":
        probe = {
            "command": {"run": f"df -P {ctx.ref('log_dir', 'host')} | tail -n 1", "timeout": "5s"}
        }
    elif kind == "http":
        probe = {"http": {"url": ctx.ref("health_url", "host"), "expect_status": 200}}
    else:
        probe = {
            "prometheus": {
                "url": "http://prometheus:9090",
                "query": 'sum(rate(http_requests_total{code=~"5.."}[5m]))',
                "timeout": "10s",
            }
        }
    healthy = ctx.rng.choice([{"below": 85}, {"above": 0.99}, {"between": [0, 0.05]}])
    return {
        "probe": probe,
        "healthy": healthy,
        "settle": "2s",
        "samples": 2,
        "interval": "5s",
        "timeout": "2m",
        "on_not_recovered": ctx.rng.choice(["keep", "rollback"]),
    }


def playbook(index: int, rng: random.Random) -> dict[str, Any]:
    topic, summary, alert = TOPICS[index % len(TOPICS)]
    maturity = rng.choices([1, 2, 3], [1, 6, 3])[0]
    subject = rng.choice(SUBJECTS)
    others = [name for name in sorted(INPUT_POOL) if name != subject]
    names = [subject, *rng.sample(others, rng.randint(0, 4))]
    inputs = {name: dict(INPUT_POOL[name]) for name in names}
    secrets = ["api_token"] if rng.random() < 0.3 else []
    ctx = _Context(rng, maturity, names, secrets)
    data: dict[str, Any] = {
        "apiVersion": "runbook/v1",
        "kind": "Playbook",
        "metadata": {
            "name": f"{topic}-remediation-{index:04d}",
            "version": f"1.{index % 7}.{index % 3}",
            "maturity": maturity,
            "owner": rng.choice(["sre", "platform", "dba", "netops"]),
            "summary": f"{summary.capitalize()}: look first, then fix, least destructive first.",
            "description": (
                f"Generated benchmark playbook #{index} for *{summary}*.\n\n"
                "Looks before it touches anything, and every change has an undo story.\n"
            ),
            "tags": [topic, "generated", rng.choice(["linux", "kubernetes", "http"])],
            "triggers": [{"alertname": alert, "labels": {"severity": "page"}}],
        },
        "inputs": inputs,
    }
    if secrets:
        data["secrets"] = {"api_token": {"env": "API_TOKEN", "description": "Admin API token."}}
    data["targets"] = [f"{topic}:{ctx.ref('host', 'service', 'deployment')}"]
    if maturity >= 2 or rng.random() < 0.5:
        data["sli"] = _sli(ctx)
    data["steps"] = _steps(ctx, rng.randint(3, 10))
    if any("kubectl" in step for step in data["steps"]):
        # Bound to one cluster (level 3 never acts on "the current context").
        data["kubernetes"] = {"context": rng.choice(["prod-eu-1", "prod-us-2", "staging"])}
    return data


def render(data: dict[str, Any]) -> str:
    return HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=100)


def generate(directory: Path, count: int, seed: int = 2024) -> list[Path]:
    """Write `count` playbooks into `directory`; their paths."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"pb-{index:04d}.yaml"
        path.write_text(render(playbook(index, rng)), encoding="utf-8")
        paths.append(path)
    return paths


def true_steps_playbook(n: int) -> str:
    """N local `true` steps, read-only, maturity 2: the step-execution benchmark."""
    lines = [
        "apiVersion: runbook/v1",
        "kind: Playbook",
        "metadata:",
        f"  name: bench-true-{n}",
        "  version: 1.0.0",
        "  maturity: 2",
        "  owner: bench",
        "steps:",
    ]
    for i in range(n):
        lines += [f"  - id: s{i}", "    readonly: true", "    shell:", '      run: ["true"]']
    return "\n".join(lines) + "\n"
