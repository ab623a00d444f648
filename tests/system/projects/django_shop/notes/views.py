from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Note


def home(request):
    return HttpResponse("shop is up\n", content_type="text/plain")


@csrf_exempt  # a JSON-ish API for the tests: POST text=... adds a note
def notes(request):
    if request.method == "POST":
        note = Note.objects.create(text=request.POST.get("text", ""))
        return JsonResponse({"id": note.pk, "count": Note.objects.count()}, status=201)
    return JsonResponse({"count": Note.objects.count(),
                         "texts": list(Note.objects.values_list("text", flat=True))})
