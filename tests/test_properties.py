"""Property-based tests of the `check` pipeline and its reporters (hypothesis).

Any value tree written as YAML or JSON, any bytes, and any Python source give findings or one
clean PL000, never an exception; configs drawn from the peft schemas (tests/strategies.py) always
get through loading into the rules; the json, sarif, github and text outputs of those findings keep
their contracts; random LoRA values give exactly the findings their rules promise. The pipeline
runs in process (`lint_paths`) and the reporters are called directly, for speed. Derandomized with
a fixed budget per strategy: CI runs the same examples every time.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings, strategies as st

from peftlint.finding import Finding
from peftlint.normalize import LORA_MARKERS, peft_types
from peftlint.pipeline import Report, lint_paths
from peftlint.report import reporter
from tests.report.validators import GITHUB_LINE, output_validator, problems, sarif_validator, unescape
from tests.strategies import config_files

EXAMPLES = 300
PROPERTY = settings(
    derandomize=True,
    database=None,  # no replay of stored examples: every run is the same run
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TYPES = sorted(peft_types()["types"])
KNOWN_KEYS = sorted({key for spec in peft_types()["types"].values() for key in spec["keys"]})
LORA_KEYS = peft_types()["types"]["LORA"]["keys"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


# --- strategies ---------------------------------------------------------------------------------

# control characters, any plane, RTL and combining marks (lone surrogates, which only JSON escapes
# can carry, are a regression case below)
characters = st.characters(codec="utf-8")
texts = st.text(characters, max_size=24)
long_texts = st.builds(lambda char, n: char * n, characters, st.integers(1_000, 20_000))
keys = st.one_of(st.sampled_from(KNOWN_KEYS + ["peft_type", "peftlint"]), texts)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**4200), max_value=10**4200),  # past int64 and float (Python prints up to 4300 digits)
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    long_texts,
    st.sampled_from(TYPES + ["none", "all", "lora_only", "all-linear", "CAUSAL_LM", "TEXT", "RANDOM", "loftq", "q_proj"]),
)
trees = st.recursive(scalars, lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6), max_leaves=30)
documents = st.one_of(
    trees,
    st.builds(
        lambda peft_type, rest: {"peft_type": peft_type, **rest}, st.sampled_from(TYPES) | texts, st.dictionaries(keys, trees, max_size=8)
    ),
    st.dictionaries(st.sampled_from(sorted(LORA_MARKERS)) | keys, trees, min_size=1, max_size=8),  # LoRA without peft_type
)


@st.composite
def serialized(draw: st.DrawFn) -> tuple[str, bytes, Any]:
    """A document as a JSON or YAML file: (suffix, bytes, the document)."""
    document = draw(documents)
    if draw(st.booleans()):
        suffix = ".json"
        text = json.dumps(document, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    else:
        suffix = draw(st.sampled_from([".yaml", ".yml"]))
        text = yaml.safe_dump(document, allow_unicode=draw(st.booleans()), default_flow_style=draw(st.sampled_from([None, False, True])))
    content = text.encode()
    if draw(st.integers(0, 3)) == 0:  # cut short: a parse error somewhere inside real structure
        content = content[: draw(st.integers(0, len(content)))]
    return suffix, content, document


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
python_literals = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([math.nan, math.inf, -math.inf]),  # printed as names: computed values
        texts,
        st.sampled_from(["q_proj", "all-linear", "CAUSAL_LM"]),
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.tuples(children, children) | st.dictionaries(texts | st.integers(), children, max_size=4)
    ),
    max_leaves=12,
).map(repr)
python_expressions = python_literals | st.sampled_from(
    ["x", "8 * 2", "f(1)", "[m for m in mods]", "os.environ['R']", "lambda: 1", "a if b else c", "-r", "{**d}", "...", "b'x'"]
)
keyword_arguments = st.lists(st.tuples(st.sampled_from(LORA_KEYS) | identifiers, python_expressions), max_size=8)


@st.composite
def python_sources(draw: st.DrawFn) -> str:
    """`LoraConfig(...)` (or another config class) with random keywords, in random surroundings."""
    call = draw(st.sampled_from(["LoraConfig", "peft.LoraConfig", "IA3Config", "PrefixTuningConfig", "AdaLoraConfig", "Foo"]))
    arguments = ", ".join(f"{name}={value}" for name, value in draw(keyword_arguments))
    before = draw(st.sampled_from(["", "from peft import LoraConfig\nconfig = ", "import peft\nc = ", "def f():\n    return "]))
    after = draw(st.sampled_from(["", "\n", "\nprint(config)\n"]) | texts)  # texts: mostly a syntax error
    return f"{before}{call}({arguments}){after}"


# --- the properties -----------------------------------------------------------------------------


def lint(folder: Path, suffix: str, content: bytes) -> Report:
    """Lint one file holding `content`; any exception fails the property."""
    path = folder / f"config{suffix}"
    path.write_bytes(content)
    report = lint_paths([str(path)])
    for finding in report.findings:
        assert finding.file == str(path)
        assert finding.line is None or finding.line >= 1, finding
        assert finding.column is None or finding.column >= 1, finding
    unreadable = [f for f in report.findings if f.code == "PL000"]
    if currently_in_test_context():  # what the examples exercised: `--hypothesis-show-statistics`
        event("unreadable" if unreadable else "findings" if report.findings else "clean" if report.files else "not a PEFT config")
    if unreadable:  # a file that can't be read is one clean finding, and nothing else
        assert report.findings == unreadable and report.unreadable == 1, report.findings
        assert unreadable[0].message and "\n" not in unreadable[0].message
    check_outputs(report)
    return report


def rendered(report: Report, name: str) -> str:
    out = io.StringIO()
    reporter(name)(report, out)
    text = out.getvalue()
    text.encode("utf-8")  # what a UTF-8 stdout does with it: a lone surrogate would raise here
    return text


def check_outputs(report: Report) -> None:
    """Every format's contract holds for these findings."""
    assert problems(output_validator(), json.loads(rendered(report, "json"))) == []
    assert problems(sarif_validator(), json.loads(rendered(report, "sarif"))) == []
    github = rendered(report, "github").split("\n")
    assert github.pop() == "" and len(github) == len(report.findings)
    for line, finding in zip(github, report.findings):
        match = GITHUB_LINE.fullmatch(line)
        assert match, line
        assert unescape(match["message"]) == finding.message + (f"\n{finding.fix}" if finding.fix else "")
    text = rendered(report, "text").split("\n")
    assert text.pop() == ""
    assert len(text) == len(report.findings) + sum(1 for f in report.findings if f.fix) + 1, text


