"""The MLflow filter and order_by grammar, parsed without a database."""

from __future__ import annotations

import pytest

from slipway.errors import InvalidFilter, InvalidParameterValue
from slipway.store.search import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)


def test_empty_filter_means_no_condition() -> None:
    assert parse_filter(None) == []
    assert parse_filter("") == []
    assert parse_filter("   ") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.9", Comparison(METRIC, "acc", ">", 0.9)),
        ("metric.acc >= -1", Comparison(METRIC, "acc", ">=", -1.0)),
        ("metrics.loss < 1e-3", Comparison(METRIC, "loss", "<", 0.001)),
        ("metrics.loss <= -2.5E+2", Comparison(METRIC, "loss", "<=", -250.0)),
        ("metrics.n = 3", Comparison(METRIC, "n", "=", 3.0)),
        ("metrics.n != .5", Comparison(METRIC, "n", "!=", 0.5)),
        ("params.lr = '0.1'", Comparison(PARAM, "lr", "=", "0.1")),
        ('param.lr != "0.1"', Comparison(PARAM, "lr", "!=", "0.1")),
        ("parameters.opt LIKE 'ad%'", Comparison(PARAM, "opt", "LIKE", "ad%")),
        ("parameter.opt ilike 'AD%'", Comparison(PARAM, "opt", "ILIKE", "AD%")),
        ("tags.team = 'ml'", Comparison(TAG, "team", "=", "ml")),
        ("tag.team IS NULL", Comparison(TAG, "team", "IS NULL", None)),
        ("params.seed is not null", Comparison(PARAM, "seed", "IS NOT NULL", None)),
        ("tags.`mlflow.runName` = 'x'", Comparison(TAG, "mlflow.runName", "=", "x")),
        ("tags.\"my key\" = 'x'", Comparison(TAG, "my key", "=", "x")),
        ("tags.mlflow.user = 'ann'", Comparison(TAG, "mlflow.user", "=", "ann")),
        ("metrics.`val loss` < 1", Comparison(METRIC, "val loss", "<", 1.0)),
        ("metrics.train/loss < 1", Comparison(METRIC, "train/loss", "<", 1.0)),
        ("attributes.status = 'FINISHED'", Comparison(ATTRIBUTE, "status", "=", "FINISHED")),
        ("attr.run_name LIKE 'base%'", Comparison(ATTRIBUTE, "run_name", "LIKE", "base%")),
        ("run.user_id = 'ann'", Comparison(ATTRIBUTE, "user_id", "=", "ann")),
        ("status != 'FAILED'", Comparison(ATTRIBUTE, "status", "!=", "FAILED")),
        ("`Run name` = 'a'", Comparison(ATTRIBUTE, "run_name", "=", "a")),
        ("created > 1700000000000", Comparison(ATTRIBUTE, "start_time", ">", 1.7e12)),
        ("attributes.end_time <= 5", Comparison(ATTRIBUTE, "end_time", "<=", 5.0)),
        (
            "attributes.run_id IN ('a', \"b\")",
            Comparison(ATTRIBUTE, "run_id", "IN", ("a", "b")),
        ),
        ("run_id not in ('a')", Comparison(ATTRIBUTE, "run_id", "NOT IN", ("a",))),
        ("datasets.name = 'iris'", Comparison(DATASET, "name", "=", "iris")),
        ("dataset.digest IN ('d1','d2')", Comparison(DATASET, "digest", "IN", ("d1", "d2"))),
        ("datasets.context = 'train'", Comparison(DATASET, "context", "=", "train")),
        ("params.q = 'it''s'", Comparison(PARAM, "q", "=", "it's")),
        ("params.q = 'it\\'s'", Comparison(PARAM, "q", "=", "it's")),
        ("params.q LIKE 'a\\_b'", Comparison(PARAM, "q", "LIKE", "a\\_b")),
    ],
)
def test_each_comparison_parses(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == [expected]


def test_conditions_join_with_and_in_any_case() -> None:
    got = parse_filter("metrics.a > 1 and params.b = 'x' AND tags.c != 'y'")
    assert got == [
        Comparison(METRIC, "a", ">", 1.0),
        Comparison(PARAM, "b", "=", "x"),
        Comparison(TAG, "c", "!=", "y"),
    ]


def test_no_spaces_needed_around_operators() -> None:
    assert parse_filter("metrics.a>-1 and params.b='x'") == [
        Comparison(METRIC, "a", ">", -1.0),
        Comparison(PARAM, "b", "=", "x"),
    ]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("metrics.acc >> 1", 12, "Invalid comparison operator '>>'"),
        ("metrics.acc > 1 or params.a = 'b'", 16, "OR is not supported"),
        ("params.a = 'unterminated", 11, "Unterminated string"),
        ("tags.`open = 'x'", 5, "Unterminated quoted key"),
        ("metrics.acc > 'high'", 14, "Expected a number"),
        ("params.lr = 0.1", 12, "Expected a quoted string"),
        ("params.lr > '1'", 10, "Operator '>' is not allowed"),
        ("metrics.acc LIKE 1", 12, "Operator 'LIKE' is not allowed"),
        ("metrics.acc IS NULL", 12, "Operator 'IS NULL' is not allowed"),
        ("status IN 'a'", 10, "Expected '(' after IN"),
        ("run_id IN ('a' 'b')", 15, "Expected ',' or ')'"),
        ("foo.bar = 'x'", 0, "Invalid entity type 'foo'"),
        ("colour = 'red'", 0, "Invalid attribute key 'colour'"),
        ("datasets.size = 'x'", 0, "Invalid dataset key 'size'"),
        ("metrics.acc > 1 and", 19, "Expected a condition after AND"),
        ("metrics.acc > 1 params.a = 'b'", 16, "Expected AND between conditions"),
        ("metrics.acc", 11, "Expected a comparison operator"),
        ("metrics.acc >", 13, "Expected a value"),
        ("(metrics.acc > 1)", 0, "Parentheses are not supported"),
        ("metrics.acc <> 1", 12, "use !="),
        ("params.a = x", 11, "quote strings"),
        ("params.a = 'x' ; drop table runs", 15, "Unexpected character ';'"),
        ("metrics. > 1", 8, "Missing key"),
        ("params.a NOT LIKE 'x'", 13, "Expected IN after NOT"),
        ("params.a IS 'x'", 12, "Expected NULL"),
        ("metrics.a > 1x", 12, "Invalid number"),
    ],
)
def test_syntax_errors_name_the_problem_and_position(
    text: str, position: int, fragment: str
) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    err = info.value
    assert err.position == position, err.message
    assert fragment in err.message
    assert f"position {position}" in err.message
    assert err.error_code == "INVALID_PARAMETER_VALUE"


