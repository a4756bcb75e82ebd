"""Target matching against peft itself: what `get_peft_model` adapts on real architectures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from peftlint.enrich import targets
from peftlint.enrich.targets import PatternError, closest_module_names, resolve_targets
from peftlint.enrich.torch_tree import module_tree
from peftlint.resources import data_dir
from tests.enrich.conftest import REFERENCE_MODELS, build_model, default_task, model_config, peft_model
from tests.generated_versions import version_mismatch

DEFAULTS_PATH = data_dir() / "peft_defaults.json"


def installed_peft_defaults() -> dict[str, Any]:
    """peft's default-target maps, read from the installed peft (the generator of peft_defaults.json)."""
    import peft
    from peft import PEFT_TYPE_TO_TUNER_MAPPING
    from peft.utils import constants

    by_type = {
        str(peft_type.value): tuner.target_module_mapping
        for peft_type, tuner in PEFT_TYPE_TO_TUNER_MAPPING.items()
        if getattr(tuner, "target_module_mapping", None)
    }
    from peft.utils import transformers_weight_conversion as v5

    # IA3Model reads its maps from constants instead of a class attribute
    by_type["IA3"] = constants.TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING
    # LoRA on these MoE model types has its expert targets rewritten into `target_parameters`
    # (peft's transformers-v5 conversion of fused experts); the v4 names it rewrites:
    moe = {
        model_type: sorted(v5._MOE_TARGET_MODULE_MAPPING[base])
        for model_type, base in v5._MODEL_TO_CONVERSION_PATTERN.items()
        if v5._MOE_FUSED_TARGETS.get(base)
    }
    return {
        "peft_version": peft.__version__,
        "target_modules": {t: dict(sorted(m.items())) for t, m in sorted(by_type.items())},
        "ia3_feedforward_modules": dict(sorted(constants.TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING.items())),
        "lora_moe_conversion": dict(sorted(moe.items())),
    }


def test_peft_defaults_json_matches_installed_peft() -> None:
    """Regenerate with `PEFTLINT_REGENERATE=1 pytest tests/enrich/test_targets.py -k defaults_json`."""
    expected = installed_peft_defaults()
    if os.environ.get("PEFTLINT_REGENERATE"):
        DEFAULTS_PATH.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    assert json.loads(DEFAULTS_PATH.read_text(encoding="utf-8")) == expected, version_mismatch()


def test_moe_conversion_tables_equal_peft() -> None:
    """The tables by which peft rewrites v4 expert targets, for every model type it converts."""
    from peft.utils import transformers_weight_conversion as v5

    for model_type in json.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))["lora_moe_conversion"]:
        base = v5._MODEL_TO_CONVERSION_PATTERN[model_type]
        renames, fused = targets.moe_conversion(model_type)  # type: ignore[misc]
        assert list(renames.items()) == list(v5._MOE_TARGET_MODULE_MAPPING[base].items()), version_mismatch()  # peft's order decides
        assert fused == {new: tuple(old) for new, old in v5._MOE_FUSED_TARGETS[base].items()}


