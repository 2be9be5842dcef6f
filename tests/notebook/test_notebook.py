"""The development notebook runs top to bottom on a fresh kernel, so it cannot rot unseen."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "dev_workflow.ipynb"
KERNEL_NAME = "hangar-test-venv"
CELL_TIMEOUT_SECONDS = 120
WHICH_PYTHON = "import sys\nprint(sys.executable)\nprint(sys.prefix)"


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that starts this very interpreter, so the notebook runs in the project's
    venv even if the user or the system has a `python3` kernel of another Python."""
    kernels = tmp_path / "jupyter"
    write_kernel_spec(kernels / "kernels" / KERNEL_NAME)
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return KERNEL_NAME


def test_dev_workflow_notebook_runs_clean_in_a_fresh_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venv_kernel: str
) -> None:
    root = tmp_path / "hangar"
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.setenv("HANGAR_NOTEBOOK_ROOT", str(root))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(WHICH_PYTHON))

    NotebookClient(
        notebook,
        kernel_name=venv_kernel,
        timeout=CELL_TIMEOUT_SECONDS,
        startup_timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(workdir)}},
    ).execute()  # raises CellExecutionError on the first failing cell

    assert notebook.cells[-1].outputs[0]["text"].split() == [sys.executable, sys.prefix]
    assert (root / "data" / "app.db").is_file()
    assert list(workdir.iterdir()) == []


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
