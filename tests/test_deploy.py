"""The team deployment files (Dockerfile, docker-compose.yml) agree with the code they run.

No container engine is needed: the compose file is read as YAML, its commands are parsed by the
real command line and its LOUPE_ variables checked against the settings class.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from loupe.cli import app
from store.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def as_argv(command: str | list[str] | None) -> list[str]:
    """A compose or Dockerfile command as an argument list (shell form split like a shell)."""
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def loupe_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services that run a `loupe` command."""
    return {
        name: service
        for name, service in compose["services"].items()
        if as_argv(service.get("command"))[:1] == ["loupe"]
    }


def cli_problems(argv: list[str]) -> list[str]:
    """Why `argv` (starting with `loupe`) is not a line the real CLI accepts; [] if it is.

    Typer's commands are click-style objects (recent Typer ships its own copy of click), so a
    group is recognised by its ``commands`` mapping rather than by class.
    """
    if argv[:1] != ["loupe"]:
        return [f"{argv!r} does not start with loupe"]
    command: Any = typer.main.get_command(app)
    path = ["loupe"]
    rest = argv[1:]
    while isinstance(getattr(command, "commands", None), dict):
        if not rest or rest[0].startswith("-"):
            return [f"{' '.join(path)} needs a sub-command"]
        sub = command.commands.get(rest[0])
        if sub is None:
            return [f"{' '.join([*path, rest[0]])}: no such command"]
        path.append(rest[0])
        command, rest = sub, rest[1:]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    problems = [
        f"{' '.join(path)}: no option {token.split('=')[0]}"
        for token in rest
        if token.startswith("--") and token.split("=")[0] not in known
    ]
    if not problems:
        try:  # the whole line, as click parses it: values, missing arguments, extra arguments
            command.make_context(" ".join(path), list(rest))
        except Exception as e:  # click's usage errors (typer's copy of click or click itself)
            message = e.format_message() if hasattr(e, "format_message") else repr(e)
            problems.append(f"{' '.join(path)}: {message}")
    return problems


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment, given as a mapping or as a list of KEY=VALUE."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def settings_variables() -> set[str]:
    """The environment variables the settings class reads (upper-cased)."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias
        names.add((alias if isinstance(alias, str) else f"{prefix}{name}").upper())
    return names


def env_problems(compose: dict[str, Any]) -> list[str]:
    """LOUPE_ variables of loupe services that the settings class would silently ignore."""
    known = settings_variables()
    return [
        f"{name}: {key} is not a setting (known: {', '.join(sorted(known))})"
        for name, service in loupe_services(compose).items()
        for key in environment(service)
        if key.upper().startswith("LOUPE_") and key.upper() not in known
    ]


def healthcheck_problems(compose: dict[str, Any]) -> list[str]:
    """The annotator's health check must ask /_stcore/health on the port it serves."""
    service = compose["services"]["annotator"]
    argv = as_argv(service["command"])
    port = argv[argv.index("--port") + 1] if "--port" in argv else None
    test = " ".join(as_argv(service.get("healthcheck", {}).get("test")))
    wanted = f"localhost:{port}/_stcore/health"
    problems = [] if wanted in test else [f"health check {test!r} does not ask {wanted}"]
    if not any(str(p).split(":")[-1] == str(port) for p in service.get("ports", [])):
        problems.append(f"annotator port {port} is not published: {service.get('ports')}")
    return problems


def url_user_and_password(url: str) -> tuple[str, str]:
    """The user and password of a ``scheme://user:password@host/db`` URL (still uninterpolated)."""
    credentials = url.split("://", 1)[1].rsplit("@", 1)[0]
    user, _, password = credentials.partition(":")
    return user, password


def credential_problems(compose: dict[str, Any]) -> list[str]:
    """Passwords must come from required variables, the app must not connect as the owner,
    and the annotator must be published on the loopback address unless configured."""
    services = compose["services"]
    owner = environment(services["db"])["POSTGRES_USER"]
    problems = []
    if not environment(services["db"])["POSTGRES_PASSWORD"].startswith("${LOUPE_DB_PASSWORD:?"):
        problems.append("the database owner's password is not a required variable")
    migrate = as_argv(services["migrate"]["command"])
    app_role = migrate[migrate.index("--app-role") + 1] if "--app-role" in migrate else None
    for name, service in loupe_services(compose).items():
        user, password = url_user_and_password(environment(service)["LOUPE_DATABASE_URL"])
        if not re.fullmatch(r"\$\{LOUPE_(APP_)?DB_PASSWORD:\?[^}]+\}", password):
            problems.append(f"{name}: database password {password!r} is not a required variable")
        wanted = owner if name == "migrate" else app_role
        if user != wanted:
            problems.append(f"{name}: connects as {user}, not {wanted}")
    for port in services["annotator"].get("ports", []):
        if not str(port).startswith("${LOUPE_PUBLISH:-127.0.0.1}:"):
            problems.append(f"annotator port {port} is published beyond 127.0.0.1 by default")
    return problems


