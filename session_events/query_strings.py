"""Query strings read as OpenAPI says: an exploded form array is its repeated values, uncut.

Connexion joins repeated values with commas and splits them again, so `event_type=a,b` would
become two types although the contract's pattern refuses a comma. This parser keeps each
repeated value whole, so such a value is validated (and refused) as sent.

It also builds the parameters' schemas by name once: Connexion's parser builds that dict again on
every access, several times for each query parameter of each request.
"""

from __future__ import annotations

import functools

from connexion.uri_parsing import OpenAPIURIParser


class ExplodedFormURIParser(OpenAPIURIParser):
    @functools.cached_property
    def param_schemas(self):
        return {name: defn.get("schema", {}) for name, defn in self.param_defns.items()}

    @staticmethod
    def _is_exploded_form(param_defn, _in) -> bool:
        style = param_defn.get("style", OpenAPIURIParser.style_defaults[_in])
        return style == "form" and param_defn.get("explode", True)

    @staticmethod
    def _resolve_param_duplicates(values, param_defn, _in):
        if ExplodedFormURIParser._is_exploded_form(param_defn, _in):
            return list(values)
        return OpenAPIURIParser._resolve_param_duplicates(values, param_defn, _in)

    @staticmethod
    def _split(value, param_defn, _in):
        if isinstance(value, list):
            return value
        return OpenAPIURIParser._split(value, param_defn, _in)
