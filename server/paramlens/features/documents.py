"""Document synchronisation: ``didOpen`` / ``didChange`` / ``didSave`` / ``didClose``.

Static diagnostics follow every change (debounced); inspections follow the ``inspect`` setting:
``onOpen`` inspects on open, save and (debounced) change, ``onSave`` on save, ``onCommand``
only through the ``paramlens.inspect`` command. A save re-inspects every open file, since any of
them may import the saved one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from paramlens.features import diagnostics
from paramlens.server import CHANGE_DEBOUNCE_SECONDS

if TYPE_CHECKING:
    from paramlens.server import ParamlensLanguageServer


def _inspect_on(ls: ParamlensLanguageServer, uri: str, event: str) -> None:
    state = ls.documents.get(uri)
    if state is None or state.path is None:
        return
    mode = ls.settings_for(state.path).inspect
    if (event == "save" and mode in ("onOpen", "onSave")) or (event == "open" and mode == "onOpen"):
        ls.schedule_inspection(uri, 0.0)
    elif event == "change" and mode == "onOpen":
        ls.schedule_inspection(uri, CHANGE_DEBOUNCE_SECONDS)


def register(server: ParamlensLanguageServer) -> None:
    """Register the synchronisation handlers."""

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ParamlensLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.document(uri)
        diagnostics.refresh(ls, uri)
        _inspect_on(ls, uri, "open")

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ParamlensLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.document(uri)
        diagnostics.refresh(ls, uri, debounce=True)
        _inspect_on(ls, uri, "change")

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(
        ls: ParamlensLanguageServer, params: types.DidSaveTextDocumentParams
    ) -> None:
        uri = params.text_document.uri
        ls.document(uri)
        # Every open file: one may import the saved one. Unaffected files come back from the
        # report cache unchanged and land silently.
        for other in [uri, *(u for u in ls.documents if u != uri)]:
            _inspect_on(ls, other, "save")
        await diagnostics.workspace_saved(ls)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ParamlensLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.forget(uri)
        diagnostics.clear(ls, uri)
