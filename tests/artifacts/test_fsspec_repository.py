"""A local `FsspecArtifactRepository` stays inside its root, symbolic links included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from slipway.artifacts.fsspec_repository import FsspecArtifactRepository
from slipway.errors import InvalidParameterValue


@pytest.fixture
def repo(tmp_path: Path) -> FsspecArtifactRepository:
    """A root holding links that leave it (`out/`, `out-file`) and one that stays (`in/`)."""
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "inside.txt").write_text("inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "out-file").symlink_to(outside / "secret.txt")
    (root / "in").symlink_to(root / "real", target_is_directory=True)
    return FsspecArtifactRepository(str(root))


ESCAPES: list[tuple[str, Callable[[FsspecArtifactRepository, Path], object]]] = [
    ("read through a folder link", lambda r, _: r.read_bytes("out/secret.txt")),
    ("read a file link", lambda r, _: r.read_bytes("out-file")),
    ("list through a folder link", lambda r, _: r.list("out")),
    ("write through a folder link", lambda r, _: r.write_bytes("out/new.txt", b"x")),
    ("overwrite a file link", lambda r, _: r.write_bytes("out-file", b"x")),
    ("delete through a folder link", lambda r, _: r.delete("out/secret.txt")),
    ("probe through a folder link", lambda r, _: r.exists("out/secret.txt")),
    ("download through a folder link", lambda r, tmp: r.download("out", tmp / "dl")),
]


@pytest.mark.parametrize(("what", "action"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_links_out_of_the_root_are_refused(
    repo: FsspecArtifactRepository, tmp_path: Path, what: str, action
) -> None:
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        action(repo, tmp_path)
    outside = tmp_path / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"


def test_links_that_stay_inside_work(repo: FsspecArtifactRepository, tmp_path: Path) -> None:
    assert repo.read_bytes("in/inside.txt") == b"inside"
    repo.write_bytes("in/new.txt", b"new")
    assert (tmp_path / "root" / "real" / "new.txt").read_bytes() == b"new"
    assert [f.path for f in repo.list("in")] == ["in/inside.txt", "in/new.txt"]


def test_a_listing_leaves_out_links_that_leave_the_root(repo: FsspecArtifactRepository) -> None:
    assert [f.path for f in repo.list()] == ["in", "real"]


def test_plain_paths_are_unaffected(repo: FsspecArtifactRepository, tmp_path: Path) -> None:
    repo.write_bytes("a/b/c.txt", b"abc")
    assert repo.read_bytes("a/b/c.txt") == b"abc"
    assert repo.exists("a/b") and repo.is_dir("a")
    target = repo.download("a", tmp_path / "dl")
    assert (Path(target) / "b" / "c.txt").read_bytes() == b"abc"
    repo.delete("a")
    assert not repo.exists("a")
