"""The `[exact]` fallback: build an unknown architecture on torch's meta device (no weights).

Used only when peftlint's own architecture knowledge has no template for a `model_type`; needs
`pip install peftlint[exact]` (torch, transformers). Takes seconds, not milliseconds.
"""

from __future__ import annotations

from typing import Any, Mapping

from peftlint.enrich.modules import ModuleTree

AUTO_CLASSES = {
    "CAUSAL_LM": "AutoModelForCausalLM",
    "SEQ_CLS": "AutoModelForSequenceClassification",
    "SEQ_2_SEQ_LM": "AutoModelForSeq2SeqLM",
    "TOKEN_CLS": "AutoModelForTokenClassification",
    "QUESTION_ANS": "AutoModelForQuestionAnswering",
}


# The same bounds as the template path (peftlint.enrich.architecture): building a 20,000-layer
# model on the meta device still takes minutes and gigabytes.
MAX_DIMENSION = 2**24
MAX_REPEATS = 4096
REPEAT_FIELDS = (
    "num_hidden_layers",
    "num_layers",
    "n_layer",
    "num_decoder_layers",
    "decoder_layers",
    "encoder_layers",
    "num_local_experts",
    "num_experts",
)


class ExactUnavailable(RuntimeError):
    pass


def _check_sizes(config: Mapping[str, Any]) -> None:
    for field, value in config.items():
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        limit = MAX_REPEATS if field in REPEAT_FIELDS else MAX_DIMENSION
        if value > limit:
            raise ExactUnavailable(f"`{field}` = {value} is above {limit:,}: not building such a model")


def module_tree_on_meta(config: Mapping[str, Any], task_type: str | None) -> ModuleTree:
    _check_sizes(config)
    try:
        import torch
        import transformers
    except ImportError:
        raise ExactUnavailable("install `peftlint[exact]` (torch, transformers) to build it on the meta device") from None
    from peftlint.enrich.torch_tree import module_tree

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # its config warnings are not the user's findings
    try:
        hf_config = transformers.AutoConfig.for_model(**dict(config))
        auto = getattr(transformers, AUTO_CLASSES.get(task_type or "", "AutoModel"))
        with torch.device("meta"):
            model = auto.from_config(hf_config)
    except Exception as exc:  # transformers raises many types for configs it cannot build
        raise ExactUnavailable(f"transformers cannot build it ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    finally:
        transformers.logging.set_verbosity(verbosity)  # a training script's own logging stays as it was
    return module_tree(model, str(config.get("model_type")))
