"""Shell completion is installable and completes commands and options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

#: The installed console script: completion keys on the program's name.
DECLSTACK = str(Path(sys.executable).with_name("declstack"))


def _complete(words: str) -> list[str]:
    env = {
        **os.environ,
        "_DECLSTACK_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    done = subprocess.run([DECLSTACK], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_commands_and_options_complete() -> None:
    assert _complete("declstack ap") == ["apply"]
    assert _complete("declstack apply spec.yaml --lock-t") == ["--lock-timeout"]


def test_completion_script_is_shown_for_bash() -> None:
    done = subprocess.run(
        [DECLSTACK, "--show-completion", "bash"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "_declstack_completion" in done.stdout
