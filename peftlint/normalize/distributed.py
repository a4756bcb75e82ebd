"""Where a run's distributed setup is written, read into the settings of `enrich.distributed.Plan`.

Layers, lowest first (a later one wins, field by field): the profile (`strategy`, `num_gpus`,
`num_nodes`, `offload`); the training file's own keys (axolotl `deepspeed:`, `fsdp:`,
`fsdp_config:`, `fsdp_version:`; LLaMA-Factory `deepspeed:`; HF/TRL `TrainingArguments` `fsdp`,
`fsdp_config`, `deepspeed`, in YAML or in a Python script's `TrainingArguments(...)` /
`SFTConfig(...)` call); `--accelerate-config`; `--deepspeed`; the flags.

Every value that cannot be used is a Problem with its file, line and column, never an exception:
a DeepSpeed JSON that does not parse, `stage: 4`, an `"auto"` nobody resolves, a `num_processes`
that disagrees with `--num-gpus`. Key names follow DeepSpeed edaa7221 (`runtime/zero/config.py`),
accelerate 16cb6eb8 (`utils/dataclasses.py`, `commands/config`), transformers `TrainingArguments`
(`fsdp`, `fsdp_config`, `deepspeed`) and axolotl 067b021c (`utils/schemas/config.py`).
"""

import os
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from peftlint.load import Document, JsonPath, LoadError
from peftlint.normalize.dialects import TRL

if TYPE_CHECKING:
    from typing import Protocol

    class _Located(Protocol):
        """Where a problem is placed: a Document, or a view of one whose keys are renamed (_Renamed)."""

        @property
        def path(self) -> str: ...

        def position(self, path: JsonPath) -> tuple[int | None, int | None]: ...


# HF TrainingArguments.fsdp options and accelerate's fsdp_sharding_strategy (names or 1-5)
_FSDP_SHARDING = {
    "full_shard": "fsdp", "1": "fsdp",
    "shard_grad_op": "fsdp-shard-grad-op", "2": "fsdp-shard-grad-op",
    "no_shard": "fsdp-no-shard", "3": "fsdp-no-shard",
    "hybrid_shard": "fsdp-hybrid", "4": "fsdp-hybrid",
    "hybrid_shard_zero2": "fsdp-hybrid", "5": "fsdp-hybrid",
}  # fmt: skip
_ZERO = {0: "ddp", 1: "zero1", 2: "zero2", 3: "zero3"}  # stage 0 is plain data parallelism
_OFFLOAD_DEVICES = ("cpu", "nvme")
# Config names that the frameworks ship and users name without a path (resolved when the file is
# not next to the config): axolotl deepspeed_configs/*.json, LLaMA-Factory examples/deepspeed/*.json
# and ms-swift's built-in names. Read from the files at the commits in tests/fixtures/distributed.
SHIPPED_DEEPSPEED: dict[str, dict[str, Any]] = {
    "zero1.json": {"stage": 1, "offload": "none"},
    "zero2.json": {"stage": 2, "offload": "optimizer"},  # axolotl's zero2.json offloads the optimizer
    "zero3.json": {"stage": 3, "offload": "none"},
    "zero3_bf16.json": {"stage": 3, "offload": "none"},
    "zero3_bf16_cpuoffload_params.json": {"stage": 3, "offload": "params"},
    "zero3_bf16_cpuoffload_all.json": {"stage": 3, "offload": "params"},
    "ds_z0_config.json": {"stage": 0, "offload": "none"},
    "ds_z2_config.json": {"stage": 2, "offload": "none"},
    "ds_z2_offload_config.json": {"stage": 2, "offload": "optimizer"},
    "ds_z3_config.json": {"stage": 3, "offload": "none"},
    "ds_z3_offload_config.json": {"stage": 3, "offload": "params"},
    "zero2": {"stage": 2, "offload": "none"},
    "zero3": {"stage": 3, "offload": "none"},
    "zero3_offload": {"stage": 3, "offload": "params"},
}
# Python calls whose keyword arguments carry the distributed keys (transformers and TRL)
_ARGUMENT_CLASSES = (
    "TrainingArguments",
    "Seq2SeqTrainingArguments",
    "SFTConfig",
    "DPOConfig",
    "ORPOConfig",
    "KTOConfig",
    "GRPOConfig",
    "RewardConfig",
)


class Problem(NamedTuple):
    """A value that cannot be used, where it is written."""

    file: str | None
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.message}" if where else self.message


class Setup(NamedTuple):
    """The settings found (Plan fields plus facts rules read), where each came from, and problems."""

    settings: dict[str, Any]
    sources: dict[str, str]
    problems: list[Problem]


