"""Load YAML into a Pydantic model with errors that name the file, the line and the field.

Every way a YAML file can fail becomes a :class:`ConfigError` naming the file: not found, a folder, too
large (:data:`MAX_BYTES`), not UTF-8 (with the line of the first bad byte), not YAML, nested deeper than
:data:`MAX_DEPTH` (PyYAML composes and constructs recursively, so 500 nested lists would otherwise end in
a ``RecursionError``), or a value YAML cannot build (an impossible date). Contracts, mappings and
settings are a page or two of YAML; anything beyond these limits is a mistake or an attack on the parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from kassa.errors import ConfigError, ConfigProblem

M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 1024 * 1024  # the largest YAML file kassa reads (a contract is about 1 KiB, a mapping less)
MAX_DEPTH = 32  # lists and mappings inside each other; kassa's own files nest at most 4 deep


def _refused(where: str, line: int | None, problem: str) -> ConfigError:
    at = f"{where}:{line}" if line is not None else where
    return ConfigError(f"{at}: {problem}", [ConfigProblem(line, None, problem)])


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, reading the event stream (PyYAML's parser is a state
    machine, not recursive: it is the composer that would overflow)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else None
                raise _refused(source, line, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


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
    if len(text) > MAX_BYTES:
        raise _refused(
            source, None, f"larger than {MAX_BYTES // 1024} KiB; a YAML file for kassa is a page or two"
        )
    try:
        _check_depth(text, source)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except (RecursionError, ValueError, OverflowError) as exc:  # a value YAML cannot build: 2026-13-45
        raise _refused(source, None, f"not valid YAML: {exc}") from None
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


def read_yaml_text(path: str | Path) -> str:
    """The text of a YAML file; :class:`ConfigError` naming the file when it is missing, a folder, larger
    than :data:`MAX_BYTES` or not UTF-8 (a byte-order mark is allowed)."""
    p = Path(path)
    if p.is_dir():
        raise _refused(str(p), None, "a folder, not a YAML file")
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise _refused(
            str(p), None, f"larger than {MAX_BYTES // 1024} KiB; a YAML file for kassa is a page or two"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _refused(
            str(p), line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it; see :func:`read_yaml_text` and :func:`parse_yaml_model`."""
    return parse_yaml_model(read_yaml_text(path), model, source=str(Path(path)))
