from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign-list"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/launch/", views.campaign_launch, name="campaign-launch"),
    path("campaigns/<int:pk>/delete/", views.campaign_delete, name="campaign-delete"),
    path("campaigns/<int:pk>/outcomes/", views.campaign_outcomes, name="campaign-outcomes"),
    path("campaigns/<int:pk>/outcomes/<int:import_pk>/", views.outcome_import_detail, name="outcome-import"),
    path("campaigns/<int:pk>/outcomes/<int:import_pk>/rejected.csv", views.outcome_import_rejected_csv,
         name="outcome-import-rejected"),
    path("campaigns/<int:pk>/outcomes/<int:import_pk>/cancel/", views.outcome_import_cancel,
         name="outcome-import-cancel"),
    path("campaigns/<int:pk>/members.csv", views.campaign_members_csv, name="campaign-members-csv"),
]
