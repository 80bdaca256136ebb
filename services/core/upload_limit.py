"""An upload's HTTP body refused as it arrives once past the upload limit (413), before NiceGUI writes it to a
temporary file: the browser's max_file_size is only a hint, and anyone can post to an upload's address."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
FRAMING = 64 * 1024  # multipart boundaries and part headers around the file


class UploadSizeLimit:
    """ASGI middleware for NiceGUI's upload routes (POST /_nicegui/client/<id>/upload/<element>)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *,
                 limit_bytes: Callable[[], int]) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get('path', '')
        if scope['type'] != 'http' or scope.get('method') != 'POST' or not path.startswith('/_nicegui/client/') \
                or '/upload/' not in path:
            await self.app(scope, receive, send)
            return
        limit = self.limit_bytes() + FRAMING
        declared = dict(scope.get('headers') or []).get(b'content-length', b'')
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {'type': 'http.disconnect'}
            message = await receive()
            if message['type'] == 'http.request':
                received += len(message.get('body', b''))
                if received > limit and not started:
                    # Answer now and tell the app the client left: it stops reading (and removes what it wrote).
                    refused = True
                    await _refuse(send, limit)
                    return {'type': 'http.disconnect'}
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, counted, sending)
        except Exception:
            if not refused:  # the app's complaint about the cut-off body is answered already
                raise


async def _refuse(send: Send, limit: int) -> None:
    text = f'This file is larger than {(limit - FRAMING) / (1024 * 1024):g} MB, the upload limit.'.encode()
    await send({'type': 'http.response.start', 'status': 413,
                'headers': [(b'content-type', b'text/plain; charset=utf-8'),
                            (b'content-length', str(len(text)).encode()), (b'connection', b'close')]})
    await send({'type': 'http.response.body', 'body': text})
