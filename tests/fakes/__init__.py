"""Test doubles for tools that cannot run in CI: minikube, Docker Desktop, a GPU model
server and an AI gateway. Each module's docstring says why it is a fake and what of
the real tool it reproduces. The CLI fakes run as separate processes (the engine
calls them exactly as it calls the real tools) and share one JSON state file.
"""
