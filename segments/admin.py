from django.contrib import admin

from segments.models import Persona, Segment, SegmentationRun


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


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "colour", "updated_at"]
