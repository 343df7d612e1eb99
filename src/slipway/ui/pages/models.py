"""The model registry: models, and one model's versions, aliases, stages, lineage, card and
audit history, with the actions people take there.

Actions call the registry store as the REST API does, with the acting user, so each lands
in the audit trail: set or move an alias, transition a stage, roll an alias back, approve a
challenger a monitor holds for approval, and promote through gates. Promotion is two
steps: a dry run shows every gate's result in a dialog; confirming applies it, and the
store checks the gates again in the same transaction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from slipway.entities import STAGES
from slipway.errors import InvalidParameterValue, SlipwayError
from slipway.registry.gates import parse_conditions
from slipway.ui.context import actor, client, monitor_store
from slipway.ui.forms import Form, redirect
from slipway.ui.pages.run import SANDBOX
from slipway.ui.routing import page_router
from slipway.ui.templating import render

router = page_router()
MAX_MODELS = 1000


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _version_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterValue(f"Version must be a number, not {text!r}.") from None


@router.get("/models")
def models_page(request: Request, q: str = "") -> Response:
    c = client(request)
    query = q.strip()
    found = c.search_registered_models(
        filter_string=f"name ILIKE {_quoted('%' + query + '%')}" if query else None,
        max_results=MAX_MODELS,
    ).items
    return render(request, "models.html", fragment="results", models=found, q=q)


def pending_approvals(request: Request, name: str) -> list[dict[str, Any]]:
    """Challengers that monitors of this model hold for a person's approval."""
    try:
        monitors = monitor_store(request).list_monitors()
    except SlipwayError:
        return []
    out = []
    for m in monitors:
        pending = m.state.get("pending_approval") or {}
        if m.model_name == name and pending.get("version") is not None:
            out.append({"monitor": m.name, **pending})
    return out


@router.get("/models/{name}")
def model_page(request: Request, name: str, version: int | None = None) -> Response:
    c = client(request)
    model = c.get_registered_model(name)
    versions = c.search_model_versions(f"name = {_quoted(name)}").items
    versions.sort(key=lambda v: v.version, reverse=True)
    shown = next((v for v in versions if v.version == version), versions[0] if versions else None)
    lineage = c.get_model_version_lineage(name, shown.version) if shown else None
    history = list(reversed(c.get_model_history(name)))
    return render(
        request,
        "model.html",
        model=model,
        versions=versions,
        shown=shown,
        lineage=lineage,
        history=history,
        stages=STAGES,
        pending=pending_approvals(request, name),
        aliases=sorted(model.aliases.items()),
    )


@router.get("/models/{name}/versions/{version}/card")
def model_card(request: Request, name: str, version: int) -> Response:
    """The version's model card as a standalone page (shown in a sandboxed frame)."""
    html = client(request).write_model_card(name, version, html=True)
    return HTMLResponse(html, headers={"Content-Security-Policy": SANDBOX})


def _back(name: str) -> str:
    return "/models/" + quote(name, safe="")


@router.post("/models/{name}/alias")
def set_alias(request: Request, name: str, form: Form) -> Response:
    alias = form.required("alias", "the alias")
    version = _version_number(form.required("version", "the version"))
    c = client(request)
    c.registry_store.set_registered_model_alias(
        name, alias, version, actor=actor(request), reason=form.get("reason") or None
    )
    return redirect(_back(name), notice=f"@{alias} now points at version {version}.")


@router.post("/models/{name}/stage")
def transition_stage(request: Request, name: str, form: Form) -> Response:
    version = _version_number(form.required("version", "the version"))
    stage = form.required("stage", "the stage")
    client(request).registry_store.transition_model_version_stage(
        name,
        version,
        stage,
        archive_existing_versions=form.get("archive") == "on",
        actor=actor(request),
        reason=form.get("reason") or None,
    )
    return redirect(_back(name), notice=f"Version {version} moved to stage {stage}.")


@router.post("/models/{name}/rollback")
def rollback(request: Request, name: str, form: Form) -> Response:
    alias = form.required("alias", "the alias")
    back_to = client(request).registry_store.rollback_registered_model_alias(
        name, alias, actor=actor(request), reason=form.get("reason") or None
    )
    return redirect(_back(name), notice=f"@{alias} rolled back to version {back_to.version}.")


@router.post("/models/{name}/approve")
def approve(request: Request, name: str, form: Form) -> Response:
    from slipway.monitoring.retrain import approve_challenger

    version = _version_number(form.required("version", "the version"))
    approve_challenger(
        name,
        version,
        form.get("reason") or f"approved in the web UI by {actor(request)}",
        client=client(request),
        store=monitor_store(request),
    )
    return redirect(_back(name), notice=f"Approved version {version}; it was promoted.")


@router.post("/models/{name}/promote")
def promote(request: Request, name: str, form: Form) -> Response:
    """`step=check`: a dry run shown in the dialog; `step=apply`: promote for real."""
    version = _version_number(form.required("version", "the version"))
    alias = form.get("alias") or None
    stage = form.get("stage") or None
    if not alias and not stage:
        raise InvalidParameterValue("Choose an alias or a stage to promote to.")
    require, must_beat = form.lines("require"), form.lines("must_beat")
    apply = form.get("step") == "apply"
    c = client(request)
    result = c.registry_store.promote(
        name,
        version,
        parse_conditions(require, must_beat),
        alias=alias,
        stage=stage,
        dry_run=not apply,
        actor=actor(request),
        reason=form.get("reason") or None,
    )
    if apply and result.applied:
        target = f"@{alias}" if alias else f"stage {stage}"
        message = f"Version {version} promoted to {target}: {len(result.checks)} gate(s) passed."
        response = redirect(_back(name), notice=message)
        if request.headers.get("HX-Request"):
            response = Response(
                status_code=204, headers={"HX-Redirect": response.headers["location"]}
            )
        return response
    return render(
        request,
        "promotion.html",
        fragment="dialog",
        name=name,
        result=result,
        form={
            "version": version,
            "alias": alias or "",
            "stage": stage or "",
            "require": "\n".join(require),
            "must_beat": "\n".join(must_beat),
            "reason": form.get("reason"),
        },
        blocked=apply and not result.passed,
    )


__all__ = ["router"]
