"""Turn schema-valid raw data into the frozen model; past this point nothing indexes dicts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from engine.core.durations import parse_duration, parse_period
from engine.core.findings import Finding
from engine.core.results import SpecError
from engine.model.guards import Escalation, Guards
from engine.model.playbook import (
    Action,
    Drill,
    Healthy,
    InputSpec,
    Matcher,
    Metadata,
    Playbook,
    Probe,
    Retry,
    SecretSpec,
    Sli,
    Slo,
    Step,
    Trigger,
)
from engine.model.yamlsource import Path, Source, dotted
from engine.playbook.matchers import MatcherError, parse_matchers
from engine.playbook.schema import STEP_TYPE_KEYS
from engine.sli.registry import PROBE_BLOCKS
from engine.steps.registry import playbook_hooks, step_type


class _Builder:
    """Builds the model; a step body its type module rejects becomes a finding."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.findings: list[Finding] = []

    def playbook(self) -> Playbook:
        data: Mapping[str, Any] = self.source.data
        return Playbook(
            file=self.source.file,
            content_hash=content_hash(data),
            metadata=self.metadata(data["metadata"]),
            steps=self.steps(data.get("steps", []), ("steps",)),
            inputs=_inputs(self.source, data.get("inputs") or {}),
            secrets=_secrets(data.get("secrets") or {}),
            targets=tuple(data.get("targets", [])),
            sli=_sli(data["sli"]) if "sli" in data else None,
            drill=self.drill(data["drill"]) if "drill" in data else None,
            guards=msgspec.convert(data["guards"], Guards) if "guards" in data else None,
            escalation=_escalation(data.get("escalation")),
            step_blocks=_step_blocks(data),
            evidence_hash=evidence_hash(data),
            level_hashes=level_hashes(data),
        )

    def steps(self, raw: list[Mapping[str, Any]], path: Path) -> tuple[Step, ...]:
        return tuple(self.step(item, (*path, i)) for i, item in enumerate(raw))

    def step(self, raw: Mapping[str, Any], path: Path) -> Step:
        timeout = raw.get("timeout")
        return Step(
            id=raw["id"],
            action=self.action(raw, path),
            location=self.source.at(path),
            title=raw.get("title", ""),
            description=raw.get("description", ""),
            undo=self.action(raw["undo"], (*path, "undo")) if "undo" in raw else None,
            irreversible=raw.get("irreversible"),
            timeout=parse_duration(timeout) if timeout else None,
            retry=_retry(raw.get("retry") or {}),
            confirm=raw.get("confirm"),
            when=raw.get("when"),
            mitigates=raw.get("mitigates"),
            readonly=raw.get("readonly"),
            undo_if_interrupted=bool(raw.get("undo_if_interrupted", False)),
        )

    def action(self, raw: Mapping[str, Any], path: Path) -> Action:
        key = next(key for key in STEP_TYPE_KEYS if key in raw)
        where = self.source.at((*path, key))
        try:
            spec = step_type(key).parse(raw[key], where)
        except (SpecError, ValueError) as exc:
            hint = getattr(exc, "hint", "") or f"the `{key}` step cannot use this value as written"
            field = getattr(exc, "field_name", "")
            at = (*path, key, *field.split(".")) if field else (*path, key)
            self.findings.append(Finding(self.source.at(at), dotted(at), str(exc), hint))
            spec = None
        return Action(key, spec, where)

    def metadata(self, raw: Mapping[str, Any]) -> Metadata:
        triggers = tuple(
            self.trigger(item, ("metadata", "triggers", i))
            for i, item in enumerate(raw.get("triggers", []))
        )
        return Metadata(
            name=raw["name"],
            version=raw["version"],
            maturity=int(raw["maturity"]),  # `2.0` is the integer 2 to JSON Schema too
            owner=raw.get("owner", ""),
            summary=raw.get("summary", ""),
            description=raw.get("description", ""),
            tags=tuple(raw.get("tags", [])),
            triggers=triggers,
            version_location=self.source.at(("metadata", "version")),
        )

    def trigger(self, raw: Mapping[str, Any], path: Path) -> Trigger:
        self.refuse_templates(raw, path)
        matchers = tuple(
            matcher
            for j, text in enumerate(raw.get("matchers", []))
            for matcher in self.matchers(text, (*path, "matchers", j))
        )
        return Trigger(raw["alertname"], dict(raw.get("labels", {})), matchers)

    def refuse_templates(self, raw: Mapping[str, Any], path: Path) -> None:
        """A trigger is matched as written: a template in it would never be rendered."""
        texts: list[tuple[Path, str]] = [((*path, "alertname"), raw["alertname"])]
        texts += [((*path, "labels", k), v) for k, v in raw.get("labels", {}).items()]
        texts += [((*path, "matchers", j), t) for j, t in enumerate(raw.get("matchers", []))]
        for at, text in texts:
            if "{{" in text or "{%" in text:
                message = "a trigger is matched as written: this template would never be rendered"
                hint = 'write the value itself, or a pattern with a matcher (team=~"db-.*")'
                self.findings.append(Finding(self.source.at(at), dotted(at), message, hint))

    def matchers(self, text: str, path: Path) -> list[Matcher]:
        """The item's matchers; a malformed one becomes a finding at the item."""
        try:
            return parse_matchers(text)
        except MatcherError as exc:
            location = self.source.at(path)
            self.findings.append(Finding(location, dotted(path), str(exc), exc.hint))
            return []

    def drill(self, raw: Mapping[str, Any]) -> Drill:
        within = raw.get("detect_within")
        recover = raw.get("recover_within")
        return Drill(
            inject=self.steps(raw.get("inject", []), ("drill", "inject")),
            revert=self.steps(raw.get("revert", []), ("drill", "revert")),
            detect_within=parse_duration(within) if within else None,
            recover_within=parse_duration(recover) if recover else None,
        )


