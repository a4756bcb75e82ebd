"""The peft config schemas (scripts/gen_schemas.py): fresh, valid, and in agreement with peft itself.

peft is the oracle: configs are built and saved by peft, and every constraint the schemas add is
checked against peft at its boundary (peft raises just past it and accepts the value on it).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema_rs
import peft
import pytest
import torch
from peft import inject_adapter_in_model

from tests.generated_versions import version_mismatch

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts" / "gen_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
CONFIG_CLASSES = gen.config_classes()
PEFT_TYPES = sorted(CONFIG_CLASSES)
SCHEMA_FILES = sorted(gen.SCHEMA_DIR.glob("*.schema.json"))

# The arguments without which peft refuses to build a type's config; all other types need none.
REQUIRED_ARGS: dict[str, dict[str, Any]] = {"ADALORA": {"total_step": 1000}, "CPT": {"task_type": "CAUSAL_LM"}}


@cache
def schema(peft_type: str) -> dict[str, Any]:
    return json.loads((gen.SCHEMA_DIR / f"{peft_type}.schema.json").read_text())


@cache
def validator(peft_type: str) -> Any:
    return jsonschema_rs.validator_for(schema(peft_type))


def errors(peft_type: str, document: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return [(list(error.instance_path), error.kind.name) for error in validator(peft_type).iter_errors(document)]


def build(peft_type: str, **overrides: Any) -> Any:
    """The config peft builds from the type's required arguments plus ``overrides``."""
    cls = CONFIG_CLASSES[peft_type]
    config = cls.__new__(cls)
    try:
        config.__init__(**{**REQUIRED_ARGS.get(peft_type, {}), **overrides})
    except ImportError as exc:
        # AdaMSS imports scikit-learn as the very last step of __post_init__, after all of its checks,
        # so the config is complete; scikit-learn is not a test dependency.
        if "scikit-learn" not in str(exc):
            raise
    return config


def saved(config: Any, directory: Path) -> dict[str, Any]:
    """What peft's own save_pretrained writes to adapter_config.json."""
    config.save_pretrained(str(directory))
    return json.loads((directory / "adapter_config.json").read_text())


# --- (a) the committed files are what the generator makes from the pinned peft ---------------------


def test_committed_files_match_the_installed_peft() -> None:
    stale = gen.differences(gen.render_all())
    assert stale == [], f"stale: {[str(p.relative_to(ROOT)) for p in stale]}; run scripts/gen_schemas.py. {version_mismatch()}"


def test_check_mode_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--check"]) == 0, version_mismatch()
    assert capsys.readouterr().err == ""


def test_differences_names_changed_and_vanished_files() -> None:
    rendered = gen.render_all()
    lora, vera = gen.SCHEMA_DIR / "LORA.schema.json", gen.SCHEMA_DIR / "VERA.schema.json"
    rendered[lora] += " "
    del rendered[vera]  # as if peft had dropped VERA: its committed schema is now stale
    assert gen.differences(rendered) == [lora, vera]


def test_every_peft_type_has_a_schema() -> None:
    assert len(PEFT_TYPES) >= 45
    common = {"LORA", "ADALORA", "IA3", "PREFIX_TUNING", "PROMPT_TUNING", "P_TUNING", "LOHA", "LOKR", "VERA", "OFT"}
    assert common | {"BOFT"} <= set(PEFT_TYPES)
    assert [path.name for path in SCHEMA_FILES] == [f"{t}.schema.json" for t in PEFT_TYPES]


def test_cited_lines_must_say_what_the_citation_claims(tmp_path: Path) -> None:
    (tmp_path / "peft").mkdir()
    (tmp_path / "peft" / "moved.py").write_text("x = 1\nif r <= 0: raise\n")
    cited = gen.Constraint("r", {"minimum": 1}, "why", (gen.Source("peft/moved.py", 1, "r <= 0"),))
    with pytest.raises(ValueError, match="peft/moved.py:1"):
        gen.check_sources([cited], tmp_path)
    gen.check_sources([cited._replace(sources=(gen.Source("peft/moved.py", 2, "r <= 0"),))], tmp_path)


