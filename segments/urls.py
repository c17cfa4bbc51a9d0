from django.urls import path

from segments import views
from segments.personas.urls import urlpatterns as persona_urls

app_name = "segments"

urlpatterns = [
    path("runs/", views.run_list, name="run-list"),
    path("runs/new/", views.run_create, name="run-create"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/publish/", views.run_publish, name="run-publish"),
    path("runs/<int:pk>/compare/", views.run_compare, name="run-compare"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("segments/<int:pk>/", views.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/members.csv", views.segment_export, name="segment-export"),
    *persona_urls,
]
