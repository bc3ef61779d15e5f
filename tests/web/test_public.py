def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["database"] == "ok"


def test_healthz_says_when_the_schema_is_behind(tmp_path):
    from app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "db upgrade" in response.json["database"]


def test_home_page_names_the_site(client, settings):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert settings.site_name in page
    assert "Join" in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_page_is_a_readable_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
