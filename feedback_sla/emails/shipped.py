"""The candidate emails shipped with the app, in every shipped language: their files and subjects.

English is ``templates/mail/<kind>.txt`` and ``.html``; another language's are
``templates/mail/<language>/<kind>.txt`` and ``.html``, written for its readers rather than word
for word. Every kind ships in every language of ``languages.SHIPPED`` (a test holds it).
"""

from __future__ import annotations

from feedback_sla.emails.models import EmailKind
from feedback_sla.languages import DEFAULT, SHIPPED

#: Each language's subjects, by kind: Jinja, with the same placeholders as the bodies.
SUBJECTS: dict[str, dict[EmailKind, str]] = {
    "en": {
        EmailKind.REJECTION: "Your application for {{ position }} at {{ company }}",
        EmailKind.OFFER: "{{ position }} at {{ company }}: let's talk about an offer",
        EmailKind.UPDATE: "{{ position }} at {{ company }}: an update on your application",
        EmailKind.NEXT_STEP: "{{ position }} at {{ company }}: the next step",
        EmailKind.ACKNOWLEDGEMENT: "We received your application for {{ position }}",
    },
    "de": {
        EmailKind.REJECTION: "Ihre Bewerbung als {{ position }} bei {{ company }}",
        EmailKind.OFFER: "{{ position }} bei {{ company }}: Wir möchten Ihnen ein Angebot machen",
        EmailKind.UPDATE: "{{ position }} bei {{ company }}: der aktuelle Stand Ihrer Bewerbung",
        EmailKind.NEXT_STEP: "{{ position }} bei {{ company }}: der nächste Schritt",
        EmailKind.ACKNOWLEDGEMENT: "Ihre Bewerbung als {{ position }} ist bei uns eingegangen",
    },
    "fr": {
        EmailKind.REJECTION: "Votre candidature au poste de {{ position }} chez {{ company }}",
        EmailKind.OFFER: "{{ position }} chez {{ company }} : parlons d'une proposition",
        EmailKind.UPDATE: "{{ position }} chez {{ company }} : où en est votre candidature",
        EmailKind.NEXT_STEP: "{{ position }} chez {{ company }} : la prochaine étape",
        EmailKind.ACKNOWLEDGEMENT: "Nous avons bien reçu votre candidature au poste de {{ position }}",
    },
    "es": {
        EmailKind.REJECTION: "Tu candidatura para {{ position }} en {{ company }}",
        EmailKind.OFFER: "{{ position }} en {{ company }}: queremos hablar de una oferta",
        EmailKind.UPDATE: "{{ position }} en {{ company }}: novedades sobre tu candidatura",
        EmailKind.NEXT_STEP: "{{ position }} en {{ company }}: el siguiente paso",
        EmailKind.ACKNOWLEDGEMENT: "Hemos recibido tu candidatura para {{ position }}",
    },
    "nl": {
        EmailKind.REJECTION: "Je sollicitatie als {{ position }} bij {{ company }}",
        EmailKind.OFFER: "{{ position }} bij {{ company }}: we willen je graag een aanbod doen",
        EmailKind.UPDATE: "{{ position }} bij {{ company }}: de stand van je sollicitatie",
        EmailKind.NEXT_STEP: "{{ position }} bij {{ company }}: de volgende stap",
        EmailKind.ACKNOWLEDGEMENT: "We hebben je sollicitatie als {{ position }} ontvangen",
    },
}


def shipped_language(language: str | None) -> str:
    """``language`` when the app ships its emails in it, else English."""
    return language if language in SHIPPED else DEFAULT


def subject(kind: EmailKind, language: str) -> str:
    return SUBJECTS[shipped_language(language)][kind]


def file_name(kind: EmailKind, language: str, part: str) -> str:
    """The template file of a kind's ``part`` (``txt`` or ``html``) in ``language``."""
    language = shipped_language(language)
    folder = "mail" if language == DEFAULT else f"mail/{language}"
    return f"{folder}/{kind.value}.{part}"
