"""PeftLintCallback with the real Trainer: a tiny random Llama on CPU, one step at most."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from peftlint.api import LintFailed, SettingsError
from tests.integrations.test_live_model import tiny_llama
from tests.test_api import readme_block

GOOD = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
# peft adapts q_proj and passes over `v_prj` without a word: only half the intended layers train
TYPO = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_prj"]}
HIGH_DROPOUT = {**GOOD, "lora_dropout": 0.5}  # a warning (PL103), no error
RULES = "PL0,PL1,PL2"  # config and target-module checks: the rules these tests are about


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "peftlint" in record.getMessage():
            self.records.append(record)


@pytest.fixture
def trainer_log() -> Iterator[list[logging.LogRecord]]:
    """peftlint's records on the Trainer's logger (which propagates to the root only on CI), at
    transformers' default verbosity (other code may have changed it: it is process-wide)."""
    from transformers.utils import logging as transformers_logging

    handler, logger = Records(), logging.getLogger("transformers.trainer")
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_warning()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    transformers_logging.set_verbosity(verbosity)


def train(tmp_path: Path, config: dict[str, Any], callback: Any) -> Any:
    """A Trainer over a fresh tiny model with `config`; `train()` runs at most one optimizer step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments

    model = get_peft_model(tiny_llama(), LoraConfig(task_type="CAUSAL_LM", **config))
    tokens = torch.arange(16) % 128
    data = [{"input_ids": tokens, "labels": tokens}] * 4
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2, report_to=[], use_cpu=True, save_strategy="no"
    )
    return Trainer(model=model, args=args, train_dataset=data, callbacks=[callback])


def stepped(trainer: Any) -> bool:
    """Did the optimizer change the adapter? LoRA's B matrices start at zero."""
    lora_b = [p for name, p in trainer.model.named_parameters() if "lora_B" in name]
    return any(bool(p.abs().sum() > 0) for p in lora_b) and len(trainer.optimizer.state) > 0


def test_error_stops_before_the_first_step(tmp_path: Path, trainer_log: list[logging.LogRecord]) -> None:
    from peftlint.integrations.transformers import PeftLintCallback

    trainer = train(tmp_path, TYPO, PeftLintCallback(select=RULES))
    with pytest.raises(
        LintFailed, match=r"1 finding\(s\) at or above `error` \(PL210\): training stopped before the first step"
    ) as failure:
        trainer.train()
    assert [f.code for f in failure.value.findings] == ["PL210"]
    assert trainer.state.global_step == 0 and not stepped(trainer)
    [record] = trainer_log
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("peftlint: adapter `default`: PL210 [error] `target_modules")
    assert "`target_modules` entry `v_prj` matches no module of the loaded model (llama)" in record.getMessage()
    assert "did you mean `v_proj`?" in record.getMessage()


def test_good_config_trains(tmp_path: Path, trainer_log: list[logging.LogRecord]) -> None:
    from peftlint.integrations.transformers import PeftLintCallback

    trainer = train(tmp_path, GOOD, PeftLintCallback(select=RULES))
    trainer.train()
    assert trainer.state.global_step == 1 and stepped(trainer)
    assert trainer_log == []  # "no findings" is info: below the default verbosity


@pytest.mark.parametrize(
    ("config", "fail_on", "trains", "logged"),
    [
        (TYPO, "never", True, [(logging.ERROR, "PL210")]),
        (HIGH_DROPOUT, "error", True, [(logging.WARNING, "PL103")]),
        (HIGH_DROPOUT, "warning", False, [(logging.WARNING, "PL103")]),
    ],
)
def test_fail_on(
    tmp_path: Path, trainer_log: list[logging.LogRecord], config: dict[str, Any], fail_on: str, trains: bool, logged: list[tuple[int, str]]
) -> None:
    from peftlint.integrations.transformers import PeftLintCallback

    trainer = train(tmp_path, config, PeftLintCallback(fail_on=fail_on, select=RULES))
    if trains:
        trainer.train()
    else:
        with pytest.raises(LintFailed):
            trainer.train()
    assert stepped(trainer) is trains
    assert [(r.levelno, r.getMessage().split()[3]) for r in trainer_log] == logged


def test_select_and_ignore_reach_the_check(tmp_path: Path) -> None:
    from peftlint.integrations.transformers import PeftLintCallback

    trainer = train(tmp_path, TYPO, PeftLintCallback(select=RULES, ignore="target-module-not-found"))
    trainer.train()
    assert trainer.state.global_step == 1


def test_invalid_fail_on() -> None:
    from peftlint.integrations.transformers import PeftLintCallback

    with pytest.raises(SettingsError, match="fail_on `errors` is not one of error, warning, info, never"):
        PeftLintCallback(fail_on="errors")


def test_only_the_integration_imports_transformers() -> None:
    code = "import sys, peftlint.integrations\nbefore = 'transformers' in sys.modules\nimport peftlint.integrations.transformers\nprint(before, 'transformers' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["False", "True"]


def test_readme_callback_example_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes its output_dir where it runs
    namespace: dict[str, Any] = {}
    exec(compile(readme_block("Python API and training callback", index=1), "docs/integrations.md", "exec"), namespace)
    assert namespace["trainer"].state.global_step == 1
