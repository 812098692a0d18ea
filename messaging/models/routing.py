"""Routes: an ordered list of providers a message may go through, with failover between them.

messaging.traffic.routing decides, at send time and before every retry, which step takes a
message; docs/routing.md explains the rules.
"""

from __future__ import annotations

from django.db import models

from messaging.models.providers import Provider


class Route(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        permissions = [("manage_routes", "Can create and change routes")]

    def __str__(self) -> str:
        return self.slug


class RouteStep(models.Model):
    """One provider of a route. Lower positions are tried first; steps sharing a position split by weight."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="route_steps")
    position = models.PositiveSmallIntegerField(default=1)
    weight = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Share of traffic among the steps at the same position (blank: equal)."
    )
    countries = models.CharField(
        max_length=200, blank=True, help_text="ISO 3166 codes, comma-separated (GB, DE); blank: every country."
    )

    class Meta:
        ordering = ["route", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["route", "provider"], name="one_step_per_provider")]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.position} {self.provider_id}"

    @property
    def country_codes(self) -> frozenset[str]:
        return frozenset(code.strip().upper() for code in self.countries.split(",") if code.strip())
