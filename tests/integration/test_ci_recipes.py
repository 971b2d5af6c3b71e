"""The CI recipes of docs/ci.md, run: their shell steps, job by job, against the local cloud.

The two ```yaml blocks are read from the doc itself. Each job runs in a fresh
workspace, its shell steps (GitHub's `run:`, GitLab's `before_script` + `script`)
with `bash -e`, in the order a project sees them: plan on review, apply on
merge, drift checks on a schedule. The platform is emulated, minimally:

- env from the workflow/job/step `env:` (GitHub) or `variables:` (GitLab), with
  `${{ ... }}` taken from a table each test owns (an unknown expression fails);
  GitHub's `$GITHUB_ENV` file carries into later steps; GitLab's File variable
  becomes a path to a file holding its value;
- `uses:` steps: checkout writes the commit's files, upload-artifact copies into
  an artifact store; GitLab `artifacts:` are stored per ref and job;
- `gh`, `curl` and `pip` are stand-ins first on PATH (ci_stubs/stubs.py) that
  record their arguments and answer as GitHub's and GitLab's APIs would;
- which jobs an event runs is a table here, checked against each job's `if:` /
  `rules:` text; platform settings the test does not emulate (runners, images,
  permissions, concurrency) are listed with the reason in NOT_RUN.

Anything else in a recipe (a step, a key, an action) fails the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"
STUBS = Path(__file__).parent / "ci_stubs" / "stubs.py"
GITHUB_FILE = ".github/workflows/declstack.yml"
GITLAB_FILE = ".gitlab-ci.yml"
SPEC_PATH = "infra/stack.yaml"
CLOUD = "production"
PACKAGE = "https://packages.example.org/declstack/declstack-0.1.0-py3-none-any.whl"
STEP_TIMEOUT = 240

# What the test does not run or emulate, and why: nothing is skipped silently.
NOT_RUN = {
    "actions/setup-python@v5": "the job runs on this machine's Python: the venv with declstack "
    "installed is on PATH (the pip stand-in records the install step)",
    "on": "the triggers (events, paths, cron) are the test's choice of which job runs when; "
    "see GITHUB_JOBS and GITLAB_JOBS",
    "runs-on": "jobs run on this machine",
    "permissions": "the GITHUB_TOKEN's scopes; the gh stand-in accepts the test's token",
    "concurrency": "one job runs at a time here; the stack's lock is what declstack relies on",
    "workflow": "which pipelines GitLab creates: the test's choice of which job runs when",
    "stages": "jobs run one at a time, in the order of the test's scenario",
    "stage": "as `stages`",
    "image": "the job runs on this machine's bash with the venv's Python, not in a container",
    "rules": "the test picks the jobs an event runs (GITLAB_JOBS) and checks the rule's text",
    "resource_group": "one job runs at a time here; the stack's lock is what declstack relies on",
}

# Which job each event runs, with the condition the recipe gives it (checked verbatim).
GITHUB_JOBS = {
    "plan": "github.event_name == 'pull_request' && github.event.action != 'closed'",
    "apply": "github.event_name == 'pull_request' && github.event.action == 'closed' "
    "&& github.event.pull_request.merged",
    "drift": "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'",
}
GITLAB_JOBS = {
    "declstack-plan": '$CI_PIPELINE_SOURCE == "merge_request_event"',
    "declstack-apply": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"',
    "declstack-drift": '$CI_PIPELINE_SOURCE == "schedule"',
}


def recipes() -> dict[str, dict[Any, Any]]:
    """File name (the block's first-line comment) -> the parsed YAML of each block."""
    found: dict[str, dict[Any, Any]] = {}
    for block in re.findall(r"^```yaml\n(.*?)^```$", DOC.read_text(), flags=re.M | re.S):
        first = block.splitlines()[0]
        named = re.fullmatch(r"# (\S+)", first)
        assert named, f"a yaml block of {DOC} does not start with '# <file>': {first!r}"
        found[named.group(1)] = yaml.safe_load(block)
    return found


# --- the cloud and the repository -------------------------------------------------


@dataclass
class World:
    """The local cloud, the clouds.yaml text CI holds as a secret, and a view from outside."""

    clouds_yaml: str
    password: str
    conn: Any

    def servers(self, stack: str) -> dict[str, Any]:
        found = self.conn.compute.servers(details=True, tags=f"declstack:stack={stack}")
        live = [s for s in found if s.status not in ("DELETED", "SOFT_DELETED")]
        assert len({s.name for s in live}) == len(live), [s.name for s in live]
        return {s.name: s for s in live}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from declstack_localcloud import LocalCloud

    home = tmp_path_factory.mktemp("ci-cloud")
    with LocalCloud(
        state_path=home / "state.sqlite", boot_seconds=0.3, delete_seconds=0.2
    ) as cloud:
        config = cloud.cloud_config()
        text = yaml.safe_dump({"clouds": {CLOUD: config}})
        (home / "clouds.yaml").write_text(text)
        loader = openstack.config.OpenStackConfig(config_files=[str(home / "clouds.yaml")])
        conn = openstack.connection.Connection(config=loader.get_one(cloud=CLOUD))
        yield World(text, config["auth"]["password"], conn)


def spec(stack: str, count: int = 2, role: str = "web") -> str:
    doc = {
        "version": 1,
        "stack": stack,
        "max_deletions": 1,
        "defaults": {"image": "cirros", "flavor": "m1.tiny", "networks": ["private"]},
        "servers": [{"name": f"{stack}-web", "count": count, "metadata": {"role": role}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True)
class JobResult:
    job: str
    code: int  # 0, or the exit code of the step that failed
    failed_step: str | None
    log: str
    workspace: Path

    def __str__(self) -> str:
        return f"job {self.job}: exit {self.code} at {self.failed_step!r}\n{self.log}"


@dataclass
class Platform:
    """What both emulations share: a state folder for the stand-ins, shims, a shell."""

    root: Path
    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    # A hosted runner is a fresh machine per job, gone after it; a self-hosted one
    # keeps each job's folder (at another path per job here, as runners with
    # several concurrent build folders do).
    hosted: bool = False

    def __post_init__(self) -> None:
        self.state = self.root / "state"
        self.bin = self.root / "bin"
        self.home = self.root / "home"
        for folder in (self.state, self.bin, self.home):
            folder.mkdir(parents=True)
        for tool in ("gh", "curl", "pip"):
            shim = self.bin / tool
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STUBS}" {tool} "$@"\n')
            shim.chmod(0o755)
        self.jobs_run = 0

    def base_env(self) -> dict[str, str]:
        venv_bin = Path(sys.executable).parent
        assert (venv_bin / "declstack").exists(), f"no declstack next to {sys.executable}"
        return {
            "PATH": f"{self.bin}:{venv_bin}:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "CI_STUB_STATE": str(self.state),
        }

    def workspace(self, job: str) -> Path:
        """A fresh runner's folder, as every CI job starts with."""
        self.jobs_run += 1
        folder = self.root / f"job-{self.jobs_run}-{job}" / "workspace"
        folder.mkdir(parents=True)
        return folder

    def finish(self, result: JobResult) -> JobResult:
        if self.hosted:
            shutil.rmtree(result.workspace.parent)
        return result

    def check_out(self, sha: str, workspace: Path) -> None:
        assert not any(workspace.iterdir()), "checkout into a used workspace"
        for path, text in self.commits[sha].items():
            (workspace / path).parent.mkdir(parents=True, exist_ok=True)
            (workspace / path).write_text(text)

    def shell(self, script: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
        file = cwd.parent / "step.sh"
        file.write_text(script)
        done = subprocess.run(
            ["bash", "-e", str(file)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        return done.returncode, done.stdout

    def calls(self, tool: str) -> list[list[str]]:
        lines = (self.state / "calls.jsonl").read_text().splitlines()
        return [entry["args"] for entry in map(json.loads, lines) if entry["tool"] == tool]


# --- GitHub Actions ----------------------------------------------------------------


@dataclass(frozen=True)
class GithubEvent:
    name: str
    sha: str  # GITHUB_SHA: what checkout takes without `ref`
    run_id: str
    expressions: dict[str, str]


class GitHub(Platform):
    TOKEN = "ghs_test-token"
    REPOSITORY = "acme/infra"

    def __init__(self, root: Path, workflow: dict[Any, Any], world: World) -> None:
        super().__init__(root)
        self.workflow = workflow
        self.world = world
        (self.state / "github").mkdir()
        config = {"token": self.TOKEN, "repository": self.REPOSITORY}
        (self.state / "github" / "config.json").write_text(json.dumps(config))
        self.runs: list[dict[str, str]] = []
        self._save_runs()

    def _save_runs(self) -> None:
        (self.state / "github" / "runs.json").write_text(json.dumps(self.runs))

    def _expressions(self, **more: str) -> dict[str, str]:
        return {
            "vars.DECLSTACK_PACKAGE": PACKAGE,
            "secrets.OPENSTACK_CLOUDS_YAML": self.world.clouds_yaml,
            "github.token": self.TOKEN,
            "github.repository": self.REPOSITORY,
            **more,
        }

    def review(self, number: int, head: str) -> JobResult:
        """A pull request opened at `head`: its merge preview has `head`'s files here."""
        run_id = str(1000 + self.jobs_run)
        event = GithubEvent(
            "pull_request",
            head,
            run_id,
            self._expressions(
                **{
                    "github.event.pull_request.number": str(number),
                    "github.event.pull_request.head.sha": head,
                }
            ),
        )
        result = self.run_job("plan", event)
        self.runs.append(
            {
                "databaseId": run_id,
                "headSha": head,
                "event": "pull_request",
                "workflow": Path(GITHUB_FILE).name,
                "status": "completed",
                "conclusion": "success" if result.code == 0 else "failure",
            }
        )
        self._save_runs()
        return result

    def merge(self, number: int, head: str, merged: str) -> JobResult:
        event = GithubEvent(
            "pull_request",
            merged,
            str(1000 + self.jobs_run),
            self._expressions(
                **{
                    "github.event.pull_request.number": str(number),
                    "github.event.pull_request.head.sha": head,
                    "github.event.pull_request.merge_commit_sha": merged,
                }
            ),
        )
        return self.run_job("apply", event)

    def scheduled(self, sha: str) -> JobResult:
        event = GithubEvent("schedule", sha, str(1000 + self.jobs_run), self._expressions())
        return self.run_job("drift", event)

    def comments(self, number: int) -> list[str]:
        folder = self.state / "github" / "comments" / str(number)
        files = sorted(folder.iterdir(), key=lambda f: int(f.stem)) if folder.exists() else []
        return [file.read_text() for file in files]

    def plan_artifact(self, number: int, head: str) -> Path:
        run = next(r for r in reversed(self.runs) if r["headSha"] == head)
        return (
            self.state / "github/artifacts" / run["databaseId"] / f"declstack-plan-{head}/plan.json"
        )

    def apply_result(self, merged: str) -> dict[str, Any]:
        found = list(
            (self.state / "github/artifacts").glob(f"*/declstack-result-{merged}/result.json")
        )
        assert len(found) == 1, found
        return json.loads(found[0].read_text())  # type: ignore[no-any-return]

    # The runner.

    def substitute(self, text: str, event: GithubEvent) -> str:
        def value(found: re.Match[str]) -> str:
            expression = found.group(1).strip()
            if expression not in event.expressions:
                pytest.fail(f"the test has no value for ${{{{ {expression} }}}}")
            return event.expressions[expression]

        return re.sub(r"\$\{\{(.*?)\}\}", value, text)

    def env_of(self, block: dict[str, Any] | None, event: GithubEvent) -> dict[str, str]:
        return {key: self.substitute(str(value), event) for key, value in (block or {}).items()}

    def run_job(self, name: str, event: GithubEvent) -> JobResult:
        job = self.workflow["jobs"][name]
        unknown = set(job) - {"if", "steps", "env"} - set(NOT_RUN)
        assert not unknown, f"job {name}: keys the test does not emulate: {unknown}"
        workspace = self.workspace(name)
        temp = workspace.parent / "temp"
        temp.mkdir()
        github_env = temp / "github_env"
        github_env.write_text("")
        runner = {
            **self.base_env(),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ENV": str(github_env),
            "RUNNER_TEMP": str(temp),
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_SHA": event.sha,
            "GITHUB_REPOSITORY": self.REPOSITORY,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": event.run_id,
            "GITHUB_WORKFLOW": self.workflow["name"],
        }
        env = {
            **runner,
            **self.env_of(self.workflow.get("env"), event),
            **self.env_of(job.get("env"), event),
        }
        log: list[str] = []
        failed: tuple[int, str] | None = None
        for index, step in enumerate(job["steps"]):
            title = step.get("name") or step.get("uses") or f"step {index + 1}"
            unknown = set(step) - {"name", "uses", "with", "run", "env", "if"}
            assert not unknown, f"{name}/{title}: keys the test does not emulate: {unknown}"
            condition = step.get("if")
            assert condition in (None, "always()"), f"{name}/{title}: if: {condition!r}"
            if failed is not None and condition != "always()":
                log.append(f"--- {title}: skipped (an earlier step failed)")
                continue
            if "uses" in step:
                action = step["uses"]
                if action in NOT_RUN:
                    log.append(f"--- {title}: not run: {NOT_RUN[action]}")
                    continue
                with_ = self.env_of(step.get("with"), event)
                code, output = self.action(action, with_, workspace, event)
            else:
                step_env = {
                    **env,
                    **read_github_env(github_env),
                    **self.env_of(step.get("env"), event),
                }
                code, output = self.shell(self.substitute(step["run"], event), workspace, step_env)
            log.append(f"--- {title}: exit {code}\n{output}")
            if code != 0 and failed is None:
                failed = (code, title)
        code, title = failed if failed is not None else (0, None)
        return self.finish(JobResult(name, code, title, "\n".join(log), workspace))

    def action(
        self, action: str, with_: dict[str, str], workspace: Path, event: GithubEvent
    ) -> tuple[int, str]:
        if action == "actions/checkout@v4":
            assert set(with_) <= {"ref"}, with_
            sha = with_.get("ref", event.sha)
            self.check_out(sha, workspace)
            return 0, f"checked out {sha}"
        if action == "actions/upload-artifact@v4":
            assert set(with_) <= {"name", "path", "if-no-files-found"}, with_
            source = workspace / with_["path"]
            if not source.is_file():
                missing = f"No files were found with the provided path: {with_['path']}"
                return (1, missing) if with_.get("if-no-files-found") == "error" else (0, missing)
            store = self.state / "github/artifacts" / event.run_id / with_["name"]
            store.mkdir(parents=True)
            shutil.copy(source, store / source.name)
            return 0, f"uploaded {with_['name']}"
        pytest.fail(f"the test neither emulates nor lists the action {action}")


def read_github_env(file: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in file.read_text().splitlines():
        key, equals, value = line.partition("=")
        assert equals and "<<" not in key, f"$GITHUB_ENV form not emulated: {line!r}"
        found[key] = value
    return found


# --- GitLab CI ---------------------------------------------------------------------


class GitLab(Platform):
    API = "https://gitlab.example.com/api/v4"
    PROJECT = "4242"
    TOKEN = "glpat-test-token"

    def __init__(self, root: Path, pipeline: dict[str, Any], world: World) -> None:
        super().__init__(root)
        self.pipeline = pipeline
        self.world = world
        self.folder = self.state / "gitlab"
        self.folder.mkdir()
        self.api: dict[str, Any] = {
            "url": self.API,
            "project": self.PROJECT,
            "token": self.TOKEN,
            "commits": {},
        }
        self._save_api()
        self.clouds_file = self.root / "OPENSTACK_CLOUDS_YAML"
        self.clouds_file.write_text(world.clouds_yaml)

    def _save_api(self) -> None:
        (self.folder / "config.json").write_text(json.dumps(self.api))

    def review(self, number: int, head: str) -> JobResult:
        ref = f"refs/merge-requests/{number}/head"
        source = {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": str(number),
            "CI_COMMIT_REF_NAME": f"feature-{number}",
        }
        return self.run_job("declstack-plan", head, ref, source)

    def merge(self, number: int, head: str, merged: str) -> JobResult:
        self.api["commits"][merged] = [
            {"iid": number, "state": "merged", "sha": head, "merge_commit_sha": merged}
        ]
        self._save_api()
        push = {
            "CI_PIPELINE_SOURCE": "push",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
        }
        return self.run_job("declstack-apply", merged, "main", push)

    def scheduled(self, sha: str) -> JobResult:
        schedule = {
            "CI_PIPELINE_SOURCE": "schedule",
            "CI_COMMIT_BRANCH": "main",
            "CI_COMMIT_REF_NAME": "main",
        }
        return self.run_job("declstack-drift", sha, "main", schedule)

    def comments(self, number: int) -> list[str]:
        folder = self.folder / "notes" / str(number)
        files = sorted(folder.iterdir(), key=lambda f: int(f.stem)) if folder.exists() else []
        return [file.read_text() for file in files]

    def artifact(self, ref: str, job: str, path: str) -> Path:
        return self.folder / "artifacts" / urllib.parse.quote(ref, safe="") / job / path

    def plan_artifact(self, number: int, head: str) -> Path:
        return self.artifact(f"refs/merge-requests/{number}/head", "declstack-plan", "plan.json")

    def apply_result(self, merged: str) -> dict[str, Any]:
        return json.loads(self.artifact("main", "declstack-apply", "result.json").read_text())  # type: ignore[no-any-return]

    def run_job(self, name: str, sha: str, ref: str, source: dict[str, str]) -> JobResult:
        job = self.pipeline[name]
        known = {"script", "before_script", "variables", "artifacts"}
        unknown = set(job) - known - set(NOT_RUN)
        assert not unknown, f"job {name}: keys the test does not emulate: {unknown}"
        default = self.pipeline.get("default", {})
        assert set(default) <= {"before_script"} | set(NOT_RUN), default
        workspace = self.workspace(name)
        self.check_out(sha, workspace)
        env = {
            **self.base_env(),
            "GITLAB_CI": "true",
            "CI_API_V4_URL": self.API,
            "CI_PROJECT_ID": self.PROJECT,
            "CI_PROJECT_DIR": str(workspace),
            "CI_DEFAULT_BRANCH": "main",
            "CI_COMMIT_SHA": sha,
            "CI_JOB_NAME": name,
            "CI_JOB_ID": str(5000 + self.jobs_run),
            "CI_JOB_URL": f"https://gitlab.example.com/acme/infra/-/jobs/{5000 + self.jobs_run}",
            **source,
            # The project's CI/CD variables; a File variable is a path to its value.
            "DECLSTACK_PACKAGE": PACKAGE,
            "DECLSTACK_API_TOKEN": self.TOKEN,
            "OPENSTACK_CLOUDS_YAML": str(self.clouds_file),
            **{k: str(v) for k, v in self.pipeline.get("variables", {}).items()},
            **{k: str(v) for k, v in job.get("variables", {}).items()},
        }
        lines = [*job.get("before_script", default.get("before_script", [])), *job["script"]]
        code, output = self.shell("\n".join(lines) + "\n", workspace, env)
        artifacts = job.get("artifacts", {})
        assert set(artifacts) <= {"paths", "when", "expire_in"}, artifacts
        if code == 0 or artifacts.get("when") == "always":
            for path in artifacts.get("paths", []):
                if (workspace / path).is_file():
                    store = self.artifact(ref, name, path)
                    store.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(workspace / path, store)
        failed = None if code == 0 else "script"
        return self.finish(JobResult(name, code, failed, output, workspace))


# --- the scenarios -------------------------------------------------------------------


@pytest.fixture(params=["github", "gitlab"])
def platform(request: pytest.FixtureRequest, world: World, tmp_path: Path) -> Platform:
    found = recipes()
    if request.param == "github":
        return GitHub(tmp_path, found[GITHUB_FILE], world)
    return GitLab(tmp_path, found[GITLAB_FILE], world)


@pytest.fixture
def stack(platform: Platform, world: World) -> Iterator[str]:
    name = f"ci-{type(platform).__name__.lower()}-{uuid.uuid4().hex[:6]}"
    yield name
    (platform.root / "destroy.yaml").write_text(spec(name))
    (platform.root / "clouds.yaml").write_text(world.clouds_yaml)
    env = {
        **platform.base_env(),
        "OS_CLIENT_CONFIG_FILE": str(platform.root / "clouds.yaml"),
        "OS_CLOUD": CLOUD,
    }
    done = subprocess.run(
        ["declstack", "destroy", str(platform.root / "destroy.yaml"), "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def show_markdown(platform: Platform, plan: Path) -> str:
    done = subprocess.run(
        ["declstack", "show", str(plan), "--output", "markdown"],
        env=platform.base_env(),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=True,
    )
    return done.stdout


def test_the_doc_has_both_recipes_and_the_test_knows_every_job() -> None:
    found = recipes()
    assert set(found) == {GITHUB_FILE, GITLAB_FILE}
    workflow, pipeline = found[GITHUB_FILE], found[GITLAB_FILE]
    assert {name: job["if"] for name, job in workflow["jobs"].items()} == GITHUB_JOBS
    jobs = {
        name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job
    }
    assert {name: [rule["if"] for rule in job["rules"]] for name, job in jobs.items()} == {
        name: [condition] for name, condition in GITLAB_JOBS.items()
    }
    text = DOC.read_text()
    assert 'pip install "$DECLSTACK_PACKAGE"' in text
    assert "the package or wheel URL your team installs declstack from" in text


def test_review_merge_and_drift(platform: Platform, world: World, stack: str) -> None:
    platform.commits = {"a1": {SPEC_PATH: spec(stack)}, "m1": {SPEC_PATH: spec(stack)}}

    review = platform.review(7, "a1")
    assert review.code == 0, str(review)
    (comment,) = platform.comments(7)
    assert "Plan: 2 to add" in comment
    assert f"server.{stack}-web-1" in comment and f"server.{stack}-web-2" in comment
    artifact = platform.plan_artifact(7, "a1")
    assert artifact.read_bytes() == (review.workspace / "plan.json").read_bytes()
    saved = json.loads(artifact.read_text())
    assert "declstack_saved_plan" in saved and saved["stack"] == stack and saved["cloud"] == CLOUD
    assert show_markdown(platform, artifact) == comment  # the comment is that saved plan
    assert world.servers(stack) == {}  # planning changed nothing

    merge = platform.merge(7, "a1", "m1")
    assert merge.code == 0, str(merge)
    assert "still holds" in merge.log, str(merge)
    servers = world.servers(stack)
    assert sorted(servers) == [f"{stack}-web-1", f"{stack}-web-2"]
    image = world.conn.image.find_image("cirros")
    for server in servers.values():
        assert server.status == "ACTIVE"
        assert server.flavor.original_name == "m1.tiny"
        assert server.image.id == image.id
        assert list(server.addresses) == ["private"]
        assert server.metadata["role"] == "web"
    result = platform.apply_result("m1")
    assert result["outcome"] == "ok" and result["totals"]["ok"] == 2, result

    in_sync = platform.scheduled("m1")
    assert in_sync.code == 0, str(in_sync)

    gone = servers[f"{stack}-web-2"]
    world.conn.compute.delete_server(gone)
    world.conn.compute.wait_for_delete(gone, wait=60)
    drift = platform.scheduled("m1")
    assert drift.code == 2, str(drift)  # status --detailed-exitcode: drift
    assert "absent" in drift.log, str(drift)

    assert platform.calls("pip") == [["install", PACKAGE]] * 4
    everything = "\n".join([review.log, merge.log, in_sync.log, drift.log, comment])
    assert world.password not in everything + artifact.read_text()


# Self-hosted runners may keep the plan job's folder, with the old spec at the absolute
# path the plan recorded: the changed spec at the path as given must still be refused.
@pytest.mark.parametrize("runner", ["hosted", "self-hosted"])
def test_a_spec_edited_after_the_plan_is_refused_and_changes_nothing(
    platform: Platform, world: World, stack: str, runner: str
) -> None:
    platform.hosted = runner == "hosted"
    platform.commits = {
        "a1": {SPEC_PATH: spec(stack)},
        "m1": {SPEC_PATH: spec(stack)},
        "b2": {SPEC_PATH: spec(stack, count=3)},
        # Another merge edited the spec between the review of b2 and its merge.
        "m2": {SPEC_PATH: spec(stack, count=3, role="api")},
    }
    assert platform.review(1, "a1").code == 0
    assert platform.merge(1, "a1", "m1").code == 0
    before = {name: (s.id, s.metadata) for name, s in world.servers(stack).items()}
    assert len(before) == 2

    review = platform.review(2, "b2")
    assert review.code == 0, str(review)
    assert f"server.{stack}-web-3" in platform.comments(2)[0]

    merge = platform.merge(2, "b2", "m2")
    assert merge.code == 1, str(merge)
    said = f"the spec {SPEC_PATH} changed since the plan was made"
    assert said in merge.log and "nothing was changed" in merge.log, str(merge)
    assert "Traceback" not in merge.log
    result = platform.apply_result("m2")
    assert result["outcome"] == "error" and said in result["error"]["message"], result
    after = {name: (s.id, s.metadata) for name, s in world.servers(stack).items()}
    assert after == before
