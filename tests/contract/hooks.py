"""What the contract says in words but OpenAPI 3.0 cannot say in a schema, told to schemathesis.

Loaded with SCHEMATHESIS_HOOKS=tests.contract.hooks. `until_seq` must not be below `after_seq`
(a 400 otherwise, documented on the parameter); no schema keyword relates two parameters, so
schemathesis would count that 400 on a generated pair as a valid request rejected. The hook
orders such a pair before the request is sent, in every phase; everything else is left as drawn.
"""

import schemathesis


def _seq(value):
    """A generated seq as a number: drawn as an int, or as text in some phases; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query or {}
    after, until = _seq(query.get("after_seq")), _seq(query.get("until_seq"))
    if after is not None and until is not None and until < after:
        query["after_seq"], query["until_seq"] = query["until_seq"], query["after_seq"]
