__version__ = "1.4.0"


def main(global_config, **settings):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"egg-app"]

    return app
