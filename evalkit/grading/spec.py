"""``[graders.NAME]`` in evalkit.toml: an OpenAI-compatible endpoint that grades single answers
against a rubric template (``judges/rubric_1to10.toml`` or a path)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import EndpointConfig, Sampling, _check_keys, _endpoint, _sampling, _typed
from ..errors import ConfigError


@dataclass(frozen=True)
class GraderConfig:
    name: str
    backend: str = "openai"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=1024))
    template: str = "rubric_1to10"
    reask_invalid: bool = True

    def identity(self, template_hash: str) -> dict[str, Any]:
        """What decides the scores: the grade cache key includes it."""
        return {"backend": self.backend, "name": self.name, "model": self.endpoint.model,
                "sampling": asdict(self.sampling), "template": template_hash,
                "reask_invalid": self.reask_invalid}


def parse_grader(name: str, raw: dict[str, Any], where: str = "graders") -> GraderConfig:
    where = f"{where}.{name}"
    backend = raw.get("backend", "openai")
    if backend != "openai":
        raise ConfigError(f"{where}.backend: unknown grader backend '{backend}' (openai)")
    from ..config import _ENDPOINT_KEYS

    _check_keys(where, raw, _ENDPOINT_KEYS | {"backend", "sampling", "template",
                                              "reask_invalid"})
    return GraderConfig(
        name=name, endpoint=_endpoint(where, raw),
        sampling=_sampling(where, raw.get("sampling"), Sampling(max_tokens=1024)),
        template=_typed(where, raw.get("template", "rubric_1to10"), str, "template"),
        reask_invalid=_typed(where, raw.get("reask_invalid", True), bool, "reask_invalid"))
