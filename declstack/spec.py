"""Read a spec file into a validated, frozen `Spec`, or explain every problem in it.

Loading is pure and fast (no openstacksdk): YAML with source positions, then
environment interpolation, then the JSON Schema (schemas/spec-v1.json, all
errors at once), then the checks a schema cannot express (defaults merge,
count expansion, duplicate names, ownership limits, user_data and public key
files, OpenSSH public keys). Each problem carries the file:line:col of the
value it is about.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import ipaddress
import json
import math
import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator, ValidationError, validators

from declstack.health import command_problem
from declstack.interpolate import mask_text, substitute
from declstack.kinds.security_group import canonical_rule
from declstack.model import (
    CHANGE_REBUILD,
    CHANGE_REPLACE,
    CHANGE_RESIZE,
    NETWORKS_AUTO,
    NETWORKS_NONE,
    PLACEMENT_POLICIES,
    STATE_ACTIVE,
    STATE_SHUTOFF,
    BootVolume,
    DesiredKeypair,
    DesiredSecurityGroup,
    DesiredServer,
    FloatingIpRequest,
    HealthCheck,
    Lifecycle,
    Placement,
    Rollout,
    Rule,
    SourceLocation,
    Spec,
    VolumeRequest,
    frozen_map,
)
from declstack.ownership import MAX_METADATA_VALUE, join_names, stack_tag
from declstack.sshkeys import MAX_KEY_LINE, PrivateKeyError, parse_public_key
from declstack.yamlsource import Path as DocPath
from declstack.yamlsource import YamlDocument, YamlSyntaxError, load_yaml

SCHEMA_PATH = Path(__file__).parent / "schemas" / "spec-v1.json"
SPEC_VERSION = 1
#: Nova keeps user_data base64-encoded and refuses more than this many characters.
MAX_USER_DATA_BASE64 = 65535
#: The most bytes of user_data whose base64 fits (49149); a file is read up to one more.
MAX_USER_DATA_BYTES = MAX_USER_DATA_BASE64 // 4 * 3
#: A spec file is read only up to this size (plus one byte, to know it is larger).
#: Real specs are a few KB (a 5000-server stack is one entry with count:); 1 MiB
#: still holds thousands of entries, and parsing it stays within seconds and
#: a few hundred MB, where a 20 MB list took minutes and a gigabyte.
MAX_SPEC_BYTES = 1024 * 1024
#: A public key, inline or in a file (a file is read up to one byte more).
MAX_PUBLIC_KEY_BYTES = MAX_KEY_LINE
#: Servers one spec may expand to. The benchmarks plan 5000; far more would
#: take minutes of list calls, and an unbounded count could exhaust memory.
MAX_SERVERS = 10_000
#: Nova tags are at most 60 characters; the stack tag must fit.
MAX_TAG_LENGTH = 60
#: Hostname label limit; Nova derives the hostname from the server name.
MAX_SERVER_NAME = 63

#: A port range "LOW-HIGH" or one port "N" (the schema's pattern, for the numbers).
_PORTS = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?$")
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: Nova's key pair names (API 2.92; '.' and '@' are new there), no space at either end.
_KEYPAIR_NAME = re.compile(r"^[A-Za-z0-9_.@-]([A-Za-z0-9_.@ -]{0,253}[A-Za-z0-9_.@-])?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_SETTINGS = (
    "image",
    "flavor",
    "key_name",
    "networks",
    "security_groups",
    "metadata",
    "tags",
    "user_data",
    "availability_zone",
    "config_drive",
    "floating_ip",
    "volumes",
    "boot_volume",
    "description",
    "state",
    "placement",
    "lifecycle",
    "rollout",
)
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec, where it is, and what to do about it."""

    location: SourceLocation | None
    path: str
    message: str

    def __str__(self) -> str:
        parts = [str(self.location)] if self.location else []
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class SpecError(Exception):
    """The spec is invalid; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Iterable[SpecProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def format_path(path: DocPath) -> str:
    """`servers[1].metadata.role`; keys that are not identifiers are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


@functools.cache
def spec_schema() -> dict[str, Any]:
    """The JSON Schema of spec version 1, as shipped in the package."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _is_integer(_checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema counts 2.0 as an integer; YAML keeps it a float, and `count: 2.0`
# would then pass the schema and expand to nothing.
_StrictValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@functools.cache
def _validator() -> Draft202012Validator:
    validator: Draft202012Validator = _StrictValidator(spec_schema())
    return validator


def read_bounded(path: str | Path, limit: int) -> tuple[bytes, int | None]:
    """At most `limit + 1` bytes of `path`, and its size when it is a regular file.

    Reading one byte past the limit tells "too large" from "exactly the limit"
    without trusting the size (a FIFO or /dev/zero has none); memory stays
    bounded whatever the file is. Raises OSError.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        return handle.read(limit + 1), size


