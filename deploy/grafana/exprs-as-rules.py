#!/usr/bin/env python3
"""Prints every PromQL expression of a Grafana dashboard as a Prometheus
recording rule file, with the dashboard's variables filled in, so that
`promtool check rules` parses them (scripts/test-deploy)."""
import json
import sys

FILL = {"$__rate_interval": "5m", "$job": ".*", "$instance": ".*", "$group": ".*"}


def exprs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from exprs(value)
    elif isinstance(node, list):
        for value in node:
            yield from exprs(value)


def main(path):
    dashboard = json.load(open(path, encoding="utf-8"))
    print("groups:\n  - name: dashboard\n    rules:")
    for i, expr in enumerate(exprs(dashboard)):
        for var, value in FILL.items():
            expr = expr.replace(var, value)
        if "$" in expr:
            sys.exit(f"{path}: unknown variable in {expr}")
        print(f"      - record: dashboard:expr{i}\n        expr: {json.dumps(expr)}")


if __name__ == "__main__":
    main(sys.argv[1])