# --- (b) every schema is a valid Draft 2020-12 schema, and the index agrees with them ----------------


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name.split(".")[0])
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    document = json.loads(path.read_text())
    jsonschema_rs.meta.validate(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["additionalProperties"] is False
    assert isinstance(jsonschema_rs.validator_for(document), jsonschema_rs.Draft202012Validator)


def test_index_matches_the_schemas() -> None:
    index = json.loads(gen.INDEX_PATH.read_text())
    assert index["peft_version"] == "0.21.2"
    assert sorted(index["types"]) == PEFT_TYPES
    for peft_type, entry in index["types"].items():
        assert entry["keys"] == list(schema(peft_type)["properties"])
        assert entry["class"] == CONFIG_CLASSES[peft_type].__name__ == schema(peft_type)["title"]
        assert index["classes"][entry["class"]] == peft_type
        assert (gen.SCHEMA_DIR / entry["schema"]).is_file()
    for name in ("LoraConfig", "PrefixTuningConfig", "PromptEncoderConfig", "AdaLoraConfig", "IA3Config"):
        assert name in index["classes"]
    assert index["subconfigs"]["LoftQConfig"] == ["ADALORA/loftq_config", "LORA/loftq_config"]
    exported = {name for name in peft.__all__ if name.endswith("Config")}
    assert exported <= set(index["classes"]) | set(index["subconfigs"]) | set(index["base_classes"])


# --- (c) what peft writes, the schema accepts --------------------------------------------------------


@pytest.mark.parametrize("peft_type", PEFT_TYPES)
def test_default_config_saved_by_peft_validates(peft_type: str, tmp_path: Path) -> None:
    document = saved(build(peft_type), tmp_path)
    assert errors(peft_type, document) == []
    # the schema lists exactly what save_pretrained writes (runtime_config: see its $comment)
    assert set(schema(peft_type)["properties"]) - set(document) <= {"runtime_config"}
    assert document["peft_type"] == peft_type


LORA_VARIANTS = {
    "list_targets": {
        "r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"],
        "task_type": "CAUSAL_LM",
    },
    "regex_targets": {
        "target_modules": r".*\.(q|k|v)_proj$", "exclude_modules": ["lm_head"], "task_type": "SEQ_CLS",
        "modules_to_save": ["score"],
    },
    "patterns": {"target_modules": ["q_proj"], "rank_pattern": {"q_proj": 4}, "alpha_pattern": {"layers.0.q": 2.5}},
    "dora": {"use_dora": True, "bias": "lora_only", "target_modules": "all-linear"},
    "pissa_niter": {"init_lora_weights": "pissa_niter_4", "use_rslora": True},
    "lora_ga": {"init_lora_weights": "lora_ga", "lora_ga_config": {"direction": "ArB2r", "stable_gamma": 8}},
    "eva": {"init_lora_weights": "eva", "eva_config": {"rho": 2.0, "tau": 0.9}},
    "gaussian_layers": {
        "init_lora_weights": "gaussian", "target_modules": ["q_proj"], "layers_to_transform": [0, 1],
        "layers_pattern": "layers",
    },
    "replication": {"layer_replication": [[0, 4], [2, 6]], "trainable_token_indices": {"embed_tokens": [1, 2]}},
    "lora_bias": {"lora_bias": True, "init_lora_weights": False, "target_parameters": ["experts.gate_up_proj"]},
    "nested": {"velora_config": {"num_groups": 8}, "arrow_config": {"top_k": 2}, "kasa_config": {"beta": 0.0}},
}  # fmt: skip


@pytest.mark.parametrize("overrides", LORA_VARIANTS.values(), ids=LORA_VARIANTS.keys())
def test_non_default_lora_config_saved_by_peft_validates(overrides: dict[str, Any], tmp_path: Path) -> None:
    assert errors("LORA", saved(build("LORA", **overrides), tmp_path)) == []


def test_lora_alpha_of_a_converted_pissa_adapter_validates(tmp_path: Path) -> None:
    config = build("LORA", init_lora_weights="pissa", use_rslora=True)
    config.lora_alpha *= 2**0.5  # what PeftModel.save_pretrained does when converting PiSSA with rslora
    assert errors("LORA", saved(config, tmp_path)) == []


# --- (d) known-bad values are rejected, at the offending key --------------------------------------------

