"""Render the config reference (docs/config.md) from the pydantic models.

``python -m retrainer.config.reference > docs/config.md`` regenerates it; a test keeps the
committed file in step with the code.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from retrainer.config.model import RetrainerConfig

_HEADER = """\
# `retrainer.yaml` reference

Generated from the pydantic models in `src/retrainer/config/` by
`python -m retrainer.config.reference > docs/config.md`; do not edit by hand.

Unknown keys are errors. `${VAR}` and `${VAR:-default}` in string values are replaced from
the environment. `retrainer config check` validates a file (and its columns against the
data) and prints the resolved config with every default filled in.
"""


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation is type(None):
        return "null"
    if origin is None:
        if isinstance(annotation, type):
            return annotation.__name__
        return str(annotation).replace("typing.", "")
    args = [a for a in get_args(annotation) if not isinstance(a, FieldInfo)]
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin.__name__ in ("Union", "UnionType"):
        return " | ".join(_type_name(a) for a in args)
    if origin.__name__ == "Annotated":
        return _type_name(args[0])
    inner = ", ".join(_type_name(a) for a in args)
    return f"{origin.__name__}[{inner}]"


def _default(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        return "**required**"
    if isinstance(value, BaseModel):
        return "(section defaults)"
    try:
        return f"`{json.dumps(value, default=str)}`"
    except TypeError:
        return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(model: type[BaseModel], path: str, seen: set[str], out: list[str]) -> None:
    title = f"`{path}`" if path else "top level"
    out.append(f"\n## {title} — {model.__name__}\n")
    doc = (model.__doc__ or "").strip().splitlines()
    if doc:
        out.append(doc[0] + "\n")
    out.append("| key | type | default | description |")
    out.append("| --- | --- | --- | --- |")
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        description = _cell(field.description or "")
        type_name = _cell(_type_name(field.annotation))
        out.append(f"| `{name}` | {type_name} | {_cell(_default(field))} | {description} |")
        for sub in _models_in(field.annotation):
            nested.append((f"{path}.{name}" if path else name, sub))
    for sub_path, sub in nested:
        key = f"{sub.__module__}.{sub.__qualname__}"
        if key in seen:
            continue
        seen.add(key)
        kind = sub.model_fields.get("kind")
        label = sub_path
        if kind is not None and kind.default is not PydanticUndefined:
            label = f"{sub_path} (kind: {kind.default})"
        _section(sub, label, seen, out)


def render() -> str:
    """The whole reference as markdown."""
    out = [_HEADER]
    _section(RetrainerConfig, "", set(), out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
