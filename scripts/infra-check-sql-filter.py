#!/usr/bin/env python3
"""Checks that the Service Bus subscription filter in infra/bicep/main.bicep is exactly the
specified one (issue 6 / SPEC §3), and that it is wired as the subscription's `$Default`
rule with filterType SqlFilter. When the SPEC is beside the repository (../shared/spec), the
service type and event names in the filter are also checked against SPEC §3's `ignored` row.
Exit status 1 with one line per problem otherwise."""

import pathlib
import re
import sys

EXPECTED = (
    "ServiceType = 'ChargingAgreement' AND EventName IN "
    "('ContractActivated','ContractUpdated','ContractTerminated')"
)

root = pathlib.Path(__file__).resolve().parent.parent
bicep = (root / "infra/bicep/main.bicep").read_text(encoding="utf-8")
problems = []


def bicep_string(literal):
    """Value of a single-quoted Bicep string literal (escapes: \\' \\\\ \\n \\r \\t \\$)."""
    out, i = [], 0
    while i < len(literal):
        c = literal[i]
        if c == "\\" and i + 1 < len(literal):
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(literal[i + 1], literal[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


m = re.search(r"^var contractEventsFilter = '((?:[^'\\]|\\.)*)'\s*$", bicep, re.M)
if not m:
    problems.append("main.bicep: no `var contractEventsFilter = '…'` line")
else:
    actual = bicep_string(m.group(1))
    if actual != EXPECTED:
        problems.append(f"main.bicep: filter is {actual!r}, expected {EXPECTED!r}")

rule = re.search(
    r"resource \w+ 'Microsoft\.ServiceBus/namespaces/topics/subscriptions/rules@[^']+' = \{(.*?)\n\}",
    bicep,
    re.S,
)
if not rule:
    problems.append("main.bicep: no subscriptions/rules resource")
else:
    body = rule.group(1)
    if not re.search(r"^\s*name: '\$Default'\s*$", body, re.M):
        problems.append("main.bicep: the rule must be named '$Default' to replace the default TrueFilter")
    if "filterType: 'SqlFilter'" not in body:
        problems.append("main.bicep: the rule's filterType must be 'SqlFilter'")
    if not re.search(r"sqlExpression: contractEventsFilter\s*$", body, re.M):
        problems.append("main.bicep: the rule's sqlExpression must be contractEventsFilter")

spec = root.parent / "shared/spec/SPEC.md"
if spec.is_file():
    text = spec.read_text(encoding="utf-8")
    section = text.split("## 3.", 1)[-1].split("\n## 4.", 1)[0]
    ignored = next((l for l in section.splitlines() if l.startswith("| `ignored`")), "")
    for name in re.findall(r"'([A-Za-z]+)'", EXPECTED):
        if f"`{name}`" not in ignored:
            problems.append(f"SPEC §3's ignored row does not name `{name}`: filter and SPEC disagree")

for p in problems:
    print(f"infra-check: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print("infra-check: Service Bus $Default rule filter matches the specification")
