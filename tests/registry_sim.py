"""A state immunization registry for the tests: a real MLLP server (TCP on 127.0.0.1, blocks framed 0x0B … 0x1C
0x0D) and a real SOAP 1.2 server (HTTP on 127.0.0.1, the CDC WSDL's submitSingleMessage), both answering from one
script: AA, AE with a warning, AR with errors, silence past the client's timeout; QBP^Q11 Z44 queries with Z42
(history and forecast), Z31 (several candidates) or Z33 (none found, or too many).

The answer is chosen by the person's family name in the message (PID-5 in a VXU, QPD-4 in a query) from
`by_family_name`, else `answer` (VXU) or `query_answer` (QBP)."""
from __future__ import annotations

import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

from services.registry.transport import END_BLOCK, IIS_NAMESPACE, SOAP_ENVELOPE, START_BLOCK

ANSWERS = ('AA', 'AE', 'AR', 'timeout', 'close', 'garbage')
QUERY_ANSWERS = ('Z42', 'Z31', 'Z33', 'Z33-TM', 'timeout')


class RegistrySimulator:
    def __init__(self) -> None:
        self.answer = 'AA'
        self.query_answer = 'Z42'
        self.by_family_name: dict[str, str] = {}
        self.silence_seconds = 3.0  # 'timeout': longer than the tests' client timeout
        self.soap_fault = ''  # '', 'SecurityFault', 'MessageTooLargeFault'
        self.received: list[str] = []
        self.soap_requests: list[bytes] = []
        self._lock = threading.Lock()
        self._mllp = _ThreadingTCPServer(('127.0.0.1', 0), _mllp_handler(self))
        self._http = ThreadingHTTPServer(('127.0.0.1', 0), _soap_handler(self))
        self._http.daemon_threads = True
        self.mllp_port = self._mllp.server_address[1]
        self.soap_url = f'http://127.0.0.1:{self._http.server_address[1]}/iis/soap'
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self._mllp, self._http)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for server in (self._mllp, self._http):
            server.shutdown()
            server.server_close()

    def vxus(self) -> list[str]:
        return [m for m in self.received if '|VXU^V04' in m]

    def control_ids(self) -> list[str]:
        return [_field(_segment(m, 'MSH'), 10) for m in self.vxus()]

    # ------------------------------------------------------------ answers

    def respond(self, message: str) -> str | None:
        """The answer to `message`, or None to stay silent (after `silence_seconds`)."""
        with self._lock:
            self.received.append(message)
        msh = _segment(message, 'MSH')
        if '|QBP^Q11' in message:
            qpd = _segment(message, 'QPD')
            choice = self.by_family_name.get(_field(qpd, 4).split('^')[0], self.query_answer)
            if '^SR' in _field(qpd, 3):  # asked again with the id of one of the candidates: that one's record
                choice = 'Z42'
            if choice == 'timeout':
                time.sleep(self.silence_seconds)
                return None
            return query_response(msh, qpd, choice)
        family = _field(_segment(message, 'PID'), 5).split('^')[0]
        choice = self.by_family_name.get(family, self.answer)
        if choice == 'timeout':
            time.sleep(self.silence_seconds)
            return None
        if choice == 'close':
            return ''
        if choice == 'garbage':
            return 'HELLO'
        return ack(msh, choice)


def ack(msh: list[str], code: str) -> str:
    control = _field(msh, 10)
    lines = [_header(msh, 'ACK^V04^ACK', 'Z23^CDCPHINVS'), f'MSA|{code}|{control}']
    if code == 'AE':
        lines.append('ERR||RXA^1^17^1^1|103^Table value not found^HL70357|W|5^Table value not found^HL70533|||'
                     'Manufacturer code not recognized; the dose was recorded without it')
    elif code == 'AR':
        lines.append('ERR||PID^1^7^1^1|101^Required field missing^HL70357|E||||Patient birth date is required')
        lines.append('ERR||RXA^1^5^1^1|103^Table value not found^HL70357|E||||Vaccine code 999 is unknown')
    return '\r'.join(lines) + '\r'


