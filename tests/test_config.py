"""The config file (``aiflow.toml`` / ``aiflow.yaml`` / ``aiflow.yml``) with real files in the
test's ``AIFLOW_HOME``, and ``aiflow config show`` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiflow.config import Settings, get_settings, reset_settings
from aiflow.errors import InvalidInput

FORMATS = ["aiflow.toml", "aiflow.yaml", "aiflow.yml"]
SECRET = "s3cr3t-key-that-is-long-enough-0123456789"
DB_PASSWORD = "db-pa55word"


def render(name: str, sections: dict[str, dict[str, Any]]) -> str:
    """``sections`` as TOML or YAML text. JSON scalars are valid in both."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]" if name.endswith(".toml") else f"{section}:")
        for key, value in values.items():
            sep = " = " if name.endswith(".toml") else ": "
            indent = "" if name.endswith(".toml") else "  "
            lines.append(f"{indent}{key}{sep}{json.dumps(value)}")
    return "\n".join(lines) + "\n"


def write(home: Path, name: str, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / name
    path.write_text(text)
    reset_settings()
    return path


def load_error(match: str) -> str:
    with pytest.raises(InvalidInput, match=match) as caught:
        Settings()
    return str(caught.value)


# -- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_file_overrides_defaults_and_env_overrides_file(
    aiflow_home: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sections = {
        "metastore": {"uri": "sqlite:////tmp/from-file.db", "busy_timeout_ms": 1234},
        "server": {"port": 9000, "host": "127.0.0.2", "dev": True},
    }
    write(aiflow_home, name, render(name, sections))
    settings = get_settings()
    assert settings.metastore_uri == "sqlite:////tmp/from-file.db"
    assert settings.metastore.busy_timeout_ms == 1234
    assert (settings.server.port, settings.server.host, settings.server.dev) == (
        9000,
        "127.0.0.2",
        True,
    )
    assert settings.scheduler.kill_grace == 5.0  # untouched sections keep their defaults

    monkeypatch.setenv("AIFLOW__SERVER__PORT", "9100")
    reset_settings()
    settings = get_settings()
    assert settings.server.port == 9100  # env wins ...
    assert settings.server.host == "127.0.0.2"  # ... key by key, not section by section


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_yaml_file_means_defaults(aiflow_home: Path, text: str) -> None:
    write(aiflow_home, "aiflow.yaml", text)
    assert Settings().server.port == 8080


def test_no_file_means_defaults(aiflow_home: Path) -> None:
    assert Settings().server.port == 8080
    assert Settings().public_dict()["config_file"] is None


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        ("aiflow.toml", "aiflow.yaml"),
        ("aiflow.toml", "aiflow.yml"),
        ("aiflow.yaml", "aiflow.yml"),
        ("aiflow.toml", "aiflow.yaml", "aiflow.yml"),
    ],
)
def test_more_than_one_config_file_is_an_error_naming_them(
    aiflow_home: Path, names: tuple[str, ...]
) -> None:
    for name in names:
        write(aiflow_home, name, render(name, {"server": {"port": 9000}}))
    message = load_error("aiflow reads exactly one")
    for name in names:
        assert str(aiflow_home / name) in message


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("aiflow.toml", "[server\nport = 1\n", "line 1"),
        ("aiflow.toml", "[server]\nport = 1\nport = 2\n", "line 3"),  # TOML: duplicate key
        ("aiflow.yaml", "server: [\n", "line 2"),
        ("aiflow.yaml", "server:\n\tport: 1\n", "line 2"),  # a tab
        ("aiflow.yml", "server:\n  port: 1\n  port: 2\n", "found key 'port' twice (line 3"),
        ("aiflow.yaml", "server:\n  port: !!python/object:os.system x\n", "line 2"),
    ],
)
def test_a_malformed_file_is_an_error_naming_it_and_the_place(
    aiflow_home: Path, name: str, text: str, where: str
) -> None:
    path = write(aiflow_home, name, text)
    kind = "TOML" if name.endswith(".toml") else "YAML"
    message = load_error(f"config file {path} is not valid {kind}")
    assert where in message and "\n" not in message


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(
    ("sections", "key", "valid"),
    [
        ({"metastor": {"uri": "sqlite://"}}, "unknown section or key 'metastor'", "metastore"),
        ({"server": {"prot": 8081}}, "unknown key 'server.prot'", "port"),
        ({"server": {"port": 8081, "secret": "x"}}, "unknown key 'server.secret'", "secret_key"),
        ({"home": {"path": "/x"}}, "AIFLOW_HOME is read from the environment only", "metastore"),
    ],
)
def test_an_unknown_section_or_key_is_an_error_naming_file_and_key(
    aiflow_home: Path, name: str, sections: dict[str, dict[str, Any]], key: str, valid: str
) -> None:
    path = write(aiflow_home, name, render(name, sections))
    message = load_error(f"config file {path}: ")
    assert key in message and valid in message


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(
    ("sections", "key", "problem"),
    [
        ({"server": {"port": 70000}}, "'server.port'", "less than or equal to 65535"),
        ({"server": {"port": "eighty"}}, "'server.port'", "valid integer"),
        ({"server": {"secret_key": 12345678}}, "'server.secret_key'", "valid string"),
        ({"scheduler": {"kill_grace": "soon"}}, "'scheduler.kill_grace'", "valid number"),
    ],
)
def test_a_bad_value_is_an_error_naming_file_and_key_but_not_the_value(
    aiflow_home: Path, name: str, sections: dict[str, dict[str, Any]], key: str, problem: str
) -> None:
    path = write(aiflow_home, name, render(name, sections))
    message = load_error(f"config file {path}: {key}: ")
    assert problem in message
    assert "12345678" not in message  # a secret may be the bad value: never echoed


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_a_yaml_file_must_be_a_mapping(aiflow_home: Path, text: str) -> None:
    path = write(aiflow_home, "aiflow.yaml", text)
    load_error(f"config file {path} must be a mapping of sections")