def multi_line(finding: Finding) -> bool:
    return any(break_ in text for text in (finding.message, finding.fix or "") for break_ in ("\n", "\r"))


@PROPERTY
@given(serialized())
def test_any_yaml_or_json_value_tree(folder: Path, case: tuple[str, bytes, Any]) -> None:
    suffix, content, _ = case
    lint(folder, suffix, content)


@settings(PROPERTY, max_examples=150)
@given(config_files())
def test_any_config_of_a_peft_type_reaches_the_rules(folder: Path, case: tuple[str, bytes, dict[str, Any]]) -> None:
    """Configs drawn from the peft schemas (tests/strategies.py): keys of their type, values of
    their keys' types, so they pass the loader and run every rule that applies."""
    suffix, content, _ = case
    report = lint(folder, suffix, content)
    assert report.unreadable == 0 and report.files == 1, report.findings
    for code in {f.code for f in report.findings}:
        event(code)


# raw bytes stop at the loader 93% of the time (unreadable), which is what they are for: fewer
# examples here, the rules get theirs from the config strategy above
@settings(PROPERTY, max_examples=150)
@given(st.sampled_from([".yaml", ".json", ".py", ".txt"]), st.binary(max_size=2_000))
def test_any_bytes(folder: Path, suffix: str, content: bytes) -> None:
    lint(folder, suffix, content)


@PROPERTY
@given(python_sources())
def test_any_python_config_call(folder: Path, source: str) -> None:
    lint(folder, ".py", source.encode())


@PROPERTY
@given(st.text(characters, max_size=300))
def test_any_python_source_text(folder: Path, source: str) -> None:
    lint(folder, ".py", source.encode())


# --- LoRA values: the findings are the ones the rules promise -----------------------------------

