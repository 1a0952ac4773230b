from __future__ import annotations


def test_healthz_answers_without_touching_services(client) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}


def test_readyz_reports_database_redis_and_migrations(client, redis_url) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "ready"
    assert resp.json["checks"]["migrations"]["current"] == resp.json["checks"]["migrations"]["head"]


def test_readyz_is_503_when_redis_is_unreachable(app_config) -> None:
    from addon import create_app

    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"]["redis"]["ok"] is False
    assert resp.json["checks"]["database"]["ok"] is True
    app.extensions["cashline_db"].dispose()
