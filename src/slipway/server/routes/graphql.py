"""MLflow's `/graphql` endpoint: the queries its web UI sends, executed by graphql-core.

The schema is the part of MLflow's that its UI uses (`mlflowGetExperiment`, `mlflowGetRun`
with the run's experiment and model versions, `mlflowListArtifacts`,
`mlflowGetMetricHistoryBulkInterval`, `mlflowSearchModelVersions`, `mlflowSearchRuns`,
`mlflowSearchDatasets`), with MLflow's type and field names. Resolvers return the same
dicts the REST routes answer with; fields read them by their snake_case names. A NaN or
infinite metric is `null` (GraphQL floats are finite), int64s are strings (`LongString`),
as in MLflow. Several root fields (the UI's batches, usually aliased) run in one request,
within MLflow's limits. Answers are `{"data", "errors"}` with HTTP 200, errors as messages.

graphql-core (the engine MLflow's graphene schema runs on; pure Python, no dependencies)
is in the `server` extra: without it the endpoint says how to install it.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from slipway.errors import BadRequest, InvalidParameterValue, SlipwayError
from slipway.server.protocol import RawBody, json_response, parse_json_object
from slipway.server.routes.mlflow_registry import registry_store
from slipway.server.routes.mlflow_tracking import run_artifacts
from slipway.server.routes.mlflow_ui import MAX_RESULTS_PER_RUN, sampled_histories
from slipway.store.interface import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
)

router = APIRouter()

MAX_DEPTH = 10
MAX_SELECTIONS = 1000
MAX_ROOT_FIELDS_ENV = "MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS"
MAX_ALIASES_ENV = "MLFLOW_SERVER_GRAPHQL_MAX_ALIASES"

SCHEMA = """
scalar LongString

enum MlflowRunStatus { RUNNING SCHEDULED FINISHED FAILED KILLED }
enum MlflowViewType { ACTIVE_ONLY DELETED_ONLY ALL }
enum MlflowModelVersionStatus { PENDING_REGISTRATION FAILED_REGISTRATION READY }

type ApiError { code: String message: String helpUrl: String }
type KeyValue { key: String value: String }
type MlflowExperimentTag { key: String value: String }
type MlflowExperiment {
  experimentId: String name: String artifactLocation: String lifecycleStage: String
  lastUpdateTime: LongString creationTime: LongString tags: [MlflowExperimentTag!]
  effectiveTraceArchivalRetention: String workspace: String
}
type MlflowRunInfo {
  runId: String runUuid: String runName: String experimentId: String userId: String
  status: MlflowRunStatus startTime: LongString endTime: LongString artifactUri: String
  lifecycleStage: String
}
type MlflowMetricExtension {
  key: String value: Float timestamp: LongString step: LongString
  datasetName: String datasetDigest: String modelId: String runId: String
}
type MlflowParam { key: String value: String }
type MlflowRunTag { key: String value: String }
type MlflowRunData {
  metrics: [MlflowMetricExtension!] params: [MlflowParam!] tags: [MlflowRunTag!]
}
type MlflowInputTag { key: String value: String }
type MlflowDataset {
  name: String digest: String sourceType: String source: String schema: String profile: String
}
type MlflowDatasetInput { tags: [MlflowInputTag!] dataset: MlflowDataset }
type MlflowModelInput { modelId: String }
type MlflowRunInputs { datasetInputs: [MlflowDatasetInput!] modelInputs: [MlflowModelInput!] }
type MlflowModelOutput { modelId: String step: LongString }
type MlflowRunOutputs { modelOutputs: [MlflowModelOutput!] }
type MlflowModelVersionTag { key: String value: String }
type MlflowModelVersion {
  name: String version: String creationTimestamp: LongString lastUpdatedTimestamp: LongString
  userId: String currentStage: String description: String source: String runId: String
  status: MlflowModelVersionStatus statusMessage: String tags: [MlflowModelVersionTag!]
  runLink: String aliases: [String] modelId: String
}
type MlflowRunExtension {
  info: MlflowRunInfo data: MlflowRunData inputs: MlflowRunInputs outputs: MlflowRunOutputs
  experiment: MlflowExperiment modelVersions: [MlflowModelVersion!]
}
type MlflowMetricWithRunId {
  key: String value: Float timestamp: LongString step: LongString runId: String
}
type MlflowFileInfo { path: String isDir: Boolean fileSize: LongString }
type MlflowDatasetSummary { experimentId: String name: String digest: String context: String }

