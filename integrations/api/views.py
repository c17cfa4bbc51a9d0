"""Webhooks over the API, for campaign tools that register themselves: endpoints (create,
read, change, delete, rotate the secret), their deliveries (read, each one's attempts, re-send a
failed one) and a test ping. Everything needs the role that manages integrations (Analyst) and, for an
integration token, the scope webhooks:manage. Writes go through integrations.services.webhooks,
like the Integrations page; no request sends anything itself (a ping or re-send is a job for a worker).

The secret is in two answers only: the one to the create and the one to rotate-secret.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from custseg_site import roles
from custseg_site.api import CursorPagination, int_or_404, require
from integrations import selectors
from integrations.api.serializers import (
    WebhookAttemptSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSecretSerializer,
    WebhookEndpointSerializer,
)
from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.services import webhooks


class WebhookEndpointCursorPagination(CursorPagination):
    ordering = ("name", "id")


class WebhookDeliveryCursorPagination(CursorPagination):
    # newest first, served by the (endpoint, -created_at) index
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    # a receiver's history over a few days' publishes fits; more is a report, not a page
    max_page_size = 500


_ID_PATH = "The webhook's id (GET /api/v1/webhooks/)."


@extend_schema(tags=["webhooks"])
@extend_schema_view(
    list=extend_schema(summary="List webhooks", description="Every webhook endpoint, by name (cursor pages). "
                                                            "Secrets are never listed."),
    retrieve=extend_schema(summary="Read a webhook", description="One endpoint, without its secret."),
    create=extend_schema(summary="Register a webhook", request=WebhookEndpointSerializer,
                         responses={201: WebhookEndpointSecretSerializer},
                         description="Register a URL to be told (signed POST) when a publish changes a persona's "
                                     "members. The answer carries the signing secret, once: store it."),
    partial_update=extend_schema(summary="Change a webhook", request=WebhookEndpointSerializer,
                                 responses={200: WebhookEndpointSerializer},
                                 description="Change its name, URL, persona or active flag; a bad value changes "
                                             "nothing. The secret changes only by rotate-secret."),
    destroy=extend_schema(summary="Delete a webhook", description="Remove the endpoint and its deliveries; "
                                                                  "queued attempts are dropped."),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                             mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Webhook endpoints and their deliveries (the Integrations page's webhooks)."""

    serializer_class = WebhookEndpointSerializer
    pagination_class = WebhookEndpointCursorPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = WebhookEndpoint.objects.none()  # for the schema; get_queryset reads through the selector
    token_scopes = "webhooks:manage"

    def get_queryset(self):
        return selectors.endpoint_list()

    def get_permissions(self):
        return [require(roles.MANAGE_INTEGRATIONS)()]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(by=request.user, **serializer.validated_data)
        # the only answer but rotate-secret's with the secret in it
        return Response(WebhookEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        serializer = self.get_serializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        webhooks.webhook_endpoint_update(endpoint=endpoint, by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=endpoint.pk)).data)

    def perform_destroy(self, instance):
        webhooks.webhook_endpoint_delete(endpoint=instance, by=self.request.user)

    @extend_schema(summary="Rotate a webhook's secret", request=None,
                   responses={200: WebhookEndpointSecretSerializer},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description=_ID_PATH)])
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret, in this answer only. The old one stops at once: every later
        attempt, retries of earlier deliveries included, is signed with the new one."""
        endpoint = webhooks.webhook_endpoint_rotate_secret(endpoint=self.get_object(), by=request.user)
        return Response(WebhookEndpointSecretSerializer(endpoint).data)

    @extend_schema(summary="Send a test ping", request=None,
                   responses={202: WebhookDeliverySerializer},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description=_ID_PATH)])
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Queue a delivery of event `webhook.ping` ({"event", "webhook": {id, name}, "sent_at"}),
        signed and retried like any other; follow it in the deliveries list. 400 when the
        webhook is switched off."""
        delivery = webhooks.webhook_endpoint_ping(endpoint=self.get_object(), by=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="List a webhook's deliveries", responses={200: WebhookDeliverySerializer(many=True)},
                   parameters=[
                       OpenApiParameter("id", int, OpenApiParameter.PATH, description=_ID_PATH),
                       OpenApiParameter("status", str, enum=list(WebhookDelivery.Status.values),
                                        description="Only deliveries with this status."),
                       OpenApiParameter("page_size", int, description="1-500 (default 100)."),
                   ])
    @action(detail=True, methods=["get"], pagination_class=WebhookDeliveryCursorPagination)
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first (cursor pages): event, status, attempts, the
        receiver's last response code, the error, when it is retried next, the payload."""
        endpoint = self.get_object()
        deliveries = selectors.endpoint_deliveries(endpoint=endpoint)
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in WebhookDelivery.Status.values:
                raise ValidationError({"status": [f"Unknown status {wanted!r}. Known: "
                                                  f"{', '.join(WebhookDelivery.Status.values)}."]})
            deliveries = deliveries.filter(status=wanted)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(summary="Re-send a failed delivery", request=None,
                   responses={202: WebhookDeliverySerializer,
                              400: OpenApiResponse(description="The delivery has not failed, or the webhook is off.")},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description=_ID_PATH),
                               OpenApiParameter("delivery_id", int, OpenApiParameter.PATH,
                                                description="A delivery of this webhook.")])
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_id>[^/.]+)/redeliver",
            url_name="delivery-redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        """Send a failed delivery again now: one more attempt with the same body, signed with
        the current secret (it has used up its retries: if this attempt fails it stays failed).
        Answers 202 at once; the deliveries list shows how it went."""
        delivery = get_object_or_404(WebhookDelivery, pk=int_or_404(delivery_id), endpoint=self.get_object())
        delivery = webhooks.webhook_delivery_redeliver(delivery=delivery, by=request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="List a delivery's attempts", operation_id="list_webhook_delivery_attempts",
                   responses={200: WebhookAttemptSerializer(many=True),
                              404: OpenApiResponse(description="No such webhook, or no such delivery of it.")},
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description=_ID_PATH),
                               OpenApiParameter("delivery_id", int, OpenApiParameter.PATH,
                                                description="A delivery of this webhook.")])
    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_id>[^/.]+)/attempts",
            url_name="delivery-attempts", pagination_class=None)
    def delivery_attempts(self, request, pk=None, delivery_id=None):
        """Every attempt at one delivery, first to last: when it started, how long it took, the
        receiver's status code or the error, and whether and when another attempt follows.
        A delivery has at most WEBHOOK_MAX_ATTEMPTS (5) attempts plus its re-sends: one page."""
        delivery = get_object_or_404(WebhookDelivery, pk=int_or_404(delivery_id), endpoint=self.get_object())
        return Response(WebhookAttemptSerializer(selectors.delivery_attempts(delivery=delivery), many=True).data)
