"""Load YAML into a Pydantic model with errors that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kassa.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=BaseModel)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Walk the composed YAML node tree along a Pydantic error location; return a 1-based line."""
    line = None if node is None else node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == key:
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_yaml_model(text: str, model: type[M], source: str = "<string>") -> M:
    """Validate YAML text against ``model``; raise :class:`ConfigError` naming ``source:line`` and field."""
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = str(getattr(exc, "problem", None) or exc)
        raise ConfigError(
            f"{where}: not valid YAML: {problem}",
            [ConfigProblem(mark.line + 1 if mark is not None else None, None, f"not valid YAML: {problem}")],
        ) from None
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines, problems = [], []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(node, loc)
            where = f"{source}:{line}" if line else source
            lines.append(f"{where}: field {_field_name(loc)}: {err['msg']}")
            problems.append(ConfigProblem(line, _field_name(loc), err["msg"]))
        raise ConfigError("\n".join(lines), problems) from None


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it; see :func:`parse_yaml_model`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_yaml_model(text, model, source=str(p))
