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


class ExactUnavailable(RuntimeError):
    pass


def module_tree_on_meta(config: Mapping[str, Any], task_type: str | None) -> ModuleTree:
    try:
        import torch
        import transformers
    except ImportError:
        raise ExactUnavailable("install `peftlint[exact]` (torch, transformers) to build it on the meta device") from None
    from peftlint.enrich.torch_tree import module_tree

    transformers.logging.set_verbosity_error()  # its config warnings are not the user's findings
    try:
        hf_config = transformers.AutoConfig.for_model(**dict(config))
        auto = getattr(transformers, AUTO_CLASSES.get(task_type or "", "AutoModel"))
        with torch.device("meta"):
            model = auto.from_config(hf_config)
    except Exception as exc:  # transformers raises many types for configs it cannot build
        raise ExactUnavailable(f"transformers cannot build it ({exc.__class__.__name__}: {str(exc)[:200]})") from None
    return module_tree(model, str(config.get("model_type")))
