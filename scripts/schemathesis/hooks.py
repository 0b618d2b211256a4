"""Schemathesis hooks for the Vantage API contract run (scripts/schemathesis/run.sh).

Some values are well formed by a grammar or by server state that JSON Schema cannot express:
filter expressions, field lists, cursors, tcpdump filters, monitor rules. The
OpenAPI document marks them `x-vantage-semantic` (src/api/schemas.ts) and documents examples.
In a *positive* case (one schemathesis promises is valid) this hook sends a documented example
in their place (or leaves an optional one out when there is none), so "valid" means valid to the
grammar too. Negative and fuzzed cases are left as generated: they must still get a 4xx.

An Idempotency-Key is a unique token per request intent; a positive case gets a fresh one so two
different generated bodies never share a key (the server rightly answers 422 when they do).
"""

import copy
import random
import uuid

import schemathesis

SEM = "x-vantage-semantic"


def _examples(schema, param=None):
    ex = schema.get("examples")
    if isinstance(ex, list) and ex:
        return ex
    if param is not None:
        pex = param.get("examples")
        if isinstance(pex, dict) and pex:
            return [v.get("value") for v in pex.values()]
        if "example" in param:
            return [param["example"]]
    return None


def _valid(schema, param=None):
    ex = _examples(schema, param)
    return random.choice(ex) if ex else None


def _walk(schema, value, media=None):
    if not isinstance(schema, dict):
        return value
    if schema.get(SEM):
        v = _valid(schema)
        if v is None and media is not None and "example" in media:
            v = copy.deepcopy(media["example"])
        return v if v is not None else value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for k in list(value.keys()):
            ps = props.get(k)
            if not isinstance(ps, dict):
                continue
            if ps.get(SEM):
                v = _valid(ps)
                if v is None:
                    del value[k]
                else:
                    value[k] = v
            else:
                value[k] = _walk(ps, value[k])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_walk(schema["items"], v) for v in value]
    return value


def _positive(case):
    meta = getattr(case, "meta", None)
    gen = getattr(meta, "generation", None) if meta is not None else None
    mode = getattr(gen, "mode", None)
    return mode is not None and mode.is_positive


# Cases can serve as templates for later ones: what before_call changed is put back after the call.
_ORIGINALS = {}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not _positive(case):
        return
    _ORIGINALS[id(case)] = (
        copy.deepcopy(case.query),
        copy.deepcopy(case.path_parameters),
        copy.deepcopy(case.headers),
        copy.deepcopy(case.body),
    )
    raw = case.operation.definition.raw
    containers = {"query": case.query, "path": case.path_parameters, "header": case.headers}
    for p in raw.get("parameters", []):
        c = containers.get(p.get("in"))
        if not c:
            continue
        key = next((k for k in c if k.lower() == p["name"].lower()), None)
        if key is None:
            continue
        schema = p.get("schema") or {}
        if p["name"].lower() == "idempotency-key":
            c[key] = uuid.uuid4().hex
            continue
        item = schema.get("items") if schema.get("type") == "array" else None
        if schema.get(SEM) or (isinstance(item, dict) and item.get(SEM)):
            v = _valid(schema if schema.get(SEM) else item, p)
            if v is None:
                del c[key]
            else:
                c[key] = [v] if item is not None and not schema.get(SEM) else v
    body = (raw.get("requestBody") or {}).get("content") or {}
    media = getattr(case, "media_type", None)
    m = body.get(media) or {} if media else {}
    schema = m.get("schema")
    if schema is not None and case.body is not None:
        # a copy: generated values can be shared between cases
        case.body = _walk(schema, copy.deepcopy(case.body), m)


@schemathesis.hook
def after_call(ctx, case, response):
    saved = _ORIGINALS.pop(id(case), None)
    if saved is not None:
        case.query, case.path_parameters, case.headers, case.body = saved
