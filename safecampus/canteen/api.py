"""The canteen API (FastAPI): canteens, statements, red flags, ledger lines, report downloads, public pages, open data.

    safecampus api --port 8090          # 127.0.0.1 by default; the spec at /openapi.json

Every route but `/health` and `/openapi.json` needs `Authorization: Bearer TOKEN` (401 without a
known token). Two roles: `public` sees published months only, red flags without evidence rows and
nothing that names a person; `auditor` sees everything. Routes for auditors answer 403 to the
public role. The spec is committed as docs/canteen-api.openapi.json (a test keeps it current).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from safecampus.canteen.data import Audience, CanteenData, NotFound, flag_view, statement_view
from safecampus.canteen.files import open_data_csv, report_bytes, table_schema
from safecampus.canteen.html import public_page_html
from safecampus.canteen.tokens import role_of
from safecampus.config import Settings
from safecampus.connectors.store import engine_for

CanteenId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="canteen id, e.g. C0001")]
Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "没有或未知的令牌 no or unknown bearer token"},
    403: {"description": "此令牌无权访问 the token's role may not see this"},
    404: {"description": "没有该食堂或月份，或尚未公示 no such canteen or month, or not published"},
}
MEDIA = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


class CanteenOut(BaseModel):
    canteen: str
    name: str
    district: str
    kind: str
    kitchen_id: str | None = None
    latest_month: str | None = Field(description="the latest month this role may see")


class RedFlagOut(BaseModel):
    rule: str
    rule_title: str
    severity: str
    title: str
    detail: str
    occurred_at: str
    fingerprint: str
    evidence: list[dict[str, Any]]
    canteen: str | None = None


class StatementOut(BaseModel):
    canteen: str
    canteen_name: str
    school_id: str | None
    district: str | None
    kind: str
    month: str
    status: str
    published_at: str | None
    income_cny: str
    income_by_source: dict[str, str]
    cost_cny: str
    cost_by_category: dict[str, str]
    kitchen_id: str | None
    kitchen_cost_cny: str
    surplus_cny: str
    surplus_rate: str | None
    meal_fee_cny: str
    ingredients_cny: str
    ingredient_share: str | None
    carried_surplus_cny: str
    meals_served: int
    subsidy_granted_cny: str
    subsidy_received_cny: str
    entries: int
    late_entries: list[str] | int
    red_flags: list[RedFlagOut]
    audience: str


class Health(BaseModel):
    status: str


def _role(request: Request) -> Audience:
    """The bearer token's role; 401 without a known token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    url = request.app.state.store_url
    found = role_of(engine_for(url), token) if scheme.lower() == "bearer" and token else None
    if found is None:
        raise HTTPException(401, "需要有效的令牌 a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    return found


def _auditor(who: Annotated[Audience, Depends(_role)]) -> Audience:
    if who != "auditor":
        raise HTTPException(403, "仅审计人员可访问 auditors only")
    return who


Role = Annotated[Audience, Depends(_role)]
Auditor = Annotated[Audience, Depends(_auditor)]


def create_app(store_url: str, settings: Settings | None = None) -> FastAPI:
    """The API over the store at `store_url` (its registry and the canteen records in it)."""
    settings = settings or Settings()
    app = FastAPI(
        title="safecampus 食堂收支公开与审计接口 canteen transparency and audit API",
        version="1.0.0",
        description="学校食堂月度收支、风险提示与公开数据。Bearer 令牌两种角色："
        "public（仅已公示月份）、auditor（全部）。",
    )

    app.state.store_url = store_url

    def data() -> CanteenData:
        return CanteenData.load(store_url, settings)

    def found(call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

    @app.get("/health", response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/canteens", response_model=list[CanteenOut], responses=ERRORS)
    def canteens(who: Role) -> list[dict[str, Any]]:
        d = data()
        out = []
        for cid in d.canteen_ids():
            rows = d.statements(cid, who)
            info = d.registry.canteens[cid]
            latest = rows[-1].month if rows else None
            name, district = d.canteen_name(cid), d.district_name(cid)
            out.append({"canteen": cid, "name": name, "district": district, "kind": info.kind,
                        "kitchen_id": info.kitchen_id, "latest_month": latest})  # fmt: skip
        return out

    @app.get("/canteens/{canteen_id}/statements", response_model=list[StatementOut], responses=ERRORS)
    def statements(canteen_id: CanteenId, who: Role) -> list[dict[str, Any]]:
        d = data()
        return [statement_view(d, s, who) for s in found(d.statements, canteen_id, who)]

    @app.get("/canteens/{canteen_id}/statements/{month}", response_model=StatementOut, responses=ERRORS)
    def statement(canteen_id: CanteenId, month: Month, who: Role) -> dict[str, Any]:
        d = data()
        return statement_view(d, found(d.statement, canteen_id, month, who), who)

    @app.get(
        "/canteens/{canteen_id}/reports/{month}",
        responses={**ERRORS, 200: {"content": {m: {} for m in MEDIA.values()}, "description": "the report file"}},
        response_class=Response,
    )
    def report(
        canteen_id: CanteenId,
        month: Month,
        who: Role,
        format: Annotated[Literal["html", "xlsx", "csv", "json"], Query(description="file format")] = "html",
    ) -> Response:
        body = found(report_bytes, data(), canteen_id, month, format, who)
        name = f"{canteen_id}-{month}-{'audit' if who == 'auditor' else 'disclosure'}.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(body, media_type=MEDIA[format], headers=headers)

    @app.get("/canteens/{canteen_id}/red-flags", response_model=list[RedFlagOut], responses=ERRORS)
    def canteen_flags(canteen_id: CanteenId, who: Auditor) -> list[dict[str, Any]]:
        d = data()
        found(d.statements, canteen_id, who)
        return [{**flag_view(a, who), "canteen": a.subject} for a in d.red_flags(canteen_id, None)]

    @app.get("/red-flags", response_model=list[RedFlagOut], responses=ERRORS)
    def red_flags(
        who: Auditor,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
        rule: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> list[dict[str, Any]]:
        flags = [a for a in data().red_flags(None, month) if rule is None or a.rule == rule]
        return [{**flag_view(a, who), "canteen": a.subject} for a in flags[:limit]]

    @app.get("/canteens/{canteen_id}/ledger/{month}", response_model=list[dict[str, Any]], responses=ERRORS)
    def ledger(canteen_id: CanteenId, month: Month, who: Auditor) -> list[dict[str, Any]]:
        d = data()
        found(d.statement, canteen_id, month, who)
        rows = d.book.by_canteen_month().get((canteen_id, month), [])
        return [e.model_dump(mode="json", exclude_none=True) for e in rows]

    @app.get("/public/canteens/{canteen_id}", response_class=HTMLResponse, responses=ERRORS)
    def public_page(canteen_id: CanteenId, who: Role) -> HTMLResponse:
        return HTMLResponse(found(public_page_html, data(), canteen_id))

    csv_responses: dict[int | str, dict[str, Any]] = {**ERRORS, 200: {"content": {"text/csv": {}}}}

    @app.get("/open-data/statements.csv", response_class=Response, responses=csv_responses)
    def open_data(who: Role) -> Response:
        return Response(open_data_csv(data()), media_type="text/csv; charset=utf-8")

    @app.get("/open-data/statements.schema.json", response_model=dict[str, Any], responses=ERRORS)
    def open_schema(who: Role) -> dict[str, Any]:
        return table_schema()

    return app


def openapi_spec() -> dict[str, Any]:
    """The API's OpenAPI document (no store is opened to make it)."""
    return create_app("sqlite:///unused.db").openapi()
