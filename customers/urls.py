from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("imports/", views.import_list, name="import-list"),
    path("imports/new/", views.import_create, name="import-create"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/rejected.csv", views.import_rejected_csv, name="import-rejected"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="import-cancel"),
    path("imports/presets/", views.preset_list, name="preset-list"),
    path("imports/presets/<int:pk>/delete/", views.preset_delete_view, name="preset-delete"),
    path("features/", views.features_overview, name="features"),
    path("features/compute/", views.features_compute, name="features-compute"),
    path("features/explore/", views.features_explore, name="features-explore"),
    path("customers/", views.customer_search, name="customer-search"),
    path("customers/<path:external_id>/", views.customer_detail, name="customer-detail"),
]
