"""The README's shell commands work as written (issue 21).

Every ```sh block of README.md has, on the line before it, a marker saying whether it is tested:

    <!-- tested: runs against a served mock -->      the block is run here
    <!-- not tested: <why> -->                         it is not (the reason is for the reader of the README)

A shell block with neither fails the test, so a new block has to choose. Each tested block is run, in the
README's order, by `bash -euo pipefail` against one `ledger-mock serve` this module starts on a free port, in a
home of its own (HOME, XDG_RUNTIME_DIR, XDG_CACHE_HOME), with these rules:

- `127.0.0.1:8080` and `localhost:8080` in the block become the test server's `127.0.0.1:<port>`, and
  LEDGER_MOCK_URL names it (so `ledger-mock credentials` and `sign` describe it);
- a line that starts a server in the background (`ledger-mock serve ... &`, `make serve ... &`) is dropped: the
  block uses the server already running;
- PATH has .venv/bin first, so `ledger-mock` is the checkout's; CI_JOB_ID is set; and `npm`, which stands for
  the reader's own test suite in the CI block, is a stub that fails unless COUNT_BASE_URL, COUNT_CLIENT_ID,
  COUNT_CLIENT_SECRET and COUNT_ACCESS_TOKEN are set and not "null" (what the block exported for it).

A block that exits non-zero fails the test, naming it (its README line) with its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.served import Served, free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TESTED = re.compile(r"<!--\s*tested:.*-->")
NOT_TESTED = re.compile(r"<!--\s*not tested:.*-->")
STARTS_A_SERVER = re.compile(r"^\s*(ledger-mock\s+serve|make\s+serve)\b[^#]*&\s*(#.*)?$")
NPM_STUB = """#!/bin/sh
for name in COUNT_BASE_URL COUNT_CLIENT_ID COUNT_CLIENT_SECRET COUNT_ACCESS_TOKEN; do
    eval "value=\\${$name:-}"
    if [ -z "$value" ] || [ "$value" = null ]; then echo "npm stub: $name is not set" >&2; exit 1; fi
done
"""


def shell_blocks(text: str) -> list[tuple[int, str | None, str]]:
    """(line number of the ```sh fence, the marker line before it or None, the block's text)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() in ("```sh", "```bash", "```shell", "```console"):
            start = i
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            marker = lines[start - 1].strip() if start > 0 and lines[start - 1].strip().startswith("<!--") else None
            blocks.append((start + 1, marker, "\n".join(lines[start + 1:end]) + "\n"))
            i = end
        i += 1
    return blocks


def runnable(block: str, port: int) -> str:
    kept = [line for line in block.splitlines() if not STARTS_A_SERVER.match(line)]
    script = "\n".join(kept) + "\n"
    for host in ("127.0.0.1:8080", "localhost:8080"):
        script = script.replace(host, f"127.0.0.1:{port}")
    return script


BLOCKS = shell_blocks(README.read_text())
MARKED = [(line, block) for line, marker, block in BLOCKS if marker and TESTED.fullmatch(marker)]


def test_every_shell_block_says_whether_it_is_tested():
    assert BLOCKS, "README.md has no shell blocks"
    unmarked = [line for line, marker, _ in BLOCKS
                if not (marker and (TESTED.fullmatch(marker) or NOT_TESTED.fullmatch(marker)))]
    assert not unmarked, (f"README.md shell blocks at lines {unmarked} need `<!-- tested: ... -->` or "
                          "`<!-- not tested: <why> -->` on the line before them")
    assert len(MARKED) >= 3  # Trying it (two blocks) and Use it in CI


def test_trying_it_has_a_tested_command_for_every_provider():
    from mock_server import providers

    trying = README.read_text().split("## Trying it", 1)[1].split("\n## ", 1)[0]
    tested = "".join(block for _, marker, block in shell_blocks(trying) if marker and TESTED.fullmatch(marker))
    for name in providers.names():
        assert f"/{name}/" in tested or f"--provider {name}" in tested, name
    assert "curl -fsS" in tested and "ledger-mock sign" in tested


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("readme-home")
    tools = home / "bin"
    tools.mkdir()
    (tools / "npm").write_text(NPM_STUB)
    (tools / "npm").chmod(0o755)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(home / "run"),
           "XDG_CACHE_HOME": str(home / "cache"), "LEDGER_MOCK_URL": base, "CI_JOB_ID": "readme-test",
           "PATH": os.pathsep.join([str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent), str(tools),
                                    os.environ.get("PATH", "")])}
    env.pop("LEDGER_MOCK_ADMIN_TOKEN", None)
    with Served(port=port, env=env, cwd=home, output=home / "stderr.txt"):
        yield port, env, home


@pytest.mark.parametrize("line, block", MARKED, ids=[f"README.md:{line}" for line, _ in MARKED])
def test_readme_block_runs(served, line, block):
    port, env, home = served
    script = runnable(block, port)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                            cwd=home, timeout=120)
    assert result.returncode == 0, (f"the README.md shell block at line {line} exited {result.returncode}:\n"
                                    f"{script}\n--- stdout ---\n{result.stdout[-3000:]}\n"
                                    f"--- stderr ---\n{result.stderr[-3000:]}")
