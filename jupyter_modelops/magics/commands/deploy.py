"""Deploy a model version to a cluster (kubeconfig context) and hardware profile.

Examples: %modelops deploy churn:3 --cluster prod --profile gpu-t4 --replicas 2
          %modelops deploy churn:4 --cluster prod --canary 10
          %modelops deploy churn:3 --cluster prod,dr --dry-run     (shows the YAML)
          %modelops deploy [--cluster prod --profile gpu-t4]       (a form, pre-filled)
"""

SUMMARY = "deploy a model version to a cluster and hardware profile (no arguments: a form)"


def add_arguments(p):
    p.add_argument("ref", nargs="?", help="registry reference, e.g. churn:3 (omit for the form)")
    p.add_argument("--cluster", help="kubeconfig context(s), comma-separated; 'local' for this machine")
    p.add_argument("--profile", default="cpu-small", help="hardware profile (%%modelops profiles)")
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


def run(args, shell):
    if args.ref is None:
        from .._deploy_form import deploy_form

        return deploy_form(cluster=args.cluster, profile=args.profile, namespace=args.namespace, image=args.image,
                           replicas=args.replicas, canary=args.canary, kubeconfig=args.kubeconfig)
    from ...deployment import deploy

    return deploy(args.ref, cluster=args.cluster, profile=args.profile, namespace=args.namespace,
                  image=args.image, push=args.push, replicas=args.replicas, canary=args.canary, mode=args.mode,
                  name=args.name, timeout=args.timeout, wait=not args.no_wait, force=args.force,
                  dry_run=args.dry_run, kubeconfig=args.kubeconfig)
