from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from messaging.dashboard import overview as views
from messaging.vault.permissions import public

urlpatterns = [
    path("", views.overview, name="overview"),
    path("health", views.health, name="health"),
    path("accounts/login/", public(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("messaging.urls")),
    # The built-in vendor simulator for the demo (404 unless SENDWATCH_SIMULATOR is on).
    re_path(r"^sim/(?P<rest>.*)$", views.simulator, name="simulator"),
]
