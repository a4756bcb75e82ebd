"""peft-version knowledge: the generated data (scripts/gen_peft_versions.py), the version in use,
and the findings for keys of other peft versions (PL001, PL008, PL009), on real saved adapters.

The data is generated from every released peft wheel; what can be checked offline is checked
here: the newest release's fields are the installed peft's (read from its source, as the wheels
are, and as scripts/gen_schemas.py recorded them), and `--check --offline` agrees with whatever
wheels are cached (PEFTLINT_PEFT_WHEELS, default ~/.cache/peftlint/peft-wheels).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from peftlint.fix import fix_findings
from peftlint.normalize import peft_versions
from peftlint.normalize.peft_versions import VersionError, release_for
from peftlint.pipeline import lint_paths

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "peft_versions"
LEGACY_ADAPTER = FIXTURES / "llama-e-peft-0.3.dev" / "adapter_config.json"  # enable_lora, merge_weights
PEFT_09_ADAPTER = FIXTURES / "internlm-peft-0.9" / "adapter_config.json"
PEFT_018_ADAPTER = FIXTURES / "hy-mt-peft-0.18.1" / "adapter_config.json"  # records peft_version


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_peft_versions", ROOT / "scripts" / "gen_peft_versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
DATA = gen.load_committed()
NEWEST = DATA["versions"][-1]


def _installed_peft_root() -> Path:
    """site-packages of the installed peft, found without importing it."""
    spec = importlib.util.find_spec("peft")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).resolve().parents[1]


# --- (a) the committed data ---------------------------------------------------------------------------


def test_every_release_from_0_1_to_the_installed_peft_is_recorded() -> None:
    versions = DATA["versions"]
    assert versions[0] == "0.1.0" and versions == sorted(versions, key=gen.version_key)
    assert {"0.2.0", "0.9.0", "0.13.2", "0.17.1", "0.21.2"} <= set(versions)
    assert len(versions) >= 36


def test_newest_release_has_exactly_the_schema_keys() -> None:
    """The newest recorded fields of each type are the properties scripts/gen_schemas.py wrote."""
    index = json.loads((ROOT / "peftlint" / "data" / "peft_types.json").read_text())
    assert index["peft_version"] == NEWEST
    newest = gen.fields_in(DATA, NEWEST)
    assert set(newest) == set(index["types"])
    for peft_type, entry in index["types"].items():
        schema = json.loads((ROOT / "schemas" / "peft" / entry["schema"]).read_text())
        assert newest[peft_type] == set(schema["properties"]), peft_type


def test_installed_peft_source_reads_as_recorded() -> None:
    """The reader on the installed peft's own files (as a wheel holds them) gives the recorded fields."""
    import importlib.metadata

    installed = importlib.metadata.version("peft")
    if installed not in DATA["versions"]:
        pytest.skip(f"installed peft {installed} is not a recorded release")
    read = gen.type_fields(gen.tree_sources(_installed_peft_root()))
    assert gen.disagreements(DATA, {installed: read}) == []


def test_known_history() -> None:
    lora = DATA["types"]["LORA"]
    assert lora["enable_lora"] == ["0.1.0", "0.2.0"] and lora["merge_weights"] == ["0.1.0", "0.2.0"]
    assert lora["use_dora"][0] == "0.9.0" and lora["init_lora_weights"][0] == "0.3.0"
    assert "BONE" in DATA["types"] and "BONE" not in gen.fields_in(DATA, NEWEST)  # a method peft removed


def test_data_file_is_small() -> None:
    assert (ROOT / "peftlint" / "data" / "peft_versions.json").stat().st_size < 60_000


def test_check_mode_against_the_cached_wheels(capsys: pytest.CaptureFixture[str]) -> None:
    wheels = gen.cached_wheels(gen.DEFAULT_CACHE)
    if not wheels:
        pytest.skip(f"no peft wheels cached in {gen.DEFAULT_CACHE} (set PEFTLINT_PEFT_WHEELS; scripts/gen_peft_versions.py downloads them)")
    assert gen.main(["--check", "--offline", "--cache", str(gen.DEFAULT_CACHE)]) == 0, capsys.readouterr().err


