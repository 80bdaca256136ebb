"""Receiving an uploaded file on the server: written to the data folder as it arrives, within a size limit."""
from __future__ import annotations

from pathlib import Path

from nicegui import events, ui

from services.bulk.files import spool, too_large
from services.core.settings import get_settings


async def spooled(e: events.UploadEventArguments, limit_bytes: int) -> Path:
    """The upload written to the data folder as it is read, refused (FileRejected) once past `limit_bytes`: the
    browser's max_file_size is only a hint. The caller removes the file."""
    if e.file.size() > limit_bytes:  # known already: no need to copy any of it
        raise too_large(limit_bytes)
    return await spool(e.file.iterate(), limit_bytes=limit_bytes, folder=get_settings().data_dir / 'uploads')


def described_by(upload: ui.upload, message: ui.element) -> ui.upload:
    """Link the upload area's message (why a file was refused) to its file input (aria-describedby), so a screen
    reader hears it on the control. Quasar keeps attributes on the uploader's outer box; assets/a11y.js carries this
    one to the file input. `message` must stay (not be redrawn) for the link to hold."""
    upload.props['data-cvms-aria-describedby'] = f'c{message.id}'
    upload.update()
    return upload
