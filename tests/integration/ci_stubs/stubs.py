"""Stand-ins for `gh`, `curl` and `pip` in the CI recipes' shell steps.

tests/integration/test_ci_recipes.py puts a shim for each first on PATH
(`exec python stubs.py gh "$@"`). Each records its arguments and emulates only
what docs/ci.md asks of it, from a state folder the test owns
(`$CI_STUB_STATE`); anything else exits 2 with "not emulated", so a recipe that
starts to need more fails the test instead of passing by accident.

- gh: `pr comment N --body-file F`, `run list ... --json databaseId --jq
  '.[].databaseId'`, `run download RUN --name NAME [--dir D]` (GitHub's API as the
  test recorded it: runs and their artifacts).
- curl: GitLab's REST API v4 for a merge request note, the merge requests of a
  commit, and one artifact file by ref and job; `--fail-with-body` as curl does it.
- pip: `install X` succeeds without installing (declstack is already on PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any

NOT_EMULATED = 2


def state() -> Path:
    return Path(os.environ["CI_STUB_STATE"])


def record(tool: str, args: list[str]) -> None:
    with (state() / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd()}) + "\n")


def refuse(tool: str, args: list[str]) -> int:
    print(f"{tool} stub: not emulated: {args}", file=sys.stderr)
    return NOT_EMULATED


def options(
    args: list[str], flags: dict[str, str], valued: dict[str, str]
) -> tuple[dict[str, list[str]], list[str]] | None:
    """Options by canonical name (`flags` and `valued` map each spelling to it) and
    positionals, or None when an option is unknown or lacks its value."""
    found: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, equals, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in flags and not equals:
            found.setdefault(flags[name], []).append("")
        elif name in valued:
            if not equals and not rest:
                return None
            found.setdefault(valued[name], []).append(inline if equals else rest.pop(0))
        elif arg.startswith("-") and arg != "-":
            return None
        else:
            positional.append(arg)
    return found, positional


def spellings(*names: str) -> dict[str, str]:
    """`--name` and, when given as `--name/-n`, its short form, both to `name`."""
    table: dict[str, str] = {}
    for name in names:
        long, _, short = name.partition("/")
        table[long] = long.lstrip("-")
        if short:
            table[short] = long.lstrip("-")
    return table


def next_file(folder: Path, suffix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{len(list(folder.iterdir())) + 1}{suffix}"


# --- gh ----------------------------------------------------------------------


def gh(args: list[str]) -> int:
    github = state() / "github"
    expected = json.loads((github / "config.json").read_text())
    if os.environ.get("GH_TOKEN") != expected["token"]:
        print("gh: set the GH_TOKEN environment variable (as gh asks in Actions)", file=sys.stderr)
        return 4
    if os.environ.get("GH_REPO") != expected["repository"]:
        said = os.environ.get("GH_REPO")
        print(f"gh stub: GH_REPO is {said!r}, not {expected['repository']!r}", file=sys.stderr)
        return 1
    if args[:2] == ["pr", "comment"]:
        return gh_pr_comment(github, args[2:])
    if args[:2] == ["run", "list"]:
        return gh_run_list(github, args[2:])
    if args[:2] == ["run", "download"]:
        return gh_run_download(github, args[2:])
    return refuse("gh", args)


def gh_pr_comment(github: Path, args: list[str]) -> int:
    parsed = options(args, {}, spellings("--body-file/-F"))
    if parsed is None or len(parsed[1]) != 1 or "body-file" not in parsed[0]:
        return refuse("gh", ["pr", "comment", *args])
    found, (number,) = parsed
    body = Path(found["body-file"][-1]).read_text()
    next_file(github / "comments" / number, ".md").write_text(body)
    print(f"https://github.com/{os.environ['GH_REPO']}/pull/{number}#issuecomment-1")
    return 0


def gh_run_list(github: Path, args: list[str]) -> int:
    valued = spellings("--workflow/-w", "--event/-e", "--commit/-c", "--status/-s")
    parsed = options(args, {}, valued | spellings("--limit/-L", "--json", "--jq/-q"))
    if parsed is None or parsed[1]:
        return refuse("gh", ["run", "list", *args])
    found = {name: values[-1] for name, values in parsed[0].items()}
    if found.get("json") != "databaseId" or found.get("jq") != ".[].databaseId":
        return refuse("gh", ["run", "list", *args])
    runs: list[dict[str, Any]] = json.loads((github / "runs.json").read_text())
    for option, key in {"workflow": "workflow", "event": "event", "commit": "headSha"}.items():
        if option in found:
            runs = [run for run in runs if run[key] == found[option]]
    if "status" in found:
        runs = [run for run in runs if found["status"] in (run["status"], run["conclusion"])]
    runs.sort(key=lambda run: -int(run["databaseId"]))
    for run in runs[: int(found.get("limit", "20"))]:
        print(run["databaseId"])
    return 0


def gh_run_download(github: Path, args: list[str]) -> int:
    parsed = options(args, {}, spellings("--name/-n", "--dir/-D"))
    if parsed is None or len(parsed[1]) != 1 or len(parsed[0].get("name", [])) != 1:
        return refuse("gh", ["run", "download", *args])
    found, (run,) = parsed
    source = github / "artifacts" / run / found["name"][0]
    if not source.is_dir():
        print("no valid artifacts found to download", file=sys.stderr)
        return 1
    target = Path(found.get("dir", ["."])[-1])
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        shutil.copy(item, target / item.name)
    return 0


# --- curl against GitLab's API -------------------------------------------------


def curl(args: list[str]) -> int:
    flags = spellings("--fail-with-body", "--silent/-s", "--show-error/-S", "--location/-L")
    valued = spellings("--header/-H", "--data-urlencode", "--output/-o")
    parsed = options(args, flags, valued)
    if parsed is None or len(parsed[1]) != 1:
        return refuse("curl", args)
    found, (url,) = parsed
    headers = {
        key.strip().lower(): value.strip()
        for key, _, value in (header.partition(":") for header in found.get("header", []))
    }
    form = {}
    for item in found.get("data-urlencode", []):
        name, at, file = item.partition("@")
        if not at:
            return refuse("curl", args)
        form[name] = Path(file).read_text()
    status, body = gitlab(url, headers, form)
    if status is None:
        return refuse("curl", args)
    failed = status >= 400
    if not failed or "fail-with-body" in found:
        output = found.get("output", ["-"])[-1]
        if output == "-":
            sys.stdout.buffer.write(body)
        else:
            Path(output).write_bytes(body)
    if failed:
        if "show-error" in found:
            print(f"curl: (22) The requested URL returned error: {status}", file=sys.stderr)
        return 22
    return 0


def gitlab(url: str, headers: dict[str, str], form: dict[str, str]) -> tuple[int | None, bytes]:
    """(HTTP status, body) as GitLab would answer; status None: not emulated."""
    folder = state() / "gitlab"
    api = json.loads((folder / "config.json").read_text())
    prefix = f"{api['url']}/projects/{api['project']}/"
    if not url.startswith(prefix):
        return None, b""
    if headers.get("private-token") != api["token"]:
        return 401, b'{"message":"401 Unauthorized"}'
    split = urllib.parse.urlsplit(url[len(prefix) :])
    path = split.path.split("/")
    query = urllib.parse.parse_qs(split.query)
    if form:
        note = len(path) == 3 and path[0] == "merge_requests" and path[2] == "notes"
        if note and set(form) == {"body"}:
            next_file(folder / "notes" / path[1], ".md").write_text(form["body"])
            return 201, json.dumps({"id": 1, "body": form["body"]}).encode()
        return None, b""
    if len(path) == 4 and path[:2] == ["repository", "commits"] and path[3] == "merge_requests":
        return 200, json.dumps(api["commits"].get(path[2], [])).encode()
    if len(path) >= 5 and path[:2] == ["jobs", "artifacts"] and path[3] == "raw" and "job" in query:
        ref = urllib.parse.unquote(path[2])
        file = folder / "artifacts" / urllib.parse.quote(ref, safe="") / query["job"][0]
        file = file.joinpath(*path[4:])
        if file.is_file():
            return 200, file.read_bytes()
        return 404, b'{"message":"404 Not found"}'
    return None, b""


# --- pip -----------------------------------------------------------------------


def pip(args: list[str]) -> int:
    if len(args) != 2 or args[0] != "install":
        return refuse("pip", args)
    print(f"(stub) would install {args[1]}; declstack is already installed")
    return 0


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    record(tool, args)
    handlers = {"gh": gh, "curl": curl, "pip": pip}
    return handlers[tool](args)


if __name__ == "__main__":
    sys.exit(main())
