"""The app as an agent's tool: Gradio serves its API as an MCP server (`mcp_server=True`), and the
`mcp` client package lists and calls the tools against the app running locally on the bundled model."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import json

import httpx
import numpy as np
import pytest
from PIL import Image

from pix2pix_color.core.color import gray_version

from .conftest import ROOT

pytest.importorskip("mcp")


def _data_uri(path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _session(app_server: str, work):
    """Run `work(session)` in an initialized MCP client session on the app's streamable-HTTP endpoint."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        async with streamable_http_client(f"{app_server}/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    # In a thread of its own: Playwright's sync API (the browser tests) keeps an event loop running
    # in the main thread for the whole session, where asyncio.run() refuses to start another.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_the_tools_are_listed_with_what_each_argument_means(app_server):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in _session(app_server, work)}
    # The API's endpoints, not the UI's events.
    assert set(tools) == {
        "colorize_photo",
        "colorize_photo_confidence",
        "colorize_photo_reference",
        "colorize_photo_variations",
        "colorize_video",
        "restore_photo",
        "repair_photo",
    }
    assert tools["colorize_photo_variations"].description.startswith("Colorize a black-and-white photo in several ways")
    assert "count" in tools["colorize_photo_variations"].inputSchema["properties"]
    photo = tools["colorize_photo"]
    assert photo.description.startswith("Colorize a black-and-white photo at its full resolution")
    properties = photo.inputSchema["properties"]
    assert set(properties) == {"upload", "working_size", "color_strength", "hints"}
    assert photo.inputSchema["required"] == ["upload"]
    assert all(p["description"] for p in properties.values()), properties  # every argument explained
    assert "from 0 (black and white) to 2" in properties["color_strength"]["description"]
    assert '[[x, y, "#rrggbb"], ...]' in properties["hints"]["description"]
    assert "from 16 to 1024" in properties["working_size"]["description"]  # any size, not only the page's few
    assert "enum" not in properties["working_size"]
    # Gradio joins a docstring's lines with ", ": each argument and returned value is one line.
    confidence = tools["colorize_photo_confidence"].description
    assert "Returns: the colorized photo as a lossless PNG of the input's size, its confidence map" in confidence
    assert "where one hint would help most" in confidence and "up to, three" not in confidence
    assert all(", ," not in t.description and "is, sure" not in t.description for t in tools.values())
    video = tools["colorize_video"]
    assert set(video.inputSchema["properties"]) == {"upload", "color_strength", "hints", "repair"}
    assert "dust, specks and scratches" in video.inputSchema["properties"]["repair"]["description"]
    assert all(p["description"] for p in video.inputSchema["properties"].values())
    restore = tools["restore_photo"]
    assert restore.description.startswith("Restore an old photo")
    assert set(restore.inputSchema["properties"]) == {"upload", "keep_tone", "repair"}
    assert "cracks, scratches" in restore.inputSchema["properties"]["repair"]["description"]
    assert tools["repair_photo"].description.startswith("Repair an old print")
    assert "sepia" in restore.inputSchema["properties"]["keep_tone"]["description"]
    reference = tools["colorize_photo_reference"].inputSchema["properties"]
    assert set(reference) == {"upload", "reference", "working_size", "color_strength"}
    assert "black-and-white one is refused" in reference["reference"]["description"]


def test_the_api_page_shows_snippets_the_endpoints_take(app_server):
    """The "Use via API" page: the working size is any text ("Auto" or 16-1024), and each file's
    example is a photo (a video for /colorize_video), not Gradio's placeholder PDF."""
    info = httpx.get(f"{app_server}/gradio_api/info", timeout=30).json()["named_endpoints"]
    colorize = {p["parameter_name"]: p for p in info["/colorize"]["parameters"]}
    assert colorize["working_size"]["python_type"]["type"] == "str"
    assert colorize["working_size"]["parameter_default"] == "Auto"
    for endpoint, suffix in [("/colorize", ".jpg"), ("/restore", ".jpg"), ("/colorize_reference", ".jpg"),
                             ("/colorize_video", ".mp4")]:  # fmt: skip
        upload = info[endpoint]["parameters"][0]["example_input"]
        assert upload["url"].endswith(suffix) and "pdf" not in json.dumps(info[endpoint]), endpoint


def test_an_agent_colorizes_a_committed_photo_with_a_hint(app_server, tmp_path):
    real = np.asarray(Image.open(ROOT / "tests" / "data" / "bridge_color.jpg").convert("RGB"))
    photo = tmp_path / "bridge-bw.png"
    Image.fromarray(gray_version(real), "L").save(photo)
    hint = [30, 20, "#d03020"]  # the sky, made red: something the model would never guess

    async def work(session):
        plain = await session.call_tool("colorize_photo", {"upload": _data_uri(photo, "image/png")})
        hinted = await session.call_tool(
            "colorize_photo", {"upload": _data_uri(photo, "image/png"), "hints": json.dumps([hint])}
        )
        letter = tmp_path / "letter.jpg"
        letter.write_text("Dear archivist, this is a letter, not a photo.\n")
        refused = await session.call_tool("colorize_photo", {"upload": _data_uri(letter, "image/jpeg")})
        return plain, hinted, refused

    plain, hinted, refused = _session(app_server, work)
    images = []
    for result in (plain, hinted):
        assert not result.isError, result.content
        (image,) = [c for c in result.content if c.type == "image"]
        assert image.mimeType == "image/png"
        images.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(image.data))).convert("RGB")).astype(int))
    assert images[0].shape == images[1].shape == real.shape  # the photo's full size
    x, y = hint[:2]
    red = [img[y - 2 : y + 3, x - 2 : x + 3, 0].mean() - img[y - 2 : y + 3, x - 2 : x + 3, 2].mean() for img in images]
    assert red[1] > red[0] + 30, red  # the hint was followed
    assert refused.isError and "not an image file" in refused.content[0].text  # a reason, not a traceback


def test_an_agent_colorizes_a_video(app_server):
    import av

    source = ROOT / "tests" / "data" / "pan_two_shots.mp4"

    async def work(session):
        return await session.call_tool("colorize_video", {"upload": _data_uri(source, "video/mp4")})

    result = _session(app_server, work)
    assert not result.isError, result.content
    text = " ".join(c.text for c in result.content if c.type == "text")
    url = text[text.index("http") :].split()[0]
    video = httpx.get(url, timeout=60).content
    with av.open(io.BytesIO(video)) as container, av.open(str(source)) as original:
        out, src = container.streams.video[0], original.streams.video[0]
        assert (out.width, out.height) == (src.width, src.height)
        assert sum(1 for _ in container.decode(video=0)) == sum(1 for _ in original.decode(video=0))
