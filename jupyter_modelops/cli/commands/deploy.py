"""Deploy a model version to a cluster (kubeconfig context) and hardware profile.

Examples: modelops deploy churn:3 --cluster prod --profile gpu-t4 --replicas 2
          modelops deploy churn:4 --cluster prod --canary 10
          modelops deploy churn:3 --cluster prod,dr --dry-run     (shows the YAML)
"""

from .._io import emit

SUMMARY = "deploy a model version to a cluster and hardware profile"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("ref", help="registry reference, e.g. churn:3")
    p.add_argument("--cluster", help="kubeconfig context(s), comma-separated; 'local' for this machine")
    p.add_argument("--profile", default="cpu-small", help="hardware profile (modelops profiles)")
    p.add_argument("--namespace", default="default")
    p.add_argument("--image", help="image to run (default: the image recorded for the version)")
    p.add_argument("--push", help="registry repository to build and push the image to")
    p.add_argument("--replicas", type=int)
    p.add_argument("--canary", type=int, metavar="PERCENT", help="traffic share of a canary (1-99)")
    p.add_argument("--mode", default="deployment", choices=["deployment", "kserve"])
    p.add_argument("--name", help="object name (default: from the model name)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the rollout")
    p.add_argument("--no-wait", action="store_true", help="apply and return without waiting")
    p.add_argument("--force", action="store_true", help="take over fields owned by another field manager")
    p.add_argument("--dry-run", action="store_true", help="render the manifests only (shown as YAML)")
    p.add_argument("--kubeconfig")


def run(args):
    from ...deployment import deploy

    result = deploy(args.ref, cluster=args.cluster, profile=args.profile, namespace=args.namespace,
                    image=args.image, push=args.push, replicas=args.replicas, canary=args.canary, mode=args.mode,
                    name=args.name, timeout=args.timeout, wait=not args.no_wait, force=args.force,
                    dry_run=args.dry_run, kubeconfig=args.kubeconfig)
    emit(result, as_json=args.json)
    return 0 if getattr(result, "ok", True) else 4
