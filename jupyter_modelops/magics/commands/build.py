"""Build an OCI image that serves a model version, without a Docker daemon.

Examples: %modelops build churn:3
          %modelops build churn:3 --push 127.0.0.1:5000/churn
          %modelops build churn@production --base oci:./bases:python311 --tag prod
"""

SUMMARY = "build a model image (OCI layout under MODELOPS_HOME, or --push to a registry)"


def add_arguments(p):
    p.add_argument("ref", help="registry reference (churn:3, churn@production) or a model directory")
    p.add_argument("--push", metavar="REGISTRY/REPO[:TAG]", help="push the image to this registry repository")
    p.add_argument("--base", default=None, help="base image: registry reference, oci:DIR[:TAG], or 'scratch'")
    p.add_argument("--tag", help="image tag (default: the model version)")
    p.add_argument("--platform", default="linux/amd64")
    p.add_argument("--profile", help="hardware profile (a GPU profile uses onnxruntime-gpu and a CUDA base)")
    p.add_argument("--python", dest="python_version", help="Python of the base, e.g. 3.11")
    p.add_argument("--insecure", action="store_true", help="allow plain HTTP to a registry off loopback")
    p.add_argument("--chunk-size", type=int, metavar="BYTES", help="upload in chunks of this size")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument("--dockerfile", metavar="DIR", help="write an equivalent Dockerfile build context here instead")


def run(args, shell):
    from ...images import DEFAULT_BASE, build, dockerfile

    if args.dockerfile:
        return dockerfile(args.ref, args.dockerfile, base=args.base or DEFAULT_BASE, platform=args.platform,
                          profile=args.profile, python_version=args.python_version, insecure=args.insecure)
    return build(args.ref, base=args.base or DEFAULT_BASE, tag=args.tag, push=args.push, platform=args.platform,
                 profile=args.profile, insecure=args.insecure, python_version=args.python_version,
                 chunk_size=args.chunk_size, progress=not args.no_progress)
