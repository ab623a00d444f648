from django.conf import settings
from django.http import HttpResponse
from django.urls import path


def flavour(request):
    return HttpResponse(f"settings: {settings.FLAVOUR}; email: {settings.EMAIL_BACKEND}\n")


urlpatterns = [path("", flavour)]
