"""A fake Kubernetes API server for tests (see :mod:`k8s_fake.server` for what it can and cannot show).

Usage from any test (``tests/`` is on ``sys.path`` through the root conftest)::

    from k8s_fake import FakeKube

    with FakeKube(kserve=True) as kube:
        cfg = kube.kubeconfig(tmp_path / "kubeconfig")   # context "fake"
        ...  # the official client or kubectl --kubeconfig cfg
        kube.script("broken", "crashloop")               # pods of images containing "broken" crash-loop

The ``fake_kube`` fixture in ``tests/deploy/conftest.py`` wraps this.
"""

from .server import FakeKube, Resource

__all__ = ["FakeKube", "Resource"]
