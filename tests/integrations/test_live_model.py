"""A loaded model's modules, read through peft's wrappers, are the modules the adapter was written for."""

from __future__ import annotations

from typing import Any

import pytest

import peftlint
from peftlint.enrich.torch_tree import module_tree
from peftlint.integrations.live_model import loaded_model


def tiny_llama(**overrides: Any) -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, vocab_size=128, **overrides
    )
    return transformers.LlamaForCausalLM(config)


@pytest.mark.parametrize(
    ("peft_type", "config", "overrides"),
    [
        ("LORA", {"target_modules": ["q_proj", "v_proj"]}, {}),
        ("LORA", {"target_modules": "all-linear", "modules_to_save": ["lm_head"], "use_dora": True}, {}),
        ("LORA", {"target_modules": ["q_proj", "embed_tokens"]}, {"tie_word_embeddings": True}),
        ("LORA", {"target_modules": ["v_proj"], "trainable_token_indices": [0, 1]}, {}),
        ("IA3", {}, {}),
    ],
)
def test_tree_through_peft_equals_the_tree_before(peft_type: str, config: dict[str, Any], overrides: dict[str, Any]) -> None:
    from peft import PEFT_TYPE_TO_CONFIG_MAPPING, get_peft_model

    before = module_tree(tiny_llama(**overrides))
    peft_model = get_peft_model(tiny_llama(**overrides), PEFT_TYPE_TO_CONFIG_MAPPING[peft_type](task_type="CAUSAL_LM", **config))
    resolved, after = loaded_model(peft_model)
    assert after == before
    assert resolved.model_id == "the loaded model" and resolved.config["model_type"] == "llama"


def toy_model() -> Any:
    """An architecture peftlint has never heard of: its modules exist only in the loaded model."""
    import torch.nn as nn
    import transformers

    class ToyConfig(transformers.PretrainedConfig):
        model_type = "peftlint-toy"

    class ToyModel(transformers.PreTrainedModel):
        config_class = ToyConfig

        def __init__(self, config: ToyConfig):
            super().__init__(config)
            self.tokens = nn.Embedding(32, 16)
            self.mixer = nn.Linear(16, 16)
            self.readout = nn.Linear(16, 32)
            self.post_init()

        def get_input_embeddings(self) -> nn.Module:
            return self.tokens

    return ToyModel(ToyConfig())


def test_custom_architecture_is_checked_on_its_loaded_modules() -> None:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=8, lora_alpha=16, target_modules=["mixer", "mixr"])
    peft_model = get_peft_model(toy_model(), config)  # peft injects `mixer` and says nothing about `mixr`
    findings = peftlint.check(config, model=peft_model, select="PL2")
    assert [f.code for f in findings] == ["PL210"]
    assert "`mixr` matches no module of the loaded model (peftlint-toy); did you mean `mixer`?" in findings[0].message
    # from its config alone the architecture is unknown: model-aware rules are skipped, and said so
    assert [f.code for f in peftlint.check(config, model=peft_model.config, select="PL2")] == ["PL200"]
