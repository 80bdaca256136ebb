"""How an HL7 message reaches the registry and its answer comes back, as the settings say (README "Registry
reporting"): MLLP over TCP, or the CDC WSDL's SOAP `submitSingleMessage` (IIS 2011 web service). Both are
blocking calls with a timeout: workers and the desk call them in a thread.

`Unreachable` means the message may not have arrived (no connection, a timeout, a server error): try again later.
Anything that came back is returned as text for services/registry/ack.py to read."""
from __future__ import annotations

import socket
import urllib.error
import urllib.request
from xml.etree.ElementTree import Element, SubElement, tostring  # building only: answers are read with defusedxml

from defusedxml.ElementTree import fromstring

from services.core.settings import Settings, get_settings

START_BLOCK, END_BLOCK = b'\x0b', b'\x1c\x0d'  # MLLP framing (HL7 v2 minimal lower layer protocol)
MAX_ANSWER_BYTES = 4 * 1024 * 1024
SOAP_ENVELOPE = 'http://www.w3.org/2003/05/soap-envelope'  # SOAP 1.2, as the CDC WSDL binds it
IIS_NAMESPACE = 'urn:cdc:iisb:2011'


class Unreachable(OSError):
    """The registry could not be reached or did not answer in time: the message is to be sent again."""


class Refused(ValueError):
    """The registry's web service refused the message itself (a SOAP fault that sending again will not change,
    such as MessageTooLargeFault)."""


def configured(settings: Settings | None = None) -> bool:
    return bool((settings or get_settings()).iis_transport)


def exchange(message: str, *, timeout: float | None = None, settings: Settings | None = None) -> str:
    """Send one HL7 message to the configured registry and return its answer (an ACK, or an RSP to a query)."""
    settings = settings or get_settings()
    timeout = timeout if timeout is not None else settings.iis_timeout_seconds
    if settings.iis_transport == 'mllp':
        return mllp_exchange(settings.iis_mllp_host, settings.iis_mllp_port, message, timeout=timeout)
    if settings.iis_transport == 'soap':
        return soap_exchange(settings, message, timeout=timeout)
    raise Unreachable('No registry is configured (CVMS_IIS_MLLP_HOST or CVMS_IIS_SOAP_URL).')


# ---------------------------------------------------------------- MLLP

def mllp_exchange(host: str, port: int, message: str, *, timeout: float) -> str:
    """One message in an MLLP block (0x0B … 0x1C 0x0D) on a new connection, and the block that answers it."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            connection.sendall(START_BLOCK + message.encode('utf-8') + END_BLOCK)
            received = bytearray()
            while END_BLOCK not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    raise Unreachable('The registry closed the connection without answering.')
                received += chunk
                if len(received) > MAX_ANSWER_BYTES:
                    raise Unreachable('The registry sent an answer larger than 4 MB.')
    except TimeoutError as error:
        raise Unreachable(f'The registry did not answer within {timeout:g} seconds.') from error
    except Unreachable:
        raise
    except OSError as error:
        raise Unreachable(f'The registry at {host}:{port} could not be reached ({error.strerror or error}).') \
            from error
    start = received.find(START_BLOCK)
    return received[start + 1 if start >= 0 else 0:received.find(END_BLOCK)].decode('utf-8', errors='replace')


# ---------------------------------------------------------------- SOAP (CDC WSDL, IIS 2011)

def soap_envelope(settings: Settings, message: str) -> bytes:
    """The submitSingleMessage request: username, password, facilityID and hl7Message in the IIS namespace."""
    envelope = Element(f'{{{SOAP_ENVELOPE}}}Envelope')
    SubElement(envelope, f'{{{SOAP_ENVELOPE}}}Header')
    body = SubElement(envelope, f'{{{SOAP_ENVELOPE}}}Body')
    request = SubElement(body, f'{{{IIS_NAMESPACE}}}submitSingleMessage')
    for name, value in (('username', settings.iis_soap_username), ('password', settings.iis_soap_password),
                        ('facilityID', settings.iis_soap_facility_id), ('hl7Message', message)):
        SubElement(request, f'{{{IIS_NAMESPACE}}}{name}').text = value
    # HL7 ends segments with carriage returns, which an XML parser turns into line feeds unless written as a
    # character reference; the message text is the only place the envelope holds one.
    return tostring(envelope, encoding='utf-8', xml_declaration=True).replace(b'\r', b'&#13;')


def soap_exchange(settings: Settings, message: str, *, timeout: float) -> str:
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's setting, http(s) checked below
        settings.iis_soap_url, data=soap_envelope(settings, message), method='POST', headers={
            'Content-Type': f'application/soap+xml; charset=utf-8; action="{IIS_NAMESPACE}:submitSingleMessage"'})
    if not settings.iis_soap_url.startswith(('https://', 'http://')):
        raise Unreachable('CVMS_IIS_SOAP_URL must be an http:// or https:// address.')
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:  # SOAP 1.2 answers a fault with 400 or 500: read it
        answer = error.read(MAX_ANSWER_BYTES + 1)
        if not answer.strip():
            raise Unreachable(f'The registry\'s web service answered HTTP {error.code}.') from error
    except TimeoutError as error:
        raise Unreachable(f'The registry did not answer within {timeout:g} seconds.') from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, 'reason', error)
        raise Unreachable(f'The registry\'s web service could not be reached ({reason}).') from error
    return read_soap_answer(answer)


def read_soap_answer(answer: bytes) -> str:
    """The HL7 text of a submitSingleMessageResponse (its `return`), or the fault it carries raised: a security
    or unknown fault as Unreachable (a setting or the registry to fix, then the message goes again), a message
    too large as Refused."""
    try:
        root = fromstring(answer)
    except Exception as error:  # noqa: BLE001 - defusedxml raises several kinds: all mean "not a SOAP answer"
        raise Unreachable('The registry\'s web service answered with something that is not XML.') from error
    returned = root.find(f'.//{{{IIS_NAMESPACE}}}submitSingleMessageResponse/{{{IIS_NAMESPACE}}}return')
    if returned is not None:
        return returned.text or ''
    fault = root.find(f'.//{{{SOAP_ENVELOPE}}}Fault')
    if fault is None:
        raise Unreachable('The registry\'s web service answered without a message or a fault.')
    reason = ' '.join(''.join(t.itertext()).strip() for t in fault.iter(f'{{{SOAP_ENVELOPE}}}Text')) or 'no reason'
    detail = fault.find(f'{{{SOAP_ENVELOPE}}}Detail')
    kinds = [child.tag.rpartition('}')[2] for child in (detail if detail is not None else [])]
    if 'MessageTooLargeFault' in kinds:
        raise Refused(f'The registry refused the message as too large: {reason}')
    if 'SecurityFault' in kinds:
        raise Unreachable(f'The registry refused our credentials (CVMS_IIS_SOAP_USERNAME, PASSWORD, FACILITY_ID): '
                          f'{reason}')
    raise Unreachable(f'The registry\'s web service failed: {reason}')
