"""`PeftLintCallback`: lint the live `PeftModel` when a transformers `Trainer` starts training.

Torch-side: importing this module imports transformers.
"""

from __future__ import annotations

import logging as std_logging
from typing import Any, Iterable, Mapping

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.utils import logging

from peftlint.api import LintFailed, SettingsError, check
from peftlint.finding import Finding
from peftlint.settings.config import FAIL_ON_CHOICES, fails

# the Trainer's own logger: `log_level` and `transformers.logging.set_verbosity_*` apply to it
logger = logging.get_logger("transformers.trainer")
LOG_LEVELS = {"error": std_logging.ERROR, "warning": std_logging.WARNING, "info": std_logging.INFO}


class PeftLintCallback(TrainerCallback):
    """Checks every adapter config of the model against the loaded base model before training.

    Each finding is logged at its own level. With findings at or above `fail_on` ("error",
    "warning", "info"; "never" only logs), `on_train_begin` raises `peftlint.api.LintFailed`, so
    `trainer.train()` stops before the first step: the Trainer checks
    `control.should_training_stop` only after a step, so setting it would still run one.
    """

    def __init__(
        self,
        fail_on: str = "error",
        *,
        select: str | Iterable[str] | None = None,
        ignore: str | Iterable[str] | None = None,
        profile: Mapping[str, Any] | None = None,
    ):
        if fail_on not in FAIL_ON_CHOICES:
            raise SettingsError(f"fail_on `{fail_on}` is not one of {', '.join(FAIL_ON_CHOICES)}")
        self.fail_on = fail_on
        self.select = select
        self.ignore = ignore
        self.profile = profile

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        adapters = getattr(model, "peft_config", None)
        if not isinstance(adapters, Mapping):
            logger.warning("peftlint: the model is not a PeftModel: no adapter config to check")
            return
        failing: list[Finding] = []
        for name, config in adapters.items():
            findings = check(config, model=model, profile=self.profile, select=self.select, ignore=self.ignore)
            for finding in findings:
                logger.log(LOG_LEVELS[finding.severity], "peftlint: adapter `%s`: %s", name, _describe(finding))
            if not findings:
                logger.info("peftlint: adapter `%s`: no findings", name)
            failing += [f for f in findings if fails(f, self.fail_on)]
        if failing:
            codes = ", ".join(sorted({f.code for f in failing}))
            raise LintFailed(
                f"peftlint: {len(failing)} finding(s) at or above `{self.fail_on}` ({codes}): training stopped before the first step",
                failing,
            )


def _describe(finding: Finding) -> str:
    key = f" `{finding.key}`" if finding.key else ""
    fix = f" (fix: {finding.fix})" if finding.fix else ""
    return f"{finding.code} [{finding.severity}]{key}: {finding.message}{fix}"
