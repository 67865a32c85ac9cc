"""The demo page in headless Chromium (Debian's `chromium`, driven by Playwright) against a real model server:
the page shows the REST API's own answer and draws each hop's attention, shows the server's errors, and its
search tab finds the synthetic gallery's image by its caption with an m-DAN served next to it.

Screenshots go to $TEST_UNDECLARED_OUTPUTS_DIR under Bazel, else to tests/outputs/screenshots/ (ignored by
git; the README shows copies of them from docs/screenshots/).
"""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
from serving_servers import KINDS, MODEL, Server, base_with
from system_packages import require
from test_server_limits import BAD_REST, MAX_BODY, PREDICT, TIMEOUT_MS, raw_request
from training_runs import env, program

from vqa_tf.demo import DemoServer
from vqa_tf.search import GalleryEmbedder, GalleryIndex, GallerySearch, embed_gallery
from vqa_tf.serving.http_server import HttpLimits
from vqa_tf.training import make_task

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = pathlib.Path(
    os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR", pathlib.Path(__file__).parent / "outputs" / "screenshots")
)

# The limits test_server_limits.py gives the model server's REST API.
PAGE_LIMITS = HttpLimits(num_threads=4, timeout_seconds=TIMEOUT_MS / 1000, max_body_bytes=MAX_BODY)


@pytest.fixture(scope="module")
def examples(task, tmp_path_factory):
    directory = tmp_path_factory.mktemp("examples")
    for example in task.eval_examples[:3]:
        shutil.copy(example.image_path, directory / os.path.basename(example.image_path))
    return directory


@pytest.fixture(scope="module")
def demo(server, examples):
    page_server = DemoServer("127.0.0.1", 0, f"127.0.0.1:{server.rest_port}", MODEL, str(examples))
    yield page_server
    page_server.close()


GALLERY_SIZE = 12


@pytest.fixture(scope="module")
def mdan_gallery(mdan_export, tmp_path_factory):
    """(export base path, gallery index directory, [(image path, its first caption)])."""
    model_dir, path, config = mdan_export
    base = os.path.dirname(path)
    examples = make_task(config, model_dir).eval_examples[:GALLERY_SIZE]
    gallery = str(tmp_path_factory.mktemp("gallery_embeddings"))
    embed_gallery(GalleryEmbedder(base), [e.image_path for e in examples], gallery, num_shards=2)
    GalleryIndex.build_from(gallery, "exact").save(gallery + "/index")
    return base, gallery + "/index", [(e.image_path, e.captions[0]) for e in examples]


@pytest.fixture(scope="module", params=KINDS)
def search_demo(request, mdan_gallery, server, tmp_path_factory):
    base, index_dir, _ = mdan_gallery
    mdan = Server(
        request.param,
        "--model_name=mdan",
        f"--model_base_path={base}",
        log_dir=str(tmp_path_factory.mktemp("mdan_logs")),
    )
    mdan.wait_for_version("mdan", None)
    page_server = DemoServer(
        "127.0.0.1",
        0,
        f"127.0.0.1:{server.rest_port}",
        MODEL,
        search=("mdan", f"127.0.0.1:{mdan.rest_port}", GalleryIndex.load(index_dir)),
    )
    yield page_server
    page_server.close()
    mdan.stop()


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM is not None, "chromium", "The demo page's browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, demo):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(demo.url)
    page.wait_for_function("document.getElementById('examples').options.length > 1")
    yield page
    page.close()


def _screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _ask(page, question):
    page.fill("#question", question)
    page.click("#ask-button")
    page.wait_for_function("!document.getElementById('result').hidden || !document.getElementById('error').hidden")


