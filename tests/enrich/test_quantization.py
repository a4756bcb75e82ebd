"""A pre-quantised base model (GPTQ, AWQ, AQLM, bitsandbytes uploads): read from its config.json's
`quantization_config`, sized as its checkpoint stores it, or withheld when peftlint cannot size it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from peftlint import api
from peftlint.enrich.bundled import bundled_config
from peftlint.enrich.memory import ModelDims, estimate_inference_memory, estimate_training_memory
from peftlint.enrich.quantization import BaseQuantization, base_quantization
from peftlint.resources import data_dir

MODELS_DIR = data_dir() / "models"
CORPUS = Path(__file__).resolve().parents[1] / "corpus"
LLAMA_FACTORY = CORPUS / "llama-factory/hiyouga--LLaMA-Factory/examples"
GPTQ_FILE = LLAMA_FACTORY / "train_qlora/llama3_lora_sft_gptq.yaml"
AWQ_FILE = LLAMA_FACTORY / "train_qlora/llama3_lora_sft_awq.yaml"
AQLM_FILE = LLAMA_FACTORY / "train_qlora/llama3_lora_sft_aqlm.yaml"
LLAMA3_INSTRUCT = "meta-llama/Meta-Llama-3-8B-Instruct"

# TechxGenus/Meta-Llama-3-8B-Instruct-GPTQ's quantize_config.json (commit 94acc5c), as recorded
TECHXGENUS_GPTQ = json.loads((MODELS_DIR / "prequantized.json").read_text(encoding="utf-8"))["TechxGenus/Meta-Llama-3-8B-Instruct-GPTQ"]


def quantized(settings: dict[str, Any]) -> BaseQuantization | None:
    return base_quantization({"model_type": "llama", "quantization_config": settings})


# --- the fact ----------------------------------------------------------------------------------


def test_a_16_bit_checkpoint_has_no_base_quantization() -> None:
    assert base_quantization(bundled_config(LLAMA3_INSTRUCT) or {}) is None


def test_gptq_quantization_config_is_read_as_method_bits_and_group_size() -> None:
    gptq = quantized(TECHXGENUS_GPTQ)
    assert gptq == BaseQuantization("gptq", 4, 128, True)
    assert gptq.describe() == "GPTQ 4-bit, groups of 128"
    per_channel = quantized({"quant_method": "gptq", "bits": 8, "group_size": -1})
    assert per_channel is not None and per_channel.modelled and per_channel.group_size is None
    assert quantized({"quant_method": "gptq", "bits": 4, "group_size": 128, "lm_head": True}).quantize_lm_head  # type: ignore[union-attr]


def test_awq_reads_autoawq_spellings_and_transformers_defaults() -> None:
    legacy = quantized({"quant_method": "awq", "w_bit": 4, "q_group_size": 64, "version": "GEMM", "zero_point": True})
    assert legacy == BaseQuantization("awq", 4, 64, True)
    assert quantized({"quant_method": "awq", "bits": 4}) == BaseQuantization("awq", 4, 128, True)  # AwqConfig's defaults
    gemv = quantized({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"})
    assert gemv is not None and not gemv.modelled and "gemv" in gemv.reason


def test_aqlm_reads_its_codebooks_with_transformers_defaults() -> None:
    recorded = json.loads((MODELS_DIR / "prequantized.json").read_text(encoding="utf-8"))[
        "ISTA-DASLab/Meta-Llama-3-8B-Instruct-AQLM-2Bit-1x16"
    ]
    one_by_16 = BaseQuantization("aqlm", 2, 8, True, codebooks=(8, 1, 1, 16))
    assert quantized(recorded) == quantized({"quant_method": "aqlm"}) == one_by_16  # AqlmConfig's defaults
    assert one_by_16.describe() == "AQLM 1x16, groups of 1x8"
    kept = ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight", "lm_head.weight"]
    two_by_8 = quantized({"quant_method": "aqlm", "num_codebooks": 2, "nbits_per_codebook": 8, "linear_weights_not_to_quantize": kept})
    assert two_by_8 == BaseQuantization("aqlm", 2, 8, True, codebooks=(8, 1, 2, 8))


@pytest.mark.parametrize(
    ("settings", "bits", "double_quant"),
    [
        ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_use_double_quant": True}, 4, True),
        ({"quant_method": "bitsandbytes", "_load_in_4bit": True, "load_in_4bit": True}, 4, False),
        ({"quant_method": "bitsandbytes", "load_in_8bit": True}, 8, False),
        ({"load_in_4bit": True, "load_in_8bit": False}, 4, False),  # written before transformers added quant_method
        # as unsloth's uploads write it (a fine-tune's config.json that kept unsloth/Llama-3.2-1B-Instruct-bnb-4bit's)
        (
            {
                "quant_method": "bitsandbytes",
                "load_in_4bit": True,
                "bnb_4bit_use_double_quant": True,
                "llm_int8_skip_modules": ["lm_head", "multi_modal_projector", "merger", "modality_projection"],
            },
            4,
            True,
        ),
    ],
)
def test_bitsandbytes_uploads_are_read_as_4_or_8_bit(settings: dict[str, Any], bits: int, double_quant: bool) -> None:
    assert quantized(settings) == BaseQuantization("bitsandbytes", bits, None, True, double_quant=double_quant)


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (
            {"quant_method": "aqlm", "linear_weights_not_to_quantize": ["model.layers.0.mlp.down_proj.weight"]},
            "linear_weights_not_to_quantize",
        ),
        ({"quant_method": "aqlm", "in_group_size": 0}, "in_group_size=0"),
        ({"quant_method": "hqq", "nbits": 4}, "HQQ"),
        ({"quant_method": "gptq", "bits": 5, "group_size": 128}, "bits=5"),
        ({"quant_method": "gptq", "bits": 4}, "group_size=None"),
        ({"quant_method": "awq", "bits": 4, "group_size": 128, "modules_to_not_convert": ["gate"]}, "modules_to_not_convert"),
        ({"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"}, "marlin"),
        ({"quant_method": "fp8"}, "FP8"),
        ({"quant_method": "bitsandbytes"}, "neither"),
        (
            {"quant_method": "bitsandbytes", "load_in_4bit": True, "llm_int8_skip_modules": ["model.layers.1.mlp.down_proj"]},
            "llm_int8_skip_modules",
        ),
        ("4bit", "not an object"),
    ],
)
def test_a_storage_peftlint_cannot_size_is_marked_with_its_reason(settings: Any, said: str) -> None:
    base = quantized(settings)
    assert base is not None and not base.modelled and said in base.reason


# --- the memory of a packed checkpoint ---------------------------------------------------------

LLAMA3 = ModelDims.from_config(bundled_config(LLAMA3_INSTRUCT) or {})
LLAMA3_TOTAL = 8_030_261_248  # Meta-Llama-3-8B's parameters (embeddings, blocks, norms, untied head)


def autogptq_bytes(in_features: int, out_features: int, bits: int = 4, group: int = 128) -> int:
    """One QuantLinear's buffers, written out from AutoGPTQ's shapes (qlinear_exllama.py)."""
    groups = -(-in_features // group)
    return (
        (in_features // 32 * bits) * out_features * 4  # qweight, int32
        + groups * (out_features // 32 * bits) * 4  # qzeros, int32
        + groups * out_features * 2  # scales, fp16
        + in_features * 4  # g_idx, int32
    )


def autoawq_bytes(in_features: int, out_features: int, group: int = 128) -> int:
    """One WQLinear_GEMM's buffers (AutoAWQ awq/modules/linear/gemm.py), 4-bit."""
    return (
        in_features * (out_features // 8) * 4 + (in_features // group) * (out_features // 8) * 4 + (in_features // group) * out_features * 2
    )


# Llama 3 8B's block Linears: q, k, v, o, gate, up, down, 32 layers
LLAMA3_LINEARS = [(4096, 4096), (4096, 1024), (4096, 1024), (4096, 4096), (4096, 14336), (4096, 14336), (14336, 4096)]


def train(**kwargs: Any) -> Any:
    settings: dict[str, Any] = {"total_params": LLAMA3_TOTAL, "trainable_params": 20_971_520, "seq_len": 2048}
    return estimate_training_memory(LLAMA3, **{**settings, **kwargs})


def test_a_gptq_8b_base_is_its_packed_weights_plus_16_bit_embeddings_head_and_norms() -> None:
    gptq = train(prequantized=quantized(TECHXGENUS_GPTQ))
    plain = train()
    packed = 32 * sum(autogptq_bytes(i, o) for i, o in LLAMA3_LINEARS)
    linear_params = 32 * sum(i * o for i, o in LLAMA3_LINEARS)
    frozen = LLAMA3_TOTAL - 20_971_520
    assert gptq.breakdown["base_weights"] == packed + (frozen - linear_params) * 2
    assert plain.breakdown["base_weights"] == frozen * 2
    assert plain.breakdown["base_weights"] > 2.7 * gptq.breakdown["base_weights"]  # 15.0 GiB against 5.3 GiB
    assert plain.total_bytes - gptq.total_bytes > 9 * 1024**3
    assert gptq.assumptions["weights"].startswith("pre-quantized GPTQ 4-bit, groups of 128")
    # no bitsandbytes terms: the packed kernels keep no dequantized copy and no fp32 upcast
    assert "dequantized_weight" not in gptq.breakdown
    assert gptq.assumptions["unquantized_weights"] == "bf16 (as loaded)"


def test_awq_packs_like_autoawq_gemm_and_lower_bits_pack_tighter() -> None:
    awq = train(prequantized=quantized({"quant_method": "awq", "bits": 4, "group_size": 128}))
    packed = 32 * sum(autoawq_bytes(i, o) for i, o in LLAMA3_LINEARS)
    linear_params = 32 * sum(i * o for i, o in LLAMA3_LINEARS)
    assert awq.breakdown["base_weights"] == packed + (LLAMA3_TOTAL - 20_971_520 - linear_params) * 2
    bases = [
        train(prequantized=quantized({"quant_method": "gptq", "bits": b, "group_size": 128})).breakdown["base_weights"]
        for b in (2, 3, 4, 8)
    ]
    assert bases == sorted(bases) and len(set(bases)) == 4


@pytest.mark.parametrize(
    ("model_id", "settings", "published"),
    [
        # model.safetensors of TechxGenus/Meta-Llama-3-8B-Instruct-GPTQ: 5.74 GB (its Hub file list)
        (LLAMA3_INSTRUCT, {"quant_method": "gptq", "bits": 4, "group_size": 128}, 5.74e9),
        # its AWQ sibling's two shards: 4.68 GB + 1.05 GB
        (LLAMA3_INSTRUCT, {"quant_method": "awq", "bits": 4, "group_size": 128}, 4.68e9 + 1.05e9),
        # Neko-Institute-of-Science/LLaMA-7B-4bit-128g: llama-7b-4bit-128g.safetensors, 3.89 GB
        ("huggyllama/llama-7b", {"quant_method": "gptq", "bits": 4, "group_size": 128}, 3.89e9),
        # ISTA-DASLab/Meta-Llama-3-8B-Instruct-AQLM-2Bit-1x16: model.safetensors, 4.08 GB
        (LLAMA3_INSTRUCT, {"quant_method": "aqlm", "num_codebooks": 1, "nbits_per_codebook": 16}, 4.08e9),
    ],
)
def test_the_packed_base_weighs_what_the_published_checkpoint_weighs(model_id: str, settings: dict[str, Any], published: float) -> None:
    """Inference at batch 1 holds the base weights once: they must be the checkpoint's bytes."""
    config = bundled_config(model_id) or {}
    dims = ModelDims.from_config(config)
    total = {LLAMA3_INSTRUCT: LLAMA3_TOTAL, "huggyllama/llama-7b": 6_738_415_616}[model_id]
    weights = estimate_inference_memory(dims, total_params=total, prequantized=quantized(settings)).breakdown["base_weights"]
    assert weights == pytest.approx(published, rel=0.005)


def test_a_packed_base_is_not_quantized_again_nor_fully_fine_tuned() -> None:
    gptq = quantized(TECHXGENUS_GPTQ)
    with pytest.raises(ValueError, match="not quantized again"):
        train(prequantized=gptq, quantization="4bit")
    with pytest.raises(ValueError, match="cannot be fully fine-tuned"):
        train(prequantized=gptq, peft_type=None, trainable_params=LLAMA3_TOTAL)
    moe = ModelDims.from_config(bundled_config("mistralai/Mixtral-8x7B-v0.1") or {})
    with pytest.raises(ValueError, match="mixture of experts"):
        estimate_training_memory(moe, total_params=46_702_792_704, trainable_params=1, prequantized=gptq)
    with pytest.raises(ValueError, match="HQQ"):
        train(prequantized=quantized({"quant_method": "hqq"}))


# --- through the lint and the estimate ----------------------------------------------------------


def test_bundled_re_uploads_carry_the_quantization_config_their_config_json_has() -> None:
    recorded = json.loads((MODELS_DIR / "prequantized.json").read_text(encoding="utf-8"))
    mirrors = json.loads((MODELS_DIR / "mirrors.json").read_text(encoding="utf-8"))
    documented = (MODELS_DIR / "MIRRORS.md").read_text(encoding="utf-8")
    assert len(recorded) >= 4
    for model_id, settings in recorded.items():
        assert model_id in mirrors and f"| `{model_id}` | `{mirrors[model_id]}` |" in documented
        config = bundled_config(model_id.upper())  # any case, as an adapter names it
        assert config == {**(bundled_config(mirrors[model_id]) or {}), "quantization_config": settings}
        assert base_quantization(config) is not None
    assert "quantization_config" not in (bundled_config(LLAMA3_INSTRUCT) or {})


def test_a_gptq_base_keeps_the_originals_counts_and_halves_the_peak() -> None:
    packed = api.estimate(GPTQ_FILE)
    original = api.estimate(GPTQ_FILE, model=LLAMA3_INSTRUCT)
    assert (
        (packed.trainable_params, packed.total_params) == (original.trainable_params, original.total_params) == (20_971_520, 8_051_232_768)
    )
    assert packed.memory is not None and original.memory is not None
    assert packed.memory["breakdown"]["base_weights"] == 5_732_835_328
    assert original.memory["breakdown"]["base_weights"] > 2.5 * packed.memory["breakdown"]["base_weights"]
    assert packed.inference is not None and packed.inference["unmerged"]["breakdown"]["base_weights"] < 6e9


def aqlm_bytes(in_features: int, out_features: int) -> int:
    """One AQLM QuantizedLinear 1x16, groups of 1 x 8 (aqlm/inference.py), in bytes."""
    codebooks = 1 * 2**16 * 1 * 8 * 2  # fp16 (num_codebooks, codebook_size, out_group, in_group)
    codes = out_features * (in_features // 8) * 1 * 2  # int16 (out groups, in groups, num_codebooks)
    return codebooks + codes + out_features * 2  # fp16 scales (out groups, 1, 1, 1)


def test_an_aqlm_base_is_its_codes_codebooks_and_scales() -> None:
    result = api.estimate(AQLM_FILE)
    assert result.trainable_params == 20_971_520  # LoRA on AQLM's QuantizedLinear: the original's shapes
    assert result.memory is not None and result.inference is not None
    linear_params = 32 * sum(i * o for i, o in LLAMA3_LINEARS)
    expected = 32 * sum(aqlm_bytes(i, o) for i, o in LLAMA3_LINEARS) + (8_051_232_768 - 20_971_520 - linear_params) * 2
    assert result.memory["breakdown"]["base_weights"] == expected == 4_084_342_784
    assert result.memory["assumptions"]["weights"].startswith("pre-quantized AQLM 1x16")


def test_a_storage_not_modelled_gets_no_memory_figure_and_no_fit_finding(tmp_path: Path) -> None:
    config = {**(bundled_config(LLAMA3_INSTRUCT) or {}), "quantization_config": {"quant_method": "hqq", "nbits": 4}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = api.estimate(AQLM_FILE, model=str(tmp_path), gpu_memory="1GB")
    assert result.trainable_params == 20_971_520 and result.memory is None and result.inference is None
    assert any("HQQ" in w and "16-bit figure would overstate it" in w for w in result.warnings)
    assert not any(f.code.startswith("PL4") for f in result.findings)
    codes = {f.code for f in api.check(AQLM_FILE, model=str(tmp_path), profile={"gpu_memory": "1GB"})}
    assert not codes & {"PL401", "PL402", "PL403", "PL404", "PL608"}


@pytest.mark.parametrize("path", [GPTQ_FILE, AWQ_FILE, AQLM_FILE])
def test_no_fit_rule_fires_on_a_base_that_fits_packed_or_has_no_estimate(path: Path) -> None:
    """12 GB holds the packed runs (11.2, 9.1 and 9.6 GiB); counted in 16-bit they would not fit."""
    codes = {f.code for f in api.check(path, profile={"gpu_memory": "12GB"})}
    assert not codes & {"PL401", "PL402", "PL403", "PL404", "PL608"}


def test_a_base_too_big_even_packed_is_still_reported() -> None:
    findings = [f for f in api.check(GPTQ_FILE, profile={"gpu_memory": "8GB"}) if f.code == "PL401"]
    assert len(findings) == 1 and "11.2 GiB" in findings[0].message and "4-bit QLoRA:" not in findings[0].message


def test_a_bitsandbytes_upload_is_estimated_as_loaded_4_bit(tmp_path: Path) -> None:
    config = {**(bundled_config(LLAMA3_INSTRUCT) or {}), "quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    upload = api.estimate(AWQ_FILE, model=str(tmp_path))
    qlora = api.estimate(AWQ_FILE, model=LLAMA3_INSTRUCT, quantization="4bit")
    assert upload.memory is not None and qlora.memory is not None
    # the training file asks for no quantization; the upload's own config makes it 4-bit (no double quantization)
    assert upload.memory["assumptions"]["weights"] == "bitsandbytes 4-bit nf4/fp4, blocks of 64, fp32 absmax"
    assert upload.memory["breakdown"]["base_weights"] > qlora.memory["breakdown"]["base_weights"]  # double-quantized: smaller
    plain = api.estimate(AWQ_FILE, model=LLAMA3_INSTRUCT).memory
    # 4-bit blocks, with embeddings and head upcast to fp32 as prepare_model_for_kbit_training does
    assert plain is not None and upload.memory["breakdown"]["base_weights"] < 0.55 * plain["breakdown"]["base_weights"]


def test_peftlint_estimate_names_the_storage_it_counted(capsys: pytest.CaptureFixture[str]) -> None:
    from peftlint.cli import main

    main(["estimate", str(GPTQ_FILE)])
    peak = next(line for line in capsys.readouterr().out.splitlines() if "training peak" in line)
    assert "11.2 GiB  (bf16, pre-quantized GPTQ 4-bit, groups of 128, adamw," in peak
