"""Data releases: writing one from a snapshot of the database (create.py), checking one
(verify.py), filling an empty database from one (load.py), and finding the published ones
(directory.py) for the API and /releases/<name>/<file>. What a release holds is described in
schema/releases.py; every read of the database is api/store's."""
