"""Schemathesis hooks for auditlog (loaded through SCHEMATHESIS_HOOKS by tools/schemathesis.sh).

One adjustment of the served document, stated by the contract and not (yet) by the
document itself: "Empty values (`q=`, `actor_email=`) count as absent". The list
endpoints' optional query parameters therefore accept an empty value, which OpenAPI says
with `allowEmptyValue: true`. Without it, schemathesis' negative_data_rejection check
reports `start_time=` answered with 200 as "schema-violating request accepted".

The hook only adds that flag to optional query parameters that lack it, and prints what it
changed, so that the day the document carries the flag itself this hook becomes a no-op.
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
            f"hooks.py: allowEmptyValue added to {len(patched)} optional query parameters "
            "(the contract: empty values count as absent)"
        )