class _Reader:
    """Collects settings and problems from one layer at a time; later layers override."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.problems: list[Problem] = []

    def set(self, name: str, value: Any, source: str) -> None:
        self.settings[name], self.sources[name] = value, source

    def problem(self, document: "_Located | None", path: JsonPath, message: str, file: str | None = None) -> None:
        line, column = document.position(path) if document is not None else (None, None)
        self.problems.append(Problem(file or (document.path if document else None), line, column, message))

    def setup(self) -> Setup:
        return Setup(dict(self.settings), dict(self.sources), list(self.problems))

    # --- DeepSpeed JSON ---------------------------------------------------------------------

    def deepspeed(self, spec: Any, *, base_dir: str, document: Document | None, path: JsonPath, label: str) -> None:
        """A DeepSpeed config: a path (or a name the frameworks ship) or an inline mapping."""
        if isinstance(spec, Mapping):
            self._deepspeed_mapping(spec, document, path, f"{label} (inline)")
            return
        if not isinstance(spec, str) or not spec.strip():
            self.problem(document, path, f"`{path[-1] if path else 'deepspeed'}` must be a DeepSpeed JSON path or mapping, not `{spec}`")
            return
        found = _find(spec, base_dir)
        if found is None:
            shipped = SHIPPED_DEEPSPEED.get(os.path.basename(spec))
            if shipped is None:
                # not an error: the job may start in another folder; the estimate says what it assumed
                self.set("deepspeed_unresolved", spec, label)
                return
            self.set("deepspeed_stage", shipped["stage"], f"{label} `{spec}` (as shipped)")
            self.set("strategy", _ZERO[shipped["stage"]], f"{label} `{spec}` (as shipped)")
            self.set("offload", shipped["offload"], f"{label} `{spec}` (as shipped)")
            self.set("deepspeed_file", spec, label)
            return
        document = self._load_mapping(found, "DeepSpeed config")
        if document is not None:
            self.set("deepspeed_file", found, label)
            self._deepspeed_mapping(document.data, document, (), found)

    def _load_mapping(self, path: str, kind: str) -> Document | None:
        """The file's one mapping, or None with the problem recorded at its position."""
        from peftlint.load.files import load_path

        try:
            documents = load_path(path)
        except LoadError as exc:
            self.problems.append(Problem(exc.path, exc.line, exc.column, f"{kind} does not parse: {exc.message}"))
            return None
        if len(documents) != 1 or not isinstance(documents[0].data, Mapping):
            self.problems.append(Problem(path, 1, 1, f"a {kind} must be one mapping"))
            return None
        return documents[0]

    def _deepspeed_mapping(self, data: Mapping[str, Any], document: "_Located | None", root: JsonPath, label: str) -> None:
        zero = data.get("zero_optimization", {})
        if not isinstance(zero, Mapping):
            self.problem(document, root + ("zero_optimization",), "`zero_optimization` must be a mapping")
            return
        stage = zero.get("stage", 0)  # DeepSpeed's default: no ZeRO
        where = root + ("zero_optimization", "stage")
        if stage == "auto":
            self.problem(
                document,
                where,
                '`stage: "auto"` cannot be resolved: the HF integration fills `auto` for batch sizes, learning rates and bucket sizes, never the ZeRO stage; write 0, 1, 2 or 3',
            )
            return
        if isinstance(stage, bool) or not isinstance(stage, int) or stage not in _ZERO:
            self.problem(document, where, f"ZeRO `stage` is `{stage}`: DeepSpeed has stages 0, 1, 2 and 3")
            return
        offload = "none"
        for key, kind in (("offload_optimizer", "optimizer"), ("offload_param", "params")):
            block = zero.get(key)
            if block is None:
                continue
            device = block.get("device") if isinstance(block, Mapping) else block
            if device == "auto":
                self.problem(
                    document,
                    root + ("zero_optimization", key, "device"),
                    f'`{key}.device: "auto"` cannot be resolved: write cpu, nvme or none',
                )
                continue
            if device in _OFFLOAD_DEVICES:
                if kind == "params" and stage != 3:
                    self.problem(
                        document,
                        root + ("zero_optimization", key),
                        f"`offload_param` needs ZeRO stage 3; DeepSpeed ignores it at stage {stage}",
                    )
                    continue
                offload = "params" if kind == "params" else offload if offload == "params" else "optimizer"
        self.set("deepspeed_stage", stage, label)
        self.set("strategy", _ZERO[stage], label)
        self.set("offload", offload, label)
        hpz = zero.get("zero_hpz_partition_size")
        if hpz not in (None, 1):
            where = root + ("zero_optimization", "zero_hpz_partition_size")
            if isinstance(hpz, bool) or not isinstance(hpz, int) or hpz < 1:
                self.problem(
                    document, where, f"`zero_hpz_partition_size` must be a whole number of GPUs (one node's for ZeRO++ hpZ), not `{hpz}`"
                )
            elif stage != 3:
                self.problem(
                    document, where, f"`zero_hpz_partition_size` (ZeRO++ hpZ) needs ZeRO stage 3; DeepSpeed ignores it at stage {stage}"
                )
            else:
                self.set("hpz_partition_size", hpz, label)
        if stage == 3 and zero.get("zero3_init_flag", True):
            self.set("low_cpu_loading", True, label)

    # --- FSDP (TrainingArguments / axolotl keys and accelerate's fsdp_config) ------------------

    def fsdp_options(self, value: Any, document: Document | None, path: JsonPath, label: str) -> None:
        """HF `fsdp: "full_shard auto_wrap offload"` (a string or a list), axolotl's list."""
        if value in (None, False, "", []):
            return
        options = value.split() if isinstance(value, str) else value if isinstance(value, list) else None
        if options is None or not all(isinstance(o, str) for o in options):
            self.problem(document, path, f"`fsdp` must be options such as `full_shard auto_wrap`, not `{value}`")
            return
        words = [o.strip().lower() for o in options]
        strategies = [_FSDP_SHARDING[w] for w in words if w in _FSDP_SHARDING]
        self.set("fsdp_set", True, label)
        self.set("strategy", strategies[0] if strategies else "fsdp", label)
        if "offload" in words:
            self.set("offload", "params", label)

    def fsdp_config(self, config: Any, document: Document | None, path: JsonPath, label: str) -> None:
        """An `fsdp_config` mapping; keys with or without accelerate's `fsdp_` prefix."""
        if config is None:
            return
        if not isinstance(config, Mapping):
            return  # a path to a JSON file (TrainingArguments): not read
        values = {str(k).removeprefix("fsdp_"): (v, k) for k, v in config.items()}
        self.set("fsdp_set", True, label)
        if "sharding_strategy" in values:
            raw, key = values["sharding_strategy"]
            strategy = _FSDP_SHARDING.get(str(raw).strip().lower())
            if strategy is None:
                self.problem(
                    document,
                    path + (key,),
                    f"`{key}: {raw}` is not an FSDP sharding strategy: use FULL_SHARD, SHARD_GRAD_OP, NO_SHARD, HYBRID_SHARD, HYBRID_SHARD_ZERO2 (or 1-5)",
                )
            else:
                self.set("strategy", strategy, label)
        elif self.settings.get("strategy") not in _FSDP_SHARDING.values():
            self.set("strategy", "fsdp", label)
        if "version" in values:
            raw, key = values["version"]
            if raw in (1, 2, "1", "2"):
                self.set("fsdp_version", int(raw), label)
            else:
                self.problem(document, path + (key,), f"`{key}: {raw}`: FSDP versions are 1 and 2")
        if "reshard_after_forward" in values and values["reshard_after_forward"][0] is False:
            self.set("strategy", "fsdp-shard-grad-op", label)  # FSDP2's SHARD_GRAD_OP
        for name, setting in (
            ("offload_params", "offload"),
            ("use_orig_params", "use_orig_params"),
            ("cpu_ram_efficient_loading", "low_cpu_loading"),
        ):
            if name in values:
                flag = _truth(values[name][0])
                if setting == "offload":
                    self.set("offload", "params" if flag else "none", label)
                else:
                    self.set(setting, flag, label)

    # --- accelerate config -------------------------------------------------------------------

    def accelerate(self, path: str, given_gpus: int | None = None) -> None:
        document = self._load_mapping(path, "accelerate config")
        if document is None:
            return
        data = document.data
        kind = str(data.get("distributed_type", "NO")).upper()
        if data.get("mixed_precision") in ("bf16", "fp16"):
            self.set("mixed_precision", True, f"{path}:{document.position(('mixed_precision',))[0]} `mixed_precision`")
        for key, name in (("num_processes", "num_gpus"), ("num_machines", "num_nodes")):
            value = data.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                self.set(name, value, f"{path}:{document.position((key,))[0]} `{key}`")
                if name == "num_gpus" and given_gpus is not None and value != given_gpus:
                    self.problem(document, (key,), f"`num_processes: {value}` disagrees with --num-gpus {given_gpus}")
        label = path
        if kind in ("NO", "MULTI_GPU"):
            self.set("strategy", "single" if kind == "NO" else "ddp", label)
        elif kind == "DEEPSPEED":
            block = data.get("deepspeed_config") or {}
            if isinstance(block, Mapping) and block.get("deepspeed_config_file"):
                self.deepspeed(
                    block["deepspeed_config_file"],
                    base_dir=os.path.dirname(path),
                    document=document,
                    path=("deepspeed_config", "deepspeed_config_file"),
                    label=path,
                )
            elif isinstance(block, Mapping):
                mapped = {"stage": block.get("zero_stage", 2)}  # accelerate's default stage
                for key, target in (("offload_optimizer_device", "offload_optimizer"), ("offload_param_device", "offload_param")):
                    if block.get(key) not in (None, "none"):
                        mapped[target] = {"device": block[key]}
                self._deepspeed_mapping(
                    {"zero_optimization": {**mapped, "zero3_init_flag": block.get("zero3_init_flag", False)}},
                    _Renamed(document),
                    ("deepspeed_config",),
                    label,
                )
        elif kind == "FSDP":
            self.set("strategy", "fsdp", label)
            self.fsdp_config(data.get("fsdp_config") or {}, document, ("fsdp_config",), label)
        else:
            self.problem(
                document,
                ("distributed_type",),
                f"`distributed_type: {kind}` is not modelled: the estimate covers NO, MULTI_GPU, DEEPSPEED and FSDP",
            )

    # --- the training file's own keys ----------------------------------------------------------

    def training_file(self, document: Document, data: Mapping[str, Any]) -> None:
        base_dir = os.path.dirname(document.path)
        label = document.path
        if data.get("deepspeed") not in (None, ""):
            self.set("deepspeed_set", True, f"{label}:{document.position(('deepspeed',))[0]}")
            self.deepspeed(
                data["deepspeed"],
                base_dir=base_dir,
                document=document,
                path=("deepspeed",),
                label=f"{label}:{document.position(('deepspeed',))[0]} `deepspeed`",
            )
        if "fsdp" in data:
            self.fsdp_options(data["fsdp"], document, ("fsdp",), f"{label}:{document.position(('fsdp',))[0]} `fsdp`")
        if isinstance(data.get("fsdp_config"), Mapping) and (data.get("fsdp") or "fsdp_version" in data or self.settings.get("fsdp_set")):
            self.fsdp_config(
                data["fsdp_config"], document, ("fsdp_config",), f"{label}:{document.position(('fsdp_config',))[0]} `fsdp_config`"
            )
        if "fsdp_version" in data and (data.get("fsdp") or data.get("fsdp_config")):
            self.fsdp_config(
                {"fsdp_version": data["fsdp_version"]}, document, (), f"{label}:{document.position(('fsdp_version',))[0]} `fsdp_version`"
            )


