"""The Python API: `peftlint.check` and `peftlint.estimate` on paths, mappings and real peft configs."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import peftlint
from peftlint.api import ConfigSourceError, ModelError, SettingsError
from peftlint.enrich.stage import ModelOptions
from peftlint.pipeline import lint_paths

LLAMA = "meta-llama/Llama-3.2-1B"  # bundled: resolved without a network
README = Path(__file__).resolve().parent.parent / "docs" / "integrations.md"  # the manual, moved out of README.md
# the rules these tests use: config and target-module checks (the others have their own tests)
RULES = "PL0,PL1,PL2"
TYPO_YAML = "peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\nlora_dropuot: 0.1\ntarget_modules: [q_proj, v_prj]\n"


def codes(findings: list[peftlint.Finding]) -> list[str]:
    return [f.code for f in findings]


def test_path_gives_what_the_cli_gives(tmp_path: Path) -> None:
    path = tmp_path / "adapter.yaml"
    path.write_text(TYPO_YAML, encoding="utf-8")
    findings = peftlint.check(path, model=LLAMA, select=RULES)
    assert findings == lint_paths([str(path)], select=tuple(RULES.split(",")), model=ModelOptions(model=LLAMA)).findings
    assert [(f.code, f.line) for f in findings] == [("PL001", 5), ("PL210", 6)]
    assert all(f.file == str(path) for f in findings)


def test_folder_and_selection(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(TYPO_YAML, encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"peft_type": "LORA", "r": 256, "lora_alpha": 512}), encoding="utf-8")
    assert set(codes(peftlint.check(str(tmp_path), select=RULES))) == {"PL001", "PL101"}  # no model named: no PL210
    assert codes(peftlint.check(tmp_path, select="PL1")) == ["PL101"]
    assert codes(peftlint.check(tmp_path, select=RULES, ignore=["unknown-key", "PL1"])) == []


def test_mapping_without_a_file() -> None:
    findings = peftlint.check({"r": 8, "lora_alpha": 16, "lora_aplha": 3, "target_modules": {"v_proj", "q_proj"}})
    assert findings == [
        peftlint.Finding(
            code="PL001",
            name="unknown-key",
            severity="error",
            file=None,
            line=None,
            column=None,
            key="lora_aplha",
            message="unknown key `lora_aplha`: did you mean `lora_alpha`?",
            fix="Rename `lora_aplha` to `lora_alpha`",
        )
    ]


def test_peft_config_object_with_and_without_a_model() -> None:
    from peft import LoraConfig

    config = LoraConfig(r=256, lora_alpha=512, target_modules=["q_proj", "v_prj"], task_type="CAUSAL_LM")
    assert codes(peftlint.check(config, select=RULES)) == ["PL101"]  # nothing to match targets against
    with_model = peftlint.check(config, model=LLAMA, select=RULES)
    assert codes(with_model) == ["PL101", "PL210"]
    assert "`v_prj` matches no module of meta-llama/Llama-3.2-1B (llama); did you mean `v_proj`?" in with_model[1].message
    assert all(f.file is None and f.line is None for f in with_model)


def test_model_given_as_config_json_mapping_or_transformers_config() -> None:
    import transformers
    from peft import LoraConfig

    from peftlint.enrich.bundled import bundled_config

    config = LoraConfig(target_modules=["q_proj", "v_prj"], task_type="CAUSAL_LM")
    raw = bundled_config(LLAMA)
    for model in (raw, transformers.AutoConfig.for_model(**raw)):
        assert codes(peftlint.check(config, model=model, select=RULES)) == ["PL210"]


def test_profile_reaches_the_rules() -> None:
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
    assert peftlint.check(config, model="meta-llama/Meta-Llama-3-8B", profile={"gpu_memory": "80GB", "seq_len": 2048}, select="PL401") == []
    too_small = peftlint.check(config, model="meta-llama/Meta-Llama-3-8B", profile={"gpu_memory": "16GB", "seq_len": 2048}, select="PL401")
    assert codes(too_small) == ["PL401"]
    assert "does not fit 16.0 GiB" in too_small[0].message


def test_profile_wins_over_the_files_own_block(tmp_path: Path) -> None:
    path = tmp_path / "adapter.yaml"
    path.write_text(
        "r: 8\nlora_alpha: 16\ntask_type: CAUSAL_LM\ntarget_modules: [q_proj, v_proj]\npeftlint: {gpu_memory: 80GB, seq_len: 2048}\n",
        encoding="utf-8",
    )
    assert peftlint.check(path, model="meta-llama/Meta-Llama-3-8B", select="PL401") == []
    assert codes(peftlint.check(path, model="meta-llama/Meta-Llama-3-8B", profile={"gpu_memory": "16GB"}, select="PL401")) == ["PL401"]


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "says"),
    [
        ("no/such/adapter.yaml", {}, ConfigSourceError, "no such file or folder"),
        ({"learning_rate": 1e-4}, {}, ConfigSourceError, "not a PEFT config"),
        ({"r": 8, "lora_alpha": 16, "target_modules": [object()]}, {}, ConfigSourceError, "`target_modules.0` holds a object"),
        ({"r": 8, "lora_alpha": 16}, {"model": "no/such/folder/"}, ModelError, "no such file"),
        ({"r": 8, "lora_alpha": 16}, {"model": {"hidden_size": 8}}, ModelError, "no `model_type`"),
        ({"r": 8, "lora_alpha": 16}, {"profile": {"gpu_memory": "lots"}}, SettingsError, "`gpu_memory` must be a size"),
        ({"r": 8, "lora_alpha": 16}, {"profile": "gpu-poor"}, SettingsError, "no profile `gpu-poor`"),
    ],
)
def test_errors_are_exceptions_that_say_what_is_wrong(source: object, kwargs: dict, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=re.escape(says)):
        peftlint.check(source, **kwargs)  # type: ignore[arg-type]
    assert issubclass(error, peftlint.PeftlintError)


def peft_counts(model_id: str, config: object) -> tuple[int, int]:
    """The oracle: peft's own numbers, on the meta device."""
    import torch
    import transformers
    from peft import get_peft_model

    from peftlint.enrich.bundled import bundled_config

    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**bundled_config(model_id)))
    return get_peft_model(model, config).get_nb_trainable_parameters()


