"""Which aiflow server the CLI talks to, with which token: ``--server``, the ``[client]``
settings, and the credentials file that ``aiflow login`` writes and ``aiflow logout`` edits.

The server is ``--server URL``, else ``AIFLOW__CLIENT__SERVER``, else the one ``aiflow login``
last logged in to (the credentials file's ``current``, until ``aiflow logout``); without any,
the CLI stays embedded on the local meta store. The token is ``AIFLOW__CLIENT__TOKEN`` if set,
else the credentials file's entry for that server. The file holds API tokens in clear, so it is
written ``0600`` and refused when group or others can read it: a token others could read must
be treated as leaked, and silently using it would hide that.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import typer

from aiflow.errors import InvalidInput

CREDENTIALS_FILE = "credentials.json"

_selected: str | None = None  # --server of the root command, for this process


def select_server(url: str | None) -> None:
    """Record the root command's ``--server`` (it wins over the settings)."""
    global _selected
    _selected = url


def flag_server() -> str | None:
    """The ``--server`` given on the command line, if any."""
    return _selected


def server_url() -> str | None:
    """The server the CLI acts on: ``--server``, else ``AIFLOW__CLIENT__SERVER``, else the
    server last logged in to; ``None`` means local (embedded)."""
    from aiflow.config import get_settings

    url = _selected or get_settings().client.server or current_server()
    return _normalize(url) if url else None


def current_server() -> str | None:
    """The server ``aiflow login`` last logged in to, if its token is still stored."""
    path = credentials_path()
    if not path.exists():
        return None
    current = _read_file(path).get("current")
    return str(current) if isinstance(current, str) and current in read_credentials() else None


def token_for(url: str) -> str | None:
    """The token for ``url``: ``AIFLOW__CLIENT__TOKEN``, else the credentials file's entry."""
    from aiflow.config import get_settings

    token = get_settings().client.token
    if token is not None:
        return token.get_secret_value()
    return read_credentials().get(_normalize(url))


def credentials_path() -> Path:
    from aiflow.config import aiflow_home

    return aiflow_home() / CREDENTIALS_FILE


def read_credentials() -> dict[str, str]:
    """Server URL -> token from the credentials file; empty if there is none."""
    path = credentials_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path} holds API tokens but its mode is {stat.S_IMODE(mode):04o} (group/other "
            f"can read it), so it is not used: treat its tokens as exposed, then `chmod 600 "
            f"{path}` or `aiflow login` again"
        )
    servers = _read_file(path)["servers"]
    return {str(k): str(v) for k, v in servers.items()}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data.get("servers"), dict):
            raise TypeError("servers is not an object")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path} is not a valid credentials file ({exc})") from None
    return dict(data)


def write_credentials(servers: dict[str, str], current: str | None = None) -> Path:
    """Replace the credentials file atomically; it is never readable by others, not even for
    an instant (created ``0600``, then renamed over the old one). ``current``: the server
    commands go to by default (``aiflow login``'s)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # a stale tmp file's wider mode must not survive
            content: dict[str, object] = {"servers": servers}
            if current is not None:
                content["current"] = current
            json.dump(content, out, indent=2)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _normalize(url: str) -> str:
    return url.rstrip("/")


def login_command(
    url_argument: str | None = typer.Argument(
        None, metavar="[URL]", help="Server URL (the same as --server)."
    ),
    server: str | None = typer.Option(
        None, "--server", help="Server URL (default: the root --server or AIFLOW__CLIENT__SERVER)."
    ),
    token: str | None = typer.Option(
        None, "--token", help="API token (prompted for, hidden, if not given)."
    ),
) -> None:
    """Check a token against a server, store it in $AIFLOW_HOME/credentials.json (0600), and
    send the commands that follow to that server (until `aiflow logout`)."""
    from aiflow.client import Client

    if url_argument and server and _normalize(url_argument) != _normalize(server):
        raise InvalidInput(f"two servers given: {url_argument} and --server {server}; pass one")
    chosen = url_argument or server
    url = _normalize(chosen) if chosen else server_url()
    if url is None:
        raise InvalidInput("no server to log in to: aiflow login URL")
    if token is None:
        token = str(typer.prompt("API token", hide_input=True))
    with Client(url, token) as client:
        client.page_models(limit=1)  # any role may read: a bad token or URL fails here, not later
    servers = read_credentials()
    servers[url] = token
    path = write_credentials(servers, current=url)
    typer.echo(f"logged in to {url} (token stored in {path}); commands now go to this server")


def logout_command(
    server: str | None = typer.Option(
        None, "--server", help="Server URL (default: the root --server or AIFLOW__CLIENT__SERVER)."
    ),
) -> None:
    """Forget the stored token of a server.

    The token itself stays valid: revoke it on the server with `aiflow token revoke`."""
    url = _normalize(server) if server else server_url()
    if url is None:
        raise InvalidInput("no server to log out of: pass --server URL")
    servers = read_credentials()
    current = current_server()
    if servers.pop(url, None) is None:
        typer.echo(f"not logged in to {url}")
        return
    if servers:
        write_credentials(servers, current=None if current == url else current)
    else:
        credentials_path().unlink()
    typer.echo(f"logged out of {url}")