def test_the_page_shows_the_rest_answer_and_draws_each_hop_where_it_looks(page, server, examples, task):
    name = sorted(os.listdir(examples))[0]
    example = next(e for e in task.eval_examples if os.path.basename(e.image_path) == name)
    page.select_option("#examples", name)
    page.wait_for_selector("#preview:not([hidden])")
    _ask(page, example.question)
    assert page.is_hidden("#error"), page.inner_text("#error")

    expected = server.rest.predict(MODEL, {"question": [example.question], "image": [(examples / name).read_bytes()]})
    assert page.inner_text("#answer") == expected["answer"][0].decode()
    rows = page.eval_on_selector_all("#top-answers tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert rows == [answer.decode() for answer in expected["top_answers"][0]]
    assert example.question in page.inner_text("#hops")

    attention = np.asarray(expected["attention"][0])  # [hops, H, W]
    assert page.eval_on_selector_all("canvas.overlay", "c => c.length") == len(attention)
    for hop, grid in enumerate(attention):
        alpha = np.array(
            page.evaluate(
                "id => { const c = document.getElementById(id); "
                "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; "
                "return Array.from(d).filter((_, i) => i % 4 === 3); }",
                f"overlay-{hop}",
            )
        )
        alpha = alpha.reshape(grid.shape)
        top = np.unravel_index(np.argmax(grid), grid.shape)
        assert alpha[top] == 255  # opaque where the hop looks most
        np.testing.assert_allclose(alpha / 255, np.maximum(grid, 0) / grid.max(), atol=1 / 255)

    page.fill("#opacity", "0.3")
    assert page.eval_on_selector("#overlay-0", "c => c.style.opacity") == "0.3"
    _screenshot(page, "demo_page.png")


def test_a_corrupt_upload_and_an_empty_question_show_the_server_error_and_the_page_goes_on(page, examples):
    page.set_input_files(
        "#file", files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64}]
    )
    _ask(page, "is there a red square?")
    assert page.is_visible("#error") and "neither JPEG nor PNG" in page.inner_text("#error")
    _screenshot(page, "demo_page_error.png")

    page.select_option("#examples", sorted(os.listdir(examples))[1])
    page.wait_for_function("document.getElementById('error').hidden")
    _ask(page, "")
    assert page.is_visible("#error") and "empty" in page.inner_text("#error").lower()
    _ask(page, "is there a red square?")
    assert page.is_hidden("#error") and page.inner_text("#answer") in ("yes", "no") + tuple(
        page.eval_on_selector_all("#top-answers tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    )


def test_the_page_server_passes_rest_errors_through_and_ships_every_asset(demo):
    with urllib.request.urlopen(demo.url) as response:
        html = response.read().decode()
    assert (
        "/static/demo.js" in html and "/static/demo.css" in html and "http" not in html.replace('name="viewport"', "")
    )  # nothing is fetched from elsewhere
    for asset in ("demo.js", "demo.css"):
        with urllib.request.urlopen(demo.url + "static/" + asset) as response:
            assert response.status == 200 and b"http://" not in response.read()
    request = urllib.request.Request(
        demo.url + f"v1/models/{MODEL}:predict",
        data=b'{"instances": [{}]}',
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 400 and "error" in json.loads(raised.value.read())


@pytest.mark.parametrize("name", BAD_REST)
def test_the_page_server_refuses_a_malformed_request_as_rest_does(server, name):
    page = DemoServer("127.0.0.1", 0, f"127.0.0.1:{server.rest_port}", MODEL, limits=PAGE_LIMITS)
    try:
        head, body, status = BAD_REST[name]
        got, reply = raw_request(SimpleNamespace(rest_port=page.port), head, body)
        assert got == status and reply["error"], reply
    finally:
        page.close()


def test_the_page_server_closes_idle_and_half_sent_requests(server):
    page = DemoServer("127.0.0.1", 0, f"127.0.0.1:{server.rest_port}", MODEL, limits=PAGE_LIMITS)
    try:
        idle = socket.create_connection(("127.0.0.1", page.port), timeout=30)
        half = socket.create_connection(("127.0.0.1", page.port), timeout=30)
        half.sendall(PREDICT + b"Content-Length: 100\r\n\r\n{")
        time.sleep(PAGE_LIMITS.timeout_seconds + 2)
        assert idle.recv(1) == b""
        answer = half.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") and b'"error"' in answer
        idle.close(), half.close()
    finally:
        page.close()


@pytest.mark.slow
def test_the_search_tab_finds_each_image_by_its_caption(browser, search_demo, mdan_gallery):
    base, index_dir, gallery = mdan_gallery
    reference = GallerySearch(base, index_dir)  # the same export and index, searched in this process
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(search_demo.url)
        page.wait_for_selector("#tabs:not([hidden])")
        page.click("#tab-search")
        own_first = 0
        for image_path, caption in gallery:
            page.fill("#sentence", caption)
            page.click("#search-button")
            page.wait_for_function(
                "document.querySelector('#thumbnails img') && !document.getElementById('search-button').disabled"
            )
            shown = page.eval_on_selector_all("#thumbnails img", "images => images.map(i => i.dataset.name)")
            expected = [os.path.basename(p) for p, _ in reference.search([caption], k=8)[0]]
            assert shown == expected, caption
            own_first += shown[0] == os.path.basename(image_path)
            page.wait_for_function("document.querySelector('#thumbnails img').naturalWidth > 0")  # the image loads
        _screenshot(page, "demo_page_search.png")
        assert own_first == len(gallery), f"{own_first} of {len(gallery)} captions found their own image first"
        page.fill("#sentence", "")
        page.click("#search-button")
        page.wait_for_selector("#search-error:not([hidden])")
        assert "empty" in page.inner_text("#search-error").lower()
    finally:
        page.close()


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [int(child) for child in f.read().split()]


@pytest.mark.slow
def test_vqa_demo_starts_its_model_server_and_stops_it_when_terminated(smem_export, tmp_path):
    base = base_with(tmp_path, smem_export[1], 1)
    demo = subprocess.Popen(
        [*program("serving.demo"), f"--model_base_path={base}", f"--model_name={MODEL}", "--port=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    try:
        lines = []
        while not (lines and lines[-1].startswith("demo page at")):
            line = demo.stdout.readline()
            assert line, f"vqa-demo exited with {demo.wait()}: {lines}"
            lines.append(line)
        url = lines[-1].split()[3]
        assert url.startswith("http://127.0.0.1:")  # loopback unless --bind_address says otherwise
        with urllib.request.urlopen(url + "config.json") as response:
            assert json.loads(response.read())["model_name"] == MODEL
        (model_server,) = _children(demo.pid)
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=120) == 0
        assert not os.path.exists(f"/proc/{model_server}")  # stopped and reaped, not left behind
    finally:
        if demo.poll() is None:
            demo.kill()
