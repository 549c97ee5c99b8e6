"""How the engine reaches the things it changes: local processes, SSH, the Kubernetes API,
HTTP, and the local stacks (minikube, Docker Desktop). Step types and SLI probes use them."""
