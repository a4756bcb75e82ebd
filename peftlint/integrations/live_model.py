"""A loaded model as peftlint sees it: its config.json and its real modules, without peft's layers.

Torch-side: reads a live torch module whose libraries the caller has already imported; peft is
only consulted when it is loaded (without it, no module can be one of its wrappers).
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

from peftlint.enrich.model import ModelConfig, model_config_from
from peftlint.enrich.modules import ModuleTree
from peftlint.errors import ModelError


def loaded_model(model: Any) -> tuple[ModelConfig, ModuleTree]:
    """The config and module tree an adapter config is checked against.

    For a `PeftModel` that is its base model as it was before peft injected its layers, so the
    adapter's own `target_modules` are checked against the names and shapes they were written for.
    """
    from peftlint.enrich.torch_tree import module_tree

    base = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
    config = getattr(base, "config", None)
    if config is None or not callable(getattr(config, "to_dict", None)):
        raise ModelError(f"{type(base).__name__} has no transformers `config`: peftlint cannot tell its architecture")
    return model_config_from(config.to_dict(), name="the loaded model"), module_tree(_BeforeInjection(base))


def _peft_wrapper_types() -> tuple[type[Any] | None, type[Any] | None]:
    """peft's (tuner layer, auxiliary wrapper) classes; None when peft is not loaded. (peft is
    untyped: its instances are Any, so `isinstance` leaves their methods callable for mypy.)"""
    if "peft" not in sys.modules:
        return None, None
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    return BaseTunerLayer, AuxiliaryTrainingWrapper


class _BeforeInjection:
    """The base model seen through peft's wrappers: each wrapper shows as the layer it wraps.

    Offers what `torch_tree.module_tree` reads (`named_modules`, `config`, the embedding getters),
    so a LoRA-wrapped `q_proj` is read as the `nn.Linear` it was, under its own name, and the
    adapter weights (`lora_A`, `modules_to_save`, ...) are not part of the base model.
    """

    def __init__(self, model: Any):
        self._model = model
        self._tuner_layer, self._auxiliary_wrapper = _peft_wrapper_types()
        self.config = model.config

    def _unwrap(self, module: Any) -> Any:
        while True:  # wrappers nest: peft may wrap a wrapped layer again
            if self._tuner_layer is not None and isinstance(module, self._tuner_layer):
                module = module.get_base_layer()
            elif self._auxiliary_wrapper is not None and isinstance(module, self._auxiliary_wrapper):
                module = module.original_module
            else:
                return module

    def named_modules(self, remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        """As `nn.Module.named_modules`, with wrappers replaced by what they wrap."""
        seen: set[int] = set()

        def walk(module: Any, prefix: str) -> Iterator[tuple[str, Any]]:
            module = self._unwrap(module)
            if remove_duplicate:
                if id(module) in seen:
                    return
                seen.add(id(module))
            yield prefix, module
            for name, child in module._modules.items():
                if child is not None:
                    yield from walk(child, f"{prefix}.{name}" if prefix else name)

        return walk(self._model, "")

    def get_input_embeddings(self) -> Any:
        return self._embedding("get_input_embeddings")

    def get_output_embeddings(self) -> Any:
        return self._embedding("get_output_embeddings")

    def _embedding(self, getter: str) -> Any:
        found = getattr(self._model, getter, lambda: None)()
        return None if found is None else self._unwrap(found)
