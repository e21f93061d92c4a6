"""Delete one version (refused for an aliased version unless --force).

  modelops delete churn:2
"""

SUMMARY = "delete a model version"


def add_arguments(p):
    p.add_argument("ref", help="the version, e.g. churn:2 (a bare name is refused)")
    p.add_argument("--force", action="store_true", help="also delete a version an alias points at")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    import json

    from ...registry import delete

    out = delete(args.ref, force=args.force)
    if args.json:
        print(json.dumps(out))
    else:
        extra = f" (aliases removed: {', '.join(out['aliases_removed'])})" if out["aliases_removed"] else ""
        print(f"deleted {out['deleted']}{extra}, freed {out['freed_bytes']} bytes")
    return 0
