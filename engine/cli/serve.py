"""`runbook serve`: Alertmanager's webhook runs level-3 playbooks unattended."""

from __future__ import annotations

import click

DEFAULT_LISTEN = "127.0.0.1:9095"


@click.command()
@click.option(
    "--playbooks",
    "-p",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The folder of playbooks whose triggers answer alerts.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML: defaults of the guards and the escalation, the global budget (README).",
)
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, metavar="HOST:PORT")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    help="A file holding the bearer token senders must present (mode 600).",
)
@click.option(
    "--basic-auth-file",
    type=click.Path(dir_okay=False),
    help="A file holding `user:password` for basic auth (mode 600).",
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Serve HTTPS.")
@click.option(
    "--tls-key", type=click.Path(exists=True, dir_okay=False), help="The key of --tls-cert."
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Runs at once; more wait in the queue.",
)
@click.option(
    "--max-body",
    default=1024 * 1024,
    show_default=True,
    type=click.IntRange(1024),
    help="Largest notification accepted, in bytes (413 above).",
)
@click.option(
    "--read-timeout",
    default="10s",
    show_default=True,
    metavar="DURATION",
    help="A request whose head or body takes longer is cut (a slow-loris, not a sender).",
)
@click.option(
    "--drain",
    default="30s",
    show_default=True,
    metavar="DURATION",
    help="On SIGTERM, how long runs in flight may finish before they are aborted.",
)
def serve(
    playbooks: str,
    config: str | None,
    listen: str,
    token_file: str | None,
    basic_auth_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    concurrency: int,
    max_body: int,
    read_timeout: str,
    drain: str,
) -> None:
    """Answer Alertmanager's webhook: level 3 runs, level 2 is proposed, level 1 suggested."""
    from engine.hooks.app import Limits
    from engine.hooks.server import ServeSettings
    from engine.hooks.server import serve as run_server

    drain_seconds = _duration(drain, "--drain")
    body_seconds = _duration(read_timeout, "--read-timeout")
    settings = ServeSettings(
        playbooks=playbooks,
        listen=listen,
        token_file=token_file,
        basic_auth_file=basic_auth_file,
        tls_cert=tls_cert,
        tls_key=tls_key,
        concurrency=concurrency,
        limits=Limits(body_bytes=max_body, body_seconds=body_seconds),
        drain_seconds=drain_seconds,
        config=config,
    )
    run_server(settings)


def _duration(text: str, option: str) -> float:
    from engine.core.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
