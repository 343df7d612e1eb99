"""`safe_artifact_path`, the guard every artifact path goes through, table by table.

The guard sees paths as the storage will, already decoded: the server's routes decode
URLs before calling it, so `%` is an ordinary character. A path that would step outside
once percent-decoded again is refused as well (defence in depth).
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from slipway.artifacts import join_artifact_path, safe_artifact_path
from slipway.errors import InvalidParameterValue

ART = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("./", ""),
        ("model.pkl", "model.pkl"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("a//b/", "a/b"),
        ("./a/./b", "a/b"),
        ("a\\b\\c", "a/b/c"),  # backslashes are separators
        ("..a/b..", "..a/b.."),  # dots inside a name are fine
        ("a..b", "a..b"),
        ("100%", "100%"),  # a percent sign is an ordinary character
        ("50%25off", "50%25off"),
        ("a%2Fb", "a%2Fb"),  # one file named "a%2Fb", not a folder
        ("caf\u00e9/\u6a21\u578b", "caf\u00e9/\u6a21\u578b"),
        ("with space/x y", "with space/x y"),
    ],
)
def test_safe_paths_are_normalised(path: str | None, expected: str) -> None:
    assert safe_artifact_path(path) == expected


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("..", "'..'"),
        ("../secret", "'..'"),
        ("a/../../secret", "'..'"),
        ("a/..", "'..'"),
        ("a\\..\\..\\secret", "'..'"),  # Windows separators
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("\\\\server\\share", "absolute"),
        ("C:\\Windows", "absolute"),  # drive letters
        ("c:relative", "absolute"),
        ("a\x00b", "NUL"),
        ("%2e%2e/secret", "'..'"),  # would escape once decoded again
        ("%2E%2E", "'..'"),
        ("a/%2e%2e/%2e%2e/secret", "'..'"),
        ("..%2Fsecret", "'..'"),
        ("a%5C..%5C..%5Csecret", "'..'"),
        ("%2Fetc%2Fpasswd", "absolute"),
        ("%252e%252e/secret", "'..'"),  # encoded twice
        ("%00", "NUL"),
    ],
)
def test_paths_that_could_leave_the_root_are_refused(path: str, why: str) -> None:
    with pytest.raises(InvalidParameterValue, match=why):
        safe_artifact_path(path)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((), ""),
        ((None, ""), ""),
        (("a", "b.txt"), "a/b.txt"),
        (("a/", "/b"), None),  # an absolute second part is refused, not joined
        (("models", None, "m.pkl"), "models/m.pkl"),
        (("a", ".."), None),
    ],
)
def test_join_artifact_path(parts: tuple[str | None, ...], expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidParameterValue):
            join_artifact_path(*parts)
    else:
        assert join_artifact_path(*parts) == expected


def _raw_get(url: str, target: str) -> tuple[int, bytes]:
    """GET `target` exactly as written (no client-side normalisation of the path)."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    "target",
    [
        f"{ART}/%2e%2e/secret.txt",
        f"{ART}/%2E%2E/secret.txt",
        f"{ART}/sub/%2e%2e/%2e%2e/secret.txt",
        f"{ART}/..%2Fsecret.txt",
        f"{ART}/%252e%252e/secret.txt",
        f"{ART}/%5C..%5Csecret.txt",
        f"{ART}?path=%2e%2e",
        f"{ART}?path=..%2F",
    ],
)
def test_the_server_decodes_then_guards(live_server, target: str) -> None:
    """Encoded traversal sent byte for byte to the real server cannot reach a file beside
    the artifacts folder."""
    secret = live_server.artifacts_dir.parent / "secret.txt"
    secret.write_text("do not serve")
    status, body = _raw_get(live_server.url, target)
    assert status == 400, body
    assert b"INVALID_PARAMETER_VALUE" in body
    assert b"do not serve" not in body


def test_a_symlink_out_of_the_root_is_refused_through_the_server(
    live_server, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not serve")
    live_server.artifacts_dir.mkdir(parents=True, exist_ok=True)
    (live_server.artifacts_dir / "link").symlink_to(outside, target_is_directory=True)
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        response = http.get(f"{ART}/link/secret.txt")
        assert response.status_code == 400
        assert "symbolic link" in response.json()["message"]
        assert http.put(f"{ART}/link/new.txt", content=b"x").status_code == 400
    assert not (outside / "new.txt").exists()
