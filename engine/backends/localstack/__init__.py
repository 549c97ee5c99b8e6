"""The local stack developers run: minikube on Docker Desktop.

The pieces the `minikube` and `docker_desktop` step types share: running a CLI under
the step's deadline (`cli`), reading minikube's answers (`minikube_status`), reading
Docker Desktop's settings file on each OS (`desktop_settings`), and sizes such as
`8g` or `8GiB` (`sizes`). Nothing here imports a heavy library.
"""
