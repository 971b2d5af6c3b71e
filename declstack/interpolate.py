"""Environment interpolation in spec strings: `${VAR}`, `${VAR:-default}` and `$$`.

Only these three forms are special, so a lone `$` (as in `$HOME` or a price)
stays as written. The rules follow the shell: `:-` uses the default when the
variable is unset *or empty*.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\$(?:(?P<dollar>\$)|\{(?P<body>[^}]*)\}|(?P<open>\{))")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


def interpolate(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with variables replaced, and a message for each reference that failed.

    A failed reference is left as written in the result, so the caller can
    still report every problem of the document in one pass.
    """
    if "$" not in text:
        return text, []
    errors: list[str] = []

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
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is not None:
                return default
            errors.append(
                f"environment variable {name} is not set "
                f"(set it, or give a default: ${{{name}:-value}})"
            )
            return match.group(0)
        return value

    return _TOKEN.sub(replace, text), errors