BAD_LORA_VALUES = [
    ("r", 0, ["r"], "minimum"),
    ("r", "eight", ["r"], "type"),
    ("r", True, ["r"], "type"),  # bool is not an integer
    ("lora_dropout", 1.5, ["lora_dropout"], "exclusiveMaximum"),
    ("lora_dropout", 1.0, ["lora_dropout"], "exclusiveMaximum"),
    ("bias", "some", ["bias"], "enum"),
    ("task_type", "CAUSAL", ["task_type"], "enum"),
    ("peft_type", "LOHA", ["peft_type"], "const"),
    ("lora_aplha", 16, [], "additionalProperties"),
    ("target_modules", ["q_proj", 3], ["target_modules", 1], "type"),
    ("init_lora_weights", "gausian", ["init_lora_weights"], "enum"),
    ("init_lora_weights", "pissa_niter_x", ["init_lora_weights"], "pattern"),
    ("rank_pattern", {"q_proj": 0}, ["rank_pattern", "q_proj"], "minimum"),
    ("layer_replication", [[0, 4, 8]], ["layer_replication", 0], "maxItems"),
    ("eva_config", {"rho": 0.5}, ["eva_config", "rho"], "minimum"),
    ("eva_config", {"rhoo": 2.0}, ["eva_config"], "additionalProperties"),
]


@pytest.mark.parametrize(("key", "value", "path", "kind"), BAD_LORA_VALUES, ids=lambda v: str(v)[:20])
def test_known_bad_lora_value_is_rejected(key: str, value: Any, path: list[Any], kind: str, tmp_path: Path) -> None:
    document = {**saved(build("LORA"), tmp_path), key: value}
    assert errors("LORA", document) == [(path, kind)]


def test_required_fields_are_reported_when_missing(tmp_path: Path) -> None:
    assert errors("CPT", {"peft_type": "CPT"}) == [([], "required")]
    # AdaLoRA's missing total_step is left to rule PL341, which says what the value means: one
    # finding, not a schema error besides
    adalora = saved(build("ADALORA"), tmp_path / "adalora")
    del adalora["total_step"]
    assert errors("ADALORA", adalora) == []


def test_generic_bias_accepts_any_method_only_value(tmp_path: Path) -> None:
    vera = saved(build("VERA"), tmp_path)
    assert errors("VERA", {**vera, "bias": "vera_only"}) == []
    assert errors("VERA", {**vera, "bias": "some"}) == [(["bias"], "pattern")]


# --- every added constraint sits exactly where peft draws the line -----------------------------------

# (type, field, a value peft rejects, the nearest value peft accepts); checked by __post_init__
CONFIG_BOUNDARIES = [
    ("ADALORA", "total_step", 0, 1),
    ("ADALORA", "orth_reg_weight", -0.1, 0.0),
    ("ADALORA", "use_dora", True, False),
    ("CPT", "task_type", "SEQ_CLS", "CAUSAL_LM"),
    ("CARTRIDGE", "num_frozen_tokens", -1, 0),
    ("UNILORA", "bias", "lora_only", "unilora_only"),
    ("UNILORA", "theta_d_length", 0, 1),
    ("UNILORA", "init_theta_d_bound", 0.0, 1e-9),
    ("TINYLORA", "r", 0, 1),
    ("TINYLORA", "u", 0, 1),
    ("TINYLORA", "weight_tying", 1.01, 1.0),
    ("LILY", "stride_A", 0, 1),
    ("LILY", "num_B", 1, 2),
    ("PEANUT", "r", 0, 1),
    ("PEANUT", "depth", -1, 0),
    ("PEANUT", "act_fn", "relu9", "relu2"),
    ("FROD", "sparse_rate", 1.01, 1.0),
    ("SUPERTUNING", "sparsity", 1.0, 0.0),
    ("SUPERTUNING", "r", 0, 1),
    ("SUPERTUNING", "lora_dropout", 1.0, 0.99),
    ("ROAD", "group_size", 3, 2),
    ("ROAD", "variant", "road_3", "road_4"),
    ("GRALORA", "gralora_k", 0, 1),
    ("WAVEFT", "wavelet_family", "db99", "db1"),
    ("DELORA", "r", 0, 1),
    ("PSOFT", "r", 0, 1),
    ("ADAMSS", "init_weights", "svd", False),
    ("GLORA", "config_A_B", "matrix", "none"),
    ("DEFT", "decomposition_method", "svd", "qr"),
    ("LORA", "eva_config", {"rho": 0.99}, {"rho": 1.0}),
    ("LORA", "eva_config", {"tau": 1.01}, {"tau": 1.0}),
    ("LORA", "velora_config", {"num_groups": 0}, {"num_groups": 1}),
    ("LORA", "velora_config", {"scale": 0.0}, {"scale": 1e-9}),
    ("LORA", "arrow_config", {"top_k": 0}, {"top_k": 1}),
    ("LORA", "kasa_config", {"beta": -1e-9}, {"beta": 0.0}),
    ("LORA", "monteclora_config", {"num_samples": 0}, {"num_samples": 1}),
]


