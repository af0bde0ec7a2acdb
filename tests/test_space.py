"""The Hugging Face Space runs exactly the files the sync workflow uploads, with requirements.txt
installed and the package itself not installed. This builds that file set from the workflow's own
`hf upload` patterns in an empty folder, starts app.py there with pix2pix-color's installed metadata
out of reach, and colorizes a photo through gradio_client, as a visitor's API call would."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from PIL import Image

from .conftest import _free_port, landscape

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "sync-space.yml"

# Run as the Space would: `python app.py` in the uploaded folder, with every route to this checkout's
# installed copy of the package closed (its metadata and its editable-install finder).
LAUNCHER = """
import importlib.metadata, runpy, sys
real_version, real_distribution = importlib.metadata.version, importlib.metadata.distribution
def blocked(name):
    if name.replace("_", "-").lower() == "pix2pix-color":
        raise importlib.metadata.PackageNotFoundError(name)
importlib.metadata.version = lambda name: blocked(name) or real_version(name)
importlib.metadata.distribution = lambda name: blocked(name) or real_distribution(name)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
sys.path[:] = [{space!r}] + [p for p in sys.path if p != {root!r} and p != sys.path[0]]
sys.argv = ["app.py"]
import pix2pix_color
assert pix2pix_color.__file__.startswith({space!r}), pix2pix_color.__file__
print("pix2pix_color from", pix2pix_color.__file__, "version", pix2pix_color.__version__, flush=True)
runpy.run_path("app.py", run_name="__main__")
"""


def upload_patterns() -> tuple[list[str], list[str]]:
    """The --include and --exclude patterns of the workflow's `hf upload` step."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["sync"]["steps"]
    script = next(s["run"] for s in steps if "hf upload" in s.get("run", ""))
    command = script[script.index("hf upload") :].replace("\\\n", " ")
    words = shlex.split(command.splitlines()[0])
    include = [words[i + 1] for i, w in enumerate(words) if w == "--include"]
    exclude = [words[i + 1] for i, w in enumerate(words) if w == "--exclude"]
    return include, exclude


def uploaded_files() -> list[str]:
    """What `hf upload . . --include ... --exclude ...` sends from a clean checkout: the tracked
    files, filtered by huggingface_hub's own matcher (the one the command uses)."""
    from huggingface_hub.utils import filter_repo_objects

    include, exclude = upload_patterns()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return list(filter_repo_objects(tracked.split(), allow_patterns=include, ignore_patterns=exclude))


def test_the_upload_is_the_app_and_the_library_without_packaging_files():
    files = uploaded_files()
    assert "app.py" in files and "requirements.txt" in files
    assert "pix2pix_color/__init__.py" in files and "pix2pix_color/default_model/model.safetensors" in files
    # The Space installs requirements.txt only: nothing may need pyproject.toml or an install.
    assert "pyproject.toml" not in files
    assert not any(f.startswith(("tests/", "train/", ".git")) for f in files)


def test_the_space_starts_from_exactly_the_uploaded_files_and_colorizes(tmp_path):
    from gradio_client import Client, handle_file

    space = tmp_path / "space"
    for name in uploaded_files():
        target = space / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    launcher = tmp_path / "launch_space.py"
    launcher.write_text(LAUNCHER.format(root=str(ROOT), space=str(space)))
    port = _free_port()
    env = {"GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env.update({k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")})
    log = (tmp_path / "space.log").open("w")
    command = [sys.executable, str(launcher)]
    process = subprocess.Popen(command, cwd=space, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = None
        deadline = time.monotonic() + 300
        while client is None:
            if process.poll() is not None:
                pytest.fail("the Space exited at start:\n" + (tmp_path / "space.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                pytest.fail("the Space did not answer within 300 s:\n" + (tmp_path / "space.log").read_text()[-3000:])
            try:
                client = Client(f"http://127.0.0.1:{port}", verbose=False)
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(1)
        photo = landscape(120, 80)
        path = tmp_path / "photo.png"
        photo.convert("L").save(path)
        result = Image.open(client.predict(handle_file(str(path)), api_name="/colorize"))
        assert result.size == (120, 80)
        assert result.info.get("Software", "").startswith("pix2pix-color 0.")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert f"pix2pix_color from {space}" in (tmp_path / "space.log").read_text()
