from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from messaging.api.views import health
from messaging.dashboard import overview
from messaging.vault.permissions import public


@public
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Pages that don't use base.html (the Django admin) still get the icon, not a 404."""
    return HttpResponseRedirect(static("sendwatch/favicon.svg"))


urlpatterns = [
    path("", overview.overview, name="overview"),
    path("health", health, name="health"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/login/", public(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("messaging.urls")),
]

if settings.SENDWATCH_SIMULATOR_ENABLED:
    # The built-in vendor simulator for the demo; not even routed in production.
    from messaging.demo import simulator

    urlpatterns.append(re_path(r"^sim/(?P<rest>.*)$", simulator.mount, name="simulator"))
