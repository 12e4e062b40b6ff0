"""The README's API examples, run against a live server and held to what the README shows.

A checked example is a ```console block on the line after `<!-- checked example -->`. Its commands
are the lines starting `$ ` (continued by lines starting `> `); the lines up to the next command are
that command's output. All blocks run in order in one bash, started in the folder where the
server keeps its keys (the first block reads them, then moves to a scratch folder), so what one
block defines (a variable, a file) is there for the next. The README's server,
http://127.0.0.1:8000, is replaced by the one given. Outputs must match line for line once ids,
timestamps, ETags, dates and cursors are replaced by placeholders; nothing else may differ.

    python -m support.readme_examples http://127.0.0.1:8020 [--update]

run from the folder where that server keeps its keys (`make run`'s clone: the examples read
.data/write-key and .data/read-key), checks the README against it, or with --update writes this
run's outputs into it (then read the diff).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- checked example -->"
SHOWN_SERVER = "http://127.0.0.1:8000"
SEPARATOR = "\x1e"  # between the outputs of two commands; no example prints it
PLACEHOLDERS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<timestamp>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
    (re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"), "<date>"),
    (re.compile(r"^id: \d{13,20}$"), "id: <cursor>"),  # the sessions stream's cursors
]


@dataclass
class Example:
    command: str  # as bash runs it
    start: int  # the README's lines [start, end) are its output
    end: int

    def shown(self, lines: list[str]) -> list[str]:
        return lines[self.start : self.end]


def examples(lines: list[str]) -> list[Example]:
    """Every command of the checked blocks, in order."""
    found: list[Example] = []
    number = 0
    while number < len(lines):
        if lines[number].strip() != MARK:
            number += 1
            continue
        if lines[number + 1].strip() != "```console":
            raise ValueError(f"README.md:{number + 2}: a checked example must be a console block")
        number += 2
        while lines[number] != "```":
            if not lines[number].startswith("$ "):
                raise ValueError(f"README.md:{number + 1}: output before the block's first command")
            command = [lines[number][2:]]
            number += 1
            while lines[number].startswith("> "):
                command.append(lines[number][2:])
                number += 1
            start = number
            while lines[number] != "```" and not lines[number].startswith("$ "):
                number += 1
            found.append(Example("\n".join(command), start, number))
    return found


def run(found: list[Example], base_url: str, folder: Path, timeout: float = 120) -> list[list[str]]:
    """The output lines of every command, run in one bash in `folder`."""
    # A stream or long-poll left in the background ends with the shell.
    script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + "".join(
        f"printf '\\n{SEPARATOR}\\n'\n{example.command.replace(SHOWN_SERVER, base_url)}\n"
        for example in found
    )
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    outputs = result.stdout.replace(base_url, SHOWN_SERVER).split(f"\n{SEPARATOR}\n")[1:]
    outputs = [output.replace("\r", "").rstrip("\n") for output in outputs]
    return [output.split("\n") if output else [] for output in outputs]


def normalized(lines: list[str]) -> list[str]:
    for pattern, placeholder in PLACEHOLDERS:
        lines = [pattern.sub(placeholder, line) for line in lines]
    return lines


def mismatches(lines: list[str], found: list[Example], outputs: list[list[str]]) -> list[str]:
    """A paragraph for each command whose output is not what the README shows."""
    problems = []
    for example, output in zip(found, outputs, strict=True):
        shown = example.shown(lines)
        if normalized(shown) != normalized(output):
            problems.append(
                f"README.md:{example.start}: $ {example.command}\n"
                + "".join(f"  shown: {line}\n" for line in shown)
                + "".join(f"  got:   {line}\n" for line in output)
            )
    return problems


def updated(lines: list[str], found: list[Example], outputs: list[list[str]]) -> list[str]:
    """The README's lines with every output that differs replaced by this run's (one that differs
    only in ids and timestamps is kept, so the diff shows what changed)."""
    result, taken = [], 0
    for example, output in zip(found, outputs, strict=True):
        shown = example.shown(lines)
        result += lines[taken : example.start]
        result += shown if normalized(shown) == normalized(output) else output
        taken = example.end
    return result + lines[taken:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the server, e.g. http://127.0.0.1:8020")
    parser.add_argument("--update", action="store_true", help="write this run's outputs")
    args = parser.parse_args()
    lines = README.read_text().split("\n")
    found = examples(lines)
    outputs = run(found, args.base_url.rstrip("/"), Path.cwd())  # where the keys are
    if args.update:
        README.write_text("\n".join(updated(lines, found, outputs)))
        print(f"{len(found)} outputs written into {README}")
        return
    problems = mismatches(lines, found, outputs)
    print("".join(problems) or f"all {len(found)} commands answer as shown")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
