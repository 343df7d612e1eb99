"""`ModelUri.parse`: the `models:/` grammar the registry store resolves versions with."""

from __future__ import annotations

import pytest

from slipway.entities import ModelUri
from slipway.errors import InvalidParameterValue


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/churn/3", ModelUri(name="churn", version=3)),
        ("models:/churn/3/", ModelUri(name="churn", version=3)),
        ("models:/churn/3/model.pkl", ModelUri(name="churn", version=3, path="model.pkl")),
        ("models:/churn/3/a/b", ModelUri(name="churn", version=3, path="a/b")),
        ("models:/churn/latest", ModelUri(name="churn")),
        ("models:/churn/LATEST/data", ModelUri(name="churn", path="data")),
        ("models:/churn/Production", ModelUri(name="churn", stage="Production")),
        ("models:/churn/production", ModelUri(name="churn", stage="Production")),
        ("models:/churn/staging", ModelUri(name="churn", stage="Staging")),
        ("models:/churn/archived", ModelUri(name="churn", stage="Archived")),
        ("models:/churn@champion", ModelUri(name="churn", alias="champion")),
        (
            "models:/churn@champion/MLmodel",
            ModelUri(name="churn", alias="champion", path="MLmodel"),
        ),
        ("models:/my@model@prod", ModelUri(name="my@model", alias="prod")),  # last @ splits
        ("models:/m-0123abcd", ModelUri(model_id="m-0123abcd")),
        ("models:/m-0123abcd/", ModelUri(model_id="m-0123abcd")),
        ("models:///churn/2", ModelUri(name="churn", version=2)),
        ("models:/churn/0", ModelUri(name="churn", version=0)),  # the store refuses it
    ],
)
def test_parse(uri: str, expected: ModelUri) -> None:
    assert ModelUri.parse(uri) == expected


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("runs:/abc/model", "does not start with models:/"),
        ("models:churn/1", "does not start with models:/"),
        ("models:/", "name is missing"),
        ("models://", "name is missing"),
        ("models:/@champion", "both a name and an alias"),
        ("models:/churn@", "both a name and an alias"),
        ("models:/churn/v3", "not a version number"),
        ("models:/churn/-1", "not a version number"),
        ("models:/churn/Prod", "not a version number"),
    ],
)
def test_parse_refuses(uri: str, why: str) -> None:
    with pytest.raises(InvalidParameterValue, match=why):
        ModelUri.parse(uri)
