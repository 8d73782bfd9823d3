"""/api/v1/openapi.json: the OpenAPI 3.0 description of the API."""

from flask import current_app

from portal.blueprints.api import bp
from portal.services.permissions import public


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ERRORS = {"400": _error("Bad input, or credentials in the query string"), "401": _error("Not authenticated"),
          "403": _error("Not allowed (function, token scope, two-factor, switched-off method)"),
          "429": _error("Too many attempts")}
ORDER = {"type": "object", "required": ["id", "tariff_id", "tariff", "status", "price", "created_at"],
         "properties": {"id": {"type": "integer"}, "tariff_id": {"type": "integer"}, "tariff": {"type": "string"},
                        "status": {"type": "string"}, "price": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"}}}
AUTHINFO = {"authinfo": {"type": "string", "description": "login:password (instead of a header)"}}


def _json_body(schema: dict) -> dict:
    return {"required": bool(schema.get("required")), "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema}}}


def spec() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Portal API", "version": "1.0.0",
                 "description": "Authenticate with `Authorization: Bearer <token>` (tokens are made in "
                                "Security settings) or authinfo: HTTP Basic `login:password`, or `authinfo` "
                                "in the POST body. Never put credentials in the query string."},
        "servers": [{"url": current_app.config["PUBLIC_URL"].rstrip("/") + "/api/v1"}],
        "security": [{"token": []}, {"authinfo": []}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"},
                                "authinfo": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Order": ORDER,
            },
        },
        "paths": {
            "/whoami": {"get": {"operationId": "whoami", "summary": "The caller and what they may do",
                                "responses": {"200": {"description": "The caller", "content": {
                                    "application/json": {"schema": {"type": "object"}}}}, **ERRORS}}},
            "/orders": {
                "get": {"operationId": "listOrders", "summary": "The client's orders (function client.order)",
                        "parameters": [
                            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                            {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
                        "responses": {"200": {"description": "Orders", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"orders": {"type": "array", "items": ORDER}}}}}},
                            **ERRORS}},
                "post": {"operationId": "createOrder", "summary": "Order a tariff (fraud checks apply)",
                         "requestBody": _json_body({"type": "object", "required": ["tariff_id"], "properties": {
                             "tariff_id": {"type": "integer", "minimum": 1}, **AUTHINFO}}),
                         "responses": {"201": {"description": "The new order", "content": {
                             "application/json": {"schema": ORDER}}}, "404": _error("No such tariff"),
                             "422": _error("Order refused; error.code says why"), **ERRORS}},
            },
            "/administrators/{user_id}/deny-access": {"post": {
                "operationId": "denyAccess", "summary": "Set or clear Deny access (function admins.manage)",
                "parameters": [{"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "requestBody": _json_body({"type": "object", "required": ["deny"],
                                           "properties": {"deny": {"type": "boolean"}, **AUTHINFO}}),
                "responses": {"200": {"description": "The administrator", "content": {"application/json": {
                    "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "login": {"type": "string"},
                                                                "access_denied": {"type": "boolean"}}}}}},
                              "404": _error("No such administrator"), "422": _error("Refused"), **ERRORS}}},
        },
    }


@bp.route("/openapi.json")
@public
def openapi():
    return spec()