def query_response(msh: list[str], qpd: list[str], choice: str) -> str:
    """RSP^K11: Z42 (the person's evaluated history and forecast), Z31 (two candidates), Z33 (NF or TM)."""
    control, tag = _field(msh, 10), _field(qpd, 2)
    profile = {'Z42': 'Z42', 'Z31': 'Z31'}.get(choice, 'Z33')
    status = {'Z42': 'OK', 'Z31': 'OK', 'Z33': 'NF', 'Z33-TM': 'TM'}[choice]
    lines = [_header(msh, 'RSP^K11^RSP_K11', f'{profile}^CDCPHINVS'), f'MSA|AA|{control}',
             f'QAK|{tag}|{status}|Z44^Request Evaluated History and Forecast^CDCPHINVS', '|'.join(qpd)]
    family, given = (_field(qpd, 4).split('^') + [''])[:2]
    born = _field(qpd, 6)
    if choice == 'Z42':
        lines += [
            f'PID|1||IIS-778899^^^NCIR^SR||{family}^{given}^^^^^L||{born}|F',
            'ORC|RE||IIS-1^NCIR',
            'RXA|0|1|20250301||208^COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose^CVX|0.3|mL^milliliters^UCUM||'
            '01^Historical information - source unspecified^NIP001||^^^ELSEWHERE CLINIC||||EL1234||PFR^Pfizer^MVX'
            '|||CP|A',
            'OBX|1|CE|30956-7^vaccine type^LN|1|213^COVID-19^CVX||||||F',
            'OBX|2|NM|30973-2^Dose number in series^LN|1|1||||||F',
            'ORC|RE||9999^CDC',
            'RXA|0|1|20260101|20260101|998^No vaccine administered^CVX|999||||||||||||||NA',
            'OBX|3|CE|30956-7^vaccine type^LN|2|213^COVID-19^CVX||||||F',
            'OBX|4|CE|59779-9^Immunization Schedule used^LN|2|VXC16^ACIP^CDCPHINVS||||||F',
            'OBX|5|DT|30980-7^Date vaccination due^LN|2|20251115||||||F',
            'OBX|6|DT|30981-5^Earliest date to give^LN|2|20251101||||||F',
        ]
    elif choice == 'Z31':
        lines += [f'PID|1||IIS-1001^^^NCIR^SR||{family}^{given}^^^^^L||{born}|F|||12 Oak St^^Raleigh^NC^27601',
                  f'PID|2||IIS-1002^^^NCIR^SR||{family}^{given}^Ann^^^^L||{born}|F|||9 Elm Rd^^Durham^NC^27701']
    return '\r'.join(lines) + '\r'


def _header(msh: list[str], kind: str, profile: str) -> str:
    return (f'MSH|^~\\&|{_field(msh, 5)}|{_field(msh, 6)}|{_field(msh, 3)}|{_field(msh, 4)}|'
            f'{time.strftime("%Y%m%d%H%M%S")}||{kind}|R{_field(msh, 10)}|P|2.5.1|||NE|NE|||||{profile}')


def _segment(message: str, name: str) -> list[str]:
    for line in message.split('\r'):
        fields = line.split('|')
        if fields[0] == name:
            return ['MSH', '|', *fields[1:]] if name == 'MSH' else fields
    return [name]


def _field(segment: list[str], number: int) -> str:
    return segment[number] if number < len(segment) else ''


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _mllp_handler(sim: RegistrySimulator) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            buffer = b''
            while True:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while END_BLOCK in buffer:
                    block, _, buffer = buffer.partition(END_BLOCK)
                    answer = sim.respond(block.lstrip(START_BLOCK).decode('utf-8'))
                    if answer is None or answer == '':
                        return  # silent, or the connection closed without an answer
                    self.request.sendall(START_BLOCK + answer.encode('utf-8') + END_BLOCK)
    return Handler


def _soap_handler(sim: RegistrySimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
            sim.soap_requests.append(body)
            request = fromstring(body).find(f'.//{{{IIS_NAMESPACE}}}submitSingleMessage')
            if sim.soap_fault:
                self._send(500, _fault(sim.soap_fault))
                return
            answer = sim.respond(request.findtext(f'{{{IIS_NAMESPACE}}}hl7Message') or '')
            if answer is None:
                return
            self._send(200, f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENVELOPE}">'
                            f'<soap:Body><submitSingleMessageResponse xmlns="{IIS_NAMESPACE}"><return>'
                            f'{escape(answer)}</return></submitSingleMessageResponse></soap:Body></soap:Envelope>')

        def _send(self, status: int, text: str) -> None:
            data = text.encode('utf-8')
            self.send_response(status)
            self.send_header('Content-Type', 'application/soap+xml; charset=utf-8')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
    return Handler


def _fault(kind: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_ENVELOPE}"><soap:Body>'
            f'<soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason>'
            f'<soap:Text xml:lang="en">{kind} raised</soap:Text></soap:Reason><soap:Detail>'
            f'<{kind} xmlns="{IIS_NAMESPACE}"><Code>10</Code><Reason>{kind}</Reason></{kind}></soap:Detail>'
            f'</soap:Fault></soap:Body></soap:Envelope>')
