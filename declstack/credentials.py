"""Credentials exactly as the `openstack` CLI takes them, and the connection they open.

Which cloud: `--cloud`, else the spec's `cloud`, else OS_CLOUD (clouds.yaml and
secure.yaml, found where openstacksdk looks), else the OS_* variables
(OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME or the legacy
OS_TENANT_NAME, domains, application credentials). On a terminal, missing
values are asked for (password hidden); without one, the error names them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from declstack.errors import UserError

#: Asks the user for a value: (label, secret) -> answer.
Prompter = Callable[[str, bool], str]

SECRET_OPTIONS = frozenset({"password", "application_credential_secret", "token", "secret"})

_PROMPT_LABELS = {
    "auth_url": "Auth URL (OS_AUTH_URL)",
    "username": "Username (OS_USERNAME)",
    "password": "Password (OS_PASSWORD)",
    "project_name": "Project name (OS_PROJECT_NAME / OS_TENANT_NAME)",
    "application_credential_secret": "Application credential secret",
}


@dataclass(frozen=True)
class CloudChoice:
    """The cloud to use and where that choice came from (for messages)."""

    name: str | None
    source: str


def choose_cloud(
    flag: str | None, spec_cloud: str | None, environ: Mapping[str, str]
) -> CloudChoice:
    """Apply the precedence: --cloud, spec `cloud`, OS_CLOUD, then OS_* variables."""
    if flag:
        return CloudChoice(flag, "--cloud")
    if spec_cloud:
        return CloudChoice(spec_cloud, "the spec's `cloud`")
    if environ.get("OS_CLOUD"):
        return CloudChoice(environ["OS_CLOUD"], "OS_CLOUD")
    return CloudChoice(None, "OS_* environment variables")


#: JSON fields whose values never reach a log: user_data may hold credentials,
#: adminPass is the new server's root password (in Nova's create response).
_SECRET_FIELDS = re.compile(
    r'("(?:user_data|adminPass|password|secret|application_credential_secret|token)"'
    r'\s*:\s*)"(?:[^"\\]|\\.)*"'
)


class RedactSecrets(logging.Filter):
    """Blank secret JSON fields in request/response bodies logged by keystoneauth,
    and any value the spec read from a variable allowed with --allow-env."""

    def __init__(self, values: Collection[str] = ()) -> None:
        super().__init__()
        self._values = sorted(values, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_FIELDS.sub(r'\1"<redacted>"', message)
        for value in self._values:
            redacted = redacted.replace(value, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def enable_debug_logging(sensitive: Collection[str] = ()) -> None:
    """Log every HTTP request and response to stderr: keystoneauth masks tokens,
    and `RedactSecrets` blanks user_data, adminPass and passwords in bodies."""
    import openstack

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactSecrets(sensitive))
    openstack.enable_logging(debug=True, http_debug=True, handlers=[handler])


def quiet_library_logging() -> None:
    """Without --debug, library warnings (version discovery...) would read as errors."""
    for name in ("keystoneauth", "openstack"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _missing_domains(auth: Mapping[str, Any]) -> dict[str, str]:
    """Keystone v3 needs domains; like the `openstack` CLI, default them to "Default"."""
    fixes: dict[str, str] = {}
    has = {key for key, value in auth.items() if value}
    domain_given = has & {"domain_id", "domain_name"}
    if "username" in has and not has & {"user_domain_name", "user_domain_id", "user_id"}:
        fixes["user_domain_name"] = "Default"
    if (
        "project_name" in has
        and not has & {"project_domain_name", "project_domain_id"}
        and not domain_given
    ):
        fixes["project_domain_name"] = "Default"
    return fixes


def _first_existing(override: str | None, defaults: list[str]) -> str | None:
    """The file openstacksdk would read: the override, else the first that exists."""
    for path in ([override] if override else []) + defaults:
        if os.path.exists(path):
            return path
    return None


def check_config_files(environ: Mapping[str, str]) -> None:
    """Refuse a clouds.yaml / secure.yaml that openstacksdk would misread.

    openstacksdk skips a file it cannot parse (so the cloud reads as "not found")
    and crashes on one of the wrong shape; say which file is wrong, and where.
    """
    import yaml
    from openstack.config import loader

    for override, defaults in (
        (environ.get("OS_CLIENT_CONFIG_FILE"), loader.CONFIG_FILES),
        (environ.get("OS_CLIENT_SECURE_FILE"), loader.SECURE_FILES),
    ):
        path = _first_existing(override, list(defaults))
        if path is None:
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle) if path.endswith(".json") else yaml.safe_load(handle)
        except PermissionError:
            continue  # openstacksdk skips an unreadable file too
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None
        except (ValueError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
            problem = getattr(exc, "problem", None) or str(exc)
            raise UserError(
                f"{where}: not valid YAML: {problem}",
                hint="fix the file (openstacksdk would skip it and report the cloud as not found)",
            ) from None
        _check_config_shape(path, data)


def _check_config_shape(path: str, data: object) -> None:
    def wrong(what: str, found: object) -> UserError:
        return UserError(
            f"{path}: {what} must be a mapping, not {type(found).__name__}",
            hint="see https://docs.openstack.org/openstacksdk/latest/user/config/configuration.html",
        )

    if data is None:
        return
    if not isinstance(data, dict):
        raise wrong("the file", data)
    clouds = data.get("clouds", {})
    if not isinstance(clouds, dict):
        raise wrong("`clouds`", clouds)
    for name, entry in clouds.items():
        if not isinstance(entry, dict):
            raise wrong(f"cloud {name!r}", entry)
        if not isinstance(entry.get("auth", {}), dict):
            raise wrong(f"`auth` of cloud {name!r}", entry["auth"])


def load_region(choice: CloudChoice, prompt: Prompter | None) -> Any:
    """Build openstacksdk's CloudRegion for `choice`, asking for what is missing."""
    from keystoneauth1 import exceptions as ksa_exc
    from openstack import exceptions as sdk_exc
    from openstack.config import loader

    check_config_files(os.environ)
    try:
        config = loader.OpenStackConfig()
        base = config.get_one(cloud=choice.name, validate=False)
    except (sdk_exc.ConfigException, OSError) as exc:
        names = sorted(loader.OpenStackConfig().get_cloud_names()) if choice.name else []
        raise UserError(
            f"cloud {choice.name!r} (from {choice.source}) is not configured: {exc}",
            hint=(
                f"known clouds: {', '.join(names) or 'none'}; clouds.yaml is read from "
                "OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/, /etc/openstack/"
            ),
        ) from None
    # Before validation, openstacksdk keeps some auth options (from OS_* variables)
    # at the top level of the config; look at both.
    known = {**base.config, **(base.config.get("auth") or {})}
    auth_overrides: dict[str, str] = _missing_domains(known)
    while True:
        try:
            region = config.get_one(
                cloud=choice.name, auth=dict(auth_overrides) if auth_overrides else None
            )
            missing = _missing_password_options(region.config)
        except ksa_exc.MissingRequiredOptions as exc:
            missing = [opt.dest for opt in exc.options]
        except sdk_exc.ConfigException as exc:
            raise UserError(f"invalid cloud configuration: {exc}") from None
        if not missing:
            return region
        if prompt is None:
            raise UserError(
                "missing credentials: " + ", ".join(missing),
                hint=(
                    "set OS_CLOUD (with clouds.yaml) or the OS_* variables "
                    "(OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME), "
                    "or pass --cloud"
                ),
            )
        for name in missing:
            answer = prompt(_PROMPT_LABELS.get(name, name), name in SECRET_OPTIONS)
            if not answer:
                raise UserError(f"no value given for {name}")
            auth_overrides[name] = answer
        auth_overrides.update(_missing_domains({**known, **auth_overrides}))


