from django.urls import path  # noqa: F401  (pages are added by later issues)

app_name = "messaging"
urlpatterns: list = []
