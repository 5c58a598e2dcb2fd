"""The staff's web desk: server-rendered pages in Italian over the same functions the desk
commands use (:mod:`pec_ingest.desk`, :mod:`pec_ingest.export`, the acknowledgement commands).

``app.create_app(config)`` builds the Starlette application; ``pec-ingest desk`` serves it with
uvicorn. Every endpoint goes through :mod:`pec_ingest.web.guard` (who is logged in, which role,
the CSRF token of a form, one database transaction per request).
"""
