from django.urls import path

from segments.personas import views

urlpatterns = [
    path("personas/", views.persona_list, name="persona-list"),
    path("personas/new/", views.persona_create, name="persona-create"),
    path("personas/<int:pk>/", views.persona_detail, name="persona-detail"),
    path("personas/<int:pk>/edit/", views.persona_edit, name="persona-edit"),
    path("personas/<int:pk>/link/", views.persona_link, name="persona-link"),
    path("personas/<int:pk>/description/", views.persona_description, name="persona-description"),
    path("personas/<int:pk>/history/", views.persona_history, name="persona-history"),
]
