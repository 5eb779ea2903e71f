"""A local, deterministic fake of APIMIGO, served by aiohttp on 127.0.0.1.

Four modules: ``data`` (the fake answers, a pure function of the value asked),
``config`` (the knobs that inject faults, and the counters), ``server`` (the
aiohttp application, from the route table in ``migo_cli.dialects``) and
``thread`` (``SimulatorThread``, on ``migo_cli.background.LoopThread``).

It exists so that people can try migo without a paid token (``migo simulador``,
``--simulado``), so that tests can run the real client against a real HTTP
server and count what it received, and so that benchmarks have an upstream
that answers thousands of requests a second. It never talks to the network.

It models APIMIGO as its documentation describes it (SPEC §1), not as migo
expects it, so that the client is tested against the service and not against
its own assumptions. Both dialects are served at once, from the route table in
``migo_cli.dialects``: API 1.0 (``POST``, token in the JSON body as ``token``)
and API 2.0 (``GET``, token only from ``Authorization: Bearer``, values in the
path and query string, every value a string). Like the Laravel application
APIMIGO is, what an error looks like depends on whether the request asks for
JSON (``Accept`` containing ``json``). Without it (and with ``laravel=True``,
the default), a missing or refused token is a 302 to ``<host>/login``, a
validation error a 302 back (to the ``Referer``, else ``/``), an unknown route
or a wrong method an HTML page (404, 405). Asking for JSON, they are
``401 {"message": "Unauthenticated."}``, ``422 {"success": false, "message",
"errors": {"ruc": [...]}}``, ``404 {"message": "The route … could not be
found."}`` (no ``success``) and ``405 {"message": "The GET method is not
supported for route …"}``.

With ``laravel=False`` every request is answered as if it asked for JSON. The
API's own answers are JSON whatever the ``Accept``: a RUC SUNAT does not know is
``404 {"success": false, "message"}`` (or 200 with ``not_found_status=200``),
exhausted credits ``402`` (``quota_status``), ``forbidden`` a 403.

Data is a pure function of the RUC (or DNI, or date), derived from a stable
hash (``migo_cli.simulator.data``), so two simulators always agree; everything
random (latency, injected faults) comes from one ``random.Random`` seeded by
``SimulatorConfig.seed``, so a run can be replayed.

Three ways to run it, on loopback only (``port=0`` picks a free port):
``async with Simulator(config) as sim`` on the running loop (``--simulado``);
``with SimulatorThread(config) as sim`` in a daemon thread (synchronous tests,
tests that spawn ``migo``); ``serve(config, port=8787)``, blocking until Ctrl-C
(``migo simulador``). Each exposes ``base_url``, ``config`` and ``stats``.

Special RUCs (fixed behaviour whatever the knobs say about data; fault knobs
still apply to them):

==========================  ================  ===============================================
constant                    RUC               answer
==========================  ================  ===============================================
RUC_ACTIVO_HABIDO           20100038146       found, ACTIVO / HABIDO (apto para facturar)
RUC_NO_EXISTE               20000000001       not found (404, or 200 + success false)
RUC_BAJA_DE_OFICIO          20111111112       found, BAJA DE OFICIO / HABIDO
RUC_NO_HABIDO               20222222223       found, ACTIVO / NO HABIDO
RUC_SUSPENSION_TEMPORAL     20333333334       found, SUSPENSION TEMPORAL / HABIDO
RUC_FORMULA                 20444444445       found, name ``=HYPERLINK("http://x","y")``
RUC_ACENTOS                 20555555556       found, name and address with accents, ñ and &
RUC_DATOS_INCOMPLETOS       20666666667       found, some fields null, one missing, one extra
RUC_PERSONA_NATURAL         10123456781       found, a person (prefix 10), ACTIVO / HABIDO
RUC_ESTADO_SIN_NORMALIZAR   20777777778       found, ``" Activo "`` / ``"habido "`` as SUNAT
                                              may write them: apto once trimmed and upper-cased
RUC_DIGITO_INVALIDO         20100038147       wrong check digit: 422, a validation error
==========================  ================  ===============================================

Any RUC that is not 11 digits with a known prefix and a valid check digit is a 422 too.
``DNI_EXISTE`` (12345678) is always found and ``DNI_NO_EXISTE`` (00000000) never.

Control endpoints (not counted, no token): ``GET /__sim__/stats``,
``GET|POST /__sim__/config`` (POST a JSON object of knobs to change them),
``POST /__sim__/reset`` (zero the counters), ``POST /__sim__/ruc/{ruc}`` (a JSON
object of fields that RUC answers from now on: a change between two runs),
``GET /`` (what this is). ``GET /login`` is APIMIGO's login page, where its
redirects lead: an HTML page, counted like an API request.
"""

from migo_cli.simulator.config import (
    DEFAULT_PORT,
    ENDPOINTS,
    LOOKUP_ENDPOINTS,
    Exchange,
    SimulatorConfig,
    SimulatorStats,
)
from migo_cli.simulator.data import (
    DEFAULT_NOT_FOUND_SHARE,
    DNI_EXISTE,
    DNI_NO_EXISTE,
    RUC_ACENTOS,
    RUC_ACTIVO_HABIDO,
    RUC_BAJA_DE_OFICIO,
    RUC_DATOS_INCOMPLETOS,
    RUC_DIGITO_INVALIDO,
    RUC_ESTADO_SIN_NORMALIZAR,
    RUC_FORMULA,
    RUC_NO_EXISTE,
    RUC_NO_HABIDO,
    RUC_PERSONA_NATURAL,
    RUC_SUSPENSION_TEMPORAL,
    SPECIAL_RUCS,
    dni_answer,
    exchange_rate,
    make_rucs,
    ruc_answer,
)
from migo_cli.simulator.server import Simulator, serve
from migo_cli.simulator.thread import SimulatorThread

__all__ = [
    "DEFAULT_NOT_FOUND_SHARE",
    "DEFAULT_PORT",
    "DNI_EXISTE",
    "DNI_NO_EXISTE",
    "ENDPOINTS",
    "LOOKUP_ENDPOINTS",
    "RUC_ACENTOS",
    "RUC_ACTIVO_HABIDO",
    "RUC_BAJA_DE_OFICIO",
    "RUC_DATOS_INCOMPLETOS",
    "RUC_DIGITO_INVALIDO",
    "RUC_ESTADO_SIN_NORMALIZAR",
    "RUC_FORMULA",
    "RUC_NO_EXISTE",
    "RUC_NO_HABIDO",
    "RUC_PERSONA_NATURAL",
    "RUC_SUSPENSION_TEMPORAL",
    "SPECIAL_RUCS",
    "Exchange",
    "Simulator",
    "SimulatorConfig",
    "SimulatorStats",
    "SimulatorThread",
    "dni_answer",
    "exchange_rate",
    "make_rucs",
    "ruc_answer",
    "serve",
]
