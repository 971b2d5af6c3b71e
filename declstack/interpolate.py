"""Environment interpolation in spec strings: `${VAR}`, `${VAR:-default}` and `$$`.

Only these three forms are special, so a lone `$` (as in `$HOME` or a price)
stays as written. The rules follow the shell: `:-` uses the default when the
variable is unset *or empty*.

A spec is often written by someone other than the person running it, so it
must not be a way to copy credentials into server metadata: OpenStack's own
`OS_*` variables and names that look secret are read only when the caller
allows them by name, and their values are reported back as sensitive so that
plans can mask them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<body>[^}]*)\}|(?P<open>\{))")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)

#: Parts of a variable name that suggest a secret (compared case-insensitively).
#: KEY also catches KEY_NAME: allowing it costs one flag, leaking a key costs more.
SECRET_WORDS = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
#: OpenStack clients read credentials from these (OS_PASSWORD, OS_TOKEN, ...).
OPENSTACK_PREFIX = "OS_"


def guarded_reason(name: str) -> str | None:
    """Why `name` is read only when allowed by name, or None for an ordinary variable."""
    upper = name.upper()
    if upper.startswith(OPENSTACK_PREFIX):
        return "OS_* variables hold OpenStack credentials and settings"
    for word in SECRET_WORDS:
        if word in upper:
            return f"its name contains {word}, so it may hold a secret"
    return None


@dataclass(frozen=True)
class Substitution:
    """The result of interpolating one string.

    `errors` has a message per reference that failed (left as written in
    `text`, so every problem of a document is reported in one pass);
    `sensitive` has the non-empty values read from allowed variables.
    """

    text: str
    errors: tuple[str, ...] = ()
    sensitive: frozenset[str] = frozenset()


def substitute(
    text: str, environ: Mapping[str, str], allow: Collection[str] = frozenset()
) -> Substitution:
    """`text` with variables replaced; guarded names (see `guarded_reason`) need `allow`."""
    if "$" not in text:
        return Substitution(text)
    errors: list[str] = []
    sensitive: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        if match.group("dollar"):
            return "$"
        if match.group("open"):
            errors.append("unterminated '${': close it with '}' or write '$$' for a literal '$'")
            return match.group(0)
        body = match.group("body")
        parsed = _BODY.fullmatch(body)
        if parsed is None:
            errors.append(
                f"invalid substitution '${{{body}}}': use ${{NAME}} or ${{NAME:-default}}, "
                "and '$$' for a literal '$'"
            )
            return match.group(0)
        name, default = parsed.group("name"), parsed.group("default")
        reason = guarded_reason(name)
        if name not in allow and reason is not None:
            errors.append(
                f"environment variable {name} is not read: {reason}; allow it with "
                f"--allow-env {name} (its value is then masked in plans)"
            )
            return match.group(0)
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is not None:
                return default
            errors.append(
                f"environment variable {name} is not set "
                f"(set it, or give a default: ${{{name}:-value}})"
            )
            return match.group(0)
        if name in allow and value:
            sensitive.add(value)
        return value

    result = _TOKEN.sub(replace, text)
    return Substitution(result, tuple(errors), frozenset(sensitive))


def interpolate(
    text: str, environ: Mapping[str, str], allow: Collection[str] = frozenset()
) -> tuple[str, list[str]]:
    """`text` with variables replaced, and a message for each reference that failed."""
    result = substitute(text, environ, allow)
    return result.text, list(result.errors)


#: Shorter sensitive values are masked only where they are a whole value: masking
#: every "3" of a plan would hide names and counts, and a 3-character secret is
#: not much of one.
MIN_MASKED_SUBSTRING = 4
MASK = "(sensitive)"


def mask_text(text: str, sensitive: Collection[str]) -> str:
    """`text` with each sensitive value replaced by MASK (longest first)."""
    if not sensitive:
        return text
    if text in sensitive:
        return MASK
    for value in sorted(sensitive, key=len, reverse=True):
        if len(value) >= MIN_MASKED_SUBSTRING and value in text:
            text = text.replace(value, MASK)
    return text
