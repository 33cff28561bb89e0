"""Schemathesis hooks for auditlog (loaded through SCHEMATHESIS_HOOKS by tools/schemathesis.sh).

One rule of the contract is said in the document's description rather than on each
parameter, and is told to the fuzzer here: "Empty values (`q=`, `actor_email=`) count as
absent". OpenAPI can say so per parameter with `allowEmptyValue: true`, which the document
leaves out on purpose: the field is deprecated in OpenAPI 3.1, and Swagger UI turns it into
a "Send empty value" checkbox on every parameter. Without it, the negative_data_rejection
check would report `start_time=` answered with 200 as a schema-violating request that was
accepted. The hook prints what it adds on every run.
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
            f"hooks.py: allowEmptyValue added to {len(patched)} query parameters "
            "(the contract: empty values count as absent; the document says it once)"
        )
