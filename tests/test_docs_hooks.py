"""The docs hook that fills ``{{ result(...) }}`` placeholders from results files."""

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

HOOKS = Path(__file__).resolve().parents[1] / "docs" / "hooks.py"
spec = importlib.util.spec_from_file_location("docs_hooks", HOOKS)
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)

RESULT = {
    "models": {
        "LogSparse Transformer": {"sMAPE": 10.545898767964367, "R0.5": 0.04398776},
        "ETS(A,N,A)": {"MASE": 1.437031383685937},
    },
    "runs": [{"setting": "a", "epochs": 72}],
    "cpu": "AMD EPYC",
}


@pytest.fixture()
def site(tmp_path):
    """A repository root with mkdocs.yml and one results file."""
    (tmp_path / "mkdocs.yml").write_text("site_name: test\n")
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "m4_hourly.json").write_text(json.dumps(RESULT))
    config = {"config_file_path": str(tmp_path / "mkdocs.yml")}
    page = SimpleNamespace(file=SimpleNamespace(src_uri="benchmarks/m4_hourly.md"))
    return lambda markdown: hooks.on_page_markdown(markdown, page, config, None)


def test_substitution_and_format(site):
    text = (
        'sMAPE {{ result("m4_hourly", "models.LogSparse Transformer.sMAPE", ".2f") }}'
        ", on {{result('m4_hourly', 'cpu')}}."
    )
    assert site(text) == "sMAPE 10.55, on AMD EPYC."


def test_without_format_and_list_index(site):
    assert site('{{ result("m4_hourly", "runs.0.epochs") }}') == "72"
    full = site('{{ result("m4_hourly", "models.LogSparse Transformer.sMAPE") }}')
    assert full == "10.545898767964367"


def test_slash_separator_for_keys_with_dots(site):
    text = '{{ result("m4_hourly", "models/LogSparse Transformer/R0.5", ".4f") }}'
    assert site(text) == "0.0440"
    text = '{{ result("m4_hourly", "models/ETS(A,N,A)/MASE", ".3f") }}'
    assert site(text) == "1.437"


def test_placeholder_wrapped_over_lines(site):
    text = 'MASE {{ result("m4_hourly",\n  "models.ETS(A,N,A).MASE", ".2f") }} here'
    assert site(text) == "MASE 1.44 here"


def test_text_without_placeholders_is_unchanged(site):
    text = "# Title\n\n{{ not a placeholder }} and `{{ other }}`\n"
    assert site(text) == text


@pytest.mark.parametrize(
    "placeholder, message",
    [
        ('{{ result("m4_hourly", "models.LogSparse Transformer.MSE") }}', "'MSE'"),
        ('{{ result("m4_hourly", "models/LogSparse Transformer/R0.7") }}', "R0.7"),
        ('{{ result("m4_hourly", "models.LogSparse Transformer.R0.5") }}', "'R0'"),
        ('{{ result("m4_hourly", "models") }}', "ends at dict"),
        ('{{ result("m4_hourly", "runs.3.epochs") }}', "out of range"),
        ('{{ result("etth1", "models.x") }}', "etth1.json"),
        ('{{ result("m4_hourly", "cpu", ".2f") }}', "format"),
        ("{{ result(m4_hourly, cpu) }}", "string literals"),
        ('{{ result("m4_hourly") }}', "2 or 3 string arguments"),
        ('{{ results("m4_hourly", "cpu") }}', "starts like a result placeholder"),
    ],
)
def test_bad_placeholder_fails_the_build(site, placeholder, message):
    with pytest.raises(hooks.ResultPlaceholderError) as error:
        site(f"Intro.\n\nA value: {placeholder}\n")
    text = str(error.value)
    assert "benchmarks/m4_hourly.md" in text  # the page
    assert message in text


def test_error_names_page_file_and_key(site):
    with pytest.raises(hooks.ResultPlaceholderError) as error:
        site('{{ result("m4_hourly", "models.Theta.sMAPE") }}')
    text = str(error.value)
    assert "benchmarks/m4_hourly.md" in text
    assert "m4_hourly.json" in text
    assert "models.Theta.sMAPE" in text
