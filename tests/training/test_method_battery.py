"""Every registered method passes the shared battery (`tests/testing_common.py`): train, resume, export, reload,
card. The list is the registry's, so a new method folder is tested without editing this file."""

import pytest
from testing_common import MethodTester, built_in_methods

BUILT_IN = built_in_methods()


def test_every_built_in_method_folder_is_registered():
    from pathlib import Path

    import hfvideoclip.methods as package

    folders = {p.parent.name for p in Path(package.__file__).parent.glob("*/objective.py")}
    assert folders == set(BUILT_IN) and len(folders) >= 7


@pytest.mark.parametrize("method", BUILT_IN)
def test_method_battery(method, tmp_path, clip_dir, dataset, build):
    MethodTester(method).run_all(tmp_path, clip_dir, dataset, build)