def test_check_mode_fails_on_a_wheel_that_disagrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wheel whose LoraConfig lacks a field the data records for it: --check names it."""
    source = _installed_peft_root()
    wheel = tmp_path / f"peft-{NEWEST}-py3-none-any.whl"
    import zipfile

    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in gen.tree_sources(source):
            if path == "peft/tuners/lora/config.py":
                text = text.replace("    use_dora: bool = field(", "    use_dora_renamed: bool = field(")
            archive.writestr(path, text)
    assert gen.main(["--check", "--offline", "--cache", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"peft {NEWEST} LORA" in err and "use_dora" in err and "use_dora_renamed" in err


def test_check_mode_without_wheels_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--check", "--offline", "--cache", str(tmp_path)]) == 1
    assert "no peft wheels" in capsys.readouterr().err


# --- (b) the reader and the data format -------------------------------------------------------------------


def test_reader_takes_dataclass_fields_with_inheritance_and_the_peft_type() -> None:
    base = (
        "from dataclasses import dataclass, field\nfrom typing import ClassVar\n"
        "@dataclass\nclass PeftConfigMixin:\n    peft_type: str = None\n    registry: ClassVar[dict] = {}\n"
        "class NotADataclass:\n    ignored: int = 1\n"
        "@dataclass\nclass PeftConfig(PeftConfigMixin):\n    base_model_name_or_path: str = None\n"
    )
    lora = (
        "@dataclass\nclass LoraConfig(PeftConfig):\n    r: int = 8\n    enable_lora: list = None\n"
        "    def __post_init__(self):\n        self.peft_type = PeftType.LORA\n"
        "@dataclass\nclass AdaLoraConfig(LoraConfig):\n    target_r: int = 8\n"
        "    def __post_init__(self):\n        super().__post_init__()\n        self.peft_type = PeftType.ADALORA\n"
        "@dataclass\nclass LoftQConfig:\n    loftq_bits: int = 4\n"
    )
    fields = gen.type_fields([("peft/config.py", base), ("peft/tuners/lora.py", lora), ("peft/other.py", "x = (")])
    assert fields == {
        "ADALORA": ["peft_type", "base_model_name_or_path", "r", "enable_lora", "target_r"],
        "LORA": ["peft_type", "base_model_name_or_path", "r", "enable_lora"],
    }


def test_a_field_that_vanished_and_came_back_has_two_ranges() -> None:
    built = gen.build({
        "0.1.0": {"LORA": ["r", "x"]}, "0.2.0": {"LORA": ["r"]}, "0.3.0": {"LORA": ["r", "x"]},
    })  # fmt: skip
    assert built["types"]["LORA"] == {"r": [["0.1.0", "0.3.0"]], "x": [["0.1.0", "0.1.0"], ["0.3.0", "0.3.0"]]}
    reread = json.loads(gen.dump(built))
    assert reread["types"]["LORA"] == {"r": ["0.1.0", "0.3.0"], "x": [["0.1.0", "0.1.0"], ["0.3.0", "0.3.0"]]}
    assert gen.fields_in(reread, "0.2.0") == {"LORA": {"r"}}
    assert gen.disagreements(reread, {"0.2.0": {"LORA": ["r"]}, "0.3.0": {"LORA": ["r"]}}) == [
        "peft 0.3.0 LORA: recorded but absent ['x'], present but unrecorded []"
    ]


# --- (c) which release a version text means ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("0.9.0", "0.9.0"),
        ("0.13.2", "0.13.2"),
        ("0.13", "0.13.2"),  # the last 0.13.x
        ("0.3.1", "0.3.0"),  # never released: the last release before it
        ("0.17.2.dev0", "0.18.0"),  # a development build has the keys of the release it leads to
        ("0.18.1.dev0@0123abc", "0.18.1"),
        ("0.19.0rc1", "0.19.0"),
        ("v0.10.0", "0.10.0"),
        ("9.0.0", NEWEST),  # newer than the data: the newest known
    ],
)
def test_release_for(text: str, release: str) -> None:
    assert release_for(text) == release


@pytest.mark.parametrize("text", ["abc", "latest", "1", "", "0.0.5", "0.9.x"])
def test_release_for_rejects(text: str) -> None:
    with pytest.raises(VersionError):
        release_for(text)


# --- (d) findings on real saved adapters --------------------------------------------------------------------


def _codes(path: Path, **options: str) -> list[tuple[str, str | None, str]]:
    report = lint_paths([str(path)], select=("PL0",), **options)  # type: ignore[arg-type]
    return [(f.code, f.key, f.severity) for f in report.findings]


def test_keys_of_peft_0_2_are_legacy_info_not_unknown() -> None:
    report = lint_paths([str(LEGACY_ADAPTER)])
    legacy = [f for f in report.findings if f.code == "PL008"]
    assert [(f.key, f.severity, f.line) for f in legacy] == [("enable_lora", "info", 4), ("merge_weights", "info", 10)]
    assert legacy[0].message.startswith("legacy key `enable_lora` of peft <= 0.2.0, ignored by peft ")
    assert not [f for f in report.findings if f.code == "PL001"]


def test_legacy_keys_are_valid_for_the_peft_that_had_them() -> None:
    """The adapter was written by a 0.3.0 development build, which had both generations of keys."""
    assert _codes(LEGACY_ADAPTER, peft_version="0.2.0") == []
    assert _codes(LEGACY_ADAPTER, peft_version="0.3.0.dev0") == [
        ("PL008", "enable_lora", "info"), ("PL008", "merge_weights", "info"),
    ]  # fmt: skip


@pytest.mark.parametrize("version", [None, "0.2.0", "0.5.0", "0.8.0", "0.17.0", "0.21.2"])
@pytest.mark.parametrize("adapter", [PEFT_09_ADAPTER, PEFT_018_ADAPTER], ids=["peft-0.9", "peft-0.18.1"])
def test_saved_keys_at_peft_default_never_need_a_newer_peft(adapter: Path, version: str | None) -> None:
    """Every key a newer peft wrote at its default (`use_dora: false`) is ignored by an older one,
    which does the default anyway: no finding, whatever the version in use."""
    assert _codes(adapter, **({"peft_version": version} if version else {})) == []


def _adapter(folder: Path, **values: object) -> Path:
    data = json.loads(PEFT_09_ADAPTER.read_text())
    data.update(values)
    path = folder / "adapter_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_a_key_newer_than_the_peft_in_use_is_an_error(tmp_path: Path) -> None:
    path = _adapter(tmp_path, use_dora=True)
    report = lint_paths([str(path)], select=("PL009",), peft_version="0.8.2")
    [finding] = report.findings
    assert (finding.key, finding.severity) == ("use_dora", "error")
    assert finding.message == "`use_dora` needs peft >= 0.9.0 (this config is for peft 0.8.2: --peft-version)"
    assert _codes(path, peft_version="0.9.0") == []


def test_a_newer_keyword_argument_of_a_peft_class_is_an_error_even_at_its_default(tmp_path: Path) -> None:
    """`LoraConfig(use_dora=False)` raises TypeError on peft 0.8: unlike from_pretrained, the class
    does not skip a keyword it lacks, so the default is no excuse there."""
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig\nconfig = LoraConfig(r=8, lora_alpha=16, use_dora=False)\n")
    assert _codes(path, peft_version="0.8.2") == [("PL009", "use_dora", "error")]
    assert _codes(path, peft_version="0.9.0") == []


def test_a_method_newer_than_the_peft_in_use_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "vera.yaml"
    path.write_text("peft_type: VERA\ntask_type: CAUSAL_LM\nr: 256\ntarget_modules: [q_proj, v_proj]\n")
    report = lint_paths([str(path)], select=("PL009",), peft_version="0.10.0")
    assert [(f.key, f.message.split(" (")[0]) for f in report.findings] == [("peft_type", "`peft_type: VERA` needs peft >= 0.11.0")]


def test_a_key_no_peft_ever_had_stays_pl001_with_did_you_mean(tmp_path: Path) -> None:
    path = _adapter(tmp_path, lora_aplha=16, enable_lora=None)
    report = lint_paths([str(path)], select=("PL0",))
    assert [(f.code, f.key) for f in report.findings] == [("PL001", "lora_aplha"), ("PL008", "enable_lora")]
    assert "did you mean `lora_alpha`?" in report.findings[0].message


def test_an_unset_key_of_a_peft_newer_than_the_data_in_a_saved_adapter_is_no_typo(tmp_path: Path) -> None:
    """peft's own benchmark configs carry `astra_config: null`, a LoraConfig field of a peft after
    the newest release peftlint knows: peft wrote it, so it is no typo, and unset it changes nothing.
    Set to a value, or in a file peft did not write, it stays PL001."""
    saved = _adapter(tmp_path / "saved", astra_config=None)
    assert _codes(saved) == []
    in_peft_layout = tmp_path / "benchmark" / "adapter_config.json"  # inference_mode false: not a saved adapter
    in_peft_layout.parent.mkdir()
    in_peft_layout.write_text(json.dumps({**json.loads(saved.read_text()), "inference_mode": False}, indent=2, sort_keys=True))
    assert _codes(in_peft_layout) == []
    assert _codes(_adapter(tmp_path / "set", astra_config={"rank": 4})) == [("PL001", "astra_config", "error")]
    handwritten = tmp_path / "lora.yaml"
    handwritten.write_text("peft_type: LORA\nr: 8\ntarget_modules: [q_proj]\nastra_config: null\n")
    assert _codes(handwritten) == [("PL001", "astra_config", "error")]


def test_a_set_key_of_the_development_build_that_saved_the_adapter_is_legacy_info(tmp_path: Path) -> None:
    """peft's benchmark saved GraLoRA adapters from a source checkout (`0.17.2.dev0@UNKNOWN`) with
    `gralora_alpha`, a field renamed before any release had it: peft wrote it, and peft skips it."""
    dev = _adapter(tmp_path / "dev", peft_version="0.17.2.dev0@UNKNOWN", some_dev_field=64)
    assert _codes(dev) == [("PL008", "some_dev_field", "info")]
    released = _adapter(tmp_path / "released", peft_version="0.17.1", some_dev_field=64)
    assert _codes(released) == [("PL001", "some_dev_field", "error")]


def test_a_legacy_keyword_argument_of_a_peft_class_is_an_error(tmp_path: Path) -> None:
    """`LoraConfig(merge_weights=False)` raises TypeError on peft >= 0.3: PL001, saying why."""
    path = tmp_path / "train.py"
    path.write_text("from peft import LoraConfig\nconfig = LoraConfig(r=8, lora_alpha=16, merge_weights=False)\n")
    [finding] = lint_paths([str(path)], select=("PL0",)).findings
    assert (finding.code, finding.key, finding.severity) == ("PL001", "merge_weights", "error")
    assert "a key of peft <= 0.2.0; LoraConfig() of peft" in finding.message and "TypeError" in finding.message


# --- (e) the version in use and its precedence ---------------------------------------------------------------


def _version_fact(path: Path, **options: str) -> dict[str, str]:
    from peftlint.enrich.stage import Enricher, ModelOptions
    from peftlint.pipeline import config_facts, load_configs
    from peftlint.settings.config import settings_for

    [config] = load_configs(str(path))
    settings = settings_for(path).with_cli(**options)
    return config_facts(config, settings, Enricher(ModelOptions()))["peft_version"]


def _pyproject(folder: Path, version: str) -> None:
    (folder / "pyproject.toml").write_text(f'[tool.peftlint]\npeft-version = "{version}"\n')


def test_precedence_cli_then_pyproject_then_the_file_then_installed(tmp_path: Path) -> None:
    import importlib.metadata

    bare = _adapter(tmp_path / "bare", use_dora=True)  # no peft_version
    recorded = _adapter(tmp_path / "recorded", use_dora=True, peft_version="0.8.2")
    configured = _adapter(tmp_path / "configured", use_dora=True, peft_version="0.8.2")
    _pyproject(tmp_path / "configured", "0.13.0")
    installed = importlib.metadata.version("peft")
    assert _version_fact(bare) == {"version": installed, "source": "the installed peft", "release": release_for(installed)}
    assert _version_fact(recorded) == {"version": "0.8.2", "source": "the file's `peft_version`", "release": "0.8.2"}
    assert _version_fact(configured)["source"] == "pyproject.toml [tool.peftlint] peft-version"
    assert _version_fact(configured)["version"] == "0.13.0"
    assert _version_fact(configured, peft_version="0.7.1") == {"version": "0.7.1", "source": "--peft-version", "release": "0.7.1"}
    assert _codes(recorded) == [("PL009", "use_dora", "error")]
    assert _codes(configured) == []  # the project says 0.13.0: the file's writer does not decide
    assert _codes(configured, peft_version="0.8.0") == [("PL009", "use_dora", "error")]


def test_verbose_says_which_peft_each_config_is_for(tmp_path: Path) -> None:
    recorded = _adapter(tmp_path / "recorded", use_dora=True, peft_version="0.9.0")
    simple = tmp_path / "simple.yaml"
    simple.write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "-v", str(recorded), str(simple)], capture_output=True, text=True, timeout=60
    )
    assert f"peft version of {recorded}: 0.9.0 (the file's `peft_version`)" in result.stderr
    assert f"peft version of {simple}: any (no key of this config depends on it)" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "-v", "--peft-version", "0.13", str(recorded)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"peft version of {recorded}: 0.13 (--peft-version; the keys of 0.13.2)" in result.stderr


def test_a_file_version_peft_never_writes_falls_through(tmp_path: Path) -> None:
    path = _adapter(tmp_path, use_dora=True, peft_version="unknown")
    assert _version_fact(path)["source"] == "the installed peft"


def test_a_development_build_in_the_file_is_no_evidence_of_its_keys(tmp_path: Path) -> None:
    """peft's own benchmark saved GraLoRA adapters (first released in 0.19.0) as 0.17.2.dev0@UNKNOWN."""
    path = tmp_path / "adapter_config.json"
    path.write_text(json.dumps({"peft_type": "GRALORA", "peft_version": "0.17.2.dev0@UNKNOWN", "r": 32, "target_modules": ["q_proj"]}))
    assert _version_fact(path)["source"] == "the installed peft"
    assert [c for c in _codes(path) if c[0] == "PL009"] == []
    assert peft_versions.is_development("0.18.1+local") and not peft_versions.is_development("0.19.0rc1")


