"""The demo page: ask a served VQA model about an image and watch where each hop looks.

`DemoServer` serves one page (plain HTML, CSS and JavaScript shipped in
`static/`, nothing fetched from the internet) and passes the page's
`/v1/...` requests through to a model server's REST API, so the browser
talks to TF Serving's own API on the page's origin and shows only what the
model server returns. `vqa-demo` is the program.

    server = DemoServer("127.0.0.1", 8080, rest_address="127.0.0.1:8501", model_name="smem",
                        examples_dir="/photos")
    server.wait()  # serves until server.close()
"""

from vqa_tf.demo.page_server import DemoServer

__all__ = ["DemoServer"]
