from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peftlint.load import LoadError
from peftlint.load.files import load_path
from peftlint.load.python_ import FALLBACK_CONFIG_CLASSES, default_config_classes, load_python

FIXTURES = Path(__file__).parent.parent / "fixtures" / "load"


def load(source: str, **kwargs: object) -> list:
    return load_python(source, "train.py", **kwargs)


def error(source: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load(source)
    return caught.value


def test_script_with_aliases_enums_and_computed_values() -> None:
    lora, prefix, wide = load_path(FIXTURES / "lora_script.py")
    assert (lora.format, lora.class_name, lora.ordinal) == ("python", "LoraConfig", 0)
    assert lora.data == {
        "r": 16,
        "target_modules": ["q_proj", "v_proj"],
        "task_type": "CAUSAL_LM",
        "rank_pattern": {"q_proj": 8},
    }
    assert lora.computed == {"lora_alpha": (13, 5), "**extra": (17, 5)}
    assert lora.positions[()] == (11, 10)
    assert lora.positions[("r",)] == (12, 5)
    assert lora.positions[("target_modules", 1)] == (14, 31)
    assert lora.positions[("rank_pattern", "q_proj")] == (16, 19)
    # inside a function, with an f-string
    assert (prefix.class_name, prefix.ordinal) == ("PrefixTuningConfig", 1)
    assert prefix.data == {"task_type": "SEQ_2_SEQ_LM", "num_virtual_tokens": 20}
    assert prefix.computed == {"encoder_hidden_size": (22, 80)}
    # under an `if`, through `import peft as p`, with a comprehension
    assert wide.class_name == "LoraConfig"
    assert wide.data == {"r": 64, "lora_dropout": -0.0, "task_type": "CAUSAL_LM"}
    assert wide.computed == {"target_modules": (27, 37)}


@pytest.fixture
def audit_events() -> Iterator[list[str]]:
    """Audit events raised while the test body runs (audit hooks cannot be removed: gate it)."""
    events: list[str] = []
    recording = [True]

    def hook(event: str, args: tuple) -> None:
        if recording[0] and event in ("exec", "socket.connect", "subprocess.Popen", "os.system"):
            events.append(event)

    sys.addaudithook(hook)
    yield events
    recording[0] = False


def test_the_file_is_never_run(tmp_path: Path, audit_events: list[str]) -> None:
    script = tmp_path / "train.py"
    shutil.copy(FIXTURES / "executes_if_run.py", script)
    [doc] = load_path(script)
    assert doc.data == {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
    assert not (tmp_path / "EXECUTED").exists()
    assert audit_events == []


def test_the_marker_would_appear_if_the_file_ran(tmp_path: Path) -> None:
    """Control for the test above: the fixture does leave its marker when it is run."""
    script = tmp_path / "train.py"
    shutil.copy(FIXTURES / "executes_if_run.py", script)
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert (tmp_path / "EXECUTED").exists()


@pytest.mark.parametrize(
    "source",
    [
        "from peft import LoraConfig\nLoraConfig(r=8)\n",
        "import peft\npeft.LoraConfig(r=8)\n",
        "from peft import LoraConfig as LC\nLC(r=8)\n",
        "import peft as p\np.tuners.lora.LoraConfig(r=8)\n",
        "import peft.tuners.lora\npeft.tuners.lora.LoraConfig(r=8)\n",
        "import peft.tuners.lora as pl\npl.LoraConfig(r=8)\n",
        "from peft.tuners import lora\nlora.LoraConfig(r=8)\n",
        "from peft import *\nLoraConfig(r=8)\n",
        "LoraConfig(r=8)\n",  # a pasted snippet
        "def f():\n    from peft import LoraConfig as L\n\nclass C:\n    x = [L(r=8)]\n",
    ],
)
def test_ways_to_name_a_config_class(source: str) -> None:
    [doc] = load(source)
    assert (doc.class_name, doc.data) == ("LoraConfig", {"r": 8})


@pytest.mark.parametrize(
    "source",
    [
        "from mylib import LoraConfig\nLoraConfig(r=8)\n",
        "import mylib as peft2\npeft2.LoraConfig(r=8)\n",
        "self.LoraConfig(r=8)\n",
        "LoraConfig\nmake(LoraConfig)\n",
        "from .peft import LoraConfig\nLoraConfig(r=8)\n",
        "from peft import get_peft_model\nget_peft_model(model, config)\n",
        # a project's own config class of the same name (alpha, dropout, epochs: not peft's keys)
        "@dataclass\nclass LoraConfig:\n    alpha: int = 32\n\n\ncfg = LoraConfig(alpha=16, epochs=3)\n",
        "def LoraConfig(**kwargs):\n    return kwargs\n\n\nLoraConfig(r=8)\n",
    ],
)
def test_calls_that_are_not_peft_config_classes(source: str) -> None:
    assert load(source) == []


def test_no_config_call_fixture() -> None:
    assert load_path(FIXTURES / "no_config.py") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("TaskType.CAUSAL_LM", "CAUSAL_LM"),
        ("peft.TaskType.CAUSAL_LM", "CAUSAL_LM"),
        ("peft.utils.peft_types.TaskType.SEQ_CLS", "SEQ_CLS"),
        ("TT.TOKEN_CLS", "TOKEN_CLS"),
        ('"CAUSAL_LM"', "CAUSAL_LM"),
        ("PeftType.LORA", "LORA"),
        ("(8, 16)", [8, 16]),
        ('{"q_proj"}', ["q_proj"]),
        ("-1", -1),
        ("+0.5", 0.5),
        ("None", None),
        ("True", True),
        ('"a" "b"', "ab"),
        ("{1: 8, True: 2}", {"1": 8, "True": 2}),
        ('[["q", TaskType.X]]', [["q", "X"]]),
    ],
)
def test_literal_values(value: str, expected: object) -> None:
    source = f"import peft\nfrom peft import TaskType as TT, TaskType, PeftType\nLoraConfig(v={value})\n"
    [doc] = load(source)
    assert doc.data == {"v": expected}
    assert doc.computed == {}


