"""API views for workspaces and for API tokens (log in, log out)."""

from django.contrib.auth import authenticate, user_logged_in
from django.db.models import F
from drf_spectacular.utils import extend_schema
from knox.models import get_token_model
from knox.settings import knox_settings
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.pagination import PageNumberPagination
from common.api.parsers import StrictJSONParser
from common.api.throttling import TokenThrottle
from common.authentication import TokenAuthentication
from workspaces.models import Workspace, ensure_personal_workspace
from workspaces.permissions import WorkspaceRolePermission
from workspaces.serializers import CredentialsSerializer, TokenSerializer, WorkspaceSerializer


class WorkspaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The workspaces you belong to, with your role in each."""

    serializer_class = WorkspaceSerializer
    permission_classes = [WorkspaceRolePermission]
    pagination_class = PageNumberPagination
    filterset_fields: list[str] = []
    # Ids are ASCII digits: `²` (which str.isdigit() accepts) is a 404, not a 500.
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return Workspace.objects.none()
        ensure_personal_workspace(user)
        # annotate after filter: the role comes from the same (the user's) membership row.
        return Workspace.objects.filter(memberships__user=user).annotate(
            role=F("memberships__role")
        )


class TokenView(APIView):
    """Exchange a username and password for an API token."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [TokenThrottle]
    parser_classes = [StrictJSONParser, FormParser]

    @extend_schema(request=CredentialsSerializer, responses={200: TokenSerializer}, auth=[])
    def post(self, request):
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise exceptions.ValidationError(
                {"non_field_errors": ["Unable to log in with the given username and password."]}
            )
        instance, token = get_token_model().objects.create(
            user=user, expiry=knox_settings.TOKEN_TTL, prefix=knox_settings.TOKEN_PREFIX
        )
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        data = TokenSerializer({"token": token, "expiry": instance.expiry}).data
        return Response(data, status=status.HTTP_200_OK)


class LogoutView(APIView):
    """Revoke the token this request is authenticated with."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every token of the user."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        request.user.auth_token_set.all().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
