"""The webhook benchmark's baseline: a bare Flask endpoint that stores each request's body with
one INSERT, served by the same gunicorn as Fondo (`gunicorn 'benchmarks.bare_insert:create_app()'`
with BARE_DATABASE_URL set). No signature, no checks: the floor of "one insert per request"."""

import os
import threading
from typing import Any

import psycopg
from flask import Flask, jsonify, request

TABLE = """CREATE TABLE IF NOT EXISTS bare_deliveries (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL
)"""


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["BARE_DATABASE_URL"]
    local = threading.local()

    def connection() -> psycopg.Connection[Any]:
        if getattr(local, "connection", None) is None:
            local.connection = psycopg.connect(url, autocommit=True)
        return local.connection  # type: ignore[no-any-return]

    @app.post("/webhooks/stripe")
    def insert() -> Any:
        connection().execute(
            "INSERT INTO bare_deliveries (payload) VALUES (%s)", (request.get_data().decode(),)
        )
        return jsonify(received=True)

    return app