def test_importing_targets_does_not_import_torch() -> None:
    code = (
        "import sys, peftlint.enrich.targets, peftlint.enrich.counts; print(sorted({'torch', 'transformers', 'peft'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- the oracle ---------------------------------------------------------------------------------


def peft_targets(model: Any, config: dict[str, Any], peft_type: str, task_type: str | None) -> set[str]:
    """What peft adapts: `targeted_module_names` after `get_peft_model`."""
    return set(peft_model(model, config, peft_type, task_type).base_model.targeted_module_names)


def peft_saved(model: Any) -> set[str]:
    from peft.utils.other import ModulesToSaveWrapper

    return {n.removeprefix("base_model.model.") for n, m in model.named_modules() if isinstance(m, ModulesToSaveWrapper)}


CASES = [
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": ["q_proj", "v_proj"]}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": "all-linear"}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {}),  # peft's default targets for llama
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": r".*\.(1|3)\.self_attn\.(q|k)_proj"}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": ["q_proj", "down_proj"], "layers_to_transform": [0, 5, 15]}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": ["q_proj"], "layers_to_transform": 3, "layers_pattern": "layers"}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": "all-linear", "exclude_modules": ["o_proj", "mlp.up_proj"]}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": "all-linear", "exclude_modules": r".*layers\.1\d\..*"}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": ["q_proj", "lm_head", "embed_tokens"]}),
    ("bundled/meta-llama--Llama-3.2-1B", "LORA", {"target_modules": ["q_proj"], "modules_to_save": ["lm_head", "embed_tokens"]}),
    ("bundled/openai-community--gpt2", "LORA", {"target_modules": "all-linear"}),
    ("bundled/openai-community--gpt2", "IA3", {}),
    ("bundled/openai-community--gpt2", "LORA", {"target_modules": ["c_attn", "q_proj"]}),  # partial miss: peft accepts it silently
    ("bundled/google-bert--bert-base-uncased", "LORA", {"target_modules": "all-linear"}),
    ("bundled/google-bert--bert-base-uncased", "LORA", {"target_modules": ["query", "value"], "modules_to_save": ["pooler"]}),
    ("bundled/FacebookAI--roberta-base", "LORA", {"target_modules": "all-linear"}),
    ("bundled/distilbert--distilbert-base-uncased", "LORA", {"target_modules": ["q_lin", "v_lin"], "layers_to_transform": [0, 1]}),
    ("bundled/Qwen--Qwen2.5-0.5B", "IA3", {"target_modules": ["k_proj", "down_proj"], "feedforward_modules": ["down_proj"]}),
    # fused experts: peft turns the v4 expert and router names into `target_parameters`, a string into leaf names
    pytest.param(
        "bundled/mistralai--Mixtral-8x7B-v0.1", "LORA", {"target_modules": ["q_proj", "gate", "w1", "w2", "w3"]}, marks=pytest.mark.slow
    ),
    pytest.param(
        "bundled/mistralai--Mixtral-8x7B-v0.1",
        "LORA",
        {"target_modules": "all-linear", "exclude_modules": ["k_proj"]},
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.parametrize(("model_name", "peft_type", "config"), CASES, ids=lambda v: str(v)[:40])
def test_targets_equal_peft(model_name: str, peft_type: str, config: dict[str, Any]) -> None:
    hf_config = model_config(model_name)
    task = default_task(hf_config)
    tree = module_tree(build_model(hf_config, task))
    model = build_model(hf_config, task)
    expected = peft_targets(model, config, peft_type, task)

    resolution = resolve_targets(tree, config, peft_type, task)

    assert resolution.error is None
    assert set(resolution.targeted_names) == expected
    assert set(resolution.saved) == peft_saved(model)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", REFERENCE_MODELS)
@pytest.mark.parametrize("peft_type", ["LORA", "ADALORA", "IA3", "VERA"])
def test_default_and_all_linear_targets_equal_peft_on_every_model(model_name: str, peft_type: str) -> None:
    hf_config = model_config(model_name)
    task = default_task(hf_config)
    tree = module_tree(build_model(hf_config, task))
    extra = {"total_step": 100} if peft_type == "ADALORA" else {}
    for config in ({**extra}, {**extra, "target_modules": "all-linear"}):
        if peft_type == "IA3" and "target_modules" in config:
            config["feedforward_modules"] = []
        resolution = resolve_targets(tree, config, peft_type, task)
        if resolution.error is not None:
            with pytest.raises((ValueError, TypeError)):
                peft_targets(build_model(hf_config, task), config, peft_type, task)
            continue
        assert set(resolution.targeted_names) == peft_targets(build_model(hf_config, task), config, peft_type, task)


# --- what peft would reject ---------------------------------------------------------------------


def _tree(model_name: str, task_type: str | None = None) -> Any:
    hf_config = model_config(model_name)
    return module_tree(build_model(hf_config, task_type or default_task(hf_config)))


@pytest.fixture(scope="module")
def bert() -> Any:
    return _tree("bundled/google-bert--bert-base-uncased")


@pytest.fixture(scope="module")
def llama() -> Any:
    return _tree("bundled/meta-llama--Llama-3.2-1B")


def test_llama_names_on_bert_match_nothing_and_suggest_bert_names(bert: Any) -> None:
    resolution = resolve_targets(bert, {"target_modules": ["q_proj", "v_proj"]}, "LORA", "SEQ_CLS")

    assert resolution.targeted == ()
    assert resolution.unmatched_entries == ("q_proj", "v_proj")
    assert resolution.error is not None and "No modules were targeted" in resolution.error
    assert closest_module_names("q_proj", bert) == ["query"]
    assert closest_module_names("v_proj", bert) == ["value"]


@pytest.mark.parametrize(
    ("model_name", "wrong", "suggested"),
    [
        ("bundled/openai-community--gpt2", "q_proj", ["c_attn"]),  # fused q/k/v
        ("bundled/distilbert--distilbert-base-uncased", "v_proj", ["v_lin"]),
        ("bundled/meta-llama--Llama-3.2-1B", "query", ["q_proj"]),
        ("bundled/meta-llama--Llama-3.2-1B", "q_porj", ["q_proj"]),  # a typo: by spelling
        ("bundled/meta-llama--Llama-3.2-1B", "model.layers.0.mlp.fc1", ["gate_proj", "up_proj"]),
    ],
)
def test_did_you_mean_suggests_names_the_model_has(model_name: str, wrong: str, suggested: list[str]) -> None:
    assert closest_module_names(wrong, _tree(model_name)) == suggested


def test_peft_raises_where_resolution_reports_an_error(bert: Any) -> None:
    hf_config = model_config("bundled/google-bert--bert-base-uncased")
    with pytest.raises(ValueError, match="No modules were targeted"):
        peft_targets(build_model(hf_config, "SEQ_CLS"), {"target_modules": ["q_proj"]}, "LORA", "SEQ_CLS")
    # without a classifier head nothing is excluded, and peft names the missing targets
    base = _tree("bundled/google-bert--bert-base-uncased", task_type=None)
    resolution = resolve_targets(base, {"target_modules": ["q_proj"]}, "LORA", None)
    assert resolution.error == "Target modules ['q_proj'] not found in the base model."


def test_partial_list_miss_is_reported_while_peft_accepts_it(llama: Any) -> None:
    resolution = resolve_targets(llama, {"target_modules": ["q_proj", "query"]}, "LORA", "CAUSAL_LM")

    assert resolution.error is None
    assert resolution.unmatched_entries == ("query",)
    assert len(resolution.entry_matches["q_proj"]) == 16


def test_layers_to_transform_covers_a_subset(llama: Any) -> None:
    config = {"target_modules": ["q_proj", "v_proj"], "layers_to_transform": [0, 1, 40]}
    resolution = resolve_targets(llama, config, "LORA", "CAUSAL_LM")

    assert resolution.targeted_names == (
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj",
        "model.layers.1.self_attn.v_proj",
    )
    assert resolution.layers_found == tuple(range(16))  # so index 40 is out of range
    assert {(p.family, p.matched, p.total) for p in resolution.partial} == {
        ("model.layers.*.self_attn.q_proj", 2, 16),
        ("model.layers.*.self_attn.v_proj", 2, 16),
    }


def test_regex_string_is_fullmatched(llama: Any) -> None:
    resolution = resolve_targets(llama, {"target_modules": r"model\.layers\.(0|1)\.mlp\..*_proj"}, "LORA", None)

    assert len(resolution.targeted) == 6
    assert resolve_targets(llama, {"target_modules": "q_proj"}, "LORA", None).targeted == ()  # no suffix rule for str


def test_container_match_is_unsupported(llama: Any) -> None:
    resolution = resolve_targets(llama, {"target_modules": ["self_attn"]}, "LORA", None)

    assert resolution.unsupported[0] == "model.layers.0.self_attn"
    assert resolution.error is not None and "not supported" in resolution.error


def test_lokr_cannot_wrap_gpt2_conv1d() -> None:
    resolution = resolve_targets(_tree("bundled/openai-community--gpt2"), {"target_modules": ["c_attn"]}, "LOKR", "CAUSAL_LM")

    assert resolution.error is not None and "conv1d" in resolution.error


def test_all_linear_on_distilbert_classifier_clashes_with_the_saved_head() -> None:
    """`pre_classifier` is a LoRA target and also ends with `classifier`, which SEQ_CLS saves."""
    hf_config = model_config("bundled/distilbert--distilbert-base-uncased")
    resolution = resolve_targets(_tree("bundled/distilbert--distilbert-base-uncased"), {"target_modules": "all-linear"}, "LORA", "SEQ_CLS")

    assert resolution.error == "`modules_to_save` cannot wrap `pre_classifier`: it is also an adapter target"
    with pytest.raises(TypeError, match="modules_to_save cannot be applied"):
        peft_targets(build_model(hf_config, "SEQ_CLS"), {"target_modules": "all-linear"}, "LORA", "SEQ_CLS")


def test_modules_to_save_cannot_copy_a_module_list(llama: Any) -> None:
    config = {"target_modules": ["lm_head"], "modules_to_save": ["layers"]}
    resolution = resolve_targets(llama, config, "LORA", "CAUSAL_LM")

    assert resolution.error == "`modules_to_save` cannot wrap `model.layers`: it is a ModuleList"
    with pytest.raises(TypeError, match="modules_to_save cannot be applied"):
        peft_targets(build_model(model_config("bundled/meta-llama--Llama-3.2-1B"), "CAUSAL_LM"), config, "LORA", "CAUSAL_LM")


def test_no_default_targets_for_distilbert() -> None:
    resolution = resolve_targets(_tree("bundled/distilbert--distilbert-base-uncased"), {}, "LORA", "SEQ_CLS")

    assert resolution.error == "Please specify `target_modules` in `peft_config`"


def test_tied_output_embedding_is_a_linear_target(llama: Any) -> None:
    resolution = resolve_targets(llama, {"target_modules": ["lm_head"]}, "LORA", "CAUSAL_LM")

    (lm_head,) = resolution.targeted
    assert (lm_head.kind, lm_head.in_features, lm_head.out_features) == ("linear", 2048, 128256)


def test_modules_to_save_entry_that_matches_nothing(llama: Any) -> None:
    resolution = resolve_targets(llama, {"target_modules": ["q_proj"], "modules_to_save": ["classifier"]}, "LORA", None)

    assert resolution.modules_to_save == {"classifier": ()}


def test_v4_expert_names_become_parameter_targets() -> None:
    from transformers import AutoConfig

    hf_config = AutoConfig.for_model(
        "mixtral",
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=101,
        num_local_experts=4,
    )
    tree = module_tree(build_model(hf_config, "CAUSAL_LM"))
    config = {"target_modules": ["q_proj", "w1", "w3", "w2"], "r": 8, "rank_pattern": {"q_proj": 4}}
    resolution = resolve_targets(tree, config, "LORA", "CAUSAL_LM")

    assert resolution.error is None and resolution.unmatched_entries == ()  # v4 names are no typos
    assert resolution.target_modules == ("q_proj",)
    assert resolution.targeted_names == ("model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj")
    assert [(p.key, p.shape, p.nesting) for p in resolution.parameters[:2]] == [
        ("model.layers.0.mlp.experts.gate_up_proj", (4, 192, 64), 1),
        ("model.layers.0.mlp.experts.down_proj", (4, 64, 96), 0),
    ]
    assert resolution.rank_pattern == {"q_proj": 4, r".*\.gate_up_proj": 16}  # the fused pair, at twice the rank
    tuner = peft_model(build_model(hf_config, "CAUSAL_LM"), config, "LORA", "CAUSAL_LM").base_model
    assert set(tuner.targeted_parameter_names) == {p.key for p in resolution.parameters}
    assert tuner.peft_config["default"].rank_pattern == resolution.rank_pattern


def test_unmatched_rank_pattern_key(llama: Any) -> None:
    config = {"target_modules": ["q_proj"], "rank_pattern": {"q_proj": 4, "v_proj": 2}}

    assert resolve_targets(llama, config, "LORA", None).unmatched_pattern_keys == {"rank_pattern": ("v_proj",)}


# --- regex safety ---------------------------------------------------------------------------------


def test_invalid_regex_is_a_pattern_error(llama: Any) -> None:
    with pytest.raises(PatternError, match="invalid regular expression"):
        resolve_targets(llama, {"target_modules": "(q_proj"}, "LORA", None)


def test_overlong_regex_is_refused(llama: Any) -> None:
    with pytest.raises(PatternError, match="longer than"):
        resolve_targets(llama, {"target_modules": "a|" * 600 + "q_proj"}, "LORA", None)


def test_catastrophic_regex_is_interrupted(llama: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "REGEX_DEADLINE_S", 0.2)
    started = time.monotonic()
    with pytest.raises(PatternError, match="took longer"):
        resolve_targets(llama, {"target_modules": "(.|.)*x"}, "LORA", None)  # exponential backtracking
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("peft_type", "targets", "refused"),
    [
        ("LORA", "all-linear", "out_proj"),
        ("ADALORA", ["q_proj", "conv1d"], "conv1d"),
        ("LORA", ["q_proj", "k_proj", "v_proj", "o_proj"], None),
        ("IA3", ["q_proj", "out_proj"], None),  # peft checks LoRA-like methods only
    ],
)
def test_peft_refuses_a_mamba_models_out_proj_and_conv1d(peft_type: str, targets: Any, refused: str | None) -> None:
    from peftlint.enrich.architecture import module_tree_from_config
    from peftlint.enrich.bundled import bundled_config

    tree = module_tree_from_config(bundled_config("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"), "CAUSAL_LM")  # type: ignore[arg-type]
    config = {"target_modules": targets, "feedforward_modules": [], "total_step": 100}
    error = resolve_targets(tree, config, peft_type, "CAUSAL_LM").error
    if refused is None:
        assert error is None
    else:
        assert error is not None and f"Module `{refused}` is incompatible with Mamba-based models" in error
