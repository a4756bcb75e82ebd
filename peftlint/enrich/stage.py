"""The enrich stage: resolve each config's base model once per run and build its `model` facts."""

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

if TYPE_CHECKING:
    from peftlint.enrich.analysis import Training
    from peftlint.enrich.model import ModelConfig, ModelUnavailable
    from peftlint.normalize.dialects import LinearNames

# The model code (huggingface_hub, threads, logging) is imported only when a config names a model.
DEFAULT_TIMEOUT = 10.0  # seconds; the same as peftlint.enrich.model.DEFAULT_TIMEOUT (a test checks it)


class ModelOptions(NamedTuple):
    model: str | None = None  # --model: wins over the config's base_model_name_or_path
    revision: str | None = None
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    training: Any = None  # analysis.Training; None: defaults (kept lazy: analysis imports the model code)
    # a model the caller already has (Python API, training callback): used as is, nothing is
    # resolved; wins over `model`. `tree`: its loaded modules (None: built from its config.json)
    resolved: Any = None  # enrich.model.ModelConfig (not imported here: the model code loads only when needed)
    tree: Any = None  # enrich.modules.ModuleTree
    exact: bool = False  # build unknown architectures on the meta device ([exact] extra): estimate only


def training_from(settings: Mapping[str, Any], seq_len: int | None, batch_size: int | None) -> "Training":
    """A Training from a framework's settings, the profile's sizes, and the defaults."""
    from peftlint.enrich.analysis import Training
    from peftlint.enrich.memory import normalize_optimizer

    try:
        optimizer = normalize_optimizer(settings.get("optimizer", "adamw"))
    except ValueError:  # a name the estimate does not model (e.g. lion): AdamW's states are the safe upper side
        optimizer = "adamw"
    quantization = settings.get("quantization")
    checkpointing = settings.get("gradient_checkpointing")
    given: dict[str, Any] = {  # Training's fields, as the framework's file wrote them
        "dtype": settings.get("dtype"),
        "batch_size": settings.get("batch_size") or batch_size,
        "seq_len": settings.get("seq_len") or seq_len,
        "gradient_checkpointing": None if checkpointing is None else bool(checkpointing),
    }
    from peftlint.enrich.distributed import Plan, plan_from
    from peftlint.normalize.distributed import plan_settings

    try:
        plan = plan_from(plan_settings(settings))
    except ValueError:  # a contradictory setup is a finding (PL600); the estimate stays on one GPU
        plan = Plan()
    from peftlint.enrich.memory import normalize_stack

    try:
        stack = normalize_stack(settings.get("stack") or "transformers")
    except ValueError:  # the profile validates `stack`; a dialect that names another stack gets the default
        stack = "transformers"
    return Training(
        plan=plan,
        stack=stack,
        quantization=quantization,
        double_quant=quantization == "4bit",
        optimizer=optimizer,
        **{name: value for name, value in given.items() if value is not None},  # Training's defaults for the rest
    )


class Enricher:
    """Builds each config's `model` facts; resolves every base model once per run."""

    def __init__(self, options: ModelOptions | None = None) -> None:
        self.options = options or ModelOptions()
        self._models: dict[tuple[str, str | None], ModelConfig | ModelUnavailable] = {}
        self.last_analysis: Any = None  # the Analysis behind the latest facts: `estimate` reports it instead of redoing it

    def _resolve(self, spec: str) -> "ModelConfig":
        from peftlint.enrich.model import ModelUnavailable, resolve_model

        key = (spec, self.options.revision)
        if key not in self._models:  # failures are remembered too: one slow Hub answer per run
            try:
                self._models[key] = resolve_model(
                    spec, revision=self.options.revision, token=self.options.token, timeout=self.options.timeout
                )
            except ModelUnavailable as exc:
                self._models[key] = exc
        found = self._models[key]
        if isinstance(found, ModelUnavailable):
            raise found
        return found

    def facts(
        self,
        effective: Mapping[str, Any],
        peft_type: str,
        gpu_memory_bytes: int | None,
        seq_len: int | None = None,
        batch_size: int | None = None,
        training_settings: Mapping[str, Any] | None = None,
        linear_names: "LinearNames | None" = None,
        loaded_class: str | None = None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(model facts, model error): both None when no model is named.

        `training_settings` are a training framework's own (a dialect file's sequence_len, ...);
        they win over the profile's `seq_len` / `batch_size`. `linear_names`: the framework's own
        list of linear layers stands for `target_modules` (axolotl's `lora_target_linear`).
        `loaded_class`: the transformers class a script loads the model with, whose head counts
        when the config has no task_type.
        """
        resolved = self.options.resolved
        explicit = self.options.model is not None or resolved is not None
        spec = resolved.model_id if resolved is not None else self.options.model or effective.get("base_model_name_or_path")
        if not isinstance(spec, str) or not spec.strip():
            return None, None
        from peftlint.enrich.analysis import ModelFactsError, analyze, model_facts
        from peftlint.enrich.model import ModelUnavailable

        training = self.options.training or training_from(training_settings or {}, seq_len, batch_size)
        try:
            model = resolved if resolved is not None else self._resolve(spec.strip())
            analysis = analyze(
                model,
                effective,
                peft_type,
                training,
                tree=self.options.tree,
                exact=self.options.exact,
                linear_names=linear_names,
                loaded_class=loaded_class,
            )
        except (ModelUnavailable, ModelFactsError) as exc:
            reason = exc.reason if isinstance(exc, ModelUnavailable) else str(exc)
            return None, {"model": spec, "reason": reason, "explicit": explicit}
        self.last_analysis = analysis
        return model_facts(analysis, effective, training, gpu_memory_bytes, peft_type=peft_type, seq_len=seq_len), None