def dockerfile_command(text: str) -> list[str]:
    """The last CMD (after any ENTRYPOINT) of a Dockerfile, as an argument list."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"^(CMD|ENTRYPOINT)\s+(.+)$", text, re.MULTILINE):
        value = match.group(2).strip()
        found[match.group(1)] = json.loads(value) if value.startswith("[") else shlex.split(value)
    return found.get("ENTRYPOINT", []) + found.get("CMD", [])


def dockerfile_problems(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    runs = [i for i, line in enumerate(lines) if line.startswith("RUN ")]
    torch = [i for i in runs if "pip install torch==2.13.0" in lines[i]]
    project = [i for i in runs if re.search(r"pip install \.(\s|$)", lines[i])]
    problems = []
    if not torch:
        problems.append("no `pip install torch==2.13.0`")
    elif "download.pytorch.org/whl/cpu" not in lines[torch[0]]:
        problems.append("torch is not the CPU build")
    if not project:
        problems.append("no `pip install .`")
    if torch and project and torch[0] > project[0]:
        problems.append("torch is installed after the project")
    problems += cli_problems(dockerfile_command(text))
    return problems


@pytest.mark.parametrize("service", ["migrate", "annotator", "scheduler"])
def test_compose_command_is_a_real_cli_command(service: str) -> None:
    compose = load_compose()
    assert service in loupe_services(compose)
    assert cli_problems(as_argv(compose["services"][service]["command"])) == []


def test_compose_loupe_variables_are_settings() -> None:
    compose = load_compose()
    assert env_problems(compose) == []
    for name in ("annotator", "scheduler"):
        env = environment(compose["services"][name])
        assert env["LOUPE_DATABASE_URL"].startswith("postgresql://")
        assert {"LOUPE_MEDIA_ROOT", "LOUPE_MODELS_DIR", "LOUPE_DERIVED_DIR"} <= env.keys()


def test_compose_requires_passwords_and_keeps_the_app_off_the_owner_role() -> None:
    assert credential_problems(load_compose()) == []


def test_compose_with_default_password_or_open_port_is_rejected() -> None:
    compose = copy.deepcopy(load_compose())
    services = compose["services"]
    services["db"]["environment"]["POSTGRES_PASSWORD"] = "loupe"
    services["scheduler"]["environment"] = {
        **services["scheduler"]["environment"],
        "LOUPE_DATABASE_URL": "postgresql://loupe:loupe@db:5432/loupe",
    }
    services["annotator"]["ports"] = ["8501:8501"]
    assert credential_problems(compose) == [
        "the database owner's password is not a required variable",
        "scheduler: database password 'loupe' is not a required variable",
        "scheduler: connects as loupe, not loupe_app",
        "annotator port 8501:8501 is published beyond 127.0.0.1 by default",
    ]


def test_annotator_healthcheck_asks_streamlit_on_the_served_port() -> None:
    assert healthcheck_problems(load_compose()) == []


def test_dockerfile_pins_cpu_torch_first_and_runs_a_real_command() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text()) == []


def test_compose_with_fake_command_or_unknown_variable_is_rejected() -> None:
    compose = copy.deepcopy(load_compose())
    services = compose["services"]
    services["migrate"]["command"] = "loupe int"
    services["scheduler"]["command"] = ["loupe", "run-scheduled", "--evry", "10m"]
    services["annotator"]["environment"] = dict(services["annotator"]["environment"])
    services["annotator"]["environment"]["LOUPE_MODEL_DIR"] = "/data/models"
    services["annotator"]["healthcheck"]["test"] = ["CMD", "true"]

    assert cli_problems(as_argv(services["migrate"]["command"])) == ["loupe int: no such command"]
    assert cli_problems(as_argv(services["scheduler"]["command"])) == [
        "loupe run-scheduled: no option --evry"
    ]
    assert cli_problems(["loupe", "project"]) == ["loupe project needs a sub-command"]
    assert cli_problems(["loupe", "project", "create"])  # its required options are missing
    assert cli_problems(["loupe", "init", "extra"])  # an argument it does not take
    assert cli_problems(["loupe", "init"]) == []
    assert [p.split(" is not")[0] for p in env_problems(compose)] == ["annotator: LOUPE_MODEL_DIR"]
    assert healthcheck_problems(compose)

    dockerfile = DOCKERFILE.read_text()
    swapped = dockerfile.replace("RUN pip install torch==2.13.0", "RUN pip install torch")
    assert "no `pip install torch==2.13.0`" in dockerfile_problems(swapped)
    torch_line = next(line for line in dockerfile.splitlines() if "torch==2.13.0" in line)
    late = dockerfile.replace(torch_line, "RUN true") + f"\n{torch_line}\n"
    assert "torch is installed after the project" in dockerfile_problems(late)
    assert dockerfile_problems(dockerfile.replace('"serve"', '"serv"'))
