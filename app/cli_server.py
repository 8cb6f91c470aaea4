"""`qclust serve` and `qclust tokens`: the HTTP lookup API and who may call it.

FastAPI and uvicorn are imported only by `serve`, so every other command starts without them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from app.cli_common import JsonOption, app, emit_json, err, fail, out
from db.models import TokenScope
from db.session import open_database
from db.settings import get_settings
from db.tokens import TokenError, active_token_count, create_token, list_tokens, revoke_token

tokens_app = typer.Typer(
    help="Tokens for the HTTP API: create, list, revoke.", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")

NO_TOKEN = (
    "no active API token exists, so nobody could call this server: create one with "
    "'qclust tokens create --name NAME --scope read' (or --scope write), or use --no-auth on "
    "a loopback host"
)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="Who or what uses it (shown in edits and the list).")],
    scope: Annotated[
        TokenScope, typer.Option(help="read: search, dupes, corpora; write: also changes.")
    ] = TokenScope.READ,
) -> None:
    """Create a token; its secret is printed once, on standard output, and never again."""
    sessions = open_database(get_settings().resolved_database_url)
    try:
        with sessions.begin() as session:
            secret = create_token(session, name, scope)
    except TokenError as exc:
        fail(str(exc))
    err.print(
        f"created {scope.value} token '{name}'; keep the secret below, it is not shown again "
        "(send it as 'Authorization: Bearer SECRET', or set QCLUST_TOKEN for the CLI)",
        highlight=False,
    )
    out.print(secret, highlight=False)


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False) -> None:
    """Every token: name, scope, created, last used, revoked (never the secret)."""
    sessions = open_database(get_settings().resolved_database_url)
    with sessions() as session:
        tokens = list_tokens(session)
    if as_json:
        emit_json(
            [
                {
                    "name": t.name,
                    "scope": t.scope.value,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                    "active": t.active,
                }
                for t in tokens
            ]
        )
        return
    if not tokens:
        err.print("no tokens yet; create one with 'qclust tokens create --name NAME'")
        return
    table = Table("name", "scope", "created", "last used", "revoked", box=None)
    for t in tokens:
        table.add_row(
            t.name,
            t.scope.value,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once, on every server using this database."""
    sessions = open_database(get_settings().resolved_database_url)
    try:
        with sessions.begin() as session:
            revoke_token(session, name)
    except TokenError as exc:
        fail(str(exc))
    err.print(f"revoked token '{name}'", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8600,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No tokens needed (loopback hosts only).")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="Another Host name clients may use (repeat; '*' for any)."),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="A web origin allowed to call from a browser (repeat); none: no CORS."),
    ] = None,
    request_timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds a request may run before a 503.")
    ] = 300.0,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log each request.")] = False,
) -> None:
    """Serve search, duplicate checks and edits over HTTP (JSON; OpenAPI at /docs)."""
    from app.http.hosts import default_hosts, is_loopback

    if no_auth and not is_loopback(host):
        fail(
            f"--no-auth is only allowed on a loopback host (127.0.0.1, ::1, localhost), not "
            f"'{host}': anyone who can reach it could change the corpora. Create a token with "
            "'qclust tokens create --name NAME --scope read' instead"
        )
    settings = get_settings()
    if not no_auth:
        with open_database(settings.resolved_database_url)() as session:
            if active_token_count(session) == 0:
                fail(NO_TOKEN)
    hosts = default_hosts(host, allowed_host or [])
    if host in ("0.0.0.0", "::") and not allowed_host:
        err.print(
            f"note: listening on every address, but only Host names {', '.join(hosts[1:])} are "
            "accepted; add --allowed-host NAME for the name clients use",
            highlight=False,
        )
    _run(host, port, hosts, cors_origin or [], request_timeout, not no_auth, access_log)


def _run(
    host: str,
    port: int,
    hosts: list[str],
    cors: list[str],
    timeout: float,
    auth: bool,
    access_log: bool,
) -> None:
    from app.http.app import create_app
    from app.http.limits import Limits
    from app.http.server import bind, make_server, url_of
    from app.service import Service

    service = Service(get_settings())
    api = create_app(
        service,
        auth=auth,
        allowed_hosts=hosts,
        cors_origins=cors,
        limits=Limits(request_timeout_s=timeout),
    )
    try:
        sock = bind(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    server = make_server(api, log_level="info" if access_log else "warning")
    err.print(
        f"serving on {url_of(sock)} (docs at /docs){'' if auth else ', no tokens needed'}",
        highlight=False,
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops cleanly, then passes Ctrl-C on
        pass
    finally:
        sock.close()
    err.print("stopped")
