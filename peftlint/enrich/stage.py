"""The enrich stage: resolve each config's base model once per run and build its `model` facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from peftlint.enrich.model import DEFAULT_TIMEOUT, ModelConfig, ModelUnavailable


@dataclass(frozen=True)
class ModelOptions:
    model: str | None = None  # --model: wins over the config's base_model_name_or_path
    revision: str | None = None
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    training: Any = None  # analysis.Training; None: defaults (kept lazy: analysis imports the model code)


@dataclass
class Enricher:
    options: ModelOptions = field(default_factory=ModelOptions)
    _models: dict[tuple[str, str | None], ModelConfig | ModelUnavailable] = field(default_factory=dict)

    def _resolve(self, spec: str) -> ModelConfig:
        from peftlint.enrich.model import resolve_model

        key = (spec, self.options.revision)
        if key not in self._models:  # failures are remembered too: one slow Hub answer per run
            try:
                self._models[key] = resolve_model(spec, revision=self.options.revision, token=self.options.token, timeout=self.options.timeout)
            except ModelUnavailable as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, ModelUnavailable):
            raise found
        return found

    def facts(self, effective: Mapping[str, Any], peft_type: str, gpu_memory_bytes: int | None, seq_len: int | None = None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(model facts, model error): both None when no model is named."""
        explicit = self.options.model is not None
        spec = self.options.model or effective.get("base_model_name_or_path")
        if not isinstance(spec, str) or not spec.strip():
            return None, None
        from peftlint.enrich.analysis import ModelFactsError, Training, analyze, model_facts

        training = self.options.training or Training(seq_len=seq_len or Training.seq_len)
        try:
            analysis = analyze(self._resolve(spec.strip()), effective, peft_type, training)
        except (ModelUnavailable, ModelFactsError) as exc:
            reason = exc.reason if isinstance(exc, ModelUnavailable) else str(exc)
            return None, {"model": spec, "reason": reason, "explicit": explicit}
        return model_facts(analysis, effective, training, gpu_memory_bytes, peft_type=peft_type, seq_len=seq_len), None