@pytest.mark.parametrize(
    "value",
    [
        "rank",
        "int('8')",
        "2 * 8",
        'f"{x}"',
        "[m for m in modules]",
        "[1, x]",
        "{**base}",
        "b'bytes'",
        "1j",
        "...",
        "-x",
        "other.TaskType.CAUSAL_LM",
        "lambda: 1",
    ],
)
def test_computed_values_are_reported_with_their_position(value: str) -> None:
    [doc] = load(f"LoraConfig(r=8,\n           v={value})\n")
    assert doc.data == {"r": 8}
    assert doc.computed == {"v": (2, 12)}
    assert doc.positions[("v",)] == (2, 12)  # findings about `v` still point at it


def test_star_arguments_and_positional_arguments_are_computed() -> None:
    [doc] = load("LoraConfig(None, *args, r=8, **base, **overrides)\n")
    assert doc.computed == {
        "<positional 1>": (1, 12),
        "*args": (1, 18),
        "**base": (1, 30),
        "**overrides": (1, 38),
    }
    assert doc.data == {"r": 8}


def test_calls_are_documents_in_source_order() -> None:
    source = (
        "configs = [IA3Config(target_modules=['k']),\n"
        "           LoraConfig(r=LoraConfig(r=1).r)]\n"
        "PromptTuningConfig(num_virtual_tokens=8)\n"
    )
    docs = load(source)
    assert [(doc.ordinal, doc.class_name) for doc in docs] == [
        (0, "IA3Config"),
        (1, "LoraConfig"),
        (2, "LoraConfig"),
        (3, "PromptTuningConfig"),
    ]
    assert docs[1].computed == {"r": (2, 23)}


def test_columns_count_characters_not_utf8_bytes() -> None:
    [doc] = load("x = 'modèle'; LoraConfig(r=8, target_modules=['ü', 'v'])\n")
    assert doc.positions[("r",)] == (1, 26)
    assert doc.positions[("target_modules", 1)] == (1, 52)


def test_crlf_source() -> None:
    [doc] = load("from peft import LoraConfig\r\n\r\nLoraConfig(\r\n    r=8,\r\n)\r\n")
    assert doc.positions[("r",)] == (4, 5)


def test_custom_config_classes() -> None:
    [doc] = load("MyConfig(r=1)\nLoraConfig(r=2)\n", config_classes={"MyConfig": "LORA"})
    assert (doc.class_name, doc.data) == ("MyConfig", {"r": 1})


