from django.contrib import admin

from segments.models import Persona, Segment, SegmentationRun


@admin.register(SegmentationRun)
class SegmentationRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "status", "progress", "published", "created_by", "created_at"]
    list_filter = ["status", "published"]
    readonly_fields = ["metrics", "projection", "config"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "index", "label", "size"]
    list_select_related = ["run"]


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "colour", "updated_at"]