def test_a_method_peft_removed_says_when_it_existed(tmp_path: Path) -> None:
    path = tmp_path / "adapter_config.json"
    path.write_text(json.dumps({"peft_type": "BONE", "r": 64, "target_modules": ["q_proj"]}))
    [finding] = lint_paths([str(path)], select=("PL004",), peft_version="0.21.2").findings
    assert finding.message == "unknown `peft_type` `BONE`: a method of peft 0.14.0 to 0.18.1 only; peft 0.21.2 no longer has it"
    assert lint_paths([str(path)], select=("PL0",), peft_version="0.16.0").findings == []


def test_the_installed_version_is_read_without_importing_importlib_metadata(tmp_path: Path) -> None:
    """importlib.metadata costs ~10-40 ms of start-up (email, zipfile, shutil): a pip-installed
    peft's version comes from its dist-info folder's name, and a config whose keys every release
    has does not look at all."""
    import importlib.metadata

    assert peft_versions.installed_version() == importlib.metadata.version("peft")
    dora = tmp_path / "dora.yaml"
    dora.write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\nuse_dora: true\n")
    code = (
        "import sys, peftlint.cli\n"
        "try:\n    peftlint.cli.main(['check', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "from peftlint.normalize import peft_versions\n"
        "print(peft_versions.installed_version.cache_info().currsize, 'importlib.metadata' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(dora)], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "1 False", result.stdout + result.stderr


def test_a_config_whose_keys_every_peft_had_does_not_look_for_the_installed_peft(tmp_path: Path) -> None:
    simple = tmp_path / "simple.yaml"
    simple.write_text("peft_type: LORA\nr: 8\nlora_alpha: 16\ntarget_modules: [q_proj, v_proj]\n")
    assert _version_fact(simple)["source"].startswith("not read")


def test_no_peft_installed_is_the_newest_release(tmp_path: Path) -> None:
    """A pre-commit environment: nothing named peft on the path."""
    path = _adapter(tmp_path / "adapter", use_dora=True)
    code = (
        "import sys\n"
        "sys.path[:] = [p for p in sys.path if 'site-packages' not in p] + [sys.argv[2]]\n"
        "from peftlint.normalize import peft_versions\n"
        "print(peft_versions.installed_version(), peft_versions.resolve(None, None).source, 'importlib.metadata' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"None {peft_versions.NEWEST} False", result.stdout + result.stderr


@pytest.mark.parametrize(
    ("folder", "metadata_file"),
    [("peft-0.8.0.dist-info", "METADATA"), ("peft.egg-info", "PKG-INFO")],  # pip; a setup.py develop install
)
def test_the_installed_peft_is_read_from_its_metadata(tmp_path: Path, folder: str, metadata_file: str) -> None:
    """A peft 0.8.0 distribution first on the path (its metadata only: nothing to import)."""
    dist = tmp_path / "site" / folder
    dist.mkdir(parents=True)
    (dist / metadata_file).write_text("Metadata-Version: 2.1\nName: peft\nVersion: 0.8.0\n")
    path = _adapter(tmp_path / "adapter", use_dora=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "--select", "PL009", str(path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "`use_dora` needs peft >= 0.9.0 (this config is for peft 0.8.0: the installed peft)" in result.stdout


@pytest.mark.parametrize("value", ["abc", "0.0.1", "latest", "1"])
def test_bad_peft_version_option_is_a_one_line_usage_error(tmp_path: Path, value: str) -> None:
    path = _adapter(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "peftlint", "check", "--peft-version", value, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("peftlint: error: --peft-version: "), result.stderr


def test_bad_peft_version_in_pyproject_is_a_one_line_usage_error(tmp_path: Path) -> None:
    _pyproject(tmp_path, "newest")
    path = _adapter(tmp_path)
    result = subprocess.run([sys.executable, "-m", "peftlint", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "invalid [tool.peftlint].peft-version: `newest` is not a peft version" in result.stderr


def test_the_python_api_takes_the_peft_version_too(tmp_path: Path) -> None:
    from peftlint.api import SettingsError, check

    path = _adapter(tmp_path, use_dora=True)
    assert [f.code for f in check(path, select="PL009", peft_version="0.8.0")] == ["PL009"]
    assert [f.code for f in check(json.loads(path.read_text()), select="PL009", peft_version="0.8.0")] == ["PL009"]
    assert check(path, select="PL009") == []
    with pytest.raises(SettingsError, match="`newest` is not a peft version"):
        check(path, peft_version="newest")


# --- (f) the legacy key's removal fix -----------------------------------------------------------------------


def test_fix_removes_legacy_keys_from_a_saved_adapter(tmp_path: Path) -> None:
    path = tmp_path / "adapter_config.json"
    shutil.copy(LEGACY_ADAPTER, path)
    outcome = fix_findings(lint_paths([str(path)], select=("PL008",)).findings)
    assert sum(len(f.applied) for f in outcome.fixes) == 2
    fixed = json.loads(path.read_text())
    assert "enable_lora" not in fixed and "merge_weights" not in fixed
    assert fixed == {k: v for k, v in json.loads(LEGACY_ADAPTER.read_text()).items() if k not in ("enable_lora", "merge_weights")}
    assert lint_paths([str(path)], select=("PL0",)).findings == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "block.yaml",
            "peft_type: LORA  # old\r\nr: 8\r\nenable_lora:\r\n  - true\r\n  - false\r\nmerge_weights: false  # 0.2\r\nlora_alpha: 16\r\n",
            "peft_type: LORA  # old\r\nr: 8\r\nlora_alpha: 16\r\n",
        ),
        (
            "flow.yaml",
            "{peft_type: LORA, merge_weights: false, r: 8, lora_alpha: 16, enable_lora: null}\n",
            "{peft_type: LORA, r: 8, lora_alpha: 16}\n",
        ),
    ],
)
def test_remove_key_edit_keeps_everything_else(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode())
    findings = lint_paths([str(path)], select=("PL0",)).findings
    assert [(f.code, f.edit.op if f.edit else None) for f in findings] == [("PL008", "remove-key")] * 2
    fix_findings(findings)
    assert path.read_bytes().decode() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "config = LoraConfig(\r\n    r=8,\r\n    merge_weights=False,  # peft 0.2\r\n    lora_alpha=16,\r\n)\r\n",
            "config = LoraConfig(\r\n    r=8,\r\n    lora_alpha=16,\r\n)\r\n",
        ),
        ("config = LoraConfig(r=8, merge_weights=False, lora_alpha=16)\n", "config = LoraConfig(r=8, lora_alpha=16)\n"),
        ("config = LoraConfig(r=8, lora_alpha=16, merge_weights=False)\n", "config = LoraConfig(r=8, lora_alpha=16)\n"),
    ],
)
def test_remove_key_edit_on_a_python_call(text: str, expected: str) -> None:
    from peftlint.finding import Edit
    from peftlint.fix.python_ import python_edit

    assert python_edit(text, Edit("remove-key", ("merge_weights",), None)) == expected


def test_remove_key_edit_refuses_what_it_cannot_do_cleanly() -> None:
    from peftlint.finding import Edit
    from peftlint.fix.splice import NotApplicable
    from peftlint.fix.yaml_ import yaml_edit

    with pytest.raises(NotApplicable, match="only key"):
        yaml_edit("merge_weights: false\n", Edit("remove-key", ("merge_weights",), None))
    with pytest.raises(NotApplicable, match="list dash"):
        yaml_edit("- merge_weights: false\n  r: 8\n", Edit("remove-key", (0, "merge_weights"), None))
