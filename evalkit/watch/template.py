"""The checkpoint template: a discovered id → a ``[checkpoints.*]`` table, validated like one.

Placeholders in every string of the template: ``{id}`` (the id the source lists: a served model
name, a folder entry without its suffix), ``{path}`` (the folder entry), ``{source}`` (the
source's name) and ``{base_url}`` (a models source's URL). ``name`` (default ``"{id}"``) is
the checkpoint's name in the store.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .config import SourceConfig, WatchConfig

PLACEHOLDERS = ("{id}", "{path}", "{source}", "{base_url}")


def fill(template: Any, values: dict[str, str]) -> Any:
    """The template with ``{id}``, ``{path}``, ``{source}``, ``{base_url}`` replaced in every
    string (other braces are left alone)."""
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def template_values(source: SourceConfig | None, ident: str, path: str | None) -> dict[str, str]:
    return {"id": ident, "path": path or "", "source": source.name if source else "",
            "base_url": source.base_url if source else ""}


def checkpoint_table(cfg: WatchConfig, source: SourceConfig | None, ident: str,
                     path: str | None) -> dict[str, Any]:
    """The ``[checkpoints.*]`` table for a discovered id (``name`` taken out: see
    ``checkpoint_name``). A models source fills in its own ``base_url`` and ``api_key_env``
    when the template gives none."""
    table = fill(dict(cfg.template_for(source)), template_values(source, ident, path))
    table.pop("name", None)
    backend = table.get("backend", "openai")
    if source is not None and source.kind == "models" and backend == "openai":
        table.setdefault("base_url", source.base_url)
        table.setdefault("model", ident)
        if source.api_key_env and "api_key_env" not in table:
            table["api_key_env"] = source.api_key_env
    return table


def checkpoint_name(cfg: WatchConfig, source: SourceConfig | None, ident: str,
                    path: str | None) -> str:
    raw = cfg.template_for(source).get("name", "{id}")
    if not isinstance(raw, str):
        raise ConfigError("watch.checkpoint_template.name: expected a string such as \"{id}\"")
    name = fill(raw, template_values(source, ident, path)).strip()
    if not name:
        raise ConfigError(f"watch: the checkpoint template names '{ident}' with an empty name")
    return name


def check_template(cfg: WatchConfig, source: SourceConfig, where: str) -> None:
    from ..config import parse_checkpoint

    label = f"{where}.sources.{source.name}" if source.template is not None else where
    table = checkpoint_table(cfg, source, "example-1", "/example/example-1")
    try:
        parse_checkpoint("checkpoint_template", table, label)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (placeholders: {', '.join(PLACEHOLDERS)})") from None
    checkpoint_name(cfg, source, "example-1", None)
