"""Typed application state (``web.AppKey``): no globals anywhere in the service."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import jinja2
from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker

from web.config import WebConfig
from web.routing import RouteTable
from web.sessions import SessionSigner

__all__ = [
    "CONFIG",
    "DB_EXECUTOR",
    "READ_SESSION_FACTORY",
    "ROUTES",
    "SESSION_FACTORY",
    "SIGNER",
    "TEMPLATES",
]

CONFIG = web.AppKey("config", WebConfig)
ROUTES = web.AppKey("routes", RouteTable)
SIGNER = web.AppKey("signer", SessionSigner)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SESSION_FACTORY = web.AppKey("session_factory", sessionmaker[Session])
READ_SESSION_FACTORY = web.AppKey("read_session_factory", sessionmaker[Session])
DB_EXECUTOR = web.AppKey("db_executor", ThreadPoolExecutor)