def build_playbook(source: Source) -> tuple[Playbook, list[Finding]]:
    """The model of a schema-valid source, and what the step type modules rejected."""
    builder = _Builder(source)
    playbook = builder.playbook()
    return playbook, builder.findings


def content_hash(data: Any) -> str:
    """sha256 of the canonical JSON of the data: comments and layout do not count."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def evidence_hash(data: Mapping[str, Any]) -> str:
    """The content hash of the data without `metadata.maturity`: a promotion or a
    demotion changes only that value and keeps the evidence; any other edit resets it."""
    metadata = data.get("metadata")
    if not isinstance(metadata, Mapping):
        return content_hash(data)
    kept = {key: value for key, value in metadata.items() if key != "maturity"}
    return content_hash({**data, "metadata": kept})


def level_hashes(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The content hashes of the data at maturity 1, 2 and 3 (one of them its own)."""
    metadata = data.get("metadata")
    if not isinstance(metadata, Mapping):
        return ()
    return tuple(
        content_hash({**data, "metadata": {**metadata, "maturity": level}}) for level in (1, 2, 3)
    )


def _escalation(raw: Mapping[str, Any] | None) -> Escalation | None:
    return msgspec.convert(raw, Escalation) if raw is not None else None


def _inputs(source: Source, raw: Mapping[str, Any]) -> dict[str, InputSpec]:
    return {
        name: InputSpec(
            name=name,
            type=spec["type"],
            default=spec.get("default"),
            required=bool(spec.get("required", False)),
            pattern=spec.get("pattern"),
            enum=tuple(spec.get("enum", ())),
            description=spec.get("description", ""),
            allow_leading_dash=bool(spec.get("allow_leading_dash", False)),
            location=source.at(("inputs", name), key=True),
            source=spec.get("from", ""),
        )
        for name, spec in raw.items()
    }


def _secrets(raw: Mapping[str, Any]) -> dict[str, SecretSpec]:
    return {name: SecretSpec(name, spec.get("env"), spec.get("file")) for name, spec in raw.items()}


def _retry(raw: Mapping[str, Any]) -> Retry:
    return Retry(
        attempts=raw.get("attempts", 1),
        backoff=parse_duration(raw.get("backoff", "1s")),
        max_backoff=parse_duration(raw.get("max_backoff", "30s")),
        jitter=raw.get("jitter", True),
    )


def _step_blocks(data: Mapping[str, Any]) -> dict[str, Any]:
    """Each top-level block a step type owns, as that type parses it ({} when absent)."""
    return {
        block: hook.parse_block(data.get(block, {})) for block, hook in playbook_hooks().items()
    }


def _sli(raw: Mapping[str, Any]) -> Sli:
    probe_type, probe_spec = next(iter(raw["probe"].items()))
    return Sli(
        probe=Probe(probe_type, probe_spec, PROBE_BLOCKS.get(probe_type)),
        healthy=_healthy(raw["healthy"]) if "healthy" in raw else None,
        settle=parse_duration(raw.get("settle", "0s")),
        samples=raw.get("samples", 1),
        interval=parse_duration(raw.get("interval", "1s")),
        timeout=parse_duration(raw.get("timeout", "60s")),
        on_not_recovered=raw.get("on_not_recovered", "keep"),
        slo=_slo(raw["slo"]) if "slo" in raw else None,
    )


def _slo(raw: Mapping[str, Any]) -> Slo:
    """The objective as an exact decimal (a YAML 99.9 is read as the float nearest it:
    its shortest repr is the number written); a window of zero is left to the checks."""
    window_text = str(raw["window"])
    try:
        window = parse_period(window_text)
    except ValueError:
        window = 0.0
    return Slo(Decimal(str(raw["objective"])), window, window_text)


def _healthy(raw: Mapping[str, Any]) -> Healthy:
    op, value = next(iter(raw.items()))
    if op == "between":
        return Healthy(op, float(value[0]), float(value[1]))
    return Healthy(op, float(value))
