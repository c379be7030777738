"""The OpenAPI schema: error responses on every operation, required response fields, and
the token scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_bearer_security_scheme_object
from knox.settings import knox_settings

from common.api.serializers import StrictSerializer

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'Either {"detail": "message"}, or input errors keyed by path: '
        '{"output_mapping.columns[2].output": ["message"]}.'
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class KnoxTokenScheme(OpenApiAuthenticationExtension):
    """Documents TokenAuthentication in the schema as knox's scheme (`Token <token>`)."""

    target_class = "common.authentication.TokenAuthentication"
    name = "knoxApiToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=knox_settings.AUTH_HEADER_PREFIX
        )


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error responses every operation can give.

    Our serializers declare input fields optional (the services apply defaults), but an
    answer always holds every field: in responses, the fields of a StrictSerializer are all
    required, except those it lists in `optional_in_response`, so generated clients get
    non-optional types.
    """

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and isinstance(serializer, StrictSerializer):
            optional = set(getattr(serializer, "optional_in_response", ()))
            required = [
                name
                for name in schema.get("properties", {})
                if name not in optional and not serializer.fields[name].write_only
            ]
            if required:
                schema["required"] = sorted(required)
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(component)
        error = {"content": {"application/json": {"schema": component.ref}}}
        codes = {"400": "Invalid input, parameters or body"}
        if self.view.get_authenticators() and self.view.get_permissions():
            codes["401"] = "Not authenticated"
            codes["403"] = "Not allowed"
        if "{" in self.path or self._is_list_view():
            codes["404"] = "Not found"
        if self.method in ("POST", "PUT", "PATCH"):
            codes["413"] = "Body too large"
            codes["415"] = "Unsupported media type"
        if self.method in ("POST", "DELETE"):
            codes["409"] = "Conflict with the object's state"
        if self.view.get_throttles():
            codes["429"] = "Too many requests"
        for code, description in codes.items():
            responses.setdefault(code, {**error, "description": description})
        return responses
