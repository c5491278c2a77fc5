"""Read the service config: YAML + environment, validated, errors with line numbers.

Sources of values, later ones winning:

1. the YAML file; ``${NAME}`` inside a string is replaced by the environment
   variable ``NAME`` (so a password in a URL can stay out of the file);
2. ``AIMD_<FIELD>__<FIELD>…`` environment variables, e.g. ``AIMD_MQTT__URL`` or
   ``AIMD_SOURCES__radio1__ENABLED`` (a source is addressed by its id);
   the value is read as YAML, so ``false`` and ``4`` keep their types;
3. ``AIMD_…_FILE`` variables name a file holding the value (Docker secrets).

Values expanded from ``${NAME}`` or read from ``…_FILE`` are secrets, and so
are passwords in URLs: error messages never repeat them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .config import ServiceConfig

ENV_PREFIX = "AIMD_"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@/\s]+@")

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """The config cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(slots=True)
class _Document:
    """Parsed YAML plus where each value came from."""

    data: Any
    origin: dict[KeyPath, str] = field(default_factory=dict)  # path → "file:line" or "environment NAME"
    secrets: set[str] = field(default_factory=set)


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> ServiceConfig:
    """Read, merge and validate; raises :class:`ConfigError` with one line per problem."""
    env = os.environ if environ is None else environ
    doc = _read_yaml(Path(path), env)
    _apply_environment(doc, env)
    try:
        return ServiceConfig.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError([_describe(error, doc, str(path)) for error in exc.errors()]) from None


def _read_yaml(path: Path, env: Mapping[str, str]) -> _Document:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read ({exc.strerror or exc})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError([f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    doc = _Document(data={})
    if node is None:
        return doc
    doc.data = _Builder(str(path), env, doc).build(node, ())
    if not isinstance(doc.data, dict):
        raise ConfigError([f"{path}:{node.start_mark.line + 1}: the top level must be a mapping of settings"])
    return doc


class _Builder:
    """Plain data from the YAML node tree, noting every value's line and expanding ``${VAR}``."""

    def __init__(self, name: str, env: Mapping[str, str], doc: _Document) -> None:
        self.name, self.env, self.doc = name, env, doc
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used

    def build(self, node: yaml.Node, at: KeyPath) -> Any:
        where = f"{self.name}:{node.start_mark.line + 1}"
        self.doc.origin[at] = where
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node, deep=True)
                if key in out:
                    raise ConfigError([f"{self.name}:{key_node.start_mark.line + 1}: duplicate key {key!r}"])
                out[key] = self.build(value_node, (*at, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*at, i)) for i, item in enumerate(node.value)]
        value = self.constructor.construct_object(node, deep=True)
        return self.expand(value, where) if isinstance(value, str) else value

    def expand(self, text: str, where: str) -> str:
        def one(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable not in self.env:
                raise ConfigError([f"{where}: environment variable {variable} is not set"])
            self.doc.secrets.add(self.env[variable])
            return self.env[variable]

        return _REFERENCE.sub(one, text)


def _apply_environment(doc: _Document, env: Mapping[str, str]) -> None:
    fields = set(ServiceConfig.model_fields)
    path_fields = _fields_named_file()
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX):
            continue
        parts = variable[len(ENV_PREFIX) :].split("__")
        # AIMD_MQTT__URL_FILE reads the URL from a file; AIMD_MQTT__CA_FILE is the ca_file setting itself.
        from_file = parts[-1].upper().endswith("_FILE") and parts[-1].lower() not in path_fields
        if from_file:
            parts[-1] = parts[-1][: -len("_FILE")]
        keys = [part.lower() for part in parts]
        if keys[0] not in fields or len(keys) < 2 and keys[0] in ("sources", "defaults"):
            continue  # AIMD_API_KEYS and friends belong to other commands
        value = _env_value(variable, env[variable], from_file)
        if from_file:
            doc.secrets.add(str(value))
        _set(doc, keys, parts, value, f"environment {variable}")


@functools.cache
def _fields_named_file() -> frozenset[str]:
    """Settings whose own name ends in ``_file`` (paths, like mqtt.ca_file), anywhere in the config."""
    names: set[str] = set()
    for definition in [ServiceConfig.model_json_schema(), *ServiceConfig.model_json_schema()["$defs"].values()]:
        names.update(name for name in definition.get("properties", {}) if name.endswith("_file"))
    return frozenset(names)


def _env_value(variable: str, raw: str, from_file: bool) -> Any:
    if from_file:
        try:
            return Path(raw).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"environment {variable}: cannot read {raw} ({exc.strerror or exc})"]) from None
    try:
        return yaml.safe_load(raw) if raw else raw
    except yaml.YAMLError:
        return raw  # not YAML: take it as the string it is


def _set(doc: _Document, keys: list[str], raw_parts: list[str], value: Any, origin: str) -> None:
    """Store ``value`` at ``keys``, creating mappings on the way; a source is found by its id."""
    node: Any = doc.data
    at: KeyPath = ()
    for i, key in enumerate(keys[:-1]):
        step: str | int = key
        if isinstance(node, list):  # `sources`: the next part is a source id, case kept
            wanted = raw_parts[i]
            matches = [n for n, item in enumerate(node) if isinstance(item, dict) and item.get("id") == wanted]
            if not matches:
                raise ConfigError([f"{origin}: no source with id {wanted!r}"])
            step = matches[0]
            node = node[step]
        elif isinstance(node, dict):
            node = node.setdefault(key, [] if key == "sources" else {})
        else:
            raise ConfigError([f"{origin}: {'.'.join(keys[:i])} is not a mapping"])
        at = (*at, step)
        doc.origin.setdefault(at, origin)
    if not isinstance(node, dict):
        raise ConfigError([f"{origin}: {'.'.join(keys[:-1])} is not a mapping"])
    node[keys[-1]] = value
    doc.origin[(*at, keys[-1])] = origin


def _describe(error: Any, doc: _Document, name: str) -> str:
    """``file:line: field: message`` for one pydantic error, secrets masked."""
    loc = tuple(error["loc"])
    where, field_path = _locate(loc, doc, name)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting (check the spelling; `aimd config schema` lists them all)"
    elif error["type"] == "missing":
        message = "required setting is missing"
    text = f"{where}: {field_path}: {message}" if field_path else f"{where}: {message}"
    return redact(text, doc.secrets)


def _locate(loc: tuple[Any, ...], doc: _Document, name: str) -> tuple[str, str]:
    """The closest known origin of ``loc`` and the field path as the user wrote it."""
    at: KeyPath = ()
    matched = 0  # loc steps consumed; steps pydantic adds (union tags) are not in the document
    for i, step in enumerate(loc):
        if (*at, step) in doc.origin:
            at, matched = (*at, step), i + 1
    parts: list[str] = []
    for i, step in enumerate(at):
        if isinstance(step, int):
            item = doc.data["sources"][step] if at[:i] == ("sources",) else None
            label = item.get("id", step) if isinstance(item, dict) else step
            parts[-1] += f"[{label}]"
        else:
            parts.append(str(step))
    node = _value_at(doc.data, at)
    tag = node.get("type") if isinstance(node, dict) else None
    parts += [str(step) for step in loc[matched:] if isinstance(step, str) and step != tag]
    return doc.origin.get(at, name), ".".join(parts)


def _value_at(data: Any, at: KeyPath) -> Any:
    for step in at:
        data = data[step]
    return data


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL passwords or any of ``secrets``."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
