"""Schemathesis hooks for auditlog (loaded through SCHEMATHESIS_HOOKS by tools/schemathesis.sh).

One known difference between the served document and the service is bridged here, so
that the fuzzer keeps looking for new ones. It is printed on every run, and it is a no-op
once the document itself is fixed:

The contract: "Empty values (`q=`, `actor_email=`) count as absent". OpenAPI says so with
`allowEmptyValue: true` on a query parameter, which the document lacks; without it, the
negative_data_rejection check reports `start_time=` answered with 200 as a
schema-violating request that was accepted.
"""

import schemathesis


@schemathesis.hook
def before_load_schema(context, raw_schema):
    patched = []
    for path, item in raw_schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required", False)
                    and "allowEmptyValue" not in parameter
                ):
                    parameter["allowEmptyValue"] = True
                    patched.append(f"{method.upper()} {path} {parameter['name']}")
    if patched:
        print(
            f"hooks.py: known difference: allowEmptyValue added to {len(patched)} query "
            "parameters (the contract: empty values count as absent)"
        )
