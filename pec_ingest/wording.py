"""The Italian words staff read for the codes the database keeps.

Codes stay in the database, in JSON and in the command options (``--status needs_review``);
everything printed, exported to a spreadsheet or shown on the desk uses these labels.
"""

from __future__ import annotations

STATUS_LABELS = {"complete": "Completa", "incomplete": "Incompleta",
                 "needs_review": "Dati da controllare"}
REVIEW_STATE_LABELS = {"none": "nessuna", "pending": "in attesa", "accepted": "accettata",
                       "rejected": "respinta"}
NATURA_LABELS = {
    "odv": "Organizzazione di volontariato", "aps": "Associazione di promozione sociale",
    "coop_sociale": "Cooperativa sociale", "fondazione": "Fondazione",
    "impresa_sociale": "Impresa sociale", "ente_religioso": "Ente religioso",
    "associazione": "Associazione", "scuola": "Scuola", "ente_pubblico": "Ente pubblico",
    "altro": "Altro",
}
OUTCOME_LABELS = {
    "submission": "domanda registrata", "ignored": "non pertinente", "receipt": "ricevuta PEC",
    "anomaly": "anomalia di trasporto", "unreadable": "illeggibile",
    "timeout": "lettura interrotta", "failed": "errore (sarà ritentato)",
    "quarantined": "messo da parte", "duplicate": "già registrato",
}
ACK_LABELS = {"pending": "in coda", "sending": "in invio", "sent": "inviata",
              "accepted": "accettata dal gestore", "delivered": "consegnata",
              "failed": "non consegnata"}


def word(labels: dict[str, str], code: str | None) -> str:
    """The label of ``code`` (the code itself when there is none; ``-`` for nothing)."""
    if code is None or code == "":
        return "-"
    return labels.get(code, code)
