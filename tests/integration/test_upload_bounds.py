"""Request bodies are bounded before they are read; a registry file cannot cost minutes."""

from __future__ import annotations

import time
from io import BytesIO

import pytest

from tests.integration.ops_pages import MANAGER, ops_app, registry_of, upload
from tests.web_helpers import basic
from web.limits import MAX_REQUEST_BYTES


@pytest.fixture
def app(deployment):
    """The deployment's app with an admin and an inspector besides its manager and tax head,
    and CSRF off."""
    return ops_app(deployment)


def test_a_body_over_the_limit_is_refused_unread_with_413_and_the_limit(app):
    before = registry_of(app)
    response = upload(app, b"#" * (MAX_REQUEST_BYTES + 1))
    assert response.status_code == 413
    assert "文件太大:最大 2 MiB" in response.get_data(as_text=True)
    english = app.test_client().post(
        "/ops/registry?lang=en",
        data={"file": (BytesIO(b"#" * (20 * 1024 * 1024)), "hall.yaml")},
        headers=basic(*MANAGER),
        content_type="multipart/form-data",
    )
    assert english.status_code == 413
    assert "File too large: at most 2 MiB" in english.get_data(as_text=True)
    assert registry_of(app) == before


def test_an_api_body_over_the_limit_gets_json(app):
    response = app.test_client().post(
        "/api/alerts/1/ack", data=b"{" * (MAX_REQUEST_BYTES + 1), headers=basic(*MANAGER)
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": "文件太大:最大 2 MiB"}


def test_an_alias_bomb_upload_is_refused_at_once(app):
    levels = 8  # before the bound: about a minute of this worker
    lines = ["m0: &m0 {a: x, b: y}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}]}}" for i in range(1, 9)]
    bomb = "hall: {name: H}\nx-bomb:\n" + "\n".join(f"  {line}" for line in lines) + "\n"
    assert levels == len(lines) - 1
    started = time.monotonic()
    response = upload(app, bomb.encode())
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert "aliases (*name) expand the file to" in response.get_data(as_text=True)