def test_experiment_filters_allow_name_tags_and_times_only() -> None:
    assert parse_filter("name LIKE 'a%' and tags.k = 'v'", target="experiments") == [
        Comparison(ATTRIBUTE, "name", "LIKE", "a%"),
        Comparison(TAG, "k", "=", "v"),
    ]
    assert parse_filter("creation_time > 5", target="experiments") == [
        Comparison(ATTRIBUTE, "creation_time", ">", 5.0)
    ]
    with pytest.raises(InvalidFilter, match="attributes and tags only"):
        parse_filter("metrics.a > 1", target="experiments")
    with pytest.raises(InvalidFilter, match="Invalid attribute key 'status'"):
        parse_filter("status = 'x'", target="experiments")


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("metrics.acc DESC", OrderKey(METRIC, "acc", False)),
        ("params.lr", OrderKey(PARAM, "lr", True)),
        ("attributes.start_time ASC", OrderKey(ATTRIBUTE, "start_time", True)),
        ("start_time desc", OrderKey(ATTRIBUTE, "start_time", False)),
        ("created", OrderKey(ATTRIBUTE, "start_time", True)),
        ("tags.`mlflow.runName` DESC", OrderKey(TAG, "mlflow.runName", False)),
        ("metrics.`val loss`", OrderKey(METRIC, "val loss", True)),
        ("experiment_id", OrderKey(ATTRIBUTE, "experiment_id", True)),
    ],
)
def test_order_by_clauses(clause: str, expected: OrderKey) -> None:
    assert parse_order_by(clause) == expected


@pytest.mark.parametrize(
    ("clause", "fragment"),
    [
        ("metrics.acc UP", "Unexpected 'UP'"),
        ("metrics.acc DESC ASC", "Unexpected 'ASC'"),
        ("", "Empty order_by"),
        ("datasets.name", "cannot be ordered by dataset"),
        ("colour DESC", "Invalid attribute key"),
    ],
)
def test_bad_order_by_is_rejected(clause: str, fragment: str) -> None:
    with pytest.raises(InvalidFilter, match=fragment):
        parse_order_by(clause)


def test_page_tokens_round_trip_and_bad_tokens_are_rejected() -> None:
    assert decode_page_token(None) == 0
    assert decode_page_token(encode_page_token(250)) == 250
    for bad in ("not-a-token", encode_page_token(-1), "e30="):
        with pytest.raises(InvalidParameterValue, match="Invalid page_token"):
            decode_page_token(bad)