def _missing_password_options(config: Mapping[str, Any]) -> list[str]:
    """keystoneauth requires only auth_url; a password login needs a user, a password
    and (for Nova) a project, so ask for those up front rather than fail at Keystone."""
    if config.get("auth_type") not in (None, "password", "v3password"):
        return []
    auth = config.get("auth") or {}
    missing = []
    if not auth.get("auth_url"):
        missing.append("auth_url")
    if not (auth.get("username") or auth.get("user_id")):
        missing.append("username")
    if not auth.get("password"):
        missing.append("password")
    if not (auth.get("project_name") or auth.get("project_id")):
        missing.append("project_name")
    return missing


@dataclass(frozen=True)
class HttpTimeouts:
    """Seconds to wait for a TCP connection, and for an answer once a request is sent.

    openstacksdk sets none by default, so an endpoint that accepts the connection
    and never answers would hang declstack forever. The read default suits a slow
    real cloud: Nova answers a 1000-server detail page or a create in seconds.
    """

    connect: float = 10.0
    read: float = 60.0


DEFAULT_TIMEOUTS = HttpTimeouts()


def connect_region(region: Any, timeouts: HttpTimeouts = DEFAULT_TIMEOUTS) -> Any:
    """Open a Connection and authenticate once, turning failures into UserErrors."""
    from openstack import connection

    conn = connection.Connection(config=region)
    # keystoneauth passes the session's timeout straight to requests, which takes
    # a (connect, read) pair; every request, the token request included, gets it.
    conn.session.timeout = (timeouts.connect, timeouts.read)  # type: ignore[assignment]
    authenticate(conn, timeouts)
    return conn


