"""The OpenAPI 3.1 document, built from the routes registered in the route table."""

from __future__ import annotations

from collections.abc import Mapping

from web.routing import ApiDoc, RouteEntry, openapi_path

__all__ = ["ERROR_SCHEMA", "build_openapi"]

ERROR_SCHEMA: Mapping[str, object] = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}

_ERROR_TEXT = {
    400: "Неверные параметры (сообщение называет поле)",
    401: "Нужно войти в систему",
    403: "Роль не позволяет, или нет CSRF-токена у изменяющего запроса",
    404: "Нет такого объекта (или он другой организации)",
    409: "Состояние объекта не позволяет действие",
}


def _operation(entry: RouteEntry, doc: ApiDoc) -> dict[str, object]:
    responses: dict[str, object] = {
        str(doc.status): {
            "description": "Успешно",
            "content": {doc.content_type: {"schema": dict(doc.response)}},
        }
    }
    for status in doc.errors:
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "Ошибка"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, object] = {
        "operationId": doc.operation_id,
        "summary": doc.summary,
        "description": f"Доступ: {entry.policy.describe()}.",
        "tags": [doc.tag],
        "responses": responses,
    }
    if doc.params:
        operation["parameters"] = [
            {
                "name": param.name,
                "in": param.location,
                "required": param.required or param.location == "path",
                "description": param.description,
                "schema": dict(param.schema),
            }
            for param in doc.params
        ]
    if doc.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(doc.body)}},
        }
    if entry.policy.public:
        operation["security"] = []
    return operation


def build_openapi(entries: list[RouteEntry], *, version: str) -> dict[str, object]:
    """The document for every route that has API documentation."""
    paths: dict[str, dict[str, object]] = {}
    for entry in entries:
        if entry.api is None:
            continue
        item = paths.setdefault(openapi_path(entry.path), {})
        item[entry.method.lower()] = _operation(entry, entry.api)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Напомни — API",
            "version": version,
            "description": (
                "API веб-сервиса «Напомни». Вход — через /login (cookie-сессия); "
                "изменяющие запросы несут заголовок X-CSRF-Token из GET /api/me."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": dict(ERROR_SCHEMA)},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "napomni_session"}
            },
        },
        "security": [{"session": []}],
    }