@pytest.mark.parametrize(("peft_type", "field", "bad", "good"), CONFIG_BOUNDARIES, ids=lambda v: str(v)[:20])
def test_config_constraint_matches_peft(peft_type: str, field: str, bad: Any, good: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        build(peft_type, **{field: bad})
    document = saved(build(peft_type, **{field: good}), tmp_path)
    assert errors(peft_type, document) == []
    assert errors(peft_type, {**document, field: bad}) != []


class _TwoLinears(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(64, 64)
        self.out = torch.nn.Linear(64, 64)


# (type, field, a value peft rejects, the nearest value it accepts); checked when the adapter is built
LAYER_BOUNDARIES = [
    ("LORA", "r", 0, 1),
    ("LORA", "lora_dropout", 1.01, 0.99),
    ("LORA", "rank_pattern", {"proj": 0}, {"proj": 1}),
    ("LORA", "init_lora_weights", "gausian", "gaussian"),
    ("LOHA", "r", 0, 1),
    ("FOURIERFT", "n_frequency", 0, 1),
    ("C3A", "block_size", 0, 1),
    ("HRA", "r", 0, 1),
    ("MISS", "r", 0, 1),
]


@pytest.mark.parametrize(("peft_type", "field", "bad", "good"), LAYER_BOUNDARIES, ids=lambda v: str(v)[:20])
def test_layer_constraint_matches_peft(peft_type: str, field: str, bad: Any, good: Any, tmp_path: Path) -> None:
    def inject(value: Any) -> None:
        with torch.device("meta"):
            inject_adapter_in_model(build(peft_type, target_modules=["proj"], **{field: value}), _TwoLinears())

    with pytest.raises((ValueError, TypeError)):
        inject(bad)
    inject(good)
    document = saved(build(peft_type, **{field: good}), tmp_path)
    assert errors(peft_type, document) == []
    assert errors(peft_type, {**document, field: bad}) != []


# --- POST_INIT_CHECKS.md lists every check peft's config classes raise on ---------------------------

CHECKS_DOC = gen.SCHEMA_DIR / "POST_INIT_CHECKS.md"
SITE_PACKAGES = Path(peft.__file__).resolve().parents[1]


def _cited_lines() -> set[tuple[str, int]]:
    cited, path = set(), ""
    for match in re.finditer(r"`(peft/[\w/]+\.py)?:(\d+)`", CHECKS_DOC.read_text()):
        path = match.group(1) or path  # "`:146`" continues the file cited just before
        cited.add((path, int(match.group(2))))
    return cited


def _raises_in_config_checks() -> set[tuple[str, int]]:
    raises = set()
    config_modules = [SITE_PACKAGES / "peft" / "config.py", *(SITE_PACKAGES / "peft" / "tuners").glob("*/config.py")]
    for path in config_modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("__post_init__", "check_kwargs"):
                relative = path.relative_to(SITE_PACKAGES).as_posix()
                raises |= {(relative, r.lineno) for r in ast.walk(node) if isinstance(r, ast.Raise)}
    return raises


def test_post_init_checks_doc_cites_every_raise_and_only_raises() -> None:
    cited, raises = _cited_lines(), _raises_in_config_checks()
    assert len(raises) > 100
    assert raises - cited == set(), "raises missing from POST_INIT_CHECKS.md"
    assert cited - raises == set(), "POST_INIT_CHECKS.md cites lines that do not raise"
