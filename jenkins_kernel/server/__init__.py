"""The agent service: the Flask app, its API, auth, the store of runs, metrics."""