def authenticate(conn: Any, timeouts: HttpTimeouts = DEFAULT_TIMEOUTS) -> None:
    """Get a token now, so a bad password fails before any planning."""

    auth_url = conn.config.config.get("auth", {}).get("auth_url", "?")
    try:
        conn.authorize()
    except Exception as exc:  # openstacksdk wraps keystoneauth errors in its own types
        raise _auth_error(exc, auth_url, timeouts) from None


def _auth_error(exc: Exception, auth_url: str, timeouts: HttpTimeouts) -> UserError:
    from keystoneauth1 import exceptions as ksa_exc

    from declstack.errors import classify

    # openstacksdk re-raises keystoneauth's errors as a bare SDKException.
    while not isinstance(exc, ksa_exc.ClientException) and isinstance(
        exc.__cause__ or exc.__context__, Exception
    ):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    info = classify(exc)
    if info.status == 401 or isinstance(exc, ksa_exc.Unauthorized):
        return UserError(
            f"authentication failed at {auth_url}: the user name, password or project is wrong",
            hint="check OS_USERNAME / OS_PASSWORD / OS_PROJECT_NAME or the clouds.yaml entry",
        )
    if isinstance(exc, ksa_exc.ConnectTimeout):
        return UserError(
            f"the identity service at {auth_url} did not answer: no reply within "
            f"{timeouts.read:g}s to a request",
            hint="is the cloud overloaded or auth_url pointing at the wrong port? "
            "--http-timeout sets how long to wait for an answer",
        )
    if isinstance(exc, (ksa_exc.ConnectFailure, ksa_exc.ConnectionError)) or (
        info.status is None and "connect" in type(exc).__name__.lower()
    ):
        return UserError(
            f"cannot reach the identity service at {auth_url}",
            hint="is the cloud up, and is auth_url right?",
        )
    if isinstance(exc, ksa_exc.EndpointNotFound):
        return UserError(f"the service catalog lacks an endpoint: {exc}")
    return UserError(f"authentication at {auth_url} failed: {info.message}")


def connect_with_config(
    cloud_config: Mapping[str, Any], timeouts: HttpTimeouts = DEFAULT_TIMEOUTS
) -> Any:
    """Connect with an explicit clouds.yaml-style entry (the built-in local cloud)."""
    from openstack.config import loader

    config = loader.OpenStackConfig(load_yaml_config=False, load_envvars=False)
    region = config.get_one(**dict(cloud_config))
    return connect_region(region, timeouts)
