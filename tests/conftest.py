import pytest
import torch

#: every device a test parametrised by ``device`` runs on: the CPU, and CUDA where a GPU exists
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                reason="no CUDA device"))]


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """The device of the test: ``cpu``, and ``cuda`` where a GPU exists (skipped elsewhere)."""
    return torch.device(request.param)


@pytest.fixture(params=["off", "bf16"])
def amp(request, device) -> str:
    """The training precision (``amp`` of the engine): float32, then bfloat16 autocast (skipped
    on a CUDA device without bfloat16)."""
    if request.param == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        pytest.skip("this CUDA device has no bfloat16")
    return request.param


def pytest_collection_modifyitems(config, items):
    """The slow tests first, the notebook runs (the longest) before the others: pytest-xdist hands
    out the tests in this order, so the long ones start at once on both workers instead of
    finishing alone at the end of the run."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None,     # a stable sort
                                 item.path.name != "test_notebooks.py"))