type MlflowGetExperimentResponse { experiment: MlflowExperiment apiError: ApiError }
type MlflowGetRunResponse { run: MlflowRunExtension apiError: ApiError }
type MlflowListArtifactsResponse {
  rootUri: String files: [MlflowFileInfo!] nextPageToken: String apiError: ApiError
}
type MlflowGetMetricHistoryBulkIntervalResponse {
  metrics: [MlflowMetricWithRunId!] apiError: ApiError
}
type MlflowSearchModelVersionsResponse {
  modelVersions: [MlflowModelVersion!] nextPageToken: String apiError: ApiError
}
type MlflowSearchRunsResponse {
  runs: [MlflowRunExtension!] nextPageToken: String apiError: ApiError
}
type MlflowSearchDatasetsResponse {
  datasetSummaries: [MlflowDatasetSummary!] apiError: ApiError
}

input MlflowGetExperimentInput { experimentId: String }
input MlflowGetRunInput { runId: String runUuid: String }
input MlflowListArtifactsInput { runId: String runUuid: String path: String pageToken: String }
input MlflowGetMetricHistoryBulkIntervalInput {
  runIds: [String] metricKey: String startStep: Int endStep: Int maxResults: Int
}
input MlflowSearchModelVersionsInput {
  filter: String maxResults: LongString orderBy: [String] pageToken: String
}
input MlflowSearchRunsInput {
  experimentIds: [String] filter: String runViewType: MlflowViewType maxResults: Int
  orderBy: [String] pageToken: String
}
input MlflowSearchDatasetsInput { experimentIds: [String] }
type Test { output: String }

