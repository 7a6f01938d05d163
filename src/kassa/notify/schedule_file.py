"""The ``schedule:`` block of kassa.yaml, read and rewritten on its own (the dashboard's schedule editor).

PyYAML cannot write a file back with its comments, so the block is cut out of the text by the lines its
nodes span and the new block is put in their place: every other line of the file — keys, comments, blank
lines — stays byte for byte. The edited block is validated alone (errors name the editor's line and field)
and then the whole new file as ``kassa.yaml`` is (a job naming an unknown digest recipient is refused as
loading kassa.yaml refuses it). The file is written to a temporary file beside it and renamed over it, with
the old file's mode, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from kassa.errors import ConfigError, ConfigProblem
from kassa.settings import ScheduleSettings, Settings
from kassa.yamlfile import parse_yaml_model, read_yaml_text

NEW_FILE_MODE = 0o644  # kassa.yaml holds no secret (they live in 0600 files beside the warehouse)
STARTER = """schedule:
  jobs:
    - name: alerts
      kind: alerts
      at: daily 08:00
"""


class ScheduleBlock(BaseModel):
    """The editor's text: ``schedule:`` and nothing else of kassa.yaml."""

    model_config = ConfigDict(extra="forbid")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)


def file_text(path: Path) -> str:
    return read_yaml_text(path) if path.is_file() else ""


def stamp(text: str) -> str:
    """What the editor was opened on: a save over a file changed since then is refused."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _span(text: str, source: str) -> tuple[int, int] | None:
    """0-based first and last line of the top-level ``schedule:`` block, or ``None`` when there is none."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = f"{source}{f':{line}' if line else ''} is not valid YAML; fix it by hand first"
        raise ConfigError(problem, [ConfigProblem(None, None, problem)]) from None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "schedule":
            last = key.end_mark.line
            for node in _nodes(value):
                # Scalars and flow collections end where their text ends; a block collection's end mark is
                # the next token's start (which may be the next key, or comments after the block).
                if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
                    end = node.end_mark
                    last = max(last, end.line if end.column > 0 else end.line - 1)
            return key.start_mark.line, last
    return None


def _nodes(node: yaml.Node) -> list[yaml.Node]:
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append(n)
        if isinstance(n, yaml.SequenceNode):
            todo.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                todo.extend((k, v))
    return out


def schedule_text(path: Path) -> str:
    """The ``schedule:`` block as kassa.yaml has it (its comments too); a starter job when there is none."""
    text = file_text(path)
    span = _span(text, str(path)) if text else None
    if span is None:
        return STARTER
    return "".join(text.splitlines(keepends=True)[span[0] : span[1] + 1])


def spliced(text: str, block: str, source: str) -> tuple[str, int]:
    """``text`` with its schedule block replaced by ``block`` (added at the end when it had none), and the
    0-based line the block starts at in the result."""
    newline = "\r\n" if "\r\n" in text else "\n"
    block = block.replace("\r\n", "\n").strip("\n")
    body = (block + "\n").replace("\n", newline) if block.strip() else ""
    lines = text.splitlines(keepends=True)
    span = _span(text, source) if text.strip() else None
    if span is None:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        return "".join(lines) + body, len(lines)
    first, last = span
    return "".join(lines[:first]) + body + "".join(lines[last + 1 :]), first


def check_schedule(path: Path, block: str) -> tuple[Settings, str]:
    """The settings kassa.yaml would load with ``block`` as its schedule, and the new file's text;
    :class:`ConfigError` whose problems name the editor's line and field (or kassa.yaml's line when the
    rest of the file is what is wrong)."""
    block = block.replace("\r\n", "\n")
    parse_yaml_model(block, ScheduleBlock, source="schedule")  # the editor's own lines and fields
    text = file_text(path)
    new, first = spliced(text, block, str(path))
    _check_recipients(new, block, first)
    try:
        return parse_yaml_model(new, Settings, source=str(path)), new
    except ConfigError as exc:
        n_block = len(block.strip("\n").splitlines())
        problems = []
        for p in exc.problems:
            if p.line is not None and first < p.line <= first + n_block:
                problems.append(ConfigProblem(p.line - first, p.field, p.message))
            else:  # the rest of kassa.yaml is wrong: said with its own line
                where = f"{path}:{p.line}" if p.line else str(path)
                problems.append(ConfigProblem(None, p.field, f"{where}: {p.message}"))
        raise ConfigError(str(exc), problems) from None


def _check_recipients(new: str, block: str, first: int) -> None:
    """A job's ``to:`` names a recipient of ``digest: recipients:``, at the line of the name (Settings says
    the same of the whole file, but at its first line)."""
    try:
        data: Any = yaml.safe_load(new) or {}
        node = yaml.compose(block.strip("\n"), Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # the full validation names it
    digest = data.get("digest") if isinstance(data, dict) else None
    recipients = digest.get("recipients") if isinstance(digest, dict) else None
    known = {str(r["name"]) for r in recipients or [] if isinstance(r, dict) and "name" in r}
    jobs = ((data.get("schedule") or {}) if isinstance(data, dict) else {}).get("jobs") or []
    problems = []
    for i, job in enumerate(jobs if isinstance(jobs, list) else []):
        to = job.get("to") if isinstance(job, dict) else None
        for j, name in enumerate(to if isinstance(to, list) else []):
            if str(name) not in known:
                names = ", ".join(sorted(known)) or "none declared under digest: recipients:"
                line = _line(node, ("schedule", "jobs", i, "to", j))
                problems.append(
                    ConfigProblem(
                        line,
                        f"schedule.jobs[{i}].to[{j}]",
                        f"{name} is no recipient (recipients: {names})",
                    )
                )
    if problems:
        lines = [f"schedule:{p.line}: field {p.field}: {p.message}" for p in problems]
        raise ConfigError("\n".join(lines), problems)


def _line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is not None:
            line = node.start_mark.line + 1
    return line


def save_schedule(path: Path, block: str, opened_on: str | None = None) -> Settings:
    """Write ``block`` as kassa.yaml's schedule (creating the file with just it when there is none); the
    settings it now loads. ``opened_on`` (:func:`stamp` of the file the editor showed): refused when the
    file changed since."""
    if opened_on and stamp(file_text(path)) != opened_on:
        problem = f"{path} changed since the editor opened it; open the editor again"
        raise ConfigError(problem, [ConfigProblem(None, None, problem)])
    settings, new = check_schedule(path, block)
    mode = path.stat().st_mode & 0o7777 if path.exists() else NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(new)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return settings