lora_values = st.one_of(
    st.sampled_from([0, 1, 8, 16, 64, 65, 128, 0.3, 0.31, 0.5, 1.0, 8.0, 128.0, True, False, None, "8", "", []]),
    st.integers(min_value=-10, max_value=600),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(min_value=0, max_value=1.5),  # dropout's range and a little past it
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(characters, max_size=6),
    st.lists(st.text(characters, max_size=6), max_size=3),
)
BIASES = ("none", "all", "lora_only")
lora_configs = st.fixed_dictionaries(
    {"peft_type": st.just("LORA")},
    optional={
        "r": lora_values,
        "lora_alpha": lora_values,
        "lora_dropout": lora_values,
        "target_modules": lora_values | st.sampled_from([[], "", "all-linear", ["q_proj", "v_proj"]]),
        "bias": lora_values | st.sampled_from(BIASES + ("some",)),
        "use_rslora": st.booleans(),
    },
)


def number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value: Any) -> bool:
    return number(value) and math.isfinite(value)


def integral(value: Any) -> bool:
    """An integer as JSON Schema counts them (`128.0` is one), which is what the rules' `when` see."""
    return finite(value) and float(value).is_integer()


def expected_alpha_warning(config: dict[str, Any]) -> bool | None:
    """PL102 per derived.alpha_ratio (facts.py, rounded to 4 places); None: not asserted (non-finite)."""
    rank, alpha = config.get("r", 8), config.get("lora_alpha", 8)
    if config.get("use_rslora"):
        return False
    if not (number(rank) and number(alpha)):
        return False
    if not (finite(rank) and finite(alpha)):
        return None
    if rank <= 0:
        return False
    ratio = round(alpha / rank, 4)
    return ratio < 0.5 or ratio > 4


@PROPERTY
@given(lora_configs)
def test_lora_findings_follow_the_values(folder: Path, config: dict[str, Any]) -> None:
    report = lint(folder, ".yaml", yaml.safe_dump(config).encode())
    codes = {f.code for f in report.findings}
    keyed = {(f.code, f.key) for f in report.findings}
    for code in codes:
        event(code)
    rank = config.get("r", 8)
    assert ("PL101" in codes) == (integral(rank) and rank > 64), report.findings
    dropout = config.get("lora_dropout", 0.0)
    assert ("PL103" in codes) == (finite(dropout) and 0.3 < dropout <= 1), report.findings
    assert ("PL105" in codes) == (config.get("target_modules", None) in ([], "")), report.findings
    if "r" in config:
        r_is_invalid = not (isinstance(rank, int) and not isinstance(rank, bool) and rank >= 1)
        assert bool(keyed & {("PL002", "r"), ("PL003", "r")}) == r_is_invalid, report.findings
    if "bias" in config:
        assert bool(keyed & {("PL002", "bias"), ("PL003", "bias")}) == (config["bias"] not in BIASES), report.findings
    alpha_warning = expected_alpha_warning(config)
    if alpha_warning is not None:
        assert ("PL102" in codes) == alpha_warning, report.findings


# --- bugs these properties found, kept as regression cases --------------------------------------

FOUND_CRASHES = {
    "int beyond float range": (".json", b'{"peft_type": "LORA", "r": 1' + b"0" * 400 + b"}"),
    "infinite rank": (".yaml", b"peft_type: LORA\nr: .inf\n"),
    "NaN AdaLoRA step": (".yaml", b"peft_type: ADALORA\ntotal_step: .nan\ntinit: 1\ntfinal: 1\n"),
    "lone surrogate in a string": (".json", b'{"peft_type": "LORA", "bias": "\\ud800"}'),
}
MULTI_LINE_VALUES = {
    "peft_type (PL004)": (".yaml", b'peft_type: "LO\\nRA"\n'),
    "key name (PL001)": (".yaml", b'peft_type: LORA\n"lora_\\nalpha": 8\n'),
}


@pytest.mark.parametrize("case", list(FOUND_CRASHES.values()), ids=list(FOUND_CRASHES))
def test_found_crash_gives_findings(folder: Path, case: tuple[str, bytes]) -> None:
    assert lint(folder, *case).findings


@pytest.mark.parametrize("case", list(MULTI_LINE_VALUES.values()), ids=list(MULTI_LINE_VALUES))
def test_values_with_line_breaks_stay_on_one_line(folder: Path, case: tuple[str, bytes]) -> None:
    report = lint(folder, *case)
    assert report.findings and not any(multi_line(f) for f in report.findings), report.findings
