"""Starting the studio: :func:`serve` loads the model, builds the page and listens, offline.

Nothing is fetched at run time: Gradio's analytics and version check are off
(``GRADIO_ANALYTICS_ENABLED=False``, set before Gradio is imported), the Hugging Face hub is told
it is offline, no share link is made, server-side rendering (a Node.js process) and the MCP
server are off, and the page's fonts and scripts come from the installed package. The page is
served from ``host`` (localhost by default) only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from musicgen.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
OFFLINE = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_SSR_MODE": "False"}


def import_gradio() -> Any:
    """Gradio, imported offline; a :class:`ConfigError` saying how to install it where it is missing."""
    for name, value in OFFLINE.items():
        os.environ[name] = value
    try:
        import gradio
    except ImportError as error:
        raise ConfigError(f"musicgen studio needs Gradio, which is not installed ({error}): "
                          "pip install -e \".[studio]\"") from error
    return gradio


def serve(checkpoint: str | None = None, host: str = DEFAULT_HOST, port: int | None = None,
          out_dir: str | Path = "generated", soundfont: str | None = None, warm_up: bool = True,
          announce: Callable[[str], None] = print, block: bool = True) -> Any:
    """Load ``checkpoint`` (default: the shipped base model), compile its sampler (``warm_up``),
    and serve the page on ``host``:``port`` (default: the first free port from 7860); call
    ``announce`` with the address once it listens. With ``block``, serve until interrupted;
    else return the running ``gr.Blocks`` (``close()`` stops it)."""
    import_gradio()
    if port is not None:
        check_port(host, port)  # before the model loads, not after
    from musicgen.studio.engine import Studio
    from musicgen.studio.page import build_page

    studio = Studio(checkpoint, out_dir, soundfont)
    announce(f"loading {checkpoint or 'the base model'}" + (" and compiling its sampler..." if warm_up else "..."))
    if warm_up:
        studio.warm_up()
    else:
        studio.session()
    page = build_page(studio)
    page.queue(default_concurrency_limit=1)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    try:
        page.launch(server_name=host, server_port=port, share=False, inbrowser=False, prevent_thread_lock=True,
                    quiet=True, allowed_paths=[str(Path(out_dir).resolve())], ssr_mode=False, mcp_server=False,
                    pwa=False, enable_monitoring=False, footer_links=[], theme=None, css=_css())
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port or 'a port from 7860'}: {error} "
                          "(choose another with --port)") from error
    announce(f"musicgen studio: open {page.local_url} in a browser (Ctrl-C stops it)")
    if block:
        try:
            page.block_thread()
        finally:
            page.close()
    return page


def check_port(host: str, port: int) -> None:
    """Raise :class:`ConfigError` if nothing may listen on ``host``:``port`` (taken, or not an address here)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except (OSError, OverflowError) as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {getattr(error, 'strerror', None) or error} "
                          "(choose another with --port)") from error


def _css() -> str:
    from musicgen.studio.page import CSS

    return CSS