def test_a_section_must_be_a_mapping(aiflow_home: Path) -> None:
    path = write(aiflow_home, "aiflow.yaml", "server: 3\n")
    load_error(f"config file {path}: 'server' must be a section of keys")


# -- aiflow config show (the real CLI) ----------------------------------------------------------


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW")}
    return subprocess.run(
        [sys.executable, "-m", "aiflow", *args],
        env={**clean, "AIFLOW_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["aiflow.toml", "aiflow.yaml"])
def test_config_show_prints_the_effective_config_with_secrets_masked(
    aiflow_home: Path, name: str
) -> None:
    sections = {
        "metastore": {"uri": f"postgresql+psycopg://aiflow:{DB_PASSWORD}@db.example:5432/aiflow"},
        "server": {"secret_key": SECRET, "port": 9000},
        "client": {"token": "aif_client-token-value"},
    }
    path = write(aiflow_home, name, render(name, sections))
    done = cli(aiflow_home, "config", "show", AIFLOW__SERVER__PORT="9100")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["config_file"] == str(path)
    assert shown["metastore"]["uri"] == "postgresql+psycopg://aiflow:***@db.example:5432/aiflow"
    assert shown["server"]["secret_key"] == "***" and shown["client"]["token"] == "***"
    assert shown["server"]["port"] == 9100  # the environment over the file
    for secret in (SECRET, DB_PASSWORD, "aif_client-token-value"):
        assert secret not in done.stdout


def test_cli_reports_a_config_error_on_one_line(aiflow_home: Path) -> None:
    path = write(aiflow_home, "aiflow.yaml", "server:\n  prot: 8081\n")
    done = cli(aiflow_home, "config", "show")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"config file {path}: unknown key 'server.prot'" in done.stderr
    assert "Traceback" not in done.stderr


def test_storage_root_moves_what_jobs_share(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from aiflow.config import Settings

    monkeypatch.setenv("AIFLOW_HOME", str(tmp_path))
    local = Settings()
    assert local.artifacts_uri == f"{tmp_path}/artifacts"  # default: under AIFLOW_HOME
    assert local.snapshots_uri == f"{tmp_path}/snapshots"
    monkeypatch.setenv("AIFLOW__STORAGE__ROOT", "hdfs://nn:8020/aiflow/")
    remote = Settings()
    assert (remote.artifacts_uri, remote.snapshots_uri, remote.executions_uri) == (
        "hdfs://nn:8020/aiflow/artifacts",
        "hdfs://nn:8020/aiflow/snapshots",
        "hdfs://nn:8020/aiflow/executions",
    )
    assert remote.snapshots_dir == tmp_path / "snapshots"  # the local cache stays local
    for bad, reason in (
        ("relative/dir", "absolute path"),
        ("s3://b/x", "only file:// and hdfs://"),
    ):
        monkeypatch.setenv("AIFLOW__STORAGE__ROOT", bad)
        with pytest.raises(ValueError, match=reason):
            Settings()
