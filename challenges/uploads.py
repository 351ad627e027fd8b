"""What an uploaded file may be called and what it really is.

The declared content type and the file name are claims; the first bytes are evidence. A file is
accepted only when its name is clean, its extension belongs to an allowed type, and its bytes
are that type. Everything else is refused with a sentence a vendor can act on.
"""

from __future__ import annotations

import unicodedata

# Allowed MIME type → extensions a file of that type may carry.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "text/plain": (".txt", ".md"),
    "text/csv": (".csv",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "video/mp4": (".mp4",),
    "application/zip": (".zip",),
}
MAX_NAME = 200
# Bidirectional controls (RLO and friends) make "evil‮fdp.exe" look like "evilexe.pdf".
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
EXECUTABLE_MAGIC = (
    b"MZ", b"\x7fELF", b"\xfe\xed\xfa", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"#!", b"\xca\xfe\xba\xbe",
)
HTML_MARKERS = (b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml", b"<body", b"<iframe")


class UploadRefused(ValueError):
    """The file cannot be accepted; the message says why in words for the vendor."""


def check_name(raw: str) -> str:
    """Return the clean display name, or refuse names that try to mislead or escape."""
    name = raw or ""
    if "\x00" in name:
        raise UploadRefused("The file name contains a NUL character. Rename the file and upload it again.")
    if any(ch in BIDI_CONTROLS for ch in name):
        raise UploadRefused("The file name contains hidden text-direction characters. Rename the file.")
    if "/" in name or "\\" in name or name.startswith(("~", ".")):
        raise UploadRefused("The file name must be a plain name, without folders or paths.")
    name = unicodedata.normalize("NFC", name).strip()
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise UploadRefused("The file name contains control characters. Rename the file.")
    if not name or name in (".", ".."):
        raise UploadRefused("The file has no name.")
    if len(name) > MAX_NAME:
        raise UploadRefused(f"The file name is longer than {MAX_NAME} characters. Shorten it.")
    return name


def extension_of(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def sniff(head: bytes) -> str | None:
    """The MIME type the bytes show, or None when unknown."""
    lower = head[:1024].lstrip().lower()
    if head.startswith(EXECUTABLE_MAGIC):
        return "application/x-executable"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"PK\x03\x04"):
        if b"[Content_Types].xml" in head:
            for marker, kind in ((b"word/", "wordprocessingml.document"), (b"ppt/", "presentationml.presentation"),
                                 (b"xl/", "spreadsheetml.sheet")):
                if marker in head:
                    return f"application/vnd.openxmlformats-officedocument.{kind}"
        return "application/zip"
    if any(lower.startswith(m) for m in HTML_MARKERS) or b"<script" in lower:
        return "text/html"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut at the end of the sample is fine
            return None
    return "text/plain"


def check_content(*, name: str, head: bytes, size: int, accept: list[str], max_bytes: int) -> str:
    """The accepted content type for these bytes, or UploadRefused with the reason."""
    allowed = ", ".join(ext for mime in accept for ext in EXTENSIONS.get(mime, ()))
    if size <= 0:
        raise UploadRefused("The file is empty. Choose the file again; it may not have finished saving.")
    if size > max_bytes:
        raise UploadRefused(f"The file is {size:,} bytes; this question accepts at most {max_bytes:,} bytes.")
    extension = extension_of(name)
    declared = [mime for mime in accept if extension in EXTENSIONS.get(mime, ())]
    if not declared:
        raise UploadRefused(f"Files ending in “{extension or '(none)'}” are not accepted here. Allowed: {allowed}.")
    actual = sniff(head)
    if actual == "application/x-executable":
        raise UploadRefused("The file is a program, not a document. Upload the document itself.")
    if actual == "text/html":
        raise UploadRefused("The file contains web page or script content, which is not accepted.")
    for mime in declared:
        if actual == mime or (mime in ("text/plain", "text/csv") and actual == "text/plain"):
            return mime
    raise UploadRefused(f"The file’s content is not a real {extension} file (it looks like "
                        f"{actual or 'an unknown format'}). Export it again as {allowed}.")
