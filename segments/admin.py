from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from segments.models import (
    Persona,
    PersonaLink,
    RunPublication,
    Segment,
    SegmentationRun,
)


@admin.register(SegmentationRun)
class SegmentationRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "progress", "published", "created_by", "created_at"]
    list_filter = ["status", "published"]
    readonly_fields = ["metrics", "projection", "config"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("projection")

    def has_delete_permission(self, request, obj=None):
        # The admin's delete confirmation lists every related membership: a million rows.
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "index", "label", "size"]
    list_select_related = ["run"]

    def has_delete_permission(self, request, obj=None):
        return False


class PersonaLinkInline(admin.TabularInline):
    model = PersonaLink
    extra = 0
    can_delete = False
    fields = ["run", "segment", "how", "linked_at", "unlinked_at", "size", "jaccard", "centroid_similarity", "score", "by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # links change by creating, publishing or settling a review (services)


@admin.register(Persona)
class PersonaAdmin(SimpleHistoryAdmin):
    list_display = ["name", "status", "owner", "needs_review", "colour", "updated_at"]
    list_filter = ["status", "needs_review"]
    search_fields = ["name"]
    readonly_fields = ["needs_review", "review"]
    inlines = [PersonaLinkInline]


@admin.register(RunPublication)
class RunPublicationAdmin(admin.ModelAdmin):
    list_display = ["run", "published_at", "unpublished_at", "by"]
    list_select_related = ["run", "by"]
    readonly_fields = ["run", "published_at", "unpublished_at", "by"]

    def has_add_permission(self, request):
        return False  # publishing (services.run_publish) writes these