def _decode(data: bytes, file: str, what: str = "") -> str:
    """UTF-8 text, or a SpecError at the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        bad = data[error.start : error.start + 1].hex()
        message = f"{what}not UTF-8 text: byte 0x{bad} ({error.reason}); save it as UTF-8"
        where = SourceLocation(file, line, column)
        raise SpecError([SpecProblem(where, "", message)]) from error


def load_spec(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    allow_env: Collection[str] = frozenset(),
    allow_outside_files: bool = False,
) -> Spec:
    """Read and validate the spec at `path`; raise `SpecError` listing every problem.

    `environ` supplies `${VAR}` values (default: the process environment);
    `allow_env` names the OS_* or secret-looking variables it may read (their
    values become `Spec.sensitive`). `user_data: {file: ...}` and
    `public_key: {file: ...}` are read relative to the spec's folder, and must stay
    inside it unless `allow_outside_files`.
    The file is read only up to MAX_SPEC_BYTES.
    """
    file = str(path)
    try:
        data, size = read_bounded(path, MAX_SPEC_BYTES)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SpecError([SpecProblem(None, "", f"cannot read {file}: {reason}")]) from error
    if len(data) > MAX_SPEC_BYTES:
        told = f"is {size} bytes" if size is not None else f"is larger than {MAX_SPEC_BYTES} bytes"
        message = (
            f"{file}: the spec {told}; declstack reads specs of at most {MAX_SPEC_BYTES} bytes "
            "(1 MiB) and did not parse it (many alike servers need one entry with count:)"
        )
        raise SpecError([SpecProblem(None, "", message)])
    return parse_spec(
        _decode(data, file),
        file,
        environ=environ,
        base_dir=Path(path).parent,
        allow_env=allow_env,
        allow_outside_files=allow_outside_files,
    )


def parse_spec(
    text: str,
    file: str = "<spec>",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    *,
    allow_env: Collection[str] = frozenset(),
    allow_outside_files: bool = False,
) -> Spec:
    """Validate spec `text` as if read from `file`; see `load_spec`.

    `text` is not size-checked here (the caller already holds it); the YAML
    loader still stops at its node and nesting limits.
    """
    try:
        doc = load_yaml(text, file)
    except YamlSyntaxError as error:
        raise SpecError([SpecProblem(error.location, "", error.message)]) from error
    checker = _Checker(
        doc,
        file,
        os.environ if environ is None else environ,
        base_dir or Path("."),
        frozenset(allow_env),
        allow_outside_files,
    )
    return checker.run()


def _describe_value(value: object) -> str:
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bytes):
        return "binary data"
    return f"the {type(value).__name__} {value}"


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _hint(error: ValidationError) -> str | None:
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get(f"x-hint-{error.validator}", schema.get("x-hint"))
    return hint if isinstance(hint, str) else None


class _Checker:
    """Collects every problem of one document, then builds the `Spec` if there are none."""

    def __init__(
        self,
        doc: YamlDocument,
        file: str,
        environ: Mapping[str, str],
        base_dir: Path,
        allow_env: frozenset[str],
        allow_outside_files: bool,
    ) -> None:
        self.doc = doc
        self.file = file
        self.environ = environ
        self.base_dir = base_dir
        self.allow_env = allow_env
        self.allow_outside_files = allow_outside_files
        self.sensitive: set[str] = set()
        self.problems: list[SpecProblem] = []
        self.failed_paths: set[DocPath] = set()
        self.user_data_cache: dict[DocPath, str | None] = {}
        #: (network as written, address) -> where it was first asked for.
        self.fixed_ip_owners: dict[tuple[str, str], tuple[DocPath, int]] = {}
        #: Claimed floating IP address -> where it was written, and the entry claiming it.
        self.floating_ip_owners: dict[str, tuple[DocPath, int]] = {}
        #: Cinder name of a data volume (<server>-<name>) -> its server and where written.
        self.volume_owners: dict[str, tuple[str, DocPath]] = {}
        self.server_total = 0

    def add(self, path: DocPath, message: str, location: SourceLocation | None = None) -> None:
        where = location or self.doc.location(path) or SourceLocation(self.file, 1, 1)
        self.problems.append(SpecProblem(where, format_path(path), message))

    def fail(self) -> SpecError:
        """Every problem, in file order, with sensitive values masked (a message may quote one)."""
        unique = dict.fromkeys(
            SpecProblem(p.location, p.path, mask_text(p.message, self.sensitive))
            for p in self.problems
        )
        ordered = sorted(
            unique, key=lambda p: (p.location.line, p.location.column) if p.location else (0, 0)
        )
        return SpecError(ordered)

    def run(self) -> Spec:
        data = self.doc.data
        if data is None:
            self.add((), "the spec is empty: it needs at least version, stack and servers")
            raise self.fail()
        if not isinstance(data, dict):
            self.add(
                (),
                f"the spec must be a mapping (version:, stack:, servers:), "
                f"got {_describe_value(data)}",
            )
            raise self.fail()
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version != SPEC_VERSION:
            self.add(
                ("version",),
                f"unsupported spec version {version}: this declstack reads version {SPEC_VERSION}",
            )
            raise self.fail()
        for issue in self.doc.issues:
            self.add(issue.path, issue.message, issue.location)
            self.failed_paths.add(issue.path)
        data = self.interpolated(data, ())
        assert isinstance(data, dict)
        for error in _validator().iter_errors(data):
            self.schema_error(error)
        spec = self.build(data)
        if self.problems:
            raise self.fail()
        return dataclasses.replace(spec, sensitive=frozenset(self.sensitive))

    def interpolated(self, value: object, path: DocPath) -> object:
        if isinstance(value, str):
            result = substitute(value, self.environ, self.allow_env)
            for message in result.errors:
                self.add(path, message)
                self.failed_paths.add(path)
            self.sensitive |= result.sensitive
            return result.text
        if isinstance(value, list):
            return [self.interpolated(item, (*path, i)) for i, item in enumerate(value)]
        if isinstance(value, dict):
            return {key: self.interpolated(item, (*path, key)) for key, item in value.items()}
        return value

    # -- JSON Schema errors -------------------------------------------------

    def schema_error(self, error: ValidationError) -> None:
        path: DocPath = tuple(error.absolute_path)
        if path in self.failed_paths:
            return
        if "propertyNames" in error.absolute_schema_path:
            key = str(error.instance)
            message = _hint(error) or error.message
            self.add((*path, key), f"{message}; got {key!r}", self.doc.key_location((*path, key)))
            return
        validator = error.validator
        value: Any = error.validator_value
        instance = error.instance
        if validator == "additionalProperties" and isinstance(instance, dict):
            self.unknown_keys(error, path, instance)
        elif validator == "required" and isinstance(instance, dict):
            for name in value:
                if name not in instance:
                    self.add(path, f"missing required key {name!r}")
        elif validator == "type":
            self.type_error(path, value, instance)
        elif validator in ("anyOf", "oneOf"):
            self.alternatives_error(error, path)
        elif validator == "uniqueItems" and isinstance(instance, list):
            self.duplicate_items(path, instance)
        else:
            self.add(path, self.simple_message(error))

    def simple_message(self, error: ValidationError) -> str:
        validator, instance = error.validator, error.instance
        value: Any = error.validator_value
        hint = _hint(error)
        close = ""
        if validator == "enum" and isinstance(instance, str):
            close = _suggest(instance, map(str, value))
        if hint and validator in ("const", "enum", "pattern", "not"):
            return f"{hint}; got {_describe_value(instance)}{close}"
        if hint:
            return hint
        if validator == "minLength":
            return "must not be empty" if value == 1 else f"must be at least {value} characters"
        if validator == "maxLength" and isinstance(instance, str):
            return f"must be at most {value} characters, got {len(instance)}"
        if validator == "minimum":
            return f"must be {value} or more, got {instance}"
        if validator == "maximum":
            return f"must be {value} or less, got {instance}"
        if validator == "maxItems" and isinstance(instance, list):
            return f"must have at most {value} items, got {len(instance)}"
        if validator == "minItems":
            return "must not be empty" if value == 1 else f"must have at least {value} items"
        if validator == "const":
            return f"must be {json.dumps(value)}, got {_describe_value(instance)}"
        if validator == "enum":
            choices = ", ".join(json.dumps(v) for v in value)
            return f"must be one of {choices}, got {_describe_value(instance)}{close}"
        if validator == "pattern":
            return f"must match {value}, got {_describe_value(instance)}"
        return str(error.message)

    def unknown_keys(self, error: ValidationError, path: DocPath, instance: dict[str, Any]) -> None:
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = list(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for key in instance:
            if key in known or any(p.search(key) for p in patterns):
                continue
            message = f"unknown key {key!r}"
            suggestion = _suggest(key, known)
            if not suggestion and not path and key in (*_SETTINGS, "name", "count"):
                suggestion = " (server settings go under 'defaults:' or an entry of 'servers:')"
            elif not suggestion and known:
                suggestion = f" (expected one of: {', '.join(known)})"
            self.add((*path, key), message + suggestion, self.doc.key_location((*path, key)))

    def type_error(self, path: DocPath, expected: str | list[str], instance: object) -> None:
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_WORDS.get(name, name) for name in names)
        message = f"must be {wanted}, got {_describe_value(instance)}"
        raw = self.doc.raw.get(path)
        scalar = instance is not None and not isinstance(instance, list | dict)
        if "string" in names and scalar and raw is not None:
            message += f"; quote it to keep it as text: {json.dumps(raw)}"
        self.add(path, message)

    def alternatives_error(self, error: ValidationError, path: DocPath) -> None:
        """Report the one alternative whose type fits, else the schema's own hint."""
        branches: dict[int, list[ValidationError]] = {}
        for sub in error.context or ():
            index = sub.relative_schema_path[0]
            if isinstance(index, int):
                branches.setdefault(index, []).append(sub)
        fitting = [
            errors
            for errors in branches.values()
            if not any(e.validator == "type" and not e.relative_path for e in errors)
        ]
        if len(fitting) == 1:
            for sub in fitting[0]:
                self.schema_error(sub)
            return
        hint = _hint(error) or "has none of the allowed forms"
        self.add(path, f"{hint}; got {_describe_value(error.instance)}")

    def duplicate_items(self, path: DocPath, items: list[Any]) -> None:
        seen: list[Any] = []
        for index, item in enumerate(items):
            if item in seen:
                first = self.doc.location((*path, seen.index(item)))
                shown = json.dumps(item, default=str, ensure_ascii=False)
                self.add((*path, index), f"{shown} is listed twice (first at {first})")
            else:
                seen.append(item)

    # -- checks across values, and the result -------------------------------

    def build(self, data: dict[str, Any]) -> Spec:
        stack = data.get("stack")
        if isinstance(stack, str) and len(stack_tag(stack)) > MAX_TAG_LENGTH:
            self.add(
                ("stack",),
                f"stack name too long: its tag {stack_tag(stack)!r} has "
                f"{len(stack_tag(stack))} characters, Nova allows {MAX_TAG_LENGTH}",
            )
        defaults = data.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        entries = data.get("servers")
        entries = entries if isinstance(entries, list) else []
        servers: list[DesiredServer] = []
        names: dict[str, tuple[int, SourceLocation | None]] = {}
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                servers.extend(self.expand(index, entry, defaults, names))
        cloud = data.get("cloud")
        groups = data.get("security_groups")
        keypairs = data.get("keypairs")
        max_deletions = data.get("max_deletions")
        return Spec(
            stack=stack if isinstance(stack, str) else "",
            servers=tuple(servers),
            cloud=cloud if isinstance(cloud, str) else None,
            max_deletions=max_deletions if isinstance(max_deletions, int) else None,
            security_groups=self.security_groups(groups) if isinstance(groups, dict) else (),
            keypairs=self.keypairs(keypairs) if isinstance(keypairs, dict) else (),
            path=self.file,
        )

    # -- security groups ------------------------------------------------------

    def security_groups(self, groups: dict[str, Any]) -> tuple[DesiredSecurityGroup, ...]:
        """The stack's own groups, sorted by name; each rule checked and in canonical form."""
        found: list[DesiredSecurityGroup] = []
        for name, group in groups.items():
            if not isinstance(group, dict):
                continue
            path: DocPath = ("security_groups", name)
            rules = group.get("rules")
            description = group.get("description")
            found.append(
                DesiredSecurityGroup(
                    name=name,
                    description=description if isinstance(description, str) else "",
                    rules=self.group_rules(rules, (*path, "rules"))
                    if isinstance(rules, list)
                    else (),
                    source=self.doc.key_location(path),
                )
            )
        return tuple(sorted(found, key=lambda group: group.name))

    def group_rules(self, items: list[Any], path: DocPath) -> tuple[Rule, ...]:
        """The rules of one group; a rule equal to an earlier one (once canonical) is an error."""
        rules: list[Rule] = []
        first: dict[Rule, int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            rule = self.rule(item, (*path, index))
            if rule is None:
                continue
            if rule in first:
                earlier = first[rule]
                where = self.doc.location((*path, earlier))
                at = f" at {where}" if where else ""
                self.add(
                    (*path, index),
                    f"the same rule as rules[{earlier}]{at} ({rule.describe()}); Neutron keeps "
                    "a rule once (a second one is refused: SecurityGroupRuleExists), so drop "
                    "one of them",
                )
                continue
            first[rule] = index
            rules.append(rule)
        return tuple(rules)

    def rule(self, item: dict[str, Any], path: DocPath) -> Rule | None:
        """One rule with its defaults filled in, or None when it has a problem (reported)."""
        ok = True
        direction = item.get("direction", "ingress")
        protocol = item.get("protocol", "any")
        ethertype = item.get("ethertype")
        if not (
            direction in ("ingress", "egress")
            and protocol in ("tcp", "udp", "icmp", "any")
            and ethertype in (None, "IPv4", "IPv6")
        ):
            ok = False  # the schema said so
        ports = self.rule_ports(item, path, protocol)
        if ports is None:
            ok = False
        prefix: str | None = None
        value = item.get("remote_ip_prefix")
        if isinstance(value, str):
            prefix, family = self.rule_prefix(value, ethertype, (*path, "remote_ip_prefix"))
            if prefix is None:
                ok = False
            elif ethertype is None:
                ethertype = family
        elif value is not None:
            ok = False
        group = item.get("remote_group")
        if group is not None and not isinstance(group, str):
            ok = False
        if isinstance(group, str) and "remote_ip_prefix" in item:
            self.add(
                (*path, "remote_group"),
                "give remote_ip_prefix or remote_group, not both (a Neutron rule has one "
                "remote; write two rules for both)",
                self.doc.key_location((*path, "remote_group")),
            )
            ok = False
        if not ok or ports is None:
            return None
        return canonical_rule(
            Rule(
                direction=direction,
                ethertype=ethertype or "IPv4",
                protocol=None if protocol == "any" else protocol,
                port_min=ports[0],
                port_max=ports[1],
                remote_ip_prefix=prefix,
                remote_group=group,
            )
        )

    def rule_ports(
        self, item: dict[str, Any], path: DocPath, protocol: object
    ) -> tuple[int | None, int | None] | None:
        """(port_min, port_max) from `port` or `ports`; (None, None) when neither; None: error."""
        port, ports = item.get("port"), item.get("ports")
        if "port" in item and "ports" in item:
            self.add(
                (*path, "ports"),
                "give port (one port) or ports (a range), not both",
                self.doc.key_location((*path, "ports")),
            )
            return None
        if "port" not in item and "ports" not in item:
            return (None, None)
        key = "port" if "port" in item else "ports"
        where: DocPath = (*path, key)
        if protocol == "icmp":
            self.add(
                where,
                f"protocol icmp takes no {key}: ICMP types and codes are not supported yet; "
                f"drop {key} (the rule then allows all ICMP)",
            )
            return None
        if protocol not in ("tcp", "udp"):
            said = "protocol any" if "protocol" in item else "no protocol (any)"
            self.add(
                where,
                f"{'a port needs' if key == 'port' else 'ports need'} protocol tcp or udp, "
                f"and this rule has {said}: add "
                "'protocol: tcp' (Neutron takes ports only with a protocol that has them)",
            )
            return None
        if key == "port":
            if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535:
                return (port, port)
            return None  # the schema said why
        match = _PORTS.match(ports) if isinstance(ports, str) else None
        if match is None:
            return None  # the schema said why
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        for number in (low, high):
            if not 1 <= number <= 65535:
                self.add(where, f"ports {ports!r}: port {number} is outside 1-65535")
                return None
        if low > high:
            self.add(
                where,
                f"ports {ports!r} go backwards: write the lower port first ({high}-{low})",
            )
            return None
        return (low, high)

    def rule_prefix(
        self, value: str, ethertype: object, path: DocPath
    ) -> tuple[str | None, str | None]:
        """The prefix as a network (host bits cleared) and its family; (None, None): error."""
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            self.add(
                path,
                f"{value!r} is not a CIDR: write an IPv4 or IPv6 network such as 10.0.0.0/8, "
                "192.0.2.7/32 or 2001:db8::/32 (0.0.0.0/0 is anyone)",
            )
            return None, None
        family = f"IPv{network.version}"
        if ethertype in ("IPv4", "IPv6") and ethertype != family:
            self.add(
                path,
                f"{network} is an {family} network, but the rule's ethertype is {ethertype}: "
                f"set ethertype: {family}, or drop ethertype (it then follows the prefix)",
            )
            return None, None
        return str(network), family

    def fixed_ips(
        self, items: list[Any], path: DocPath | None, replicas: int, entry: int
    ) -> tuple[str | None, ...]:
        """The fixed IP per network entry; each address valid, and given to one server."""
        found: list[str | None] = []
        for position, item in enumerate(items):
            ip = item.get("fixed_ip") if isinstance(item, dict) else None
            found.append(ip if isinstance(ip, str) else None)
            if not isinstance(ip, str) or path is None:
                continue
            where = (*path, position, "fixed_ip")
            try:
                address = str(ipaddress.ip_address(ip))
            except ValueError:
                self.add(where, f"{ip!r} is not an IPv4 or IPv6 address")
                continue
            if replicas > 1:
                self.add(
                    where,
                    f"fixed IP {address} would be given to all {replicas} servers of this "
                    "entry; give each server its own entry, or drop fixed_ip",
                )
                continue
            key = (str(item.get("network")), address)
            first, owner = self.fixed_ip_owners.setdefault(key, (where, entry))
            if owner != entry:
                # A default reaching two entries is reported at the default, once.
                self.add(
                    where,
                    f"fixed IP {address} on network {key[0]!r} is already given to another "
                    f"server (at {format_path(first)}); one address, one server"
                    if first != where
                    else f"fixed IP {address} on network {key[0]!r} from defaults would be "
                    "given to every server; one address, one server: write it on one "
                    "server's entry",
                )
        return tuple(found) if any(ip is not None for ip in found) else ()

    def floating_ip(
        self,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        index: int,
        networks: tuple[object, DocPath | None],
        replicas: int,
    ) -> FloatingIpRequest | None:
        """The entry's floating IP request (None: none); a claimed address goes to one server."""
        value, path = self.setting("floating_ip", entry, defaults, index)
        if path is None or value is False:
            return None
        if value is True:
            request: FloatingIpRequest | None = FloatingIpRequest()
        elif isinstance(value, dict):
            request = self.floating_ip_mapping(value, path)
        else:
            request = None  # the schema said why
        if request is None:
            return None
        networks_value, networks_path = networks
        if networks_value == NETWORKS_NONE and networks_path is not None:
            self.floating_ip_without_network(path, networks_path)
            return None
        if request.address is None:
            return request
        where = (*path, "address")
        if replicas > 1:
            entry_name = "this entry" if path[0] == "servers" else f"servers[{index}]"
            self.add(
                where,
                f"floating IP {request.address} would be claimed for all {replicas} servers "
                f"of {entry_name}, and one "
                "address can go to one server only: claim it on an entry of its own without "
                "count, or write floating_ip: true (each server then gets its own)",
            )
            return None
        first, first_index = self.floating_ip_owners.setdefault(request.address, (where, index))
        if first_index == index:
            return request
        if first == where:
            self.add(
                where,
                f"floating IP {request.address} from defaults would be claimed by "
                f"servers[{first_index}] and servers[{index}], and one address can go to one "
                "server only: claim it on one server's entry instead",
            )
        else:
            self.add(
                where,
                f"floating IP {request.address} is already claimed by another server "
                f"(at {format_path(first)}); one address, one server",
            )
        return None

    def floating_ip_mapping(self, value: dict[str, Any], path: DocPath) -> FloatingIpRequest | None:
        """`{network: NAME}` or `{address: IP}` (normalised); None when it has a problem."""
        network, address = value.get("network"), value.get("address")
        if not value:
            return None  # the schema said why
        if "network" in value and "address" in value:
            later = max(
                ("network", "address"),
                key=lambda key: (
                    (found.line, found.column)
                    if (found := self.doc.key_location((*path, key)))
                    else (0, 0)
                ),
            )
            self.add(
                (*path, later),
                "give address (claim that existing floating IP) or network (allocate a new "
                "one from it), not both: a claimed floating IP already has its network",
                self.doc.key_location((*path, later)),
            )
            return None
        if isinstance(network, str):
            return FloatingIpRequest(network=network)
        if not isinstance(address, str) or not 1 <= len(address) <= 45:
            return None  # the schema said why
        try:
            normalised = str(ipaddress.ip_address(address))
        except ValueError:
            self.add(
                (*path, "address"),
                f"{address!r} is not an IPv4 or IPv6 address (write the floating IP to "
                "claim, such as 203.0.113.7)",
            )
            return None
        return FloatingIpRequest(address=normalised)

    def floating_ip_without_network(self, path: DocPath, networks_path: DocPath) -> None:
        """Report `floating_ip` on a server with `networks: none`, where the user can fix it."""
        reason = "a server without a network has no port to put a floating IP on"
        from_defaults = (path[0] == "defaults", networks_path[0] == "defaults")
        if from_defaults == (True, False):
            self.add(
                networks_path,
                f"{reason}, and defaults.floating_ip gives this server one: add "
                "floating_ip: false to this server, or give it a network",
            )
        elif from_defaults == (True, True):
            self.add(
                path,
                f"{reason}: defaults give the servers networks: none; drop floating_ip "
                "from defaults, or give the servers a network",
            )
        else:
            origin = " (from defaults)" if from_defaults[1] else ""
            self.add(
                path,
                f"{reason}: this server has networks: none{origin}; drop floating_ip, or "
                "give the server a network",
            )

    def setting(
        self, key: str, entry: dict[str, Any], defaults: dict[str, Any], index: int
    ) -> tuple[Any, DocPath | None]:
        """A server's value for `key` and where it was written (server first, then defaults)."""
        if key in entry:
            return entry[key], ("servers", index, key)
        if key in defaults:
            return defaults[key], ("defaults", key)
        return None, None

    def expand(
        self,
        index: int,
        entry: dict[str, Any],
        defaults: dict[str, Any],
        names: dict[str, tuple[int, SourceLocation | None]],
    ) -> list[DesiredServer]:
        where: DocPath = ("servers", index)
        for required in ("image", "flavor"):
            if required not in entry and required not in defaults:
                self.add(where, f"missing {required!r}: set it on the server or in defaults")
        metadata = self.merged_metadata(entry, defaults, index)
        tags = self.merged_tags(entry, defaults, index)
        user_data = self.user_data(entry, defaults, index)
        names_here = self.server_names(index, entry, names)
        if not names_here:
            return []

        def text(key: str) -> str | None:
            value = self.setting(key, entry, defaults, index)[0]
            return value if isinstance(value, str) else None

        networks_value, networks_path = self.setting("networks", entry, defaults, index)
        networks: str | tuple[str, ...] = NETWORKS_AUTO
        fixed_ips: tuple[str | None, ...] = ()
        if isinstance(networks_value, str):
            networks = networks_value
        elif isinstance(networks_value, list):
            networks = tuple(
                str(item["network"] if isinstance(item, dict) else item) for item in networks_value
            )
            fixed_ips = self.fixed_ips(networks_value, networks_path, len(names_here), index)
        config_drive = self.setting("config_drive", entry, defaults, index)[0] is True
        floating_ip = self.floating_ip(
            entry, defaults, index, (networks_value, networks_path), len(names_here)
        )
        groups = self.setting("security_groups", entry, defaults, index)[0]
        lifecycle = self.lifecycle(entry, defaults, index)
        rollout = self.rollout(entry, defaults, index)
        state = self.setting("state", entry, defaults, index)[0]
        volumes = self.volumes(entry, defaults, index, names_here)
        boot_volume = self.boot_volume(entry, defaults, index, lifecycle)
        placement = self.setting("placement", entry, defaults, index)[0]
        policy = placement.get("policy") if isinstance(placement, dict) else None
        source = self.doc.values.get(where)
        return [
            DesiredServer(
                name=name,
                image=text("image") or "",
                flavor=text("flavor") or "",
                key_name=text("key_name"),
                networks=networks,
                security_groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
                metadata=frozen_map(metadata),
                tags=tuple(tags),
                user_data=user_data,
                availability_zone=text("availability_zone"),
                config_drive=config_drive,
                fixed_ips=fixed_ips,
                floating_ip=floating_ip,
                entry=str(entry.get("name")),
                description=text("description"),
                lifecycle=lifecycle,
                rollout=rollout,
                state=state if state in (STATE_ACTIVE, STATE_SHUTOFF) else STATE_ACTIVE,
                volumes=volumes,
                boot_volume=boot_volume,
                placement=Placement(policy) if policy in PLACEMENT_POLICIES else None,
                source=source,
            )
            for name in names_here
        ]

    def rollout(
        self, entry: dict[str, Any], defaults: dict[str, Any], index: int
    ) -> Rollout | None:
        """The entry's `rollout:` over the defaults' one, key by key (`null` on the entry
        unsets it); a health command this machine cannot run is refused here, before
        anything changes."""
        merged: dict[str, Any] = {}
        where: dict[str, DocPath] = {}
        present = False
        for path, holder in ((("defaults",), defaults), (("servers", index), entry)):
            source = holder.get("rollout")
            if "rollout" in holder and source is None:
                merged, where, present = {}, {}, False
            elif isinstance(source, dict):
                merged.update(source)
                where.update({key: (*path, "rollout", key) for key in source})
                present = True
        if not present:
            return None
        batch = merged.get("batch", 1)
        percent = isinstance(batch, str) and batch.endswith("%") and batch[:-1].isdigit()
        size = int(batch[:-1]) if percent else batch
        pause = merged.get("pause", 0)
        health = merged.get("health")
        check: HealthCheck | None = None
        if isinstance(health, dict) and isinstance(health.get("command"), str):
            timeout = health.get("timeout", HealthCheck.timeout)
            check = HealthCheck(
                health["command"],
                float(timeout) if isinstance(timeout, int | float) else HealthCheck.timeout,
            )
            problem = command_problem(check.command) if check.command.strip() else None
            if problem is not None:
                self.add(
                    (*where["health"], "command"),
                    f"the health command {problem}; a rollout could never pass its check",
                )
        return Rollout(
            batch=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 1,
            percent=percent,
            pause=float(pause) if isinstance(pause, int | float) else 0.0,
            health=check,
        )

    def lifecycle(self, entry: dict[str, Any], defaults: dict[str, Any], index: int) -> Lifecycle:
        """The entry's `lifecycle:` over the defaults' one, key by key; an in-place change
        the spec asks for of an attribute it also ignores is refused (it could never happen).
        """
        merged: dict[str, Any] = {}
        where: dict[str, DocPath] = {}
        for path, source in (
            (("defaults", "lifecycle"), defaults.get("lifecycle")),
            (("servers", index, "lifecycle"), entry.get("lifecycle")),
        ):
            if isinstance(source, dict):
                merged.update(source)
                where.update({key: (*path, key) for key in source})
        ignore = merged.get("ignore_changes")
        ignored = tuple(str(n) for n in ignore) if isinstance(ignore, list) else ()
        flavor_change = merged.get("flavor_change")
        image_change = merged.get("image_change")
        for key, value, in_place, attribute in (
            ("flavor_change", flavor_change, CHANGE_RESIZE, "flavor"),
            ("image_change", image_change, CHANGE_REBUILD, "image"),
        ):
            if value == in_place and attribute in ignored:
                self.add(
                    where[key],
                    f"{key}: {in_place} never happens while ignore_changes lists "
                    f"{attribute!r} (a change of {attribute} is then only reported); "
                    "drop one of the two",
                )
        return Lifecycle(
            prevent_destroy=merged.get("prevent_destroy") is True,
            create_before_destroy=merged.get("create_before_destroy") is True,
            flavor_change=CHANGE_RESIZE if flavor_change == CHANGE_RESIZE else CHANGE_REPLACE,
            image_change=CHANGE_REBUILD if image_change == CHANGE_REBUILD else CHANGE_REPLACE,
            ignore_changes=ignored,
        )

    # -- volumes ------------------------------------------------------------------

    def volumes(
        self, entry: dict[str, Any], defaults: dict[str, Any], index: int, servers: list[str]
    ) -> tuple[VolumeRequest, ...]:
        """The entry's data volumes: each name once, and each Cinder name
        (`<server>-<name>`) belonging to one server's volume only."""
        value, path = self.setting("volumes", entry, defaults, index)
        if path is None or not isinstance(value, list):
            return ()
        found: list[VolumeRequest] = []
        first: dict[str, int] = {}
        for position, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            name, size, kind = item.get("name"), item.get("size"), item.get("type")
            if not isinstance(name, str) or not _NAME_PATTERN.match(name) or not _size(size):
                continue  # the schema said why
            if name in first:
                earlier = self.doc.location((*path, first[name], "name"))
                self.add(
                    (*path, position, "name"),
                    f'volume "{name}" is listed twice (first at {earlier}); give each volume '
                    "of a server its own name",
                )
                continue
            first[name] = position
            found.append(VolumeRequest(name, size, kind if isinstance(kind, str) else None))
        for server in servers:
            for volume in found:
                where = (*path, first[volume.name], "name")
                owner, written = self.volume_owners.setdefault(
                    f"{server}-{volume.name}", (server, where)
                )
                if owner != server:
                    self.add(
                        where,
                        f'volume "{volume.name}" of server {server} would be named '
                        f"{server}-{volume.name}, the name of a volume of server {owner} "
                        f"(at {format_path(written)}); rename one of the two",
                    )
        return tuple(found)

    def boot_volume(
        self, entry: dict[str, Any], defaults: dict[str, Any], index: int, lifecycle: Lifecycle
    ) -> BootVolume | None:
        """The entry's `boot_volume:`; a server booted from a volume is not rebuilt."""
        value, path = self.setting("boot_volume", entry, defaults, index)
        if path is None or not isinstance(value, dict) or not _size(value.get("size")):
            return None
        if lifecycle.image_change == CHANGE_REBUILD:
            self.add(
                path,
                "a server that boots from a volume is not rebuilt in place (Nova rebuilds "
                "a local root disk, not a root volume): drop image_change: rebuild, and an "
                "image change replaces the server, or drop boot_volume",
            )
        kind = value.get("type")
        return BootVolume(
            size=value["size"],
            type=kind if isinstance(kind, str) else None,
            delete_on_termination=value.get("delete_on_termination") is not False,
        )

    def server_names(
        self,
        index: int,
        entry: dict[str, Any],
        names: dict[str, tuple[int, SourceLocation | None]],
    ) -> list[str]:
        """The names this entry expands to; records them to catch duplicates."""
        name, count = entry.get("name"), entry.get("count")
        replicated = count is not None
        count = 1 if count is None else count
        if not isinstance(name, str) or not _NAME_PATTERN.match(name):
            return []
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return []
        if count > MAX_SERVERS or self.server_total + count > MAX_SERVERS:
            # A count alone above the limit is the schema's `maximum` error.
            if count <= MAX_SERVERS and self.server_total <= MAX_SERVERS:
                self.add(
                    ("servers", index, "count") if replicated else ("servers", index),
                    f"too many servers: this entry brings the spec to "
                    f"{self.server_total + count}, and declstack plans at most "
                    f"{MAX_SERVERS} per spec; split the stack",
                )
            self.server_total = MAX_SERVERS + 1  # reported once; expand no more
            return []
        self.server_total += count
        name_path: DocPath = ("servers", index, "name")
        # Any explicit count numbers the servers, so scaling 1 <-> 2 keeps `web-1`.
        expanded = [f"{name}-{n}" for n in range(1, count + 1)] if replicated else [name]
        if replicated and count and len(expanded[-1]) > MAX_SERVER_NAME:
            self.add(
                name_path,
                f"with count {count} the last name {expanded[-1]!r} has {len(expanded[-1])} "
                f"characters, more than {MAX_SERVER_NAME}: shorten the name",
            )
            return []
        here = self.doc.location(name_path)
        origin = f" (from name {name!r} with count {count})" if replicated else ""
        for server_name in expanded:
            if server_name in names:
                other, other_location = names[server_name]
                where = f" at {other_location}" if other_location else ""
                self.add(
                    name_path,
                    f"duplicate server name {server_name!r}{origin}: "
                    f"servers[{other}]{where} already has it",
                )
            else:
                names[server_name] = (index, here)
        return expanded

    def merged_metadata(
        self, entry: dict[str, Any], defaults: dict[str, Any], index: int
    ) -> dict[str, str]:
        merged: dict[str, str] = {}
        for source in (defaults.get("metadata"), entry.get("metadata")):
            if isinstance(source, dict):
                merged.update({k: v for k, v in source.items() if isinstance(v, str)})
        bookkeeping = join_names(list(merged))
        if len(bookkeeping) > MAX_METADATA_VALUE:
            path = self.owning_path("metadata", entry, index)
            self.add(
                path,
                f"too many metadata keys: declstack records their names in one metadata "
                f"value, which would be {len(bookkeeping)} characters (Nova allows "
                f"{MAX_METADATA_VALUE}); use fewer or shorter keys",
            )
        return merged

    def merged_tags(self, entry: dict[str, Any], defaults: dict[str, Any], index: int) -> list[str]:
        merged: list[str] = []
        for source in (defaults.get("tags"), entry.get("tags")):
            if isinstance(source, list):
                merged.extend(t for t in source if isinstance(t, str) and t not in merged)
        path = self.owning_path("tags", entry, index)
        if len(merged) > 49:
            self.add(
                path,
                f"{len(merged)} tags with defaults merged: at most 49 (Nova allows 50 per "
                "server and declstack adds one)",
            )
        bookkeeping = join_names(merged)
        if len(bookkeeping) > MAX_METADATA_VALUE:
            self.add(
                path,
                f"too many tags: declstack records them in one metadata value, which would be "
                f"{len(bookkeeping)} characters (Nova allows {MAX_METADATA_VALUE}); use fewer "
                "or shorter tags",
            )
        return merged

    def owning_path(self, key: str, entry: dict[str, Any], index: int) -> DocPath:
        return ("servers", index, key) if key in entry else ("servers", index)

    def user_data(self, entry: dict[str, Any], defaults: dict[str, Any], index: int) -> str | None:
        value, path = self.setting("user_data", entry, defaults, index)
        if path is None or value is None:
            return None
        if path not in self.user_data_cache:
            self.user_data_cache[path] = self.read_user_data(value, path)
        return self.user_data_cache[path]

    def read_user_data(self, value: object, path: DocPath) -> str | None:
        if isinstance(value, dict):
            name = value.get("file")
            if not isinstance(name, str) or not name:
                return None
            path = (*path, "file")
            content = self.read_user_data_file(name, path)
            if content is None:
                return None
        elif isinstance(value, str):
            content = value
        else:
            return None
        size = len(content.encode("utf-8"))
        self.check_user_data_size(size, path)
        return content

    def check_user_data_size(self, size: int, path: DocPath) -> bool:
        encoded = 4 * math.ceil(size / 3)
        if encoded <= MAX_USER_DATA_BASE64:
            return True
        self.add(
            path,
            f"user_data is too large: {size} bytes are {encoded} characters in base64, "
            f"Nova accepts at most {MAX_USER_DATA_BASE64} (about 48 KiB of text)",
        )
        return False

    def read_user_data_file(self, name: str, path: DocPath) -> str | None:
        """The file's text, read only inside the spec's folder and only up to Nova's limit."""
        read = self.read_confined(name, path, "user_data file", MAX_USER_DATA_BYTES)
        if read is None:
            return None
        data, size, shown = read
        if len(data) > MAX_USER_DATA_BYTES:
            self.check_user_data_size(max(size, len(data)), path)
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.add(path, f"user_data file {shown} is not UTF-8 text")
            return None

    def read_confined(
        self, name: str, path: DocPath, what: str, limit: int
    ) -> tuple[bytes, int, str] | None:
        """At most `limit + 1` bytes of the regular file `name` (relative to the spec's
        folder, and inside it unless allowed), its size and its name to show; None when
        it cannot be read (reported at `path`, `what` naming it)."""
        target = self.base_dir / name
        shown = repr(str(target))
        folder = self.base_dir.resolve()
        resolved = target.resolve()
        if not self.allow_outside_files and not resolved.is_relative_to(folder):
            self.add(
                path,
                f"{name!r} is outside the spec's folder {folder}; move it there or pass "
                "--allow-outside-files",
            )
            return None
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
            fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as error:
            self.add(path, f"cannot read {what} {shown}: {error.strerror}")
            return None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            kind = _file_kind(info.st_mode)
            self.add(path, f"{what} {shown} is {kind}, not a regular file")
            return None
        with os.fdopen(fd, "rb") as handle:
            try:
                data = handle.read(limit + 1)
            except OSError as error:
                self.add(path, f"cannot read {what} {shown}: {error.strerror}")
                return None
        return data, info.st_size, shown

    # -- key pairs ----------------------------------------------------------------

    def keypairs(self, items: dict[Any, Any]) -> tuple[DesiredKeypair, ...]:
        """The stack's own key pairs, sorted by name; each public key checked to parse."""
        found: list[DesiredKeypair] = []
        for name, entry in items.items():
            if not isinstance(name, str) or not _KEYPAIR_NAME.match(name):
                continue  # the schema said why
            if not isinstance(entry, dict):
                continue
            path: DocPath = ("keypairs", name)
            public_key = self.public_key(entry.get("public_key"), (*path, "public_key"))
            if public_key is not None:
                found.append(
                    DesiredKeypair(
                        name=name, public_key=public_key, source=self.doc.key_location(path)
                    )
                )
        return tuple(sorted(found, key=lambda keypair: keypair.name))

    def public_key(self, value: object, path: DocPath) -> str | None:
        """The stripped public key line, inline or from `{file: ...}`; None: reported."""
        shown: str | None = None
        if isinstance(value, dict):
            name = value.get("file")
            if not isinstance(name, str) or not name:
                return None  # the schema said why
            path = (*path, "file")
            read = self.public_key_file(name, path)
            if read is None:
                return None
            text, shown = read
        elif isinstance(value, str) and 1 <= len(value) <= MAX_PUBLIC_KEY_BYTES:
            text = value
        else:
            return None  # the schema said why
        try:
            parse_public_key(text)
        except PrivateKeyError as error:
            # Never quote the text: it is a secret.
            if shown is None:
                self.add(path, str(error))
            else:
                self.add(path, f"public_key file {shown}: {error}")
            return None
        except ValueError as error:
            where = f" in {shown}" if shown else ""
            self.add(path, f"a malformed public key{where}: {error}")
            return None
        return text.strip()

    def public_key_file(self, name: str, path: DocPath) -> tuple[str, str] | None:
        """The text of a public key file and its name to show; None: reported."""
        what = "public_key file"
        read = self.read_confined(name, path, what, MAX_PUBLIC_KEY_BYTES)
        if read is None:
            return None
        data, size, shown = read
        if len(data) > MAX_PUBLIC_KEY_BYTES:
            self.add(
                path,
                f"{what} {shown} is {max(size, len(data))} bytes, more than the "
                f"{MAX_PUBLIC_KEY_BYTES} a public key file may have (a key line is under "
                "3 KB): is it the .pub file?",
            )
            return None
        try:
            return data.decode("utf-8"), shown
        except UnicodeDecodeError:
            self.add(path, f"{what} {shown} is not UTF-8 text: is it the .pub file?")
            return None


def _size(value: object) -> TypeGuard[int]:
    """A volume size the schema accepts: an integer of 1 GB or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"