class _Renamed:
    """accelerate's `deepspeed_config.zero_stage` stands where DeepSpeed's `zero_optimization.stage` would."""

    _NAMES = {"stage": "zero_stage", "offload_optimizer": "offload_optimizer_device", "offload_param": "offload_param_device"}

    def __init__(self, document: Document) -> None:
        self.document = document
        self.path = document.path

    def position(self, path: JsonPath) -> tuple[int | None, int | None]:
        keys = [self._NAMES.get(str(k), k) for k in path if k != "zero_optimization" and k != "device"]
        return self.document.position(tuple(keys))


def _truth(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1")


def _find(spec: str, base_dir: str) -> str | None:
    for candidate in (os.path.join(base_dir, spec), spec):
        if os.path.isfile(candidate):
            return candidate
    return None


_MERGES = ("merge_and_unload", "merge_adapter")


def python_arguments(path: str) -> tuple[list[Document], int | None]:
    """The literal `fsdp`, `fsdp_config`, `deepspeed` arguments of TrainingArguments-like calls in a
    Python script, as Documents (read with ast; the script never runs), and the line of a
    `merge_and_unload()` / `merge_adapter()` call the script makes without gathering the sharded
    weights first (`deepspeed.zero.GatheredParameters`), if any."""
    import ast

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if "fsdp" not in text and "deepspeed" not in text:
            return [], None
        tree = ast.parse(text, path)
    except (OSError, SyntaxError, ValueError):
        return [], None
    documents = []
    merge_line = None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name in _MERGES and merge_line is None:
            merge_line = node.lineno
        if name not in _ARGUMENT_CLASSES:
            continue
        data: dict[str, Any] = {}
        positions: dict[JsonPath, tuple[int, int]] = {(): (node.lineno, node.col_offset + 1)}
        for keyword in node.keywords:
            if keyword.arg in ("fsdp", "fsdp_config", "deepspeed"):
                try:
                    data[keyword.arg] = ast.literal_eval(keyword.value)
                except ValueError:
                    continue  # computed at run time: unknown here
                positions[(keyword.arg,)] = (keyword.lineno, keyword.col_offset + 1)
        if data:
            documents.append(Document(path, "python", data, positions))
    return documents, None if "GatheredParameters" in text else merge_line


def read_setup(
    *,
    profile: Mapping[str, Any],
    document: Document | None = None,
    accelerate_config: str | None = None,
    deepspeed: str | None = None,
    flags: Mapping[str, Any] | None = None,
    dialect: str | None = None,
) -> Setup:
    """Every layer in order; `document` is the training file (its own keys are read), `dialect`
    the framework that wrote it."""
    reader = _Reader()
    for name in ("strategy", "num_gpus", "num_nodes", "offload"):
        if profile.get(name) is not None:
            reader.set(name, profile[name], "profile")
    merge_line = None
    if document is not None:
        sources, merge_line = python_arguments(document.path) if document.format == "python" else ([document], None)
        for source in sources:
            if isinstance(source.data, Mapping):
                reader.training_file(source, source.data)
    if accelerate_config:
        reader.accelerate(accelerate_config, (flags or {}).get("num_gpus"))
    if deepspeed:
        reader.deepspeed(deepspeed, base_dir=".", document=None, path=(), label=deepspeed)
    for name, value in (flags or {}).items():
        if value is not None:
            reader.set(name, value, "--" + name.replace("_", "-"))
    settings = reader.settings
    if settings.get("deepspeed_set") and settings.get("fsdp_set"):
        settings["deepspeed_and_fsdp"] = True
    shipped_name = os.path.basename(str(settings.get("deepspeed_file", "")))
    if settings.get("offload", "none") != "none" and shipped_name and "offload" not in shipped_name.lower():
        settings["offload_unnamed"] = shipped_name  # axolotl's zero2.json offloads the optimizer
    if merge_line is not None and settings.get("strategy") in ("zero3", "fsdp", "fsdp-hybrid", "fsdp-shard-grad-op"):
        settings["merge_without_gather"] = {"line": merge_line}
    if document is not None and dialect == TRL and isinstance(document.data, Mapping):
        _quant_storage(settings, document.data)
    return reader.setup()


def _quant_storage(settings: dict[str, Any], data: Mapping[str, Any]) -> None:
    """FSDP + QLoRA flattens the 4-bit weights with the float ones: `bnb_4bit_quant_storage` must be
    the model's dtype (TRL passes both through; axolotl and LLaMA-Factory set the storage themselves)."""
    if not (data.get("load_in_4bit") is True and str(settings.get("strategy", "")).startswith("fsdp")):
        return
    storage = str(data.get("bnb_4bit_quant_storage") or "uint8")  # bitsandbytes' default storage
    dtype = str(data.get("dtype") or data.get("torch_dtype") or "float32")
    if storage.removeprefix("torch.") != dtype.removeprefix("torch."):
        settings["quant_storage_mismatch"] = {"storage": storage, "dtype": dtype}


def checked_plan(setup: Setup) -> tuple[dict[str, Any], Problem | None]:
    """The plan's JSON ({strategy, num_gpus, num_nodes, offload}), or a Problem naming the
    contradiction and where its settings came from."""
    from peftlint.enrich.distributed import plan_from

    try:
        return plan_from(plan_settings(setup.settings)).to_dict(), None
    except ValueError as exc:
        origins = ", ".join(f"{name} from {setup.sources[name]}" for name in ("strategy", "num_gpus", "offload") if name in setup.sources)
        return {}, Problem(None, None, None, f"{exc} ({origins})" if origins else str(exc))


def plan_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The Plan fields of a setup's settings; FSDP1 with use_orig_params mixes frozen and
    trainable parameters in one FlatParameter under the usual transformer-layer wrapping."""
    plan = {
        k: settings[k]
        for k in ("strategy", "num_gpus", "num_nodes", "offload", "fsdp_version", "low_cpu_loading", "hpz_partition_size")
        if k in settings
    }
    plan["mixed_flat_params"] = settings.get("use_orig_params") is True and settings.get("fsdp_version", 1) == 1
    plan["fp32_shards"] = settings.get("mixed_precision") is True and settings.get("fsdp_version", 1) == 2
    return plan
