import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.reports import params

from .conftest import make_template

SRC = (
    'model_ref: str = ""  # the model\n'
    "min_f1: float = 0.8  # lowest acceptable F1\n"
    "n_boot: int = 200  # bootstrap resamples\n"
    "strict: bool = False  # fail on warnings\n"
    "columns: list = []  # columns to watch\n"
    'title: "Optional[str]" = None  # report title\n'
)


@pytest.fixture
def tpl(tmp_path):
    return make_template(tmp_path / "t.ipynb", SRC, "pass")


def test_declared_types_and_help(tpl):
    d = params.declared(tpl)
    assert [p.type for p in d.values()] == ["str", "float", "int", "bool", "list", "Optional[str]"]
    assert d["min_f1"].help == "lowest acceptable F1"


def test_text_values_are_converted(tpl):
    got = params.validate(
        tpl,
        {"min_f1": "0.7", "n_boot": "50", "strict": "yes", "columns": '["a", "b"]', "title": "Weekly"},
        from_text=True,
    )
    assert got == {"min_f1": 0.7, "n_boot": 50, "strict": True, "columns": ["a", "b"], "title": "Weekly"}


def test_python_values_checked(tpl):
    assert params.validate(tpl, {"min_f1": 1, "title": None}) == {"min_f1": 1.0, "title": None}
    with pytest.raises(ValidationError, match=r"'n_boot' expects int, got 2.5 \(float\)"):
        params.validate(tpl, {"n_boot": 2.5})
    with pytest.raises(ValidationError, match="'strict' expects bool"):
        params.validate(tpl, {"strict": "maybe"}, from_text=True)


def test_unknown_parameter_suggests(tpl):
    with pytest.raises(ValidationError) as info:
        params.validate(tpl, {"min_f": 0.5})
    assert "no parameter 'min_f'" in str(info.value) and "min_f1" in str(info.value)


def test_template_without_parameters_cell(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(nb, str(tmp_path / "bare.ipynb"))
    with pytest.raises(ValidationError, match="no cell tagged 'parameters'"):
        params.declared(tmp_path / "bare.ipynb")