def test_repeated_keyword_is_a_duplicate_key() -> None:
    err = error("LoraConfig(r=8,\n           r=16)\n")
    assert err.message == "duplicate key `r` (first at line 1)"
    assert (err.line, err.column) == (2, 12)


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("LoraConfig(r=8\n", 1, 11),
        ("x = 'é'; LoraConfig(r=)\n", 1, 23),  # a character column, not a byte offset
        ("def f(:\n", 1, 7),
        ("(" * 300 + ")" * 300, 1, 201),
        ("@0\n", 1, 1),  # CPython says offset 0 here
    ],
)
def test_syntax_errors_carry_their_position(source: str, line: int, column: int) -> None:
    err = error(source)
    assert err.message.startswith("invalid Python: ")  # the wording is CPython's and varies by version
    assert (err.line, err.column) == (line, column)


@pytest.mark.parametrize("source", ["x = " + "-" * 100_000 + "1\n", "x = " + "1+" * 100_000 + "1\n"])
def test_pathological_nesting_is_a_load_error(source: str) -> None:
    assert error(source).message == "invalid Python: nested too deeply to parse"


def test_fallback_classes_match_peft() -> None:
    pytest.importorskip("peft", reason="peft is the oracle here (the lowest-versions job runs without it)")
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    peft_types = {config.__name__: str(peft_type.value) for peft_type, config in PEFT_TYPE_TO_CONFIG_MAPPING.items()}
    assert {name: peft_types[name] for name in FALLBACK_CONFIG_CLASSES} == dict(FALLBACK_CONFIG_CLASSES)


def test_default_classes_cover_the_fallback() -> None:
    assert set(FALLBACK_CONFIG_CLASSES) <= set(default_config_classes())


CONFIG_CALL = "\nconfig = LoraConfig(r=8, target_modules=['q_proj'])\n"


@pytest.mark.parametrize(
    ("source", "model"),
    [
        ('model = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-3.2-1B")', "meta-llama/Llama-3.2-1B"),
        ('MODEL_ID = "openai/whisper-small"\nm = WhisperForConditionalGeneration.from_pretrained(MODEL_ID)', "openai/whisper-small"),
        ('m = transformers.AutoModel.from_pretrained(pretrained_model_name_or_path="bert-base-uncased")', "bert-base-uncased"),
        # the tokenizer, the processor and peft's own loader name other things
        (
            'tok = AutoTokenizer.from_pretrained("gpt2-tokenizer")\nm = GPT2LMHeadModel.from_pretrained("gpt2")\n'
            'p = PeftModel.from_pretrained(m, "me/adapter")\nq = AutoPeftModelForCausalLM.from_pretrained("me/adapter")',
            "gpt2",
        ),
        # the same model twice is one model
        ('a = AutoModel.from_pretrained("gpt2")\nb = AutoModel.from_pretrained("gpt2")', "gpt2"),
        # unknown: two models, a name chosen at run time, a constant assigned twice, no model at all
        ('a = AutoModel.from_pretrained("gpt2")\nb = AutoModel.from_pretrained("bert-base-uncased")', None),
        ('m = AutoModelForCausalLM.from_pretrained(sys.argv[1])\nn = AutoModel.from_pretrained("gpt2")', None),
        ('MODEL = "gpt2"\nMODEL = "opt"\nm = AutoModel.from_pretrained(MODEL)', None),
        ('tok = AutoTokenizer.from_pretrained("gpt2")', None),
    ],
)
def test_the_base_model_a_script_loads(source: str, model: str | None) -> None:
    [config] = load(source + CONFIG_CALL)
    assert config.loaded_model == model


@pytest.mark.parametrize(
    ("source", "model_class"),
    [
        ('m = AutoModelForImageClassification.from_pretrained("google/vit-base-patch16-224-in21k")', "AutoModelForImageClassification"),
        ('m = transformers.BertForSequenceClassification.from_pretrained("bert-base-uncased")', "BertForSequenceClassification"),
        # the same model loaded with two classes: which head peft adapts is unknown
        ('a = AutoModel.from_pretrained("gpt2")\nb = GPT2LMHeadModel.from_pretrained("gpt2")', None),
    ],
)
def test_the_class_a_script_loads_its_model_with(source: str, model_class: str | None) -> None:
    """Its head decides the module tree when the config names no task_type (analysis.model_task_type)."""
    [config] = load(source + CONFIG_CALL)
    assert config.loaded_class == model_class
