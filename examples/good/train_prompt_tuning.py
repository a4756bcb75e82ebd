"""Prompt tuning, built in a training script: peftlint reads the call, it never runs the file."""

from peft import PromptTuningConfig, TaskType

config = PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=20)