def test_estimate_counts_equal_peft() -> None:
    from peft import LoraConfig

    def config() -> LoraConfig:  # peft's get_peft_model mutates the config it is given
        return LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")

    result = peftlint.estimate(config(), model=LLAMA, seq_len=1024, gradient_checkpointing=True)
    assert isinstance(result, peftlint.Estimate)
    assert (result.trainable_params, result.total_params) == peft_counts(LLAMA, config())
    assert result.memory is not None
    assert result.findings == []


def test_estimate_is_the_cli_json_contract(tmp_path: Path) -> None:
    path = tmp_path / "adapter.yaml"
    path.write_text("peft_type: LORA\ntask_type: CAUSAL_LM\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n", encoding="utf-8")
    args = ["--model", LLAMA, "--seq-len", "2048", "--load-in-4bit", "--optimizer", "paged_adamw_8bit", "--gpu-memory", "24GB"]
    cli = subprocess.run(
        [sys.executable, "-m", "peftlint", "estimate", str(path), "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = peftlint.estimate(path, model=LLAMA, seq_len=2048, quantization="4bit", optimizer="paged_adamw_8bit", gpu_memory="24GB")
    assert result.to_dict() == json.loads(cli.stdout)


def test_estimate_of_a_rejected_config_and_its_errors() -> None:
    rejected = peftlint.estimate({"r": 8, "target_modules": ["q_proj"]}, model="google-bert/bert-base-uncased")
    assert rejected.trainable_params is None and rejected.memory is None
    assert [f.code for f in rejected.findings] == ["PL210"]
    with pytest.raises(ModelError, match="no base model"):
        peftlint.estimate({"r": 8, "lora_alpha": 16})
    with pytest.raises(SettingsError, match="unknown dtype `fp8`"):
        peftlint.estimate({"r": 8, "lora_alpha": 16}, model=LLAMA, dtype="fp8")
    with pytest.raises(SettingsError, match="seq_len must be a positive integer"):
        peftlint.estimate({"r": 8, "lora_alpha": 16}, model=LLAMA, seq_len=0)


def test_importing_peftlint_and_checking_needs_no_torch() -> None:
    code = (
        "import sys, peftlint, peftlint.integrations\n"
        f"peftlint.check({{'r': 8, 'lora_alpha': 16, 'target_modules': ['q_proj', 'v_proj']}}, model='{LLAMA}')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'peft')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_api_functions_stay_functions_after_the_commands_are_imported() -> None:
    # a submodule named like an API function (peftlint/estimate.py) would replace the function on
    # the package as soon as it is imported: the modules are estimation.py and recommendation.py
    code = (
        "import peftlint.cli.estimate, peftlint.cli.recommend, peftlint.api, peftlint\n"
        "print(*(getattr(peftlint, name).__module__ for name in ('check', 'estimate', 'recommend')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["peftlint.api"] * 3


def readme_block(title: str, index: int = 0) -> str:
    """A python block of a README section (the first one by default)."""
    section = README.read_text(encoding="utf-8").split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)[index]


def test_readme_api_example_runs() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_block("Python API and training callback"), "docs/integrations.md", "exec"), {})
    assert "PL210 error" in out.getvalue() and "trainable" in out.getvalue()


def test_recommend_gives_the_config_the_command_writes() -> None:
    import peftlint

    result = peftlint.recommend("meta-llama/Llama-3.2-1B", profile={"task": "classification", "gpu_memory": "24GB"})
    assert result.file_mapping()["peft_type"] == "LORA"
    assert result.rationale and all(reason.source for reason in result.rationale)
    assert result.estimate.trainable_params and result.estimate.memory["total_bytes"] < 24 * 1024**3
    from peftlint.recommender import Recommendation

    assert isinstance(result, Recommendation)


def test_recommend_reports_a_budget_nothing_fits() -> None:
    import peftlint
    from peftlint.api import RecommendationFailed

    with pytest.raises(RecommendationFailed, match="GiB"):
        peftlint.recommend("meta-llama/Llama-2-70b-hf", profile={"task": "instruction", "gpu_memory": "8GB", "seq_len": 4096})


# Every error the API raises is a PeftlintError: (function, arguments, the error, what it says).
API_MISUSES = [
    ("check", ("no/such/adapter.yaml",), {}, ConfigSourceError, "no such file or folder"),
    ("check", ({"r": 8, "lora_alpha": 16},), {"select": "PL1O1"}, SettingsError, "did you mean `PL101`"),
    ("check", ({"r": 8, "lora_alpha": 16},), {"peft_version": "banana"}, SettingsError, "banana"),
    ("check", (42,), {}, TypeError, "source must be a path"),
    ("check", ({"r": 8, "lora_alpha": 16},), {"model": 42}, TypeError, "model must be a Hub id"),
    ("estimate", ("no/such/adapter.yaml",), {}, ConfigSourceError, "no/such/adapter.yaml"),
    ("estimate", ({"r": 8, "lora_alpha": 16},), {"model": LLAMA, "optimizer": "adamz"}, SettingsError, "adamz"),
    ("estimate", ({"r": 8, "lora_alpha": 16},), {"model": "no/such/folder/"}, ModelError, "no such file"),
    (
        "recommend",
        ("google-bert/bert-base-uncased",),
        {"dialect": "axolotl"},
        peftlint.api.RecommendationFailed,
        "axolotl trains causal language models",
    ),
    ("recommend", (LLAMA,), {"dialect": "torchtune"}, SettingsError, "dialect `torchtune` is not one of"),
    ("recommend", (LLAMA,), {"profile": {"num_gpus": 2, "strategy": "single"}}, SettingsError, "runs on one GPU"),
    ("recommend", (LLAMA,), {"profile": "gpu-poor"}, SettingsError, "no profile `gpu-poor`"),
    ("recommend", ("no/such/folder/",), {}, ModelError, "no such file"),
]


@pytest.mark.parametrize(("function", "args", "kwargs", "error", "says"), API_MISUSES, ids=[f"{m[0]}-{m[4][:24]}" for m in API_MISUSES])
def test_every_api_error_is_a_peftlint_error(function: str, args: tuple, kwargs: dict, error: type[Exception], says: str) -> None:
    with pytest.raises(peftlint.PeftlintError, match=re.escape(says)) as caught:
        getattr(peftlint, function)(*args, **kwargs)
    assert isinstance(caught.value, error)  # a wrong kind of argument stays a TypeError as well


def test_api_all_lists_what_is_public() -> None:
    import peftlint.api

    # what the API module defines (its errors are defined one floor down) and does not hide
    defined = {
        name
        for name, value in vars(peftlint.api).items()
        if not name.startswith("_") and getattr(value, "__module__", None) in ("peftlint.api", "peftlint.errors")
    }
    assert set(peftlint.api.__all__) == defined | {"Finding"}
    errors = [
        value for value in map(vars(peftlint.api).get, peftlint.api.__all__) if isinstance(value, type) and issubclass(value, Exception)
    ]
    assert {e.__name__ for e in errors} == {
        "ArgumentTypeError",
        "ConfigSourceError",
        "LintFailed",
        "ModelError",
        "PeftlintError",
        "RecommendationFailed",
        "SettingsError",
    }
    assert all(issubclass(e, peftlint.PeftlintError) for e in errors)
    assert {"check", "estimate", "recommend"} <= set(peftlint.api.__all__)