type Query {
  mlflowGetExperiment(input: MlflowGetExperimentInput): MlflowGetExperimentResponse
  mlflowGetMetricHistoryBulkInterval(
    input: MlflowGetMetricHistoryBulkIntervalInput
  ): MlflowGetMetricHistoryBulkIntervalResponse
  mlflowGetRun(input: MlflowGetRunInput): MlflowGetRunResponse
  mlflowListArtifacts(input: MlflowListArtifactsInput): MlflowListArtifactsResponse
  mlflowSearchModelVersions(
    input: MlflowSearchModelVersionsInput
  ): MlflowSearchModelVersionsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
  test(inputString: String): Test
}
type Mutation {
  mlflowSearchDatasets(input: MlflowSearchDatasetsInput): MlflowSearchDatasetsResponse
  mlflowSearchRuns(input: MlflowSearchRunsInput): MlflowSearchRunsResponse
}
directive @component(name: String!) on QUERY | MUTATION
"""


@router.api_route("/graphql", methods=["GET", "POST"])
def graphql(request: Request, body: RawBody) -> Response:
    """Run one GraphQL request: `query`, `variables`, `operationName` from the JSON body
    (or, for GET, the query string)."""
    try:
        import graphql as gql
    except ImportError:
        raise BadRequest(
            "This slipway server cannot answer GraphQL: install graphql-core "
            "(`pip install 'slipway[server]'`)."
        ) from None
    if request.method == "GET" and not body.strip():
        query = request.query_params.get("query")
        variables = _variables(request.query_params.get("variables"))
        operation = request.query_params.get("operationName")
    else:
        data = parse_json_object(body)
        query, variables, operation = (
            data.get("query"),
            data.get("variables"),
            data.get("operationName"),
        )
    if not isinstance(query, str) or not query.strip():
        raise InvalidParameterValue("Missing value for required parameter 'query'.")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidParameterValue("GraphQL 'variables' must be a JSON object.")
    try:
        document = gql.parse(query)
    except gql.GraphQLError as exc:
        return _answer(None, [exc.message])
    refused = _check_limits(document)
    if refused:
        return _answer(None, [refused])
    result = gql.execute_sync(
        _schema(),
        document,
        context_value=request,
        variable_values=variables,
        operation_name=operation if isinstance(operation, str) else None,
        field_resolver=_field,
    )
    errors = [e.message for e in result.errors] if result.errors else None
    return _answer(result.data, errors)


def _answer(data: Any, errors: list[str] | None) -> Response:
    return json_response({"data": data, "errors": errors})


def _variables(text: str | None) -> Any:
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidParameterValue("GraphQL 'variables' is not valid JSON.") from None


# --- limits (as MLflow: at most 10 root fields and 10 aliases per level, depth 10) ----------
def _check_limits(document: Any) -> str | None:
    import graphql as gql

    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, gql.FragmentDefinitionNode)
    }
    root_fields = max_aliases = selections = 0
    for definition in document.definitions:
        if not isinstance(definition, gql.OperationDefinitionNode):
            continue
        stack = [(definition.selection_set, 1)]
        while stack:
            selection_set, depth = stack.pop()
            if depth > MAX_DEPTH:
                return f"Query exceeds maximum depth of {MAX_DEPTH}"
            fields = _fields_of(selection_set, fragments)
            max_aliases = max(max_aliases, sum(1 for f in fields if f.alias))
            for f in fields:
                root_fields += depth == 1
                selections += 1
                if selections > MAX_SELECTIONS:
                    return f"Query exceeds maximum total selections of {MAX_SELECTIONS}"
                if f.selection_set:
                    stack.append((f.selection_set, depth + 1))
    for what, env, count in (
        ("root fields", MAX_ROOT_FIELDS_ENV, root_fields),
        ("aliases", MAX_ALIASES_ENV, max_aliases),
    ):
        limit = int(os.environ.get(env) or 10)
        if count > limit:
            return (
                f"GraphQL queries should have at most {limit} {what}, got {count} {what}. "
                f"To increase the limit, set the {env} environment variable."
            )
    return None


def _fields_of(selection_set: Any, fragments: dict[str, Any]) -> list[Any]:
    """The fields of one level, through inline fragments and fragment spreads."""
    import graphql as gql

    out, todo, seen = [], list(selection_set.selections), set()
    while todo:
        node = todo.pop(0)
        if isinstance(node, gql.FieldNode):
            out.append(node)
        elif isinstance(node, gql.InlineFragmentNode):
            todo.extend(node.selection_set.selections)
        elif isinstance(node, gql.FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                todo.extend(fragment.selection_set.selections)
    return out


# --- resolvers ----------------------------------------------------------------------------
def _field(source: Any, info: Any, **_: Any) -> Any:
    """A field of a REST answer dict, by its snake_case name; a non-finite Float is null."""
    if not isinstance(source, dict):
        return None
    value = source.get(_snake(info.field_name))
    if isinstance(value, str) and _is_float(info.return_type):
        return None  # "NaN", "Infinity": GraphQL floats are finite
    return value


@functools.lru_cache(maxsize=512)
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_float(kind: Any) -> bool:
    import graphql as gql

    return gql.get_nullable_type(kind) is gql.GraphQLFloat


def _store(info: Any) -> Any:
    return info.context.app.state.store


def _errors_as_graphql(resolve: Any) -> Any:
    """Turn a SlipwayError into a GraphQL error with its message (as MLflow's resolvers do)."""

    @functools.wraps(resolve)
    def wrapper(source: Any, info: Any, **args: Any) -> Any:
        import graphql as gql

        try:
            return resolve(source, info, **args)
        except SlipwayError as exc:
            raise gql.GraphQLError(exc.message) from None

    return wrapper


def _get_experiment(_: Any, info: Any, input: dict | None = None) -> dict:
    experiment_id = (input or {}).get("experimentId")
    if not experiment_id:
        raise InvalidParameterValue("Missing value for required parameter 'experiment_id'.")
    return {"experiment": _store(info).get_experiment(experiment_id).to_dict()}


def _get_run(_: Any, info: Any, input: dict | None = None) -> dict:
    args = input or {}
    run_id = args.get("runId") or args.get("runUuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
    return {"run": _store(info).get_run(run_id).to_dict()}


def _run_experiment(run: dict, info: Any) -> dict:
    return _store(info).get_experiment(run["info"]["experiment_id"]).to_dict()


def _run_model_versions(run: dict, info: Any) -> list[dict]:
    run_id = run["info"]["run_id"]
    page = registry_store(info.context).search_model_versions(filter_string=f"run_id='{run_id}'")
    return [v.to_dict() for v in page.items]


def _list_artifacts(_: Any, info: Any, input: dict | None = None) -> dict:
    args = input or {}
    run_id = args.get("runId") or args.get("runUuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'.")
    return run_artifacts(info.context, _store(info), run_id, args.get("path"))


def _metric_history_bulk_interval(_: Any, info: Any, input: dict | None = None) -> dict:
    args = input or {}
    run_ids = [r for r in args.get("runIds") or () if r]
    key = args.get("metricKey")
    if not run_ids or not key:
        raise InvalidParameterValue("Missing value for required parameter 'run_ids'.")
    limit = args.get("maxResults") or MAX_RESULTS_PER_RUN
    if not 1 <= limit <= MAX_RESULTS_PER_RUN:
        raise InvalidParameterValue(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    start, end = args.get("startStep"), args.get("endStep")
    metrics = sampled_histories(_store(info), run_ids, key, limit, start, end)
    return {"metrics": metrics}


def _search_model_versions(_: Any, info: Any, input: dict | None = None) -> dict:
    args = input or {}
    page = registry_store(info.context).search_model_versions(
        filter_string=args.get("filter"),
        max_results=int(args.get("maxResults") or SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT),
        order_by=args.get("orderBy"),
        page_token=args.get("pageToken"),
    )
    return {
        "model_versions": [v.to_dict() for v in page.items],
        "next_page_token": page.next_page_token,
    }


def _search_runs(_: Any, info: Any, input: dict | None = None) -> dict:
    from slipway.entities import ViewType

    args = input or {}
    page = _store(info).search_runs(
        experiment_ids=args.get("experimentIds") or [],
        filter_string=args.get("filter") or "",
        run_view_type=ViewType.parse(args.get("runViewType") or "ACTIVE_ONLY"),
        max_results=args.get("maxResults") or SEARCH_MAX_RESULTS_DEFAULT,
        order_by=args.get("orderBy"),
        page_token=args.get("pageToken"),
    )
    return {"runs": [r.to_dict() for r in page.items], "next_page_token": page.next_page_token}


def _search_datasets(_: Any, info: Any, input: dict | None = None) -> dict:
    ids = (input or {}).get("experimentIds") or []
    return {"dataset_summaries": _store(info).search_datasets(ids)}


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    """The executable schema, built once: the SDL above with its resolvers attached."""
    import graphql as gql

    schema = gql.build_schema(SCHEMA)
    long_string = schema.type_map["LongString"]
    assert isinstance(long_string, gql.GraphQLScalarType)
    long_string.serialize = lambda value: str(int(value))  # type: ignore[method-assign]
    long_string.parse_value = lambda value: int(value)  # type: ignore[method-assign]
    long_string.parse_literal = _long_literal  # type: ignore[method-assign,assignment]
    resolvers = {
        ("Query", "mlflowGetExperiment"): _get_experiment,
        ("Query", "mlflowGetRun"): _get_run,
        ("Query", "mlflowListArtifacts"): _list_artifacts,
        ("Query", "mlflowGetMetricHistoryBulkInterval"): _metric_history_bulk_interval,
        ("Query", "mlflowSearchModelVersions"): _search_model_versions,
        ("Query", "mlflowSearchRuns"): _search_runs,
        ("Query", "test"): lambda _, info, inputString=None: {"output": inputString},
        ("Mutation", "mlflowSearchRuns"): _search_runs,
        ("Mutation", "mlflowSearchDatasets"): _search_datasets,
        ("MlflowRunExtension", "experiment"): _run_experiment,
        ("MlflowRunExtension", "modelVersions"): _run_model_versions,
    }
    for (type_name, field_name), resolve in resolvers.items():
        owner = schema.type_map[type_name]
        assert isinstance(owner, gql.GraphQLObjectType)
        owner.fields[field_name].resolve = _errors_as_graphql(resolve)
    return schema


def _long_literal(node: Any, _variables: Any = None) -> int | None:
    import graphql as gql

    if isinstance(node, gql.IntValueNode | gql.StringValueNode):
        return int(node.value)
    return None


__all__ = ["SCHEMA", "router"]
